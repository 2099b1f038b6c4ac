/* Where amphi logs reads a guest's stream from (logconn.c): a socket it
 * connects to, one it listens on, or a FIFO a container writes; waiting
 * for the guest, reconnecting, and SIGINT/SIGTERM, which end every wait.
 * Both readers (logs.c, logtext.c) take their streams from here. The
 * paths are where a guest can write: nothing there is opened through a
 * link nor as another kind of file than asked for (guestpath.h). */
#ifndef AMPHI_LOGCONN_H
#define AMPHI_LOGCONN_H

#include <stddef.h>
#include <sys/un.h>

/* How a stream ended: the reader still takes it (MORE), the peer closed,
 * it broke the protocol or a read failed, a signal, the store is full
 * (the reader decides what then), the reader cannot go on even with
 * --follow, or the reader wants the next stream at once (AGAIN). */
enum logconn_end { LOGCONN_MORE, LOGCONN_CLOSED, LOGCONN_BROKEN, LOGCONN_STOP, LOGCONN_FULL, LOGCONN_FATAL,
		   LOGCONN_AGAIN };

struct logconn {
	/* the caller's: exactly one source */
	const char *connect, *listen, *fifo;
	const char *hint; /* added when --connect finds no guest: where its socket comes from */
	int follow;       /* --follow: go on when the guest goes away, until a signal */
	int quiet;        /* --quiet: no word of a reconnect either */
	/* logconn's */
	struct sockaddr_un addr; /* of --listen */
	int sigfd;    /* SIGINT, SIGTERM (logconn_open) */
	int listenfd; /* with --listen */
	int status;   /* once logconn_next or logconn_again said stop: the exit status */
};

/* A nonblocking unix stream socket connected to the socket at path (never
 * through a link, never to another kind of file: guestpath.h), or -1 with
 * why (at least 160 bytes) saying what was wrong, and *refused set when
 * it was the kind of file, not the state of the guest. */
int logconn_connect(const char *path, char *why, size_t whylen, int *refused);

/* Before anything is made: --listen's path fits a socket address (and
 * keeps going like --follow). 0, or -1 (said). */
int logconn_init(struct logconn *c);
/* SIGINT and SIGTERM blocked and read through c->sigfd; with --listen,
 * the socket made (one a dead reader left is replaced). 0, or -1 (said). */
int logconn_open(struct logconn *c);
/* The next stream's fd (the caller closes it), waiting for the guest with
 * --follow or --listen; -1 = stop, with c->status. */
int logconn_next(struct logconn *c);
/* After a stream ended so: 1 = take the next (logconn_next), after a
 * pause unless it is a FIFO's next writer or AGAIN; 0 = stop, with
 * c->status (0 when the peer closed or a signal came, else 1). */
int logconn_again(struct logconn *c, enum logconn_end end);
/* Waits up to ms (forever if < 0) for a signal or for fd to be readable
 * (-1: none). 1 = a signal. */
int logconn_wait_signal(const struct logconn *c, int fd, int ms);
/* Removes the --listen socket; closes what logconn_open made. */
void logconn_close(struct logconn *c);

#endif
