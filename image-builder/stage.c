/* The one staged tree of a build: a recipe's packages, the skeleton,
 * busybox, the init, the recipe and its files. Every output is written
 * from it. */
#include "build.h"
#include "accounts.h"
#include "files.h"
#include "manifest.h"
#include "recipe.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const skeleton_dirs[] = {
	"bin", "sbin", "usr/bin", "usr/sbin", "etc/amphi", "dev", "proc", "sys",
	"run", "tmp", "root", "var/log", "lib/modules",
};

int build_mtime(time_t *out, char *err, size_t errlen)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;

	*out = 0;
	if (!s || !*s)
		return 0;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0) {
		snprintf(err, errlen, "SOURCE_DATE_EPOCH='%s': expected seconds since 1970 as a whole number", s);
		return -1;
	}
	*out = (time_t)v;
	return 0;
}

/* busybox --list-full prints "usr/bin/env" etc.: one symlink per applet.
 * The binary itself first and always: the list names it too, and over a
 * Debian tree (m->keep) a link in its place would point at itself. */
static int add_busybox(struct manifest *m, const struct inputs *in, char *err, size_t errlen)
{
	char cmd[PATH_MAX + 32], line[256];
	int keep = m->keep, n = 0;
	FILE *p;

	m->keep = 0;
	int r = manifest_file(m, "bin/busybox", 0755, in->busybox);
	m->keep = keep;
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "'%s' --list-full", in->busybox);
	if (!(p = popen(cmd, "re"))) {
		snprintf(err, errlen, "%s --list-full: %s", in->busybox, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] && strcmp(line, "bin/busybox") && manifest_symlink(m, line, "/bin/busybox") == 0)
			n++;
	}
	if (pclose(p) != 0 || n == 0) {
		snprintf(err, errlen, "%s --list-full gave no applets; is it Debian's busybox-static?", in->busybox);
		return -1;
	}
	return 0;
}

/* Over a Debian tree, the skeleton and busybox fill in only what the
 * packages left out (Debian's sh, login and su stay); users and groups
 * are merged. The init, its links and the recipe always go in, then the
 * recipe's own files over everything. */
int build_stage(const struct build_src *b, struct manifest *m, char *err, size_t errlen)
{
	const struct inputs *in = b->in;

	manifest_init(m, b->mtime);
	if (b->debian_tar) {
		if (manifest_add_tar(m, b->debian_tar, err, errlen) < 0)
			return -1;
		m->keep = 1;
	}
	for (size_t i = 0; i < sizeof(skeleton_dirs) / sizeof(skeleton_dirs[0]); i++)
		if (manifest_dir(m, skeleton_dirs[i], 0755) < 0)
			goto oom;
	if (manifest_dir(m, "tmp", 01777) < 0 || manifest_dir(m, "root", 0700) < 0)
		goto oom;
	if (manifest_tree(m, "", in->skeleton, err, errlen) < 0 || add_busybox(m, in, err, errlen) < 0 ||
	    (b->debian_tar && accounts_merge(m, in->skeleton, err, errlen) < 0))
		return -1;
	m->keep = 0;
	/* git keeps no modes but 0644/0755: secrets get theirs here. */
	manifest_chmod(m, "etc/shadow", 0600);
	/* After busybox: its own init and linuxrc links are replaced. */
	/* The DHCP client's event script is the init under another name. */
	if (manifest_file(m, "sbin/init", 0755, in->init) < 0 || manifest_symlink(m, "init", "/sbin/init") < 0 ||
	    manifest_symlink(m, "usr/libexec/amphi/dhcp-event", "/sbin/init") < 0)
		goto oom;
	if (manifest_data(m, RECIPE_IMAGE_PATH, 0644, b->text, b->len) < 0)
		goto oom;
	return files_stage(m, b->r, b->recipe_path, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}
