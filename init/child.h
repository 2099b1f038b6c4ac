/* PID 1's children in one place: started through spawn by their owner's
 * start function, reaped here, started again after the delay their
 * restart policy gives, stopped with a signal to their process group and
 * a bounded wait. Services, install steps and tasks (svc), gettys (tty)
 * and the emergency shell are children; what to do when one ends is its
 * owner's to say (its ended function). */
#ifndef AMPHI_CHILD_H
#define AMPHI_CHILD_H

#include <stdint.h>
#include <sys/types.h>

/* Restart policies (child.c's table): the delay before a start again
 * grows from first_ms, doubling, up to cap_ms; a run of stable_ms or more
 * was a used child, not a broken one, and is started again after_stable_ms
 * later. */
enum child_policy {
	CHILD_SERVICE,  /* 100 ms .. 30 s; 100 ms after 10 s up */
	CHILD_GETTY,    /* 1 s .. 30 s; at once after 10 s up (a session ended) */
	CHILD_SHELL,    /* always 1 s: a shell that dies at once is not a tight loop */
};

struct child {
	/* The owner's. */
	const char *name;
	enum child_policy policy;
	/* Starts it: the pid, or -1 after saying why it could not. */
	pid_t (*start)(struct child *c);
	/* It ended; status as from waitpid. */
	void (*ended)(struct child *c, int status);
	/* child.c's; the owner may read them. */
	pid_t pid;              /* 0: not running */
	int64_t started_ms;     /* when it was last started or tried; 0: never */
	int64_t since_ms;       /* when it last started or ended */
	int last_status;        /* as from waitpid; -1 before the first end */
	int restarts;
	long backoff_ms;        /* the last delay given */
	int timer;              /* its one timer (a start to come, or a timeout): -1 none */
	void (*timer_fn)(struct child *c);
	int stop_timeout_s;
};

#define CHILD_INIT(n, pol, st, en) \
	{ .name = (n), .policy = (pol), .start = (st), .ended = (en), .last_status = -1, .timer = -1 }

/* Starts c now: 0, or -1 (start said why). */
int child_start(struct child *c);
/* The delay c's policy gives before it starts again, from how long its
 * last run was; counts a restart. */
long child_backoff(struct child *c);
/* Starts c again after the delay its policy gives (at once for 0), and
 * returns that delay. A start function that fails may call it too: the
 * delays then grow as for a child that died at once. */
long child_respawn(struct child *c);
/* Runs fn(c) in ms, in place of c's pending timer, if any. 0 or -errno
 * (said). */
int child_timer(struct child *c, long ms, void (*fn)(struct child *c));
void child_cancel_timer(struct child *c);
/* Sends sig to c's process group, or to c itself before it has made the
 * group. */
void child_signal(const struct child *c, int sig);
/* Sends sig (and SIGCONT), and SIGKILL if it still runs timeout_s later. */
void child_stop(struct child *c, int sig, int timeout_s);
/* Reaps until no zombie is left: a known child's owner is told; others
 * (orphans PID 1 adopted) are reaped and forgotten. When no child at all
 * remains, none_left runs (if set). */
void child_reap(void);
void child_on_none_left(void (*fn)(void));
/* One reaped child: its owner is told. 1 if it was one of ours. */
int child_exited(pid_t pid, int status);
/* "exited with status N" or "was killed by signal N". */
void child_describe(int status, char *out, size_t outlen);

#endif
