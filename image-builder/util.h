/* Small host-side helpers: files, trees, growing strings. */
#ifndef AMPHI_UTIL_H
#define AMPHI_UTIL_H

#include <stddef.h>

struct strbuf {
	char *s;
	size_t len, cap;
};
int strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n bytes as they are, NULs too (then NUL-terminated). */
int strbuf_add(struct strbuf *b, const char *data, size_t n);

/* Whole file into a NUL-terminated buffer the caller frees. */
int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen);
/* Writes via PATH.tmp and rename, so readers never see half a file. */
int write_file(const char *path, unsigned mode, const char *data, size_t len, char *err, size_t errlen);
int copy_file(const char *from, const char *to, unsigned mode, char *err, size_t errlen);
/* rm -rf without following symlinks; a missing path is fine. */
int remove_tree(const char *path);
/* 1 if the directory at path holds nothing (or is not there), 0 if it
 * holds something, -errno if it cannot be read. */
int dir_is_empty(const char *path);
/* The path of this very amphi (/proc/self/exe): 0, or -1 with errno. */
int self_path(char *out, size_t size);
/* Makes DIR, DIR/vm and DIR/lxc; refuses a non-empty DIR that is not an
 * earlier amphi build. Writes the absolute path into abs; *made says
 * whether DIR was made here (a failed build then takes it away again). */
int prepare_out_dir(const char *dir, char abs[], int *made, char *err, size_t errlen);
/* A subcommand's arguments ask for its usage: --help or -h before any "--",
 * not as the value of one of takes_value's options ("-o --disk": each one
 * a word, blank-separated). */
int wants_help(int argc, char **argv, const char *takes_value);

/* FNV-1a, over 64-bit words where it can: change detection and hash
 * tables for the builder's own inputs, not a defence against anyone.
 * Start with HASH64_START; feed more with the last result. */
#define HASH64_START 14695981039346656037ull
unsigned long long hash64(unsigned long long h, const void *p, size_t n);

/* "256M", "2G", "512K", "4096": bytes; -1 if it is not a size. */
long long parse_size(const char *s);

#endif
