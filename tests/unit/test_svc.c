/* init/svc.c with real children (sh -c) on the fake loop: the phases run
 * in order, and the network coming up starts the services that wait for
 * it, never a step or task again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "fakeloop.h"
#include "recipe.h"
#include "svc.h"
#include "testutil.h"

static int steps_started, steps_ended, steps_done, ready;
static int go_on_after_step = 1;

static void on_ready(void) { ready++; }
static void on_boot_failed(const char *why) { (void)why; }
static void on_step_started(const struct recipe_unit *u) { (void)u; steps_started++; }
static int on_step_ended(const struct recipe_unit *u, int status, int timed_out)
{
	(void)u;
	(void)status;
	(void)timed_out;
	steps_ended++;
	return go_on_after_step;
}
static void on_steps_done(void) { steps_done++; }

static const struct svc_hooks hooks = { .ready = on_ready, .boot_failed = on_boot_failed,
					.step_started = on_step_started, .step_ended = on_step_ended,
					.steps_done = on_steps_done };

static struct recipe r;

static void load(const char *units)
{
	char err[RECIPE_ERR_MAX], text[2048];
	snprintf(text, sizeof(text), "[image]\nname = t\n%s", units);
	recipe_defaults(&r);
	if (recipe_parse(text, strlen(text), "test.conf", &r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

/* Reaps what has ended, for up to ms. */
static void reap_for(int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		usleep(10 * 1000);
		child_reap();
	}
}

static int running(const char *name)
{
	char buf[4096];
	struct jsonw w;
	jsonw_init(&w, buf, sizeof(buf));
	svc_status(&w);
	char want[128];
	snprintf(want, sizeof(want), "\"name\":\"%s\",", name);
	const char *at = strstr(buf, want);
	assert_non_null(at);
	return strncmp(strstr(at, "\"state\":") + 8, "\"running\"", 9) == 0;
}

static int all_stopped;
static void on_all_stopped(void) { all_stopped++; }

static void stop_everything(void)
{
	all_stopped = 0;
	svc_stop_all(on_all_stopped);
	for (int i = 0; i < 500 && !all_stopped; i++) {
		usleep(10 * 1000);
		child_reap();
	}
	assert_int_equal(all_stopped, 1);
}

static void reset(void)
{
	steps_started = steps_ended = steps_done = ready = 0;
}

/* A step runs while the network comes up: it is not started again; the
 * next starts at its end; the services that wait for the network start
 * once the steps are over. */
static void test_network_ready_during_a_step(void **state)
{
	(void)state;
	reset();
	load("[step.one]\nshell = yes\nexec = sleep 0.3\n"
	     "[step.two]\nshell = yes\nexec = true\n"
	     "[service.web]\nshell = yes\nneeds = network\nexec = sleep 5\n");
	go_on_after_step = 1;
	svc_start(&r, &hooks, 0, 1);
	assert_int_equal(steps_started, 1);
	svc_network_ready();
	assert_int_equal(steps_started, 1);  /* step one is not started twice */
	reap_for(800);
	assert_int_equal(steps_started, 2);
	assert_int_equal(steps_ended, 2);
	assert_int_equal(steps_done, 1);
	assert_false(running("web"));        /* the install phase has not said it is over */
	svc_steps_over();
	assert_true(running("web"));
	assert_int_equal(ready, 1);
	stop_everything();
}

/* A failed step the install phase stops at: nothing after it runs, not
 * when the network comes up either. */
static void test_network_ready_after_a_failed_step(void **state)
{
	(void)state;
	reset();
	load("[step.one]\nshell = yes\nexec = exit 3\n"
	     "[step.two]\nshell = yes\nexec = true\n");
	go_on_after_step = 0;
	svc_start(&r, &hooks, 0, 1);
	reap_for(300);
	assert_int_equal(steps_ended, 1);
	svc_network_ready();
	reap_for(100);
	assert_int_equal(steps_started, 1);
	assert_int_equal(steps_done, 0);
	stop_everything();
}

/* A task runs while the network comes up: not started again. */
static void test_network_ready_during_a_task(void **state)
{
	char dir[] = "/tmp/amphi-svc-XXXXXX", units[512], path[64];
	(void)state;
	reset();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/runs", dir);
	snprintf(units, sizeof(units),
		 "[task.setup]\nshell = yes\nexec = echo run >> %s; sleep 0.3\n"
		 "[service.web]\nshell = yes\nneeds = network\nexec = sleep 5\n", path);
	load(units);
	svc_start(&r, &hooks, 0, 0);
	reap_for(100);
	svc_network_ready();
	reap_for(600);
	size_t len = 0;
	char *runs = read_text(path, &len);
	assert_non_null(runs);
	assert_string_equal(runs, "run\n");  /* once */
	free(runs);
	assert_true(running("web"));
	assert_int_equal(ready, 1);
	stop_everything();
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_ready_during_a_step),
		cmocka_unit_test(test_network_ready_after_a_failed_step),
		cmocka_unit_test(test_network_ready_during_a_task),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
