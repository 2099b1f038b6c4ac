/* A fake of init/loop.c for unit tests: it remembers the fds and timers
 * the code under test registers, and lets the test fire them. Include
 * after <cmocka.h>. */
#ifndef AMPHI_FAKELOOP_H
#define AMPHI_FAKELOOP_H

#include "loop.h"

#include <stddef.h>
#include <stdint.h>

#define FAKELOOP_SLOTS 16

struct fakeloop_fd {
	int fd;
	uint32_t events;
	loop_fd_fn fn;       /* NULL: a free slot */
	void *data;
};

struct fakeloop_timer {
	long delay_ms;
	loop_timer_fn fn;    /* NULL: a free slot */
	void *data;
};

extern struct fakeloop_fd fakeloop_fds[FAKELOOP_SLOTS];
extern struct fakeloop_timer fakeloop_timers[FAKELOOP_SLOTS];

/* The watched fd, or NULL. */
struct fakeloop_fd *fakeloop_find_fd(int fd);
/* Timers pending now. */
int fakeloop_timers_pending(void);
/* Runs every pending timer once, as a turn of the loop does (a timer that
 * asks to run again stays). Returns how many ran. */
int fakeloop_run_timers(void);

#endif
