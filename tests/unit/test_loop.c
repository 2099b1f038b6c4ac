/* init/loop.c, the real one: timers come back after the delay their
 * callback returns, running out of slots is said, an event never reaches
 * a callback registered in its slot after it was reported, and a timer
 * set just before the wait bounds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

static int errors;
void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level == LOG_LVL_ERROR)
		errors++;
}

static int setup(void **state)
{
	(void)state;
	return loop_init();
}

static int runs;
static long again_ms;
static long tick(void *data)
{
	(void)data;
	runs++;
	return runs < 3 ? again_ms : -1;
}

/* Keeps the wait short while a test turns the loop. */
static long keepalive(void *data)
{
	(void)data;
	return 1;
}

/* A timer runs when due, again after what it returned, then is gone. */
static void test_timer_runs_until_it_says_stop(void **state)
{
	(void)state;
	runs = 0;
	again_ms = 5;
	int64_t start = loop_now_ms();
	int k = loop_add_timer(1, keepalive, NULL);
	assert_true(k >= 0 && loop_add_timer(10, tick, NULL) >= 0);
	for (int i = 0; i < 1000 && runs < 3; i++)
		loop_once();
	assert_int_equal(runs, 3);
	assert_true(loop_now_ms() - start >= 10 + 5 + 5);
	for (int i = 0; i < 20; i++)
		loop_once();
	assert_int_equal(runs, 3);  /* it said -1: gone */
	loop_del_timer(k);
}

static long never(void *data)
{
	(void)data;
	fail_msg("a deleted timer ran");
	return -1;
}

/* Every slot taken: the next timer is refused and that is said, once. */
static void test_full_table_is_said(void **state)
{
	int ids[1024], n = 0;
	(void)state;
	errors = 0;
	while (n < 1024 && (ids[n] = loop_add_timer(100000, never, NULL)) >= 0)
		n++;
	assert_true(n > 0 && n < 1024);
	assert_int_equal(errors, 1);
	assert_true(loop_add_timer(1, never, NULL) < 0);
	assert_int_equal(errors, 1);
	for (int i = 0; i < n; i++)
		loop_del_timer(ids[i]);
}

static int pipes[3][2];
static int calls[3];

static void on_third(int fd, uint32_t events, void *data)
{
	(void)fd;
	(void)events;
	(void)data;
	calls[2]++;
}

/* Whichever of the first two runs first drops the other and registers a
 * third fd (not readable) in the freed slot. */
static void on_first_two(int fd, uint32_t events, void *data)
{
	int me = (int)(intptr_t)data, other = 1 - me;
	(void)events;
	calls[me]++;
	char c;
	if (read(fd, &c, 1) != 1)
		fail_msg("no byte on a readable pipe");
	if (calls[other] == 0) {
		assert_int_equal(loop_del_fd(pipes[other][0]), 0);
		assert_int_equal(loop_add_fd(pipes[2][0], EPOLLIN, on_third, NULL), 0);
	}
}

static void test_event_of_a_freed_slot_is_not_delivered(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pipe2(pipes[i], O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(loop_add_fd(pipes[0][0], EPOLLIN, on_first_two, (void *)0), 0);
	assert_int_equal(loop_add_fd(pipes[1][0], EPOLLIN, on_first_two, (void *)1), 0);
	assert_int_equal(write(pipes[0][1], "a", 1), 1);
	assert_int_equal(write(pipes[1][1], "b", 1), 1);
	assert_true(loop_add_timer(50, tick, NULL) >= 0);  /* the wait ends even if nothing is reported */
	loop_once();  /* one batch: both pipes reported */
	assert_int_equal(calls[0] + calls[1], 1);
	assert_int_equal(calls[2], 0);  /* the freed slot's event did not reach the third fd */
	for (int i = 0; i < 3; i++) {
		loop_del_fd(pipes[i][0]);
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
}

static int armed;
static long once(void *data)
{
	(void)data;
	runs++;
	return -1;
}

/* Work done before the wait (the log's turn) that sets a timer: the wait
 * ends when that timer is due, not when something else wakes the loop
 * (here nothing would: alarm ends the test if it hangs). */
static void arm_a_timer(void)
{
	if (!armed++)
		loop_add_timer(20, once, NULL);
}

static void test_timer_set_before_sleep_bounds_the_wait(void **state)
{
	(void)state;
	runs = 0;
	armed = 0;
	loop_set_before_sleep(arm_a_timer);
	alarm(5);
	int64_t start = loop_now_ms();
	for (int i = 0; i < 10 && !runs; i++)
		loop_once();
	alarm(0);
	loop_set_before_sleep(NULL);
	assert_int_equal(runs, 1);
	assert_true(loop_now_ms() - start >= 20);
}

static int slow_turns;
static void slow_before_sleep(void)
{
	if (!slow_turns++)
		usleep(10 * 1000);
}

/* A timer that comes due while before_sleep runs is run next turn, not
 * left waiting for some other wakeup. */
static void test_timer_due_during_before_sleep(void **state)
{
	(void)state;
	runs = 0;
	slow_turns = 0;
	assert_true(loop_add_timer(2, once, NULL) >= 0);
	loop_set_before_sleep(slow_before_sleep);
	alarm(5);
	for (int i = 0; i < 10 && !runs; i++)
		loop_once();
	alarm(0);
	loop_set_before_sleep(NULL);
	assert_int_equal(runs, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_runs_until_it_says_stop),
		cmocka_unit_test(test_full_table_is_said),
		cmocka_unit_test(test_event_of_a_freed_slot_is_not_delivered),
		cmocka_unit_test(test_timer_set_before_sleep_bounds_the_wait),
		cmocka_unit_test(test_timer_due_during_before_sleep),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
