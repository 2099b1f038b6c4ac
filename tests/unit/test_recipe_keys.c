/* lib/recipe_keys.c on its own: each type of value into its field, and
 * what it says of a bad one, without the grammar around it (the whole
 * files are test_recipe's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "recipe_keys.h"
#include "testutil.h"

static struct recipe r;
static struct recipe_unit u;
static struct recipe_net n;

static int setup(void **state)
{
	(void)state;
	recipe_defaults(&r);
	recipe_unit_defaults(&u, UNIT_SERVICE, "web");
	memset(&n, 0, sizeof(n));
	return 0;
}

static void set_ok(void *base, int where, const char *key, const char *value)
{
	char err[RECIPE_ERR_MAX] = "";

	if (recipe_key_set(base, where, key, value, err, sizeof(err)) != 0)
		fail_msg("%s = %s: refused: %s", key, value, err);
}

static void set_bad(void *base, int where, const char *key, const char *value, const char *want)
{
	char err[RECIPE_ERR_MAX] = "";

	if (recipe_key_set(base, where, key, value, err, sizeof(err)) != -1)
		fail_msg("%s = %s: accepted", key, value);
	assert_string_equal(err, want);
}

static void test_words(void **state)
{
	(void)state;
	set_ok(&r, IN_RUNTIME, "getty", "ttyS0, tty1 console");
	assert_int_equal(r.getty.n, 3);
	assert_string_equal(r.getty.item[2], "console");
	/* A list replaces the last; env lines add up, split on blanks only. */
	set_ok(&r, IN_RUNTIME, "getty", "tty2");
	assert_int_equal(r.getty.n, 1);
	set_ok(&u, IN_SERVICE, "env", "A=1,2 B=x");
	set_ok(&u, IN_SERVICE, "env", "C=3");
	assert_int_equal(u.env.n, 3);
	assert_string_equal(u.env.item[0], "A=1,2");
	set_ok(&n, IN_NET, "address", "10.0.0.2/24 fd00::2/64");
	assert_int_equal(n.address.n, 2);
}

/* key = value in a section of where, and the number it sets. */
static const struct int_case {
	void *base;
	int where;
	const char *key, *value;
	const void *field;
	int want;
} int_cases[] = {
	{ &u, IN_SERVICE, "restart", "always", &u.restart, RESTART_ALWAYS },
	{ &r, IN_RUNTIME, "agent", "false", &r.agent, 0 },
	{ &r, IN_RUNTIME, "autologin", "yes", &r.autologin, 1 },
	{ &u, IN_SERVICE, "needs", "network", &u.needs_network, 1 },
	{ &r, IN_LOG, "console", "init", &r.log_console_init_only, 1 },
	{ &r, IN_IMAGE, "root", "squashfs", &r.image_root, ROOT_SQUASHFS },
	{ &r, IN_INSTALL, "mode", "first-boot", &r.install_mode, INSTALL_FIRST_BOOT },
	{ &r, IN_RUNTIME, "ttys", "12", &r.ttys, 12 },
	{ &r, IN_LOG, "ring", "65536", &r.log_ring_kib, 65536 },
	{ &n, IN_NET, "mtu", "68", &n.mtu, 68 },
	{ &u, IN_TASK, "timeout", "86400", &u.timeout, 86400 },
	{ &u, IN_SERVICE, "stop_signal", "SIGHUP", &u.stop_signal, SIGHUP },
	{ &u, IN_SERVICE, "stop_signal", "9", &u.stop_signal, 9 },
	{ &r, IN_LOG, "policy", "drop", &r.log_policy, LOG_POLICY_DROP },
	/* The same key in two sections: the row of this one. */
	{ &r, IN_INSTALL, "on_failure", "shell", &r.install_shell_on_failure, 1 },
	{ &u, IN_TASK, "on_failure", "continue", &u.stop_boot_on_failure, 0 },
};

static void test_numbers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
		const struct int_case *c = &int_cases[i];
		set_ok(c->base, c->where, c->key, c->value);
		if (*(const int *)c->field != c->want)
			fail_msg("%s = %s: set %d, expected %d", c->key, c->value, *(const int *)c->field, c->want);
	}
}

static void test_strings(void **state)
{
	(void)state;
	set_ok(&r, IN_RUNTIME, "hostname", "web-1");
	assert_string_equal(r.hostname, "web-1");
	set_ok(&n, IN_NET, "gateway6", "fd00::1");
	assert_string_equal(n.gateway6, "fd00::1");
	set_ok(&u, IN_SERVICE, "exec", "/bin/sh -c 'echo # not a comment'");
	assert_string_equal(u.exec, "/bin/sh -c 'echo # not a comment'");
}

/* key = value refused, and the whole message: tests/e2e and the recipe
 * fixtures quote them too. */
static const struct bad_case {
	void *base;
	int where;
	const char *key, *value, *want;
} bad_cases[] = {
	{ &r, IN_IMAGE, "modules", "virtio_net a/b",
	  "modules: 'a/b' is not a valid name (letters, digits, - _ . +; under 64 characters)" },
	{ &u, IN_SERVICE, "env", "1A=x", "env: '1A=x' is not NAME=VALUE (a shell variable name, under 64 characters in all)" },
	{ &n, IN_NET, "address", "10.0.0.2", "address: '10.0.0.2': expected ADDRESS/PREFIX such as 10.0.0.2/24 or fd00::2/64" },
	{ &n, IN_NET, "dns", "10.0.0.1/8", "dns: '10.0.0.1/8': expected an IPv4 or IPv6 address such as 10.0.0.1" },
	{ &r, IN_LOG, "files", "/var/log/", "files: '/var/log/': expected an absolute file path under 64 characters" },
	{ &u, IN_SERVICE, "restart", "sometimes", "restart = 'sometimes': expected always, on-failure or no" },
	{ &r, IN_RUNTIME, "agent", "on", "agent = 'on': expected yes or no" },
	{ &u, IN_SERVICE, "needs", "disk", "needs = 'disk': expected network" },
	{ &r, IN_NETWORK, "unnamed", "static", "unnamed = 'static': expected dhcp or none" },
	{ &r, IN_RUNTIME, "ttys", "13", "ttys = '13': expected a whole number from 0 to 12" },
	{ &u, IN_SERVICE, "stop_timeout", "5s", "stop_timeout = '5s': expected a whole number from 1 to 300" },
	{ &n, IN_NET, "mtu", "", "mtu = '': expected a whole number from 68 to 65535" },
	{ &u, IN_SERVICE, "stop_signal", "FOO",
	  "stop_signal = 'FOO': expected a signal such as TERM, INT, HUP, QUIT, USR1 or a number" },
	{ &r, IN_LOG, "policy", "never", "policy = 'never': expected auto, block or drop" },
	{ &r, IN_RUNTIME, "hostname", "web_1",
	  "hostname = 'web_1': expected a host name (letters, digits, inner '-') of at most 63 characters" },
	{ &u, IN_SERVICE, "user", "a b", "user = 'a b': expected a name (letters, digits, - _ . +) of at most 63 characters" },
	{ &n, IN_NET, "gateway", "fd00::1", "gateway = 'fd00::1': expected an IPv4 address without a prefix" },
	{ &n, IN_NET, "gateway6", "10.0.0.1", "gateway6 = '10.0.0.1': expected an IPv6 address without a prefix" },
	{ &n, IN_NET, "mac", "52:54:00", "mac = '52:54:00': expected six hex pairs such as 52:54:00:12:34:56" },
	{ &n, IN_NET, "bridge", "a-very-long-bridge",
	  "bridge = 'a-very-long-bridge': expected an interface name of at most 15 characters" },
	{ &u, IN_SERVICE, "exec", "", "exec: expected a command of 1 to 511 characters" },
	{ &u, IN_SERVICE, "workdir", "srv", "workdir = 'srv': expected an absolute path under 256 characters" },
};

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		set_bad(c->base, c->where, c->key, c->value, c->want);
	}
	/* A bad value leaves the field as it was. */
	assert_int_equal(r.agent, 1);
}

/* Which keys a section has; the builder's keys are taken and left be. */
static void test_sections(void **state)
{
	char names[256], err[64];

	(void)state;
	assert_int_equal(recipe_key_set(&u, IN_TASK, "restart", "always", err, sizeof(err)), 1);
	assert_int_equal(recipe_key_set(&r, IN_RUNTIME, "colour", "blue", err, sizeof(err)), 1);
	assert_int_equal(recipe_key_set(&r, IN_IMAGE, "packages", "nginx", err, sizeof(err)), 0);
	assert_int_equal(r.packages.n, 0);

	recipe_keys_list(IN_NET, names, sizeof(names));
	assert_string_equal(names, "mac, dhcp, address, gateway, gateway6, mtu, dns, search, bridge");
	recipe_keys_list(IN_LOG, names, sizeof(names));
	assert_string_equal(names, "ring, policy, files, console");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_words, setup),
		cmocka_unit_test_setup(test_numbers, setup),
		cmocka_unit_test_setup(test_strings, setup),
		cmocka_unit_test_setup(test_refusals, setup),
		cmocka_unit_test_setup(test_sections, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
