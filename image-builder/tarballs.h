/* A build's tarballs, for hosts that do not run amphi. */
#ifndef AMPHI_TARBALLS_H
#define AMPHI_TARBALLS_H

#include "manifest.h"
#include "recipe.h"

#include <stddef.h>

/* DIR/lxc/rootfs.tar.xz + DIR/lxc/meta.tar.xz (lxc-create -t local) and
 * DIR/lxd/lxd.tar.xz + DIR/lxd/rootfs.squashfs (lxc image import), from
 * the staged tree; reproducible. The tree is left as it was (sorted). */
int lxc_tarballs(struct manifest *tree, const struct recipe *r, const char *dir, char *err, size_t errlen);

#endif
