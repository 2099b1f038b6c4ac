/* The network rule of the next steps (image-builder/netrule.c): which case
 * holds for a recipe and LXC's config, in init/net.c's order, and the words
 * each case is told in where the container's config is known and where it
 * is not; and the next steps' command lines (image-builder/nextsteps.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "netrule.h"
#include "nextsteps.h"
#include "recipe.h"
#include "testutil.h"

static void parse(struct recipe *r, const char *text)
{
	char err[512] = "";

	recipe_defaults(r);
	if (recipe_parse(text, strlen(text), "test.conf", r, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static void assert_says(const char *text, const char *lxc_address, const char *want)
{
	static struct recipe r;
	struct strbuf b = { 0 };

	parse(&r, text);
	assert_int_equal(netrule_say(&b, &r, lxc_address), 0);
	assert_string_equal(b.s, want);
	free(b.s);
}

static const char dhcp[] = "[image]\nname = a\n[network.eth0]\ndhcp = yes\n";
static const char address[] = "[image]\nname = a\n[network.eth0]\naddress = 10.0.3.2/24\n";
static const char bare[] = "[image]\nname = a\n[network.eth0]\nbridge = lxcbr0\n";
static const char unnamed[] = "[image]\nname = a\n";
static const char unnamed_none[] = "[image]\nname = a\n[network]\nunnamed = none\n";

static void test_the_recipe_first_then_lxc_then_the_unnamed_default(void **state)
{
	static struct recipe r;

	(void)state;
	parse(&r, dhcp);
	assert_int_equal(netrule_eth0(&r, "10.0.3.9/24"), NETRULE_RECIPE_DHCP);
	parse(&r, address);
	assert_int_equal(netrule_eth0(&r, "10.0.3.9/24"), NETRULE_RECIPE_ADDRESS);
	assert_string_equal(netrule_recipe_eth0(&r)->address.item[0], "10.0.3.2/24");
	parse(&r, bare);
	assert_int_equal(netrule_eth0(&r, "10.0.3.9/24"), NETRULE_LXC_ADDRESS);
	assert_int_equal(netrule_eth0(&r, ""), NETRULE_RECIPE_NONE);
	assert_int_equal(netrule_eth0(&r, NULL), NETRULE_RECIPE_NONE);
	parse(&r, unnamed);
	assert_null(netrule_recipe_eth0(&r));
	assert_int_equal(netrule_eth0(&r, "10.0.3.9/24"), NETRULE_LXC_ADDRESS);
	assert_int_equal(netrule_eth0(&r, NULL), NETRULE_UNNAMED_DHCP);
	parse(&r, unnamed_none);
	assert_int_equal(netrule_eth0(&r, ""), NETRULE_UNNAMED_NONE);
}

static void test_a_known_config_names_where_each_value_comes_from(void **state)
{
	(void)state;
	assert_says(dhcp, "", "takes an address by DHCP (from a server on that\n"
		    "                     bridge, such as lxc-net's dnsmasq on lxcbr0)");
	assert_says(address, "", "gets 10.0.3.2/24 from the recipe");
	assert_says(bare, "10.0.3.9/24", "gets 10.0.3.9/24 from LXC (lxc.net.0.ipv4.address)");
	assert_says(bare, "", "comes up with no address: neither LXC's config nor the\n"
		    "                     recipe gives one (its [network.eth0] has no dhcp or address; "
		    "lxc-create ... -- --net dhcp|ADDRESS/PREFIX gives one)");
	assert_says(unnamed, "", "takes an address by DHCP, amphi's default where nothing else gives one "
		    "(from a server on that\n                     bridge, such as lxc-net's dnsmasq on lxcbr0)");
	assert_says(unnamed_none, "", "comes up with no address: neither LXC's config nor the\n"
		    "                     recipe gives one (it says [network] unnamed = none; "
		    "lxc-create ... -- --net dhcp|ADDRESS/PREFIX gives one)");
}

static void test_an_unknown_config_says_what_lxc_may_add(void **state)
{
	(void)state;
	assert_says(dhcp, NULL, "takes an address by DHCP ([network.eth0])");
	assert_says(address, NULL, "gets 10.0.3.2/24 ([network.eth0])");
	assert_says(bare, NULL, "keeps what LXC gives it ([network.eth0] sets no address)");
	assert_says(unnamed, NULL, "takes an address by DHCP where LXC gives it none\n"
		    "                     (lxc-net's dnsmasq answers on lxcbr0)");
	assert_says(unnamed_none, NULL, "keeps what LXC gives it and asks no DHCP\n"
		    "                     ([network] unnamed = none)");
}

static void test_next_steps_name_the_container_in_every_command(void **state)
{
	const struct next_steps at = { "ct", " -P /var/lib/lxc", "", "/var/lib/lxc/ct", "/usr/bin/amphi", 0 };
	const struct next_steps local = { "NAME", "", " [-P LXCPATH]", "LXCPATH/NAME", "amphi", 1 };
	struct strbuf b = { 0 };

	(void)state;
	assert_int_equal(next_steps_commands(&b, &at), 0);
	assert_int_equal(next_steps_stop(&b, &at), 0);
	assert_string_equal(b.s,
		"  start it:          lxc-start -n ct -P /var/lib/lxc\n"
		"  its login prompt:  lxc-console -n ct -P /var/lib/lxc -t 1   (Ctrl-a q leaves; root has no password on the console)\n"
		"  a shell inside:    lxc-attach -n ct -P /var/lib/lxc\n"
		"  its logs:          /var/lib/lxc/ct/host/amphi.sock, followed with\n"
		"                     /usr/bin/amphi logs --connect /var/lib/lxc/ct/host/amphi.sock --follow\n"
		"                     and the console in /var/lib/lxc/ct/console.log\n"
		"  stop it:           lxc-stop -n ct -P /var/lib/lxc      restart: lxc-stop -r -n ct -P /var/lib/lxc\n");
	free(b.s);
	memset(&b, 0, sizeof(b));
	assert_int_equal(next_steps_commands(&b, &local), 0);
	assert_non_null(strstr(b.s, "  start it:          lxc-start -n NAME [-P LXCPATH]\n"
				    "  its login prompt:  lxc-console -n NAME -t 1   ("));
	assert_non_null(strstr(b.s, "mkfifo LXCPATH/NAME/host/anaconda.fifo"));
	assert_non_null(strstr(b.s, "the console is in LXCPATH/NAME/console.log\n"));
	free(b.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_recipe_first_then_lxc_then_the_unnamed_default),
		cmocka_unit_test(test_a_known_config_names_where_each_value_comes_from),
		cmocka_unit_test(test_an_unknown_config_says_what_lxc_may_add),
		cmocka_unit_test(test_next_steps_name_the_container_in_every_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
