/* amphi logs has two readers: the amphi stream (logs.c, which also parses
 * the options and sets up signals, --out and sockets; its store is
 * logstore.c) and Anaconda text (logtext.c, --text). What they share. */
#ifndef AMPHI_LOGS_H
#define AMPHI_LOGS_H

#include <stddef.h>
#include <stdint.h>

/* Escapes n bytes of untrusted text for a terminal or a file: C0, DEL, C1,
 * the characters that reorder or hide text (bidi controls, zero-width and
 * invisible format characters, U+2028/9, the BOM, tags) and invalid UTF-8
 * become \xHH per byte. With json, a JSON string body (\uXXXX). out needs
 * room for 6 * n + 1 bytes. Returns the new end of out (NUL-terminated). */
char *logs_escape(char *out, const char *s, size_t n, int json);
/* sysUpTime (hundredths, RFC 5424 §7.3.2) as seconds: "12.34". Returns
 * the new end of out (not terminated). */
char *logs_put_uptime(char *out, int64_t cs);

/* A nonblocking unix stream socket connected to the socket at path (never
 * through a link, never to another kind of file: guestpath.h), or -1 with
 * why (at least 160 bytes) saying what was wrong, and *refused set when
 * it was the kind of file, not the state of the guest. */
int logs_sock_connect(const char *path, char *why, size_t whylen, int *refused);

/* What logs.c hands the Anaconda text reader. */
struct logtext_opts {
	const char *connect, *listen, *fifo, *out;
	int follow, json, quiet;
	int sigfd;    /* SIGINT, SIGTERM */
	int outfd;    /* the --out directory, or -1 */
	int listenfd; /* with --listen */
	long long max_size; /* --max-size: what DIR/anaconda.log may hold; 0: no limit */
};

/* Reads Anaconda text until the peer closes (or a signal, with --follow).
 * 0, 1 (an I/O error), or 3 (a line reported a failure). */
int logtext_run(const struct logtext_opts *o);

#endif
