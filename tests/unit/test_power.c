/* power_button_watch() on a temporary root whose dev/input/event* are
 * regular files, FIFOs and a directory instead of evdev nodes. The probe is
 * replaced (it answers from the node's name), and the loop and shutdown are
 * fakes that record what power.c asked of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/input.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "power.h"
#include "shutdown.h"
#include "testutil.h"

/* --- fakes for loop.c and shutdown.c --- */
#define MAX_WATCHED 16
static struct watched {
	int fd;
	loop_fd_fn fn;
	void *data;
} watched[MAX_WATCHED];
static int n_watched, n_deleted, add_fails;
static int n_shutdowns;
static enum stop_action last_action;
static char last_why[64];

int loop_add_fd(int fd, uint32_t events, loop_fd_fn fn, void *data)
{
	assert_int_equal(events, EPOLLIN);
	if (add_fails)
		return -ENOMEM;
	assert_true(n_watched < MAX_WATCHED);
	watched[n_watched++] = (struct watched){ fd, fn, data };
	return 0;
}

int loop_del_fd(int fd)
{
	for (int i = 0; i < n_watched; i++)
		if (watched[i].fd == fd) {
			watched[i] = watched[--n_watched];
			n_deleted++;
			return 0;
		}
	fail_msg("loop_del_fd(%d): not registered", fd);
	return -ENOENT;
}

void shutdown_begin(enum stop_action action, const char *why)
{
	n_shutdowns++;
	last_action = action;
	snprintf(last_why, sizeof(last_why), "%s", why);
}

/* --- the fixture root --- */
static char root[] = "/tmp/amphi-power-XXXXXX";
static int n_probes;

/* The node's name says what the device can do: these can send KEY_POWER,
 * "event9" is no evdev node at all, every other one is a plain keyboard. */
static const char *const power_nodes[] = { "event1", "event3", "event4", "event5" };

static const char *node_name(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	return strrchr(buf, '/') + 1;
}

static int fake_probe(int fd)
{
	char buf[PATH_MAX];
	const char *name = node_name(fd, buf, sizeof(buf));

	n_probes++;
	if (strcmp(name, "event9") == 0)
		return -ENOTTY;
	for (size_t i = 0; i < sizeof(power_nodes) / sizeof(power_nodes[0]); i++)
		if (strcmp(name, power_nodes[i]) == 0)
			return 1;
	return 0;
}

static void make_node(const char *name, mode_t type)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/dev/input/%s", root, name);
	if (type == S_IFIFO)
		assert_int_equal(mkfifo(path, 0600), 0);
	else if (type == S_IFDIR)
		assert_int_equal(mkdir(path, 0700), 0);
	else
		assert_int_equal(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	char dir[PATH_MAX];

	strcpy(root, "/tmp/amphi-power-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/dev", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	strcat(dir, "/input");
	assert_int_equal(mkdir(dir, 0700), 0);
	n_watched = n_deleted = add_fails = n_shutdowns = n_probes = 0;
	last_why[0] = '\0';
	power_set_probe(fake_probe);
	*state = NULL;
	return 0;
}

/* Hangs up whatever is still watched, so power.c closes it and frees its
 * slot for the next test. */
static int teardown(void **state)
{
	for (int i = 0; i < MAX_WATCHED && n_watched > 0; i++)
		watched[0].fn(watched[0].fd, EPOLLHUP, watched[0].data);
	power_set_probe(NULL);
	if (remove_tree(root) < 0)
		return -1;
	return n_watched == 0 ? 0 : -1;   /* a hangup left a device watched */
}

/* --- tests --- */
static void test_watches_only_power_keys(void **state)
{
	const char *nodes[] = { "event0", "event1", "event2", "event3", "event9" };
	char buf[PATH_MAX];
	int before;

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		make_node(nodes[i], S_IFREG);
	make_node("mouse0", S_IFREG);   /* not an event node: never opened */
	make_node("by-path", S_IFDIR);
	before = open_fds();

	assert_int_equal(power_button_watch(root), 2);
	assert_int_equal(n_probes, 5);
	assert_int_equal(n_watched, 2);
	for (int i = 0; i < n_watched; i++) {
		const char *name = node_name(watched[i].fd, buf, sizeof(buf));

		assert_true(strcmp(name, "event1") == 0 || strcmp(name, "event3") == 0);
	}
	/* The others were closed; the watched ones stay open. */
	assert_int_equal(open_fds(), before + 2);
	assert_int_equal(n_shutdowns, 0);
}

static void test_missing_dev_input(void **state)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/dev/input", root);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(power_button_watch(root), 0);
	assert_int_equal(power_button_watch("/nonexistent/amphi-power"), 0);
	assert_int_equal(n_probes, 0);
	assert_int_equal(n_watched, 0);
}

static void test_none_can_power_off(void **state)
{
	make_node("event0", S_IFREG);
	make_node("event9", S_IFREG);
	assert_int_equal(power_button_watch(root), 0);
	assert_int_equal(n_watched, 0);
}

static void test_loop_refuses(void **state)
{
	int before;

	make_node("event1", S_IFREG);
	before = open_fds();
	add_fails = 1;
	assert_int_equal(power_button_watch(root), 0);
	assert_int_equal(open_fds(), before);
}

static void put(int fd, unsigned short type, unsigned short code, int value)
{
	struct input_event ev = { .type = type, .code = code, .value = value };

	assert_int_equal(write(fd, &ev, sizeof(ev)), sizeof(ev));
}

static void fire(int events)
{
	assert_int_equal(n_watched, 1);
	watched[0].fn(watched[0].fd, (uint32_t)events, watched[0].data);
}

/* Through a FIFO, as from evdev: reads drain until EAGAIN, and only a press
 * (value 1) of KEY_POWER powers off. */
static void test_press_powers_off_once(void **state)
{
	char path[PATH_MAX];
	int w;

	make_node("event4", S_IFIFO);
	assert_int_equal(power_button_watch(root), 1);
	snprintf(path, sizeof(path), "%s/dev/input/event4", root);
	w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(w >= 0);

	put(w, EV_KEY, KEY_POWER, 0);   /* release */
	put(w, EV_KEY, KEY_POWER, 2);   /* autorepeat */
	put(w, EV_KEY, KEY_A, 1);
	put(w, EV_KEY, KEY_SLEEP, 1);
	put(w, EV_SYN, SYN_REPORT, 0);
	put(w, EV_MSC, MSC_SCAN, KEY_POWER);
	fire(EPOLLIN);
	assert_int_equal(n_shutdowns, 0);

	/* More records than one read takes: the press comes after the first
	 * batch and is still seen in the same wakeup. */
	for (int i = 0; i < 40; i++)
		put(w, EV_SYN, SYN_REPORT, 0);
	put(w, EV_KEY, KEY_POWER, 1);
	put(w, EV_SYN, SYN_REPORT, 0);
	put(w, EV_KEY, KEY_POWER, 0);
	put(w, EV_SYN, SYN_REPORT, 0);
	fire(EPOLLIN);
	assert_int_equal(n_shutdowns, 1);
	assert_int_equal(last_action, STOP_POWEROFF);
	assert_string_equal(last_why, "power button");

	fire(EPOLLIN);                  /* drained: nothing new */
	assert_int_equal(n_shutdowns, 1);
	assert_int_equal(n_watched, 1);
	close(w);
}

/* The device went away: epoll reports a hangup; the fd is unregistered and
 * closed, and a press still queued before it is not lost. */
static void test_hangup_unregisters(void **state)
{
	char path[PATH_MAX];
	int w, before;

	make_node("event4", S_IFIFO);
	assert_int_equal(power_button_watch(root), 1);
	before = open_fds();
	snprintf(path, sizeof(path), "%s/dev/input/event4", root);
	w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(w >= 0);
	put(w, EV_KEY, KEY_POWER, 1);
	close(w);
	fire(EPOLLIN | EPOLLHUP);
	assert_int_equal(n_shutdowns, 1);
	assert_int_equal(n_watched, 0);
	assert_int_equal(n_deleted, 1);
	assert_int_equal(open_fds(), before - 1);
}

/* A read error other than EAGAIN (here EISDIR; ENODEV from evdev) drops the
 * device too. */
static void test_read_error_unregisters(void **state)
{
	make_node("event5", S_IFDIR);
	assert_int_equal(power_button_watch(root), 1);
	fire(EPOLLIN);
	assert_int_equal(n_watched, 0);
	assert_int_equal(n_deleted, 1);
	assert_int_equal(n_shutdowns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_watches_only_power_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dev_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_none_can_power_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_press_powers_off_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hangup_unregisters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_error_unregisters, setup, teardown),
	};

	return cmocka_run_group_tests_name("power", tests, NULL, NULL);
}
