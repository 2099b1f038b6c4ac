/* init/kernel_ip.c: the kernel's ip= in its documented forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "kernel_ip.h"
#include "testutil.h"

static int parse(const char *value, struct recipe_net *n, char *host, char *why)
{
	return kernel_ip_parse(value, n, host, 64, why, 256);
}

static void test_dynamic_forms(void **state)
{
	static const char *const yes[] = { "dhcp", "on", "any", "both", "bootp", "rarp" };
	struct recipe_net n;
	char host[64], why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		assert_int_equal(parse(yes[i], &n, host, why), 1);
		assert_true(n.dhcp);
		assert_string_equal(n.name, "");
	}
	assert_int_equal(parse("off", &n, host, why), 0);
	assert_int_equal(parse("none", &n, host, why), 0);
	assert_int_equal(parse("sometimes", &n, host, why), -1);
	assert_non_null(strstr(why, "ip=sometimes: expected dhcp"));
}

static void test_static_full(void **state)
{
	struct recipe_net n;
	char host[64], why[256];

	(void)state;
	assert_int_equal(parse("10.0.2.20::10.0.2.2:255.255.255.0:guest1:eth0:off:10.0.2.3:10.0.2.4", &n, host, why), 1);
	assert_false(n.dhcp);
	assert_string_equal(n.name, "eth0");
	assert_int_equal(n.address.n, 1);
	assert_string_equal(n.address.item[0], "10.0.2.20/24");
	assert_string_equal(n.gateway, "10.0.2.2");
	assert_int_equal(n.dns.n, 2);
	assert_string_equal(n.dns.item[1], "10.0.2.4");
	assert_string_equal(host, "guest1");
}

static void test_static_short_and_dhcp_on_device(void **state)
{
	struct recipe_net n;
	char host[64], why[256];

	(void)state;
	/* No netmask: /24; no device: the caller picks one. */
	assert_int_equal(parse("192.168.7.9::::::off", &n, host, why), 1);
	assert_string_equal(n.address.item[0], "192.168.7.9/24");
	assert_string_equal(n.name, "");
	assert_string_equal(host, "");
	assert_int_equal(parse("10.1.0.5:::255.255.0.0::eth1", &n, host, why), 1);
	assert_string_equal(n.address.item[0], "10.1.0.5/16");
	assert_string_equal(n.name, "eth1");
	/* autoconf dhcp on a named device. */
	assert_int_equal(parse(":::::eth1:dhcp", &n, host, why), 1);
	assert_true(n.dhcp);
	assert_string_equal(n.name, "eth1");
	assert_int_equal(n.address.n, 0);
}

static void test_bad_values(void **state)
{
	struct recipe_net n;
	char host[64], why[256];

	(void)state;
	assert_int_equal(parse("10.0.2.300::::::off", &n, host, why), -1);
	assert_string_equal(why, "ip=: client '10.0.2.300' is not an IPv4 address");
	assert_int_equal(parse("10.0.2.3:::255.0.255.0::eth0:off", &n, host, why), -1);
	assert_string_equal(why, "ip=: netmask '255.0.255.0' is not a netmask");
	assert_int_equal(parse("10.0.2.3::gw::::off", &n, host, why), -1);
	assert_string_equal(why, "ip=: gateway 'gw' is not an IPv4 address");
	assert_int_equal(parse(":::::eth0:off", &n, host, why), -1);
	assert_non_null(strstr(why, "neither a client address nor DHCP"));
}

static void test_find_last_on_cmdline(void **state)
{
	char root[PATH_MAX], value[512];

	(void)state;
	snprintf(root, sizeof(root), "%s/kernel_ip/two", fixtures_dir());
	assert_int_equal(kernel_ip_find(root, value, sizeof(value)), 1);
	assert_string_equal(value, "10.0.2.20::10.0.2.2:255.255.255.0:guest1:eth0:off:10.0.2.3");
	snprintf(root, sizeof(root), "%s/kernel_ip/none", fixtures_dir());
	assert_int_equal(kernel_ip_find(root, value, sizeof(value)), 0);
	assert_int_equal(kernel_ip_find("/nonexistent", value, sizeof(value)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dynamic_forms),
		cmocka_unit_test(test_static_full),
		cmocka_unit_test(test_static_short_and_dhcp_on_device),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_find_last_on_cmdline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
