/* What amphi logs --out keeps of a stream: per boot, DIR/<boot>/all.log,
 * DIR/<boot>/<app>.log, and DIR/<boot>/.stored (the highest sequence
 * number in those files, so a reader started again stores nothing twice).
 * Names come from the guest: they are sanitised before they become file
 * names. Every error is said on stderr with the file it concerns. */
#ifndef AMPHI_LOGSTORE_H
#define AMPHI_LOGSTORE_H

#include "logrec.h"
#include "storefile.h"

#include <stdint.h>

/* Per-app files stay open (and buffered) while a boot lasts; past this
 * many apps, the least recently opened one is closed to make room. */
#define LOGSTORE_APP_FILES 16

struct logstore {
	const char *out;                   /* --out as given, for messages */
	int outfd;                         /* its directory */
	char dir[LOGREC_NAME_MAX + 1];     /* the boot's directory: its id, sanitised */
	int bootfd, statefd;               /* -1: no boot open */
	struct storefile all, apps[LOGSTORE_APP_FILES];
	int next_app;                      /* the slot to reuse when all are taken */
	/* The app of the last record and its file (records come in runs from
	 * one app): no sanitising and lookup per record. NULL: look up. */
	char last_app[LOGREC_NAME_MAX];
	struct storefile *last_file;
	uint64_t highest;                  /* the highest seq in the files */
	int64_t synced_ms;                 /* when all.log last reached the disk */
};

/* A store under the directory outfd (out: its name, for messages). */
void logstore_init(struct logstore *S, const char *out, int outfd);

/* Closes the boot open, if any, and opens (makes) DIR/<id>/ and its
 * all.log; S->highest is then what .stored says is there (0: nothing).
 * 0, or -1 (said). */
int logstore_boot(struct logstore *S, const char *id);

/* "uptime source app: message\n" into all.log and <app>.log, escaped.
 * 0, or -1 (said: the store is not to be trusted after it). */
int logstore_put(struct logstore *S, const struct logrec_parsed *p);

/* Before an ack: everything put is written out (to the page cache; with
 * sync, all.log also to the disk) and .stored says so. Without sync,
 * all.log is sent to the disk about once a second, by a thread of its
 * own (now_ms: CLOCK_MONOTONIC). 0, or -1 (said). */
int logstore_commit(struct logstore *S, int sync, int64_t now_ms);

/* Writes out and closes the boot's files, if any (an error is said). */
void logstore_close(struct logstore *S);

#endif
