#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <time.h>

#include "fakeloop.h"

struct fakeloop_fd fakeloop_fds[FAKELOOP_SLOTS];
struct fakeloop_timer fakeloop_timers[FAKELOOP_SLOTS];

struct fakeloop_fd *fakeloop_find_fd(int fd)
{
	for (size_t i = 0; i < FAKELOOP_SLOTS; i++)
		if (fakeloop_fds[i].fn && fakeloop_fds[i].fd == fd)
			return &fakeloop_fds[i];
	return NULL;
}

int loop_add_fd(int fd, uint32_t events, loop_fd_fn fn, void *data)
{
	assert_null(fakeloop_find_fd(fd));
	for (size_t i = 0; i < FAKELOOP_SLOTS; i++)
		if (!fakeloop_fds[i].fn) {
			fakeloop_fds[i] = (struct fakeloop_fd){ fd, events, fn, data };
			return 0;
		}
	fail_msg("fake loop: too many fds");
	return -ENOSPC;
}

int loop_del_fd(int fd)
{
	struct fakeloop_fd *w = fakeloop_find_fd(fd);
	if (w)
		w->fn = NULL;
	return w ? 0 : -ENOENT;
}

int loop_mod_fd(int fd, uint32_t events)
{
	struct fakeloop_fd *w = fakeloop_find_fd(fd);
	assert_non_null(w);
	w->events = events;
	return 0;
}

int loop_add_timer(long delay_ms, loop_timer_fn fn, void *data)
{
	for (int i = 0; i < FAKELOOP_SLOTS; i++)
		if (!fakeloop_timers[i].fn) {
			fakeloop_timers[i] = (struct fakeloop_timer){ delay_ms, fn, data };
			return i;
		}
	fail_msg("fake loop: too many timers");
	return -ENOSPC;
}

void loop_del_timer(int id)
{
	if (id >= 0 && id < FAKELOOP_SLOTS)
		fakeloop_timers[id].fn = NULL;
}

int fakeloop_timers_pending(void)
{
	int n = 0;
	for (int i = 0; i < FAKELOOP_SLOTS; i++)
		n += fakeloop_timers[i].fn != NULL;
	return n;
}

int fakeloop_run_timers(void)
{
	struct fakeloop_timer due[FAKELOOP_SLOTS];
	int n = 0;

	/* Those pending now; what they add runs next turn. */
	for (int i = 0; i < FAKELOOP_SLOTS; i++) {
		due[i] = fakeloop_timers[i];
		fakeloop_timers[i].fn = NULL;
	}
	for (int i = 0; i < FAKELOOP_SLOTS; i++) {
		if (!due[i].fn)
			continue;
		n++;
		long again = due[i].fn(due[i].data);
		if (again >= 0)
			loop_add_timer(again, due[i].fn, due[i].data);
	}
	return n;
}

void loop_set_before_sleep(void (*fn)(void))
{
	(void)fn;
}

int64_t loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
