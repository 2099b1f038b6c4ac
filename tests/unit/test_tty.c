/* init/tty.c: tty_resolve() against the fixture trees in
 * tests/fixtures/tty/<name>/ (proc/cmdline, sys/class/tty/console/active,
 * plain files standing in for the /dev nodes), and the getty respawn
 * policy with spawn() and the loop's timers and clock replaced below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "loop.h"
#include "spawn.h"
#include "tty.h"
#include "testutil.h"

/* ---- fakes for spawn() and the loop; reaping is child.c's own ---- */

#define FAKE_TIMERS 16
#define ARGV_MAX 16

static struct {
	int used;
	long delay;
	loop_timer_fn fn;
	void *data;
} timers[FAKE_TIMERS];
static int64_t now_ms;
static pid_t next_pid;
static int spawn_fail;       /* the next spawn returns -EAGAIN */
static int spawns;           /* calls since the test began */
static char last_argv[ARGV_MAX][64];
static int last_argc;
static int last_with_console;

pid_t spawn(char *const argv[], int with_console_tty)
{
	spawns++;
	last_argc = 0;
	for (int i = 0; argv[i] && i < ARGV_MAX; i++)
		snprintf(last_argv[last_argc++], sizeof(last_argv[0]), "%s", argv[i]);
	last_with_console = with_console_tty;
	if (spawn_fail) {
		spawn_fail = 0;
		return -EAGAIN;
	}
	return ++next_pid;
}

int loop_add_timer(long delay_ms, loop_timer_fn fn, void *data)
{
	for (int i = 0; i < FAKE_TIMERS; i++)
		if (!timers[i].used) {
			timers[i].used = 1;
			timers[i].delay = delay_ms;
			timers[i].fn = fn;
			timers[i].data = data;
			return i;
		}
	return -ENOSPC;
}

void loop_del_timer(int id)
{
	if (id >= 0 && id < FAKE_TIMERS)
		timers[id].used = 0;
}

int64_t loop_now_ms(void)
{
	return now_ms;
}

static int timers_used(void)
{
	int n = 0;
	for (int i = 0; i < FAKE_TIMERS; i++)
		n += timers[i].used;
	return n;
}

/* The one pending timer's delay; fails when there is not exactly one. */
static long pending_delay(void)
{
	assert_int_equal(timers_used(), 1);
	for (int i = 0; i < FAKE_TIMERS; i++)
		if (timers[i].used)
			return timers[i].delay;
	return -1;
}

/* Lets the clock reach the pending timer and runs it, as the loop would. */
static void fire_timer(void)
{
	for (int i = 0; i < FAKE_TIMERS; i++)
		if (timers[i].used) {
			now_ms += timers[i].delay;
			long again = timers[i].fn(timers[i].data);
			if (timers[i].used) {
				timers[i].used = again >= 0;
				timers[i].delay = again;
			}
			return;
		}
	fail_msg("no timer pending");
}

/* A getty's end, as child_reap hands it over after waitpid. */
static int tty_reaped(pid_t pid)
{
	return child_exited(pid, 0);
}

static int reset(void **state)
{
	(void)state;
	tty_stop();
	/* The last test's gettys end, so its pids, used again, are not theirs. */
	for (pid_t pid = 101; pid <= next_pid; pid++)
		tty_reaped(pid);
	memset(timers, 0, sizeof(timers));
	now_ms = 1000000;
	next_pid = 100;
	spawn_fail = 0;
	spawns = 0;
	last_argc = 0;
	unsetenv("container_ttys");
	return 0;
}

/* ---- helpers ---- */

static const char *tree(const char *name)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/tty/%s", fixtures_dir(), name);
	return path;
}

/* A recipe whose getty list is the NULL-terminated words given. */
static struct recipe recipe_with(const char *first, ...)
{
	struct recipe r;
	va_list ap;

	recipe_defaults(&r);
	r.getty.n = 0;
	va_start(ap, first);
	for (const char *w = first; w; w = va_arg(ap, const char *))
		snprintf(r.getty.item[r.getty.n++], RECIPE_WORD_MAX, "%s", w);
	va_end(ap);
	return r;
}

/* Resolves and compares with the expected names, given as one
 * space-separated string ("" for none). */
static void expect_resolve(const char *fixture, enum world world, const struct recipe *r,
			   const char *container_ttys, const char *expected)
{
	char names[TTY_MAX][TTY_NAME_MAX];
	char got[TTY_MAX * (TTY_NAME_MAX + 1)] = "";
	int n = tty_resolve(tree(fixture), world, r, container_ttys, names, TTY_MAX);

	for (int i = 0; i < n; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, names[i]);
	}
	if (strcmp(got, expected) != 0)
		fail_msg("%s: expected '%s', got '%s'", fixture, expected, got);
}

/* ---- tty_resolve: the VM's console ---- */

static void test_vm_console_ttys0(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	expect_resolve("vm-ttys0", WORLD_VM, &r, NULL, "ttyS0");
}

static void test_vm_last_console_wins(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	expect_resolve("vm-two-consoles", WORLD_VM, &r, NULL, "hvc0");
}

static void test_vm_console_hvc0(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	expect_resolve("vm-hvc0", WORLD_VM, &r, NULL, "hvc0");
}

static void test_vm_console_options_and_dev_prefix(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	expect_resolve("vm-options", WORLD_VM, &r, NULL, "ttyS1");
}

static void test_vm_tty0_means_first_vt(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	expect_resolve("vm-tty0", WORLD_VM, &r, NULL, "tty1");
}

static void test_vm_active_last_entry(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	expect_resolve("vm-active", WORLD_VM, &r, NULL, "ttyS0");
}

static void test_vm_no_console_at_all(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	expect_resolve("vm-no-console", WORLD_VM, &r, NULL, "");
	expect_resolve("does-not-exist", WORLD_VM, &r, NULL, "");
}

static void test_bare_metal_is_like_a_vm(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	expect_resolve("vm-ttys0", WORLD_NONE, &r, NULL, "ttyS0");
}

static void test_vm_console_keyword(void **state)
{
	struct recipe r = recipe_with("console", NULL);
	(void)state;
	expect_resolve("vm-hvc0", WORLD_VM, &r, NULL, "hvc0");
}

/* ---- tty_resolve: explicit lists, none, duplicates ---- */

static void test_explicit_names_as_given(void **state)
{
	struct recipe r = recipe_with("ttyS1", "tty2", "hvc9", NULL);
	(void)state;
	/* Missing devices are tty_start's business (a log line), not resolve's. */
	expect_resolve("vm-ttys0", WORLD_VM, &r, NULL, "ttyS1 tty2 hvc9");
	expect_resolve("lxc", WORLD_CONTAINER, &r, "pts/1 pts/2", "ttyS1 tty2 hvc9");
}

static void test_none(void **state)
{
	struct recipe r = recipe_with("none", NULL);
	(void)state;
	expect_resolve("vm-ttys0", WORLD_VM, &r, NULL, "");
	expect_resolve("lxc", WORLD_CONTAINER, &r, "pts/1 pts/2", "");
	r.getty.n = 0;
	expect_resolve("vm-ttys0", WORLD_VM, &r, NULL, "");
}

static void test_dedupe(void **state)
{
	struct recipe vm = recipe_with("auto", "ttyS0", "console", "ttyS1", "ttyS1", NULL);
	struct recipe ct = recipe_with("tty2", "auto", "tty1", "auto", NULL);
	(void)state;
	expect_resolve("vm-ttys0", WORLD_VM, &vm, NULL, "ttyS0 ttyS1");
	expect_resolve("lxc", WORLD_CONTAINER, &ct, "pts/1 pts/2", "tty2 tty1");
}

static void test_more_than_max(void **state)
{
	struct recipe r = recipe_with("tty1", "tty2", "tty3", NULL);
	char names[2][TTY_NAME_MAX];
	(void)state;
	assert_int_equal(tty_resolve(tree("vm-ttys0"), WORLD_VM, &r, NULL, names, 2), 2);
	assert_string_equal(names[1], "tty2");
}

/* ---- tty_resolve: containers ---- */

static void test_lxc_container_ttys(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	/* What LXC sets when it sets it: the ptys, bound onto /dev/ttyN. */
	expect_resolve("lxc", WORLD_CONTAINER, &r, "pts/1 pts/2", "tty1 tty2");
	expect_resolve("lxc", WORLD_CONTAINER, &r, " pts/1  pts/2 ", "tty1 tty2");
	/* An entry without its /dev/ttyN is that pty itself. */
	expect_resolve("lxc", WORLD_CONTAINER, &r, "pts/1 pts/2 /dev/pts/2", "tty1 tty2 pts/2");
}

static void test_lxc_502_without_container_ttys(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	/* LXC 5.0.2 sets no container_ttys (lxc issue 4198): /dev/tty1..N. */
	expect_resolve("lxc-502", WORLD_CONTAINER, &r, NULL, "tty1 tty2 tty3");
	expect_resolve("lxc-502", WORLD_CONTAINER, &r, "", "tty1 tty2 tty3");
}

static void test_container_without_ttys(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	/* Never the console: it is where the init logs. */
	expect_resolve("no-ttys", WORLD_CONTAINER, &r, NULL, "");
}

static void test_libvirt_console_left_alone(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	/* libvirt-lxc lists its console pty too; /dev/console -> pts/0. */
	expect_resolve("libvirt-lxc", WORLD_CONTAINER, &r, "pts/0 pts/1", "pts/1");
}

static void test_container_console_keyword(void **state)
{
	struct recipe r = recipe_with("console", "auto", NULL);
	(void)state;
	expect_resolve("lxc", WORLD_CONTAINER, &r, "pts/1 pts/2", "console tty1 tty2");
}

/* ---- tty_start and respawning ---- */

static void expect_argv(const char *expected)
{
	char got[ARGV_MAX * 64] = "";
	for (int i = 0; i < last_argc; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, last_argv[i]);
	}
	assert_string_equal(got, expected);
	/* getty makes its tty the controlling one in its own session. */
	assert_int_equal(last_with_console, 0);
}

static void test_start_vm_getty(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	tty_start(tree("vm-ttys0"), WORLD_VM, &r);
	assert_int_equal(spawns, 1);
	expect_argv("/bin/busybox getty -L 0 ttyS0 vt100");
	assert_int_equal(timers_used(), 0);
	assert_int_equal(tty_reaped(101), 1);
	assert_int_equal(tty_reaped(4242), 0);
}

static void test_start_vm_vt_is_linux(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	tty_start(tree("vm-tty0"), WORLD_VM, &r);
	expect_argv("/bin/busybox getty -L 0 tty1 linux");
}

static void test_start_autologin(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	r.autologin = 1;
	tty_start(tree("vm-hvc0"), WORLD_VM, &r);
	expect_argv("/bin/busybox getty -L -n -l /usr/libexec/amphi/autologin 0 hvc0 vt100");
}

static void test_start_container_from_env(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	setenv("container_ttys", "pts/1 pts/2", 1);
	tty_start(tree("lxc"), WORLD_CONTAINER, &r);
	assert_int_equal(spawns, 2);
	expect_argv("/bin/busybox getty -L 0 tty2 vt100");
}

static void test_start_skips_missing_devices(void **state)
{
	struct recipe r = recipe_with("hvc0", "ttyS0", "pts", NULL);
	(void)state;
	/* hvc0 is not in this tree, pts is a directory: one getty, no error. */
	tty_start(tree("lxc"), WORLD_CONTAINER, &r);
	assert_int_equal(spawns, 0);
	tty_start(tree("vm-ttys0"), WORLD_VM, &r);
	assert_int_equal(spawns, 1);
	expect_argv("/bin/busybox getty -L 0 ttyS0 vt100");
}

static void test_backoff_grows_and_resets(void **state)
{
	static const long expected[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
	struct recipe r = recipe_with("auto", NULL);
	pid_t pid;
	(void)state;

	tty_start(tree("vm-ttys0"), WORLD_VM, &r);
	pid = next_pid;
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		now_ms += 50;  /* dies at once */
		assert_int_equal(tty_reaped(pid), 1);
		assert_int_equal(spawns, (int)i + 1);  /* not respawned yet */
		assert_int_equal(pending_delay(), expected[i]);
		fire_timer();
		assert_int_equal(spawns, (int)i + 2);
		assert_int_equal(timers_used(), 0);
		pid = next_pid;
	}

	/* A session that lasted: the next prompt comes at once... */
	now_ms += 60000;
	assert_int_equal(tty_reaped(pid), 1);
	assert_int_equal(timers_used(), 0);
	assert_int_equal(spawns, 9);
	pid = next_pid;
	/* ...and the next fast death starts over at 1 s. */
	now_ms += 10;
	assert_int_equal(tty_reaped(pid), 1);
	assert_int_equal(pending_delay(), 1000);
}

/* Each tty comes back at its own time. */
static void test_each_tty_respawns_on_its_own(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	setenv("container_ttys", "pts/1 pts/2", 1);
	tty_start(tree("lxc"), WORLD_CONTAINER, &r);
	assert_int_equal(spawns, 2);
	now_ms += 100;
	tty_reaped(101);  /* tty1: due in 1 s */
	now_ms += 300;
	tty_reaped(102);  /* tty2: due in 1 s, 300 ms later */
	assert_int_equal(timers_used(), 2);
	fire_timer();     /* tty1 starts; tty2 still waits */
	assert_int_equal(spawns, 3);
	assert_int_equal(pending_delay(), 1000);
	fire_timer();
	assert_int_equal(spawns, 4);
	assert_int_equal(timers_used(), 0);
}

static void test_spawn_failure_retries(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	spawn_fail = 1;
	tty_start(tree("vm-ttys0"), WORLD_VM, &r);
	assert_int_equal(spawns, 1);
	assert_int_equal(pending_delay(), 1000);
	fire_timer();
	assert_int_equal(spawns, 2);
	assert_int_equal(timers_used(), 0);
	assert_int_equal(tty_reaped(next_pid), 1);
}

static void test_stop_ends_respawning(void **state)
{
	struct recipe r = recipe_with("auto", NULL);
	(void)state;
	setenv("container_ttys", "pts/1 pts/2", 1);
	tty_start(tree("lxc"), WORLD_CONTAINER, &r);
	now_ms += 100;
	tty_reaped(101);
	assert_int_equal(timers_used(), 1);
	tty_stop();
	assert_int_equal(timers_used(), 0);
	/* Still claimed (ours), never respawned. */
	now_ms += 60000;
	assert_int_equal(tty_reaped(102), 1);
	assert_int_equal(spawns, 2);
	assert_int_equal(timers_used(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_vm_console_ttys0, reset),
		cmocka_unit_test_setup(test_vm_last_console_wins, reset),
		cmocka_unit_test_setup(test_vm_console_hvc0, reset),
		cmocka_unit_test_setup(test_vm_console_options_and_dev_prefix, reset),
		cmocka_unit_test_setup(test_vm_tty0_means_first_vt, reset),
		cmocka_unit_test_setup(test_vm_active_last_entry, reset),
		cmocka_unit_test_setup(test_vm_no_console_at_all, reset),
		cmocka_unit_test_setup(test_bare_metal_is_like_a_vm, reset),
		cmocka_unit_test_setup(test_vm_console_keyword, reset),
		cmocka_unit_test_setup(test_explicit_names_as_given, reset),
		cmocka_unit_test_setup(test_none, reset),
		cmocka_unit_test_setup(test_dedupe, reset),
		cmocka_unit_test_setup(test_more_than_max, reset),
		cmocka_unit_test_setup(test_lxc_container_ttys, reset),
		cmocka_unit_test_setup(test_lxc_502_without_container_ttys, reset),
		cmocka_unit_test_setup(test_container_without_ttys, reset),
		cmocka_unit_test_setup(test_libvirt_console_left_alone, reset),
		cmocka_unit_test_setup(test_container_console_keyword, reset),
		cmocka_unit_test_setup(test_start_vm_getty, reset),
		cmocka_unit_test_setup(test_start_vm_vt_is_linux, reset),
		cmocka_unit_test_setup(test_start_autologin, reset),
		cmocka_unit_test_setup(test_start_container_from_env, reset),
		cmocka_unit_test_setup(test_start_skips_missing_devices, reset),
		cmocka_unit_test_setup(test_backoff_grows_and_resets, reset),
		cmocka_unit_test_setup(test_each_tty_respawns_on_its_own, reset),
		cmocka_unit_test_setup(test_spawn_failure_retries, reset),
		cmocka_unit_test_setup(test_stop_ends_respawning, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
