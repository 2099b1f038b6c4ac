/* A byte stream (a service's pipe, a followed file) cut into log lines:
 * whole lines go straight from the caller's buffer, a line not ended yet
 * waits here until it is, one longer than LINESPLIT_MAX goes in pieces of
 * that size (its newline ends the last piece, no empty line after it). */
#ifndef AMPHI_LINESPLIT_H
#define AMPHI_LINESPLIT_H

#include <stddef.h>

#define LINESPLIT_MAX 1024

struct linesplit {
	size_t len;
	char buf[LINESPLIT_MAX];
};

/* plain: the line is printable ASCII (logrec_line_end), nothing to escape. */
typedef void (*linesplit_emit)(void *ctx, const char *line, size_t len, int plain);

/* Cuts p..end into lines. Before each line it asks stop (if not NULL):
 * on 1 it returns where it stopped; else it takes everything and returns
 * end. */
const char *linesplit_feed(struct linesplit *ls, const char *p, const char *end, int (*stop)(void),
			   linesplit_emit emit, void *ctx);
/* The line not ended yet, as it is (its writer is gone). */
void linesplit_flush(struct linesplit *ls, linesplit_emit emit, void *ctx);

#endif
