#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Marks a directory as amphi build output, so a rebuild may replace it. */
#define BUILD_MARKER ".amphi-build"

/* Room for n more bytes and a NUL. */
static int strbuf_grow(struct strbuf *b, size_t n)
{
	if (b->cap - b->len > n)
		return 0;
	size_t cap = b->cap * 2 + n + 64;
	char *grown = realloc(b->s, cap);
	if (!grown)
		return -1;
	b->s = grown;
	b->cap = cap;
	return 0;
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return 0;
		}
		if (strbuf_grow(b, (size_t)n) < 0)
			return -1;
	}
}

int strbuf_add(struct strbuf *b, const char *data, size_t n)
{
	if (strbuf_grow(b, n) < 0)
		return -1;
	memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	do {
		if (cap - n < 4096) {
			char *grown = realloc(buf, cap = cap * 2 + 65536);
			if (!grown) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return -1;
			}
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, errno == EISDIR ? "is a directory; expected a file" : strerror(errno));
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int write_file(const char *path, unsigned mode, const char *data, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int copy_file(const char *from, const char *to, unsigned mode, char *err, size_t errlen)
{
	char *data;
	size_t len;
	if (read_file(from, &data, &len, err, errlen) < 0)
		return -1;
	int r = write_file(to, mode, data, len, err, errlen);
	free(data);
	return r;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS);
}

int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;
	if (!d)
		return errno == ENOENT ? 1 : -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

/* mkdir -p: 1 if path itself was made here, 0 if it was there, -1. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) == 0)
		return 1;
	return errno == EEXIST ? 0 : -1;
}

int prepare_out_dir(const char *dir, char abs[], int *made, char *err, size_t errlen)
{
	char sub[PATH_MAX];

	/* Made here or not is what mkdir of DIR itself said: "new/../old"
	 * does not exist as written, yet names a directory that does. */
	if ((*made = make_dirs(dir)) < 0) {
		snprintf(err, errlen, "%s: %s; -o needs a directory that can be made and written", dir, strerror(errno));
		return -1;
	}
	snprintf(sub, sizeof(sub), "%s/%s", dir, BUILD_MARKER);
	if (access(sub, F_OK) < 0 && dir_is_empty(dir) == 0) {
		snprintf(err, errlen, "%s exists, is not empty and is not an amphi build; "
			 "choose a new directory for -o", dir);
		return -1;
	}
	if (!realpath(dir, abs)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (write_file(sub, 0644, "", 0, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", abs, i ? "lxc" : "vm");
		if (mkdir(sub, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", sub, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int self_path(char *out, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", out, size - 1);

	if (n < 0)
		return -1;
	out[n] = '\0';
	return 0;
}

int wants_help(int argc, char **argv, const char *takes_value)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		size_t n = strlen(argv[i]);
		const char *at = n ? strstr(takes_value, argv[i]) : NULL;
		if (at && (at == takes_value || at[-1] == ' ') && (at[n] == ' ' || at[n] == '\0'))
			i++;  /* its value, whatever it looks like */
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	}
	return 0;
}

long long parse_size(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 : *end == 'G' || *end == 'g' ? 30 : 0;
	if (errno || end == s || v < 0 || (shift && end[1]) || (!shift && *end) || v > (1LL << (62 - shift)))
		return -1;
	return v << shift;
}

unsigned long long hash64(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned long long w;

	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 1099511628211ull;
	}
	while (n--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}
