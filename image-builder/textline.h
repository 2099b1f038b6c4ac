/* Anaconda text (docs/PROTOCOL.md) as amphi logs --text reads it: bytes cut
 * into bounded lines at LF only, a line's "HH:MM:SS,mmm LEVEL program:"
 * fields, whether Lorax's log monitor takes it for a failed install, and
 * the line as JSON. Pure, for logtext.c (the I/O) and the fuzzer. */
#ifndef AMPHI_TEXTLINE_H
#define AMPHI_TEXTLINE_H

#include <stddef.h>

/* Called with each line, without its LF; cont: it continues one that was
 * cut. A negative return stops the feed and is returned. */
typedef int (*textline_fn)(void *ctx, const char *s, size_t n, int cont);

struct textline_split {
	char *line;   /* the caller's buffer: a longer line is cut and continued */
	size_t cap;
	size_t len;   /* bytes of the current line in line[] */
	int cont;     /* the current line continues one that was cut */
};

/* Cuts p[0..n) into lines (a CR is data). 0, or what fn returned. */
int textline_feed(struct textline_split *t, const char *p, size_t n, textline_fn fn, void *ctx);
/* The last line, if the peer left without its LF. 0, or what fn returned. */
int textline_flush(struct textline_split *t, textline_fn fn, void *ctx);

/* "HH:MM:SS,mmm LEVEL program:message": offsets into the line. */
struct textline_fields {
	size_t level, levellen, prog, proglen, msg;
};
/* 1 if s[0..n) has the fields, else 0. */
int textline_fields(const char *s, size_t n, struct textline_fields *f);

/* 1 if pylorax/monitor.py would report the line as a failure. */
int textline_failure(const char *s, size_t n);

/* The line as one JSON object {"time","level","program","msg","failure"};
 * out needs room for 6 * n + 256 bytes. Returns the end (NUL-terminated). */
char *textline_json(char *out, const char *s, size_t n, int cont, int failed);

#endif
