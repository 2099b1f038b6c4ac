/* An LXC rootfs, from a build's staged tree. */
#ifndef AMPHI_LXCROOTFS_H
#define AMPHI_LXCROOTFS_H

#include "manifest.h"
#include "recipe.h"

#include <stddef.h>

/* The tree into out_dir, which must not exist yet. shift: for the build's
 * own config, every owner moved into the recipe's lxc.idmap (lxc-create
 * runs its template inside the container's user namespace already). The
 * tree is left as it was (sorted). */
int lxc_rootfs_write(struct manifest *tree, const struct recipe *r, const char *out_dir, int shift,
		     char *err, size_t errlen);
/* DIR/lxc/rootfs, swapped in whole, and DIR/lxc/host, the host side of
 * the container's log directory; DIR/lxc kept from other users. */
int lxc_rootfs(struct manifest *tree, const struct recipe *r, const char *dir, char *err, size_t errlen);

#endif
