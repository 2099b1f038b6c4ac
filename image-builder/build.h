/* What amphi build and the LXC template share: one staged tree from a
 * recipe's text, which every output is written from. */
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
/* The tree every output shares, into m (set up here with b->mtime; free
 * it with manifest_free whatever this returns):
 * the packages' Debian tree if any, the skeleton, busybox, the init, the
 * recipe, the recipe's files. An output that needs more (the VM's modules,
 * lxc-local's next steps) adds them over it (manifest_over). */
int build_stage(const struct build_src *b, struct manifest *m, char *err, size_t errlen);

#endif
