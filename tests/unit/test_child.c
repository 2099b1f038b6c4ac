/* init/child.c: restart delays by policy, the reaper telling each owner,
 * timers, and a stop that ends with SIGKILL, on real child processes and
 * the fake loop (tests/unit/fakeloop.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "fakeloop.h"
#include "log.h"

void log_msg(enum log_level level, const char *fmt, ...) {}

static int ended_calls, ended_status, none_left_calls;
static pid_t fake_pid = 1000000;  /* beyond pid_max: never a real process */
static int ignore_term;

static pid_t fake_start(struct child *c)
{
	(void)c;
	return ++fake_pid;
}

/* A real child: it sleeps until signalled (or ignores TERM, if asked). */
static pid_t real_start(struct child *c)
{
	(void)c;
	pid_t pid = fork();
	if (pid == 0) {
		if (ignore_term)
			signal(SIGTERM, SIG_IGN);
		setpgid(0, 0);
		for (;;)
			pause();
	}
	if (pid > 0)
		setpgid(pid, pid);  /* as spawn's setsid does, before child_signal's kill(-pid) */
	return pid;
}

static void count_end(struct child *c, int status)
{
	(void)c;
	ended_calls++;
	ended_status = status;
}

static void count_none_left(void)
{
	none_left_calls++;
}

/* The delays each policy gives to a child that keeps dying at once, after
 * a stable run, and to a fast death after that. */
static void expect_delays(enum child_policy policy, const long *want, size_t n, long after_stable, long then)
{
	/* Static: child.c keeps every child it started. */
	static struct child cs[3];
	struct child *c = &cs[policy];
	*c = (struct child)CHILD_INIT("c", policy, fake_start, count_end);
	assert_int_equal(child_start(c), 0);
	for (size_t i = 0; i < n; i++) {
		c->started_ms = loop_now_ms();  /* it ran for no time */
		assert_int_equal(child_backoff(c), want[i]);
	}
	assert_int_equal(c->restarts, (int)n);
	c->started_ms = loop_now_ms() - 60000;  /* up for a minute */
	assert_int_equal(child_backoff(c), after_stable);
	c->started_ms = loop_now_ms();
	assert_int_equal(child_backoff(c), then);
}

static void test_policies(void **state)
{
	static const long service[] = { 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000 };
	static const long getty[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
	static const long shell[] = { 1000, 1000, 1000 };
	(void)state;
	expect_delays(CHILD_SERVICE, service, sizeof(service) / sizeof(service[0]), 100, 200);
	expect_delays(CHILD_GETTY, getty, sizeof(getty) / sizeof(getty[0]), 0, 1000);
	expect_delays(CHILD_SHELL, shell, sizeof(shell) / sizeof(shell[0]), 1000, 1000);
}

/* The reaper tells the owner of the pid, once, with its status; a pid
 * that is no child of ours is nobody's. */
static void test_exited_tells_the_owner(void **state)
{
	static struct child a = CHILD_INIT("a", CHILD_SERVICE, fake_start, count_end);
	static struct child b = CHILD_INIT("b", CHILD_SERVICE, fake_start, count_end);
	(void)state;
	ended_calls = 0;
	assert_int_equal(child_start(&a), 0);
	assert_int_equal(child_start(&b), 0);
	assert_int_equal(child_start(&a), 0);  /* again: known once, a new pid */
	assert_int_equal(child_exited(b.pid, 7 << 8), 1);
	assert_int_equal(ended_calls, 1);
	assert_int_equal(b.pid, 0);
	assert_int_equal(b.last_status, 7 << 8);
	assert_int_equal(child_exited(b.pid + 12345, 0), 0);
	assert_int_equal(child_exited(0, 0), 0);
	assert_int_equal(ended_calls, 1);
	char how[64];
	child_describe(b.last_status, how, sizeof(how));
	assert_string_equal(how, "exited with status 7");
	child_describe(SIGKILL, how, sizeof(how));
	assert_string_equal(how, "was killed by signal 9");
	assert_int_equal(child_exited(a.pid, 0), 1);
}

static int fired;
static void count_fire(struct child *c)
{
	(void)c;
	fired++;
}

/* One timer a child: a new one takes the place of the pending one; its
 * end cancels it. */
static void test_one_timer_a_child(void **state)
{
	static struct child c = CHILD_INIT("c", CHILD_SERVICE, fake_start, count_end);
	(void)state;
	fired = 0;
	assert_int_equal(child_start(&c), 0);
	assert_int_equal(child_timer(&c, 5000, count_fire), 0);
	assert_int_equal(child_timer(&c, 100, count_fire), 0);
	assert_int_equal(fakeloop_timers_pending(), 1);
	fakeloop_run_timers();
	assert_int_equal(fired, 1);
	assert_int_equal(c.timer, -1);
	assert_int_equal(child_timer(&c, 100, count_fire), 0);
	child_exited(c.pid, 0);
	assert_int_equal(fakeloop_timers_pending(), 0);
	assert_int_equal(c.timer, -1);
}

/* A stop: the signal, then SIGKILL once the timeout is over; the real
 * reaper (waitpid) tells the owner, and says when no child is left. */
static void test_stop_and_reap(void **state)
{
	static struct child c = CHILD_INIT("sleeper", CHILD_SERVICE, real_start, count_end);
	(void)state;
	ended_calls = none_left_calls = 0;
	child_on_none_left(count_none_left);
	ignore_term = 1;
	assert_int_equal(child_start(&c), 0);
	usleep(100 * 1000);  /* its handler is set */
	child_stop(&c, SIGTERM, 3);
	assert_int_equal(fakeloop_timers_pending(), 1);
	usleep(100 * 1000);
	child_reap();
	assert_int_equal(ended_calls, 0);  /* it ignores TERM */
	fakeloop_run_timers();  /* the timeout: SIGKILL */
	for (int i = 0; i < 100 && !ended_calls; i++) {
		usleep(10 * 1000);
		child_reap();
	}
	assert_int_equal(ended_calls, 1);
	assert_true(WIFSIGNALED(ended_status) && WTERMSIG(ended_status) == SIGKILL);
	assert_int_equal(none_left_calls, 1);
	assert_int_equal(fakeloop_timers_pending(), 0);

	/* One that takes its stop signal ends with it. */
	ignore_term = 0;
	assert_int_equal(child_start(&c), 0);
	usleep(100 * 1000);
	child_stop(&c, SIGTERM, 3);
	for (int i = 0; i < 100 && ended_calls < 2; i++) {
		usleep(10 * 1000);
		child_reap();
	}
	assert_int_equal(ended_calls, 2);
	assert_true(WIFSIGNALED(ended_status) && WTERMSIG(ended_status) == SIGTERM);
	assert_int_equal(fakeloop_timers_pending(), 0);
}

static int fails_left, tries;

/* Fails while fails_left, asking to be tried again as a start function
 * may. */
static pid_t flaky_start(struct child *c)
{
	tries++;
	if (fails_left-- > 0) {
		child_respawn(c);
		return -1;
	}
	return ++fake_pid;
}

/* A start that keeps failing is tried again at the policy's growing pace,
 * never at once; once up and stable a while, a getty comes back at once. */
static void test_respawn(void **state)
{
	static struct child c = CHILD_INIT("flaky", CHILD_GETTY, flaky_start, count_end);
	(void)state;
	tries = 0;
	fails_left = 3;
	assert_int_equal(child_start(&c), -1);
	long want[] = { 1000, 2000, 4000 };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fakeloop_timers_pending(), 1);
		assert_int_equal(fakeloop_timers[c.timer].delay_ms, want[i]);
		fakeloop_run_timers();
	}
	assert_int_equal(tries, 4);
	assert_true(c.pid > 0);
	assert_int_equal(fakeloop_timers_pending(), 0);
	c.started_ms = loop_now_ms() - 60000;  /* up for a minute */
	assert_int_equal(child_exited(c.pid, 0), 1);
	assert_int_equal(child_respawn(&c), 0);
	assert_int_equal(tries, 5);  /* started again at once */
	assert_true(c.pid > 0);
	assert_int_equal(fakeloop_timers_pending(), 0);
	child_exited(c.pid, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_exited_tells_the_owner),
		cmocka_unit_test(test_one_timer_a_child),
		cmocka_unit_test(test_respawn),
		cmocka_unit_test(test_stop_and_reap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
