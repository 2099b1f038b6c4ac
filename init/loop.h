/* PID 1's one event loop: file descriptors with callbacks, and timers whose
 * callback returns the next delay (the shape of redis' ae). Nothing else in
 * the init waits. */
#ifndef AMPHI_LOOP_H
#define AMPHI_LOOP_H

#include <stdint.h>

typedef void (*loop_fd_fn)(int fd, uint32_t events, void *data);
/* What a callback reads in one turn at most (reads of its own buffer).
 * epoll here is level-triggered: what is left is reported again next
 * turn, after timers, signals and every other fd. A callback that read
 * until EAGAIN let whoever keeps its fd busy (a flood of /dev/log, a
 * service's orphan, the host's acks, inotify events) hold PID 1 for good. */
#define LOOP_READS_PER_TURN 64
/* Returns the delay in ms until it runs again, or -1 to be removed. */
typedef long (*loop_timer_fn)(void *data);

int loop_init(void);
/* events are EPOLLIN/EPOLLOUT/...; returns 0 or -errno. */
int loop_add_fd(int fd, uint32_t events, loop_fd_fn fn, void *data);
int loop_del_fd(int fd);
/* Changes the events an fd is watched for. */
int loop_mod_fd(int fd, uint32_t events);
/* Returns a timer id >= 0, or -errno when all timer slots are taken. */
int loop_add_timer(long delay_ms, loop_timer_fn fn, void *data);
void loop_del_timer(int id);
/* Called once per turn of the loop, before it waits: work that gains from
 * being batched (sending the records a turn produced) goes here. */
void loop_set_before_sleep(void (*fn)(void));
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t loop_now_ms(void);
/* One turn: due timers, the before-sleep work, one wait (until the next
 * timer at most) and the callbacks of what it reported. */
void loop_once(void);
/* Turns forever. */
void loop_run(void) __attribute__((noreturn));

#endif
