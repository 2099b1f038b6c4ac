/* What amphi build and the LXC template share: one staged tree from a
 * recipe's text, written as an LXC rootfs. */
#ifndef AMPHI_BUILD_H
#define AMPHI_BUILD_H

#include "inputs.h"
#include "manifest.h"
#include "recipe.h"

#include <stddef.h>
#include <time.h>

struct build_src {
	const struct inputs *in;
	const struct recipe *r;
	const char *recipe_path;  /* for messages */
	const char *text;         /* the recipe as it goes into the image */
	size_t len;
	time_t mtime;             /* every file's, for reproducible output */
	const char *debian_tar;   /* the packages' tree (debian.h), or NULL */
};

/* SOURCE_DATE_EPOCH (reproducible-builds.org) or 0. */
int build_mtime(time_t *out, char *err, size_t errlen);
/* The tree both worlds share into m: the packages' Debian tree if any,
 * the skeleton, busybox, the init, the recipe, the recipe's files. */
int build_stage(const struct build_src *b, struct manifest *m, char *err, size_t errlen);
/* The rootfs tree into out_dir, which must not exist yet. */
int build_lxc_tree(const struct build_src *b, const char *out_dir, char *err, size_t errlen);

/* DIR/lxc/rootfs.tar.xz + DIR/lxc/meta.tar.xz (lxc-create -t local) and
 * DIR/lxd/NAME.tar.xz (lxc image import), from the same tree; reproducible. */
int build_lxc_tarballs(const struct build_src *b, const char *dir, char *err, size_t errlen);

#endif
