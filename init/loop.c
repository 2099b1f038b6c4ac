#include "loop.h"
#include "log.h"
#include "recipe.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* Sized from what a recipe can ask for: a unit holds at most one timer at
 * a time (its timeout, restart or stop) and one fd (its output pipe), a
 * getty one timer (its respawn); the rest of PID 1 (log sinks and sources,
 * signals, power buttons, the control FIFO, the agent, the network's wait,
 * the shutdown) fewer than 24 timers and 40 fds. Running out would be a bug in that sum: it is
 * said, never silent. */
#define LOOP_MAX_FDS (RECIPE_UNITS_MAX + 40)
#define LOOP_MAX_TIMERS (RECIPE_UNITS_MAX + RECIPE_TTYS_MAX + 24)

struct loop_fd {
	int fd;
	loop_fd_fn fn;
	void *data;
	uint32_t gen;  /* bumped as the slot is freed: see loop_run */
};

struct loop_timer {
	int64_t due;  /* 0 = free slot */
	loop_timer_fn fn;
	void *data;
};

static int epfd = -1;
static struct loop_fd fds[LOOP_MAX_FDS];
static struct loop_timer timers[LOOP_MAX_TIMERS];
static void (*before_sleep)(void);
static int full_said;  /* a table ran out: said once (saying it may ask for a timer) */

void loop_set_before_sleep(void (*fn)(void))
{
	before_sleep = fn;
}

int64_t loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	for (int i = 0; i < LOOP_MAX_FDS; i++)
		fds[i].fd = -1;
	return 0;
}

int loop_add_fd(int fd, uint32_t events, loop_fd_fn fn, void *data)
{
	for (int i = 0; i < LOOP_MAX_FDS; i++) {
		if (fds[i].fd >= 0)
			continue;
		struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)fds[i].gen << 32 | (uint32_t)i };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		fds[i] = (struct loop_fd){ fd, fn, data, fds[i].gen };
		return 0;
	}
	if (!full_said++)  /* once: the log's own retry timer may be what did not fit */
		log_error("loop: all %d fd slots are taken; fd %d is not watched (a bug: please report it)", LOOP_MAX_FDS, fd);
	return -ENOSPC;
}

int loop_del_fd(int fd)
{
	for (int i = 0; i < LOOP_MAX_FDS; i++) {
		if (fds[i].fd != fd)
			continue;
		fds[i].fd = -1;
		fds[i].gen++;
		return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
	}
	return -ENOENT;
}

int loop_mod_fd(int fd, uint32_t events)
{
	for (int i = 0; i < LOOP_MAX_FDS; i++) {
		if (fds[i].fd != fd)
			continue;
		struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)fds[i].gen << 32 | (uint32_t)i };
		return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	}
	return -ENOENT;
}

int loop_add_timer(long delay_ms, loop_timer_fn fn, void *data)
{
	for (int i = 0; i < LOOP_MAX_TIMERS; i++) {
		if (timers[i].due)
			continue;
		timers[i] = (struct loop_timer){ loop_now_ms() + delay_ms + 1, fn, data };
		return i;
	}
	if (!full_said++)
		log_error("loop: all %d timer slots are taken; a timer of %ld ms is lost (a bug: please report it)",
			  LOOP_MAX_TIMERS, delay_ms);
	return -ENOSPC;
}

void loop_del_timer(int id)
{
	if (id >= 0 && id < LOOP_MAX_TIMERS)
		timers[id].due = 0;
}

static void run_due_timers(void)
{
	int64_t now = loop_now_ms();

	for (int i = 0; i < LOOP_MAX_TIMERS; i++)
		if (timers[i].due && timers[i].due <= now) {
			long again = timers[i].fn(timers[i].data);
			/* The callback may have deleted or replaced its own slot. */
			if (timers[i].due && timers[i].due <= now)
				timers[i].due = again < 0 ? 0 : now + again + 1;
		}
}

/* Milliseconds until the next timer is due, or -1 for none. */
static int next_timeout(void)
{
	int64_t now = loop_now_ms(), next = -1;

	for (int i = 0; i < LOOP_MAX_TIMERS; i++) {
		if (!timers[i].due)
			continue;
		/* Due while before_sleep ran: at once, not never. */
		int64_t in = timers[i].due > now ? timers[i].due - now : 0;
		if (next < 0 || in < next)
			next = in;
	}
	return (int)next;
}

void loop_once(void)
{
	struct epoll_event events[16];

	run_due_timers();
	if (before_sleep)
		before_sleep();
	/* After before_sleep: a timer it sets bounds this wait too. */
	int n = epoll_wait(epfd, events, 16, next_timeout());
	if (n < 0) {
		if (errno != EINTR) {
			log_error("epoll_wait: %s; retrying in 1 s", strerror(errno));
			/* Bounded: a broken epoll fd must not spin PID 1. */
			sleep(1);
		}
		return;
	}
	/* A callback may free a slot whose event is still in this batch, and
	 * another may take the slot for a new fd: the event was the old fd's,
	 * and the generation tells them apart. */
	for (int i = 0; i < n; i++) {
		struct loop_fd *f = &fds[(uint32_t)events[i].data.u64];
		if (f->fd >= 0 && f->gen == (uint32_t)(events[i].data.u64 >> 32))
			f->fn(f->fd, events[i].events, f->data);
	}
}

void loop_run(void)
{
	for (;;)
		loop_once();
}
