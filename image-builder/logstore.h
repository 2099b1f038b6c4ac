/* What amphi logs --out keeps of a stream: per boot, DIR/<boot>/all.log,
 * DIR/<boot>/<app>.log, and DIR/<boot>/.stored (the highest sequence
 * number in those files, so a reader started again stores nothing twice).
 * Names come from the guest: they are sanitised before they become file
 * names. Every error is said on stderr with the file it concerns. */
#ifndef AMPHI_LOGSTORE_H
#define AMPHI_LOGSTORE_H

#include "logread.h"
#include "storefile.h"

#include <errno.h>
#include <stdint.h>

/* Per-app files stay open (and buffered) while a boot lasts; past this
 * many apps, the least recently opened one is closed to make room. */
#define LOGSTORE_APP_FILES 16
/* Every new syslog tag would make a file: past this many in a boot, the
 * records of programs without one go to all.log only (said once). */
#define LOGSTORE_APPS_MAX 64
/* The boots --out keeps by default (--max-boots), the oldest removed. */
#define LOGSTORE_BOOTS_MAX 100

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
	uint64_t highest;                  /* the highest seq put (in the files or their buffers) */
	uint64_t flushed;                  /* the highest seq in the files: what .stored says */
	int64_t synced_ms;                 /* when all.log last reached the disk */
	int apps_made;                     /* program files in the boot's directory */
	int apps_said;                     /* that the rest go to all.log only */
	int max_boots;                     /* --max-boots; 0: no limit */
	uint64_t max_size;                 /* --max-size in bytes; 0: no limit */
	uint64_t used;                     /* bytes the boots hold, about (counted as put) */
	char full[768];                    /* why the store cannot take more, when it is full */
};

/* A store under the directory outfd (out: its name, for messages), with
 * its bounds (0: none). */
void logstore_init(struct logstore *S, const char *out, int outfd, int max_boots, uint64_t max_size);

/* The store is full: the disk (-ENOSPC, -EDQUOT) or --max-size (-EFBIG).
 * S->full says which file and why; nothing is lost: what was put is kept
 * in the buffers and written by a later commit, what was not is not. */
static inline int logstore_is_full(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT || rc == -EFBIG;
}

/* Closes the boot open, if any, and opens (makes) DIR/<id>/ and its
 * all.log; S->highest is then what .stored says is there (0: nothing).
 * Boots past --max-boots are removed, the oldest first. 0, -errno of a
 * full store, or -1 (said). */
int logstore_boot(struct logstore *S, const char *id);

/* "uptime source app: message\n" into all.log and <app>.log, escaped:
 * both or neither. 0, -errno of a full store (the record is not put), or
 * -1 (said: the store is not to be trusted after it). */
int logstore_put(struct logstore *S, const struct logrec_parsed *p);

/* Before an ack: everything put is written out (to the page cache; with
 * sync, all.log also to the disk) and .stored says so; boots past
 * --max-size are removed, the oldest first. Without sync, all.log is sent
 * to the disk about once a second, by a thread of its own (now_ms:
 * CLOCK_MONOTONIC). 0; -errno of a full store (then call again later:
 * nothing may be acknowledged until it returns 0), or -1 (said). */
int logstore_commit(struct logstore *S, int sync, int64_t now_ms);

/* Writes out and closes the boot's files, if any (an error is said). */
void logstore_close(struct logstore *S);

#endif
