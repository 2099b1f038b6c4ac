/* A child's output into the log: one pipe per unit, kept for the unit's
 * life (the write end stays open in PID 1, close-on-exec, so the read end
 * never sees EOF and survives restarts), read in fair shares per turn of
 * the loop, cut into lines, and left unread while the log's readers are
 * owed a full ring (logflow): the child then waits in write(2). */
#ifndef AMPHI_LOGPIPE_H
#define AMPHI_LOGPIPE_H

#include "linesplit.h"

#include <stddef.h>

struct logpipe {
	int r, w;               /* -1 until logpipe_open */
	struct linesplit out;   /* a line not ended yet */
	char *backlog;          /* read but not yet logged (back-pressure came mid-read) */
	size_t backlog_off, backlog_len;
	linesplit_emit emit;    /* each line, with ctx */
	void *ctx;
};

#define LOGPIPE_INIT { .r = -1, .w = -1 }

/* Makes the pipe (once; again later is a no-op) and watches it: the
 * child's stdout and stderr go to p->w. 0 or -errno. */
int logpipe_open(struct logpipe *p, linesplit_emit emit, void *ctx);
/* The child ended: what it left in the pipe (a pipe's worth at most: an
 * orphan it left may write on, read in turns as any output), then its
 * last line, ended or not. */
void logpipe_child_ended(struct logpipe *p);

#endif
