/* amphi logs --text, the Anaconda text reader (logtext.c); and the options
 * of amphi logs that it shares with the amphi stream's reader. logs.c
 * parses them, sets up the channel and --out, and hands over. */
#ifndef AMPHI_LOGTEXT_H
#define AMPHI_LOGTEXT_H

#include "logconn.h"

struct logs_opts {
	struct logconn conn; /* the source, --follow, --quiet; the signals */
	const char *out;     /* --out DIR, or NULL */
	int outfd;           /* DIR, or -1 */
	int json;            /* --json */
	long long max_size;  /* --max-size: what DIR may hold (with --text, DIR/anaconda.log); 0: no limit */
};

/* Reads Anaconda text until the peer closes (or a signal, with --follow).
 * 0, 1 (an I/O error), or 3 (a line reported a failure). */
int logtext_run(struct logs_opts *o);

#endif
