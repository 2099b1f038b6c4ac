/* A tree written only when its entries changed: a digest of them kept
 * beside the output. */
#include "manifest.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int digest(struct manifest *m, unsigned long long *out, char *err, size_t errlen)
{
	unsigned long long h = HASH64_START;
	char buf[65536];

	if (manifest_sort(m) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h = hash64(h, &m->mtime, sizeof(m->mtime));
	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->e[i];
		unsigned meta[7] = { e->kind, e->mode, e->uid, e->gid, e->rmajor, e->rminor, (unsigned)e->len };
		h = hash64(h, e->path, strlen(e->path) + 1);
		h = hash64(h, meta, sizeof(meta));
		if (e->kind == MF_SYMLINK)
			h = hash64(h, e->source, strlen(e->source) + 1);
		if (e->kind == MF_DATA)
			h = hash64(h, e->data, e->len);
		if (e->kind != MF_FILE)
			continue;
		int fd = open(e->source, O_RDONLY | O_CLOEXEC);
		ssize_t n;
		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", e->source, strerror(errno));
			return -1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			h = hash64(h, buf, (size_t)n);
		close(fd);
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", e->source, strerror(errno));
			return -1;
		}
	}
	*out = h;
	return 0;
}

int manifest_write_fresh(struct manifest *m, const char *out_path, manifest_writer write, char *err, size_t errlen)
{
	char stamp[PATH_MAX], tmp[PATH_MAX], want[128], had[128] = "";
	const char *slash = strrchr(out_path, '/');
	unsigned long long h;
	struct stat st;
	FILE *f;

	snprintf(stamp, sizeof(stamp), "%.*s.%s.digest", slash ? (int)(slash - out_path + 1) : 0, out_path,
		 slash ? slash + 1 : out_path);
	if (digest(m, &h, err, errlen) < 0)
		return -1;
	/* Another amphi may write the same entries otherwise. */
	h = hash64(h, AMPHI_VERSION, sizeof(AMPHI_VERSION));
	if (stat(out_path, &st) == 0) {
		snprintf(want, sizeof(want), "%016llx %lld %lld.%09ld\n", h, (long long)st.st_size,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		if ((f = fopen(stamp, "re"))) {
			if (!fgets(had, sizeof(had), f))
				had[0] = '\0';
			fclose(f);
		}
		if (!strcmp(had, want)) {
			printf("build: %s: unchanged\n", out_path);
			return 1;
		}
	}
	unlink(stamp);
	/* A Debian tree takes xz tens of seconds: say what is going on. */
	printf("build: writing %s\n", out_path);
	fflush(stdout);
	snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
	if (write(m, tmp, err, errlen) < 0) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, out_path) < 0 || stat(out_path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", out_path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* A stamp that cannot be written costs the next build its shortcut. */
	if ((f = fopen(stamp, "we"))) {
		fprintf(f, "%016llx %lld %lld.%09ld\n", h, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
			st.st_mtim.tv_nsec);
		fclose(f);
	}
	return 0;
}
