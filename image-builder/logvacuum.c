/* The store's bounds (logvacuum.h). A boot directory holds files only
 * (all.log, one per program, .stored): what is not a boot of ours, or
 * holds more than files, is left alone. */
#include "logvacuum.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct boot {
	char name[256];
	struct timespec written; /* .stored's mtime */
	uint64_t bytes;
};

DIR *logvacuum_opendir(int dirfd)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* The files directly in dirfd: their bytes, or -1 if it holds another kind. */
static int64_t dir_bytes(int dirfd)
{
	DIR *d = logvacuum_opendir(dirfd);
	struct dirent *e;
	struct stat st;
	int64_t sum = 0;

	if (!d)
		return -1;
	rewinddir(d); /* a dup shares the offset of a directory read before */
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
				sum = -1;
				break;
			}
			sum += st.st_size;
		}
	closedir(d);
	return sum;
}

/* The boots under outfd, and how many; NULL with *n = 0 if none. */
static struct boot *list_boots(int outfd, size_t *n)
{
	DIR *d = logvacuum_opendir(outfd);
	struct boot *b = NULL;
	struct dirent *e;
	size_t cap = 0;

	*n = 0;
	if (!d)
		return NULL;
	rewinddir(d);
	while ((e = readdir(d))) {
		struct stat st;
		int fd = e->d_name[0] == '.' ? -1 : openat(outfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int64_t bytes = fd < 0 || fstatat(fd, ".stored", &st, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : dir_bytes(fd);
		if (fd >= 0)
			close(fd);
		if (bytes < 0 || strlen(e->d_name) >= sizeof(b->name))
			continue;
		if (*n == cap) {
			struct boot *more = realloc(b, (cap = cap ? 2 * cap : 64) * sizeof(*b));
			if (!more)
				break;
			b = more;
		}
		snprintf(b[*n].name, sizeof(b->name), "%s", e->d_name);
		b[*n].written = st.st_mtim;
		b[(*n)++].bytes = (uint64_t)bytes;
	}
	closedir(d);
	return b;
}

static int oldest_first(const void *pa, const void *pb)
{
	const struct boot *a = pa, *b = pb;

	if (a->written.tv_sec != b->written.tv_sec)
		return a->written.tv_sec < b->written.tv_sec ? -1 : 1;
	if (a->written.tv_nsec != b->written.tv_nsec)
		return a->written.tv_nsec < b->written.tv_nsec ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* A boot directory and its files. 0 or -errno. */
static int remove_boot(int outfd, const char *name)
{
	int fd = openat(outfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(fd, e->d_name, 0);
	closedir(d);
	return unlinkat(outfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

uint64_t logvacuum_run(int outfd, const char *out, const char *keep, int max_boots, uint64_t max_size)
{
	size_t n, left;
	struct boot *b = list_boots(outfd, &n);
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += b[i].bytes;
	if (n > 1)
		qsort(b, n, sizeof(*b), oldest_first);
	left = n;
	for (size_t i = 0; i < n; i++) {
		int too_many = max_boots > 0 && left > (size_t)max_boots;
		if (!too_many && !(max_size && total > max_size))
			break;
		if (keep && strcmp(b[i].name, keep) == 0)
			continue;
		int rc = remove_boot(outfd, b[i].name);
		if (rc < 0) {
			fprintf(stderr, "amphi logs: removing %s/%s (the oldest boot, over --max-%s): %s; remove it "
				"yourself\n", out, b[i].name, too_many ? "boots" : "size", strerror(-rc));
			continue;
		}
		fprintf(stderr, "amphi logs: removed %s/%s, the oldest boot (%" PRIu64 " bytes): over --max-%s\n", out,
			b[i].name, b[i].bytes, too_many ? "boots" : "size");
		total -= b[i].bytes;
		left--;
	}
	free(b);
	return total;
}
