/* init/agentcmd.c, with its commands (agentsys.c, agentfs.c), on the
 * fixture tree tests/fixtures/agent: the replies' shapes (what libvirt
 * parses), the refusals, and the hooks into PID 1, faked. Nothing here
 * freezes a file system or sets the clock: both are asked as in a
 * container, where they are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "agentcmd.h"
#include "testutil.h"

static char root[PATH_MAX], buf[8192], shutdown_mode[16];

static void fake_shutdown(const char *mode)
{
	snprintf(shutdown_mode, sizeof(shutdown_mode), "%s", mode);
}

static int fake_restart(const char *name)
{
	return strcmp(name, "web") ? -1 : 0;
}

static void fake_status(struct jsonw *w)
{
	jsonw_raw(w, ",\"units\":[]");
}

static int setup(void **state)
{
	static const struct agentcmd_hooks hooks = { .shutdown = fake_shutdown, .restart = fake_restart,
						     .status = fake_status, .container = 1 };
	(void)state;
	snprintf(root, sizeof(root), "%s/agent", fixtures_dir());
	agentcmd_set_hooks(&hooks);
	return 0;
}

/* The reply to req, one line without its LF (or "" when none is sent). */
static const char *run(const char *req, enum agentcmd_send want)
{
	struct jsonw w;

	jsonw_init(&w, buf, sizeof(buf));
	assert_int_equal(agentcmd_run(root, req, strlen(req), &w), want);
	if (want == AGENTCMD_NONE)
		return "";
	assert_false(w.overflow);
	assert_true(w.len > 0 && buf[w.len - 1] == '\n');
	assert_null(memchr(buf, '\n', w.len - 1));
	buf[w.len - 1] = '\0';
	return buf;
}

static void test_sync_ping_and_ids(void **state)
{
	(void)state;
	assert_string_equal(run("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":9223372036854775807}}", AGENTCMD_REPLY),
			    "{\"return\":9223372036854775807}");
	assert_string_equal(run("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":-3},\"id\":[1,\"a\"]}",
				AGENTCMD_DELIMITED),
			    "{\"return\":-3,\"id\":[1,\"a\"]}");
	assert_string_equal(run("{\"execute\":\"guest-ping\"}", AGENTCMD_REPLY), "{\"return\":{}}");
	assert_string_equal(run("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1.5}}", AGENTCMD_REPLY),
			    "{\"error\":{\"class\":\"GenericError\",\"desc\":\"guest-sync: 'id' must be an integer of 64 bits\"}}");
}

static void test_what_is_no_command_is_command_not_found(void **state)
{
	(void)state;
	assert_string_equal(run("{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\"},\"id\":7}", AGENTCMD_REPLY),
			    "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command guest-exec has not been found\"},"
			    "\"id\":7}");
	/* A name too long to be ours, or odd, is not echoed raw. */
	char req[256];
	snprintf(req, sizeof(req), "{\"execute\":\"guest-%0100d\"}", 0);
	assert_non_null(strstr(run(req, AGENTCMD_REPLY), "The command (unreadable) has not been found"));
	assert_non_null(strstr(run("{\"execute\":\"a\\u001bb\"}", AGENTCMD_REPLY), "The command a\\u001bb has"));
	/* Not a request at all. */
	assert_non_null(strstr(run("{\"arguments\":{}}", AGENTCMD_REPLY), "lacks a string member 'execute'"));
	struct jsonw w;
	jsonw_init(&w, buf, sizeof(buf));
	agentcmd_refuse(&w, "expected a request");
	assert_string_equal(buf, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"expected a request\"}}\n");
}

static void test_guest_info_lists_every_command_and_no_other(void **state)
{
	(void)state;
	const char *r = run("{\"execute\":\"guest-info\"}", AGENTCMD_REPLY);
	assert_non_null(strstr(r, "{\"name\":\"guest-shutdown\",\"enabled\":true,\"success-response\":false}"));
	assert_non_null(strstr(r, "{\"name\":\"amphi-status\",\"enabled\":true,\"success-response\":true}"));
	assert_null(strstr(r, "guest-exec"));
	assert_null(strstr(r, "guest-file"));
}

static void test_shutdown_goes_to_pid1_and_sends_nothing(void **state)
{
	(void)state;
	shutdown_mode[0] = '\0';
	run("{\"execute\":\"guest-shutdown\"}", AGENTCMD_NONE);
	assert_string_equal(shutdown_mode, "powerdown");
	run("{\"execute\":\"guest-shutdown\",\"arguments\":{\"mode\":\"reboot\"}}", AGENTCMD_NONE);
	assert_string_equal(shutdown_mode, "reboot");
	shutdown_mode[0] = '\0';
	assert_non_null(strstr(run("{\"execute\":\"guest-shutdown\",\"arguments\":{\"mode\":\"soon\"}}", AGENTCMD_REPLY),
			       "'mode' must be powerdown, reboot or halt"));
	assert_string_equal(shutdown_mode, "");
}

static void test_osinfo_from_os_release(void **state)
{
	(void)state;
	const char *r = run("{\"execute\":\"guest-get-osinfo\"}", AGENTCMD_REPLY);
	assert_non_null(strstr(r, "\"kernel-release\":\""));
	assert_non_null(strstr(r, ",\"pretty-name\":\"Debian GNU/Linux 12 (bookworm)\""));
	assert_non_null(strstr(r, ",\"name\":\"Debian GNU/Linux\",\"version-id\":\"12\",\"version\":\"12 (bookworm)\""));
	assert_non_null(strstr(r, ",\"id\":\"debian\"}"));
	assert_null(strstr(r, "codename"));
	assert_null(strstr(r, "home"));
}

static void test_fsinfo_and_disks_from_mountinfo_and_sysfs(void **state)
{
	(void)state;
	const char *r = run("{\"execute\":\"guest-get-fsinfo\"}", AGENTCMD_REPLY);
	/* Block devices only (no overlay, no devtmpfs); libvirt needs "disk". */
	assert_non_null(strstr(r, "{\"return\":[{\"name\":\"vdc\",\"mountpoint\":\"/run/amphi/rw\",\"type\":\"ext4\","
				  "\"used-bytes\":"));
	assert_non_null(strstr(r, "},{\"name\":\"vda1\",\"mountpoint\":\"/mnt/with space\",\"type\":\"ext4\","));
	assert_non_null(strstr(r, ",\"disk\":[]}]}"));
	assert_null(strstr(r, "overlay"));
	assert_null(strstr(r, "devtmpfs"));

	r = run("{\"execute\":\"guest-get-disks\"}", AGENTCMD_REPLY);
	assert_non_null(strstr(r, "{\"name\":\"/dev/vda\",\"partition\":false}"));
	assert_non_null(strstr(r, "{\"name\":\"/dev/vda1\",\"partition\":true,\"dependencies\":[\"/dev/vda\"]}"));
	assert_non_null(strstr(r, "{\"name\":\"/dev/vdb\",\"partition\":false}"));
	assert_null(strstr(r, "loop0"));
	assert_null(strstr(r, "queue"));
}

static void test_a_containers_clock_and_disks_are_the_hosts(void **state)
{
	(void)state;
	assert_non_null(strstr(run("{\"execute\":\"guest-fsfreeze-freeze\"}", AGENTCMD_REPLY),
			       "a container's file systems are the host's"));
	assert_non_null(strstr(run("{\"execute\":\"guest-set-time\",\"arguments\":{\"time\":0}}", AGENTCMD_REPLY),
			       "a container's clock is the host's"));
	assert_string_equal(run("{\"execute\":\"guest-fsfreeze-status\"}", AGENTCMD_REPLY), "{\"return\":\"thawed\"}");
	assert_false(agentcmd_frozen());
}

static void test_amphi_commands_reach_pid1(void **state)
{
	(void)state;
	assert_string_equal(run("{\"execute\":\"amphi-restart\",\"arguments\":{\"name\":\"web\"}}", AGENTCMD_REPLY),
			    "{\"return\":{}}");
	assert_non_null(strstr(run("{\"execute\":\"amphi-restart\",\"arguments\":{\"name\":\"db\"}}", AGENTCMD_REPLY),
			       "amphi-restart: no such service"));
	assert_non_null(strstr(run("{\"execute\":\"amphi-restart\"}", AGENTCMD_REPLY), "'name' must name a service"));
	const char *r = run("{\"execute\":\"amphi-status\"}", AGENTCMD_REPLY);
	assert_non_null(strstr(r, "{\"return\":{\"uptime\":"));
	assert_non_null(strstr(r, ",\"units\":[],\"interfaces\":["));
}

static void test_a_reply_that_does_not_fit_is_an_error(void **state)
{
	struct jsonw w;
	char small[128];
	(void)state;

	jsonw_init(&w, small, sizeof(small));
	const char *req = "{\"execute\":\"guest-info\"}";
	assert_int_equal(agentcmd_run(root, req, strlen(req), &w), AGENTCMD_REPLY);
	assert_false(w.overflow);
	assert_string_equal(small, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"guest-info: the reply does not "
				   "fit the agent's buffer\"}}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_ping_and_ids),
		cmocka_unit_test(test_what_is_no_command_is_command_not_found),
		cmocka_unit_test(test_guest_info_lists_every_command_and_no_other),
		cmocka_unit_test(test_shutdown_goes_to_pid1_and_sends_nothing),
		cmocka_unit_test(test_osinfo_from_os_release),
		cmocka_unit_test(test_fsinfo_and_disks_from_mountinfo_and_sysfs),
		cmocka_unit_test(test_a_containers_clock_and_disks_are_the_hosts),
		cmocka_unit_test(test_amphi_commands_reach_pid1),
		cmocka_unit_test(test_a_reply_that_does_not_fit_is_an_error),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
