/* init/log.c: what other programs' records are called, and what reaches
 * the ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "logring.h"

static struct logrec seen;

/* The newest record in the ring (its text points into the ring). */
static void newest(void)
{
	struct logring_cursor c;
	uint64_t lf, ll;
	logring_seek(&c, logring_next_seq() - 1);
	assert_int_equal(logring_peek(&c, &seen, &lf, &ll), 1);
}

static const char *renamed(const char *name, const char *source)
{
	static char n[LOGREC_NAME_MAX];
	snprintf(n, sizeof(n), "%s", name);
	log_name_other(n, source);
	return n;
}

/* The init's own names, and a ':' a reader would split at, never pass. */
static void test_name_other(void **state)
{
	(void)state;
	assert_string_equal(renamed("amphi", "syslog"), "syslog.amphi");
	assert_string_equal(renamed("install", "syslog"), "syslog.install");
	assert_string_equal(renamed("kernel", "file"), "file.kernel");
	assert_string_equal(renamed("Install", "syslog"), "syslog.Install");
	assert_string_equal(renamed("AMPHI", "syslog"), "syslog.AMPHI");
	assert_string_equal(renamed("install:verdict", "syslog"), "install_verdict");
	assert_string_equal(renamed("amphi:", "syslog"), "amphi_");
	assert_string_equal(renamed("cron", "syslog"), "cron");
	assert_string_equal(renamed("amphi2", "syslog"), "amphi2");
	assert_string_equal(renamed("", "syslog"), "");
	/* a long name stays within the field */
	assert_int_equal(strlen(renamed("0123456789012345678901234567890123456789012345", "syslog")), 46);
}

/* A syslog message under the init's name: the record says syslog.NAME, its
 * source is syslog, and no structured data comes with it. */
static void test_syslog_record(void **state)
{
	(void)state;
	log_set_fd(-1);
	log_syslog(13, "install", "verdict: success: 1 step in 1 ms", 32);
	newest();
	assert_int_equal(seen.source, LOGSRC_SYSLOG);
	assert_string_equal(seen.app, "syslog.install");
	assert_int_equal(seen.sdlen, 0);
	log_install(LOG_LVL_INFO, "[install@32473 event=\"begin\"]", 29, "installer: %d steps", 2);
	newest();
	assert_int_equal(seen.source, LOGSRC_INSTALL);
	assert_string_equal(seen.app, "install");
	assert_int_equal(seen.sdlen, 29);
	assert_memory_equal(seen.msg, "installer: 2 steps", 18);
	assert_int_equal(seen.msglen, 18);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_other),
		cmocka_unit_test(test_syslog_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
