#include "files.h"
#include "accounts.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int owner_of(struct manifest *m, const struct recipe_file *f, unsigned *uid, unsigned *gid, char *why,
		    size_t whylen)
{
	*uid = *gid = 0;
	if (!f->owner[0])
		return 0;
	if (accounts_user(m, f->owner, uid, gid) < 0) {
		snprintf(why, whylen, "no user '%s' in the appliance's /etc/passwd (a package or a setup = line "
			 "makes one)", f->owner);
		return -1;
	}
	if (f->group[0] && accounts_id(m, "etc/group", f->group, gid) < 0) {
		snprintf(why, whylen, "no group '%s' in the appliance's /etc/group", f->group);
		return -1;
	}
	return 0;
}

int files_stage(struct manifest *m, const struct recipe *r, const char *recipe_path, char *err, size_t errlen)
{
	char folder[PATH_MAX], copy[PATH_MAX];

	/* Absolute: the files are read when the images are written, from
	 * wherever the writer then is (the LXC writer works in the rootfs). */
	snprintf(copy, sizeof(copy), "%s", recipe_path);
	if (r->nfiles && !realpath(dirname(copy), folder)) {
		snprintf(err, errlen, "%s: %s", recipe_path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < r->nfiles; i++) {
		const struct recipe_file *f = &r->files[i];
		char src[PATH_MAX * 2], dest[PATH_MAX], why[512] = "";
		unsigned uid, gid;
		struct stat st;
		int rc;

		snprintf(src, sizeof(src), "%s/%s", folder, f->src);
		if (stat(src, &st) < 0) {
			snprintf(err, errlen, "%s:%d: files: %s: %s (SRC is relative to the recipe's folder, %s)", recipe_path,
				 f->line, f->src, strerror(errno), folder);
			return -1;
		}
		if (owner_of(m, f, &uid, &gid, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: files: %s", recipe_path, f->line, why);
			return -1;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = manifest_dir(m, f->dest, st.st_mode & 07777);
			if (rc == 0 && manifest_resolve(m, f->dest, dest) == 0)
				rc = manifest_tree(m, dest, src, why, sizeof(why));
		} else if (S_ISREG(st.st_mode)) {
			rc = manifest_file(m, f->dest, st.st_mode & 07777, src);
		} else {
			snprintf(err, errlen, "%s:%d: files: %s is neither a file nor a directory", recipe_path, f->line, f->src);
			return -1;
		}
		if (rc < 0 || manifest_resolve(m, f->dest, dest) < 0) {
			snprintf(err, errlen, "%s:%d: files: %s", recipe_path, f->line, why[0] ? why : "out of memory");
			return -1;
		}
		/* Everything this line put there, DEST and below. */
		size_t n = strlen(dest);
		for (size_t k = 0; k < m->n; k++) {
			struct manifest_entry *e = &m->e[k];
			if (!strncmp(e->path, dest, n) && (!e->path[n] || (e->path[n] == '/' && S_ISDIR(st.st_mode)))) {
				e->uid = uid;
				e->gid = gid;
			}
		}
	}
	return 0;
}
