/* [image] files = SRC DEST [USER[:GROUP]]: the appliance's own files. */
#ifndef AMPHI_FILES_H
#define AMPHI_FILES_H

#include "manifest.h"
#include "recipe.h"

#include <stddef.h>

/* Adds each files = line's SRC (a file or a whole directory, relative to
 * the recipe's folder, modes kept) at DEST, owned by root or the named
 * user and group of the tree. -1 with err = "RECIPE:LINE: ...". */
int files_stage(struct manifest *m, const struct recipe *r, const char *recipe_path, char *err, size_t errlen);

#endif
