/* The Debian tree of a recipe's packages = lines (mmdebstrap), cached. */
#ifndef AMPHI_DEBIAN_H
#define AMPHI_DEBIAN_H

#include "build.h"

#include <limits.h>
#include <stddef.h>

/* Puts in out the path of a tar of the tree: from the cache when the same
 * inputs made one before (unless refresh), else made now. -1 with err
 * naming the recipe's line where apt or a setup command failed. */
int debian_tree(const struct build_src *b, int refresh, char out[PATH_MAX], char *err, size_t errlen);

#endif
