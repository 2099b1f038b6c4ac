/* lib/rfc5424.c on its own: one message's fields and structured data, as
 * raw values, without the framing or the checks of the amphi stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rfc5424.h"
#include "testutil.h"

static struct rfc5424 parse_ok(const char *s)
{
	struct rfc5424 m;
	char why[256] = "";

	if (rfc5424_parse(s, strlen(s), &m, why, sizeof(why)) != 0)
		fail_msg("%s: refused: %s", s, why);
	return m;
}

static void assert_span(struct span v, const char *want)
{
	if (!v.s || !span_is(v, want))
		fail_msg("span is \"%.*s\", expected \"%s\"", v.s ? (int)v.n : 0, v.s ? v.s : "", want);
}

static void test_header_fields(void **state)
{
	struct rfc5424 m = parse_ok("<34>1 2025-11-23T08:15:30.123Z host app 42 ID47 - hello there");

	(void)state;
	assert_int_equal(m.pri, 34);
	assert_span(m.ts, "2025-11-23T08:15:30.123Z");
	assert_span(m.host, "host");
	assert_span(m.app, "app");
	assert_span(m.procid, "42");
	assert_span(m.msgid, "ID47");
	assert_span(m.msg, "hello there");
	assert_null(m.sd.seq.s);
	assert_null(m.sd.event.s);

	/* No MSG at all, and a UTF-8 BOM before one (RFC 5424 §6.4). */
	m = parse_ok("<0>1 - - - - - -");
	assert_int_equal(m.pri, 0);
	assert_int_equal(m.msg.n, 0);
	m = parse_ok("<13>1 - - - - - - \xef\xbb\xbfwith BOM");
	assert_span(m.msg, "with BOM");
}

/* The values amphi reads are kept raw, still escaped; other elements and
 * parameters are skipped. */
static void test_structured_data(void **state)
{
	char text[40];
	uint64_t n;
	struct rfc5424 m = parse_ok("<13>1 - h a - - [other@1 x=\"y\"][meta sequenceId=\"7\" sysUpTime=\"12\"]"
				    "[amphi@32473 source=\"init\" boot=\"b\\]x\\\\y\" proto=\"1\" extra=\"z\"] msg");

	(void)state;
	assert_span(m.sd.seq, "7");
	assert_span(m.sd.uptime, "12");
	assert_span(m.sd.source, "init");
	assert_span(m.sd.boot, "b\\]x\\\\y");
	assert_span(m.sd.proto, "1");
	assert_span(m.msg, "msg");
	assert_int_equal(rfc5424_param_text(m.sd.boot, text, sizeof(text)), 0);
	assert_string_equal(text, "b]x\\y");
	assert_int_equal(rfc5424_param_num(m.sd.seq, 7, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(rfc5424_param_num(m.sd.seq, 6, &n), -1);
	assert_int_equal(rfc5424_param_num(m.sd.boot, UINT64_MAX, &n), -1);

	/* [install@32473]: "result" is another name for the state. */
	m = parse_ok("<13>1 - h a - - [install@32473 event=\"step\" result=\"ok\" name=\"disk\" step=\"2\" "
		     "steps=\"3\" ms=\"40\"]");
	assert_span(m.sd.event, "step");
	assert_span(m.sd.state, "ok");
	assert_span(m.sd.name, "disk");
	assert_span(m.sd.step, "2");
	assert_span(m.sd.steps, "3");
	assert_span(m.sd.ms, "40");
	/* The same names in another element are not the install's. */
	m = parse_ok("<13>1 - h a - - [meta event=\"step\"]");
	assert_null(m.sd.event.s);
}

static void expect_refused(const char *s, const char *want)
{
	struct rfc5424 m;
	char why[256] = "";

	if (rfc5424_parse(s, strlen(s), &m, why, sizeof(why)) != -1)
		fail_msg("accepted: %s", s);
	if (strcmp(why, want) != 0)
		fail_msg("%s: why is \"%s\", expected \"%s\"", s, why, want);
	/* A caller that does not ask why (the init's /dev/log) is refused the same. */
	assert_int_equal(rfc5424_parse(s, strlen(s), &m, NULL, 0), -1);
}

static void test_errors_name_the_field(void **state)
{
	(void)state;
	expect_refused("", "PRI: expected '<'");
	expect_refused("<034>1 - - - - - -", "PRI: expected 0 to 191 without leading zeros");
	expect_refused("<192>1 - - - - - -", "PRI: expected 0 to 191 without leading zeros");
	expect_refused("<13>2 - - - - - -", "HEADER: expected \">1 \" (RFC 5424 version 1) after PRI");
	expect_refused("<13>1  - - - - -", "TIMESTAMP: expected 1 to 32 printable ASCII characters");
	expect_refused("<13>1 -", "TIMESTAMP: expected SP after it");
	expect_refused("<13>1 yesterday - - - - -", "TIMESTAMP: not an RFC 3339 time");
	expect_refused("<13>1 - - - - - x", "STRUCTURED-DATA: expected '-' or '['");
	expect_refused("<13>1 - - - - - [=x]", "STRUCTURED-DATA: bad SD-ID");
	expect_refused("<13>1 - - - - - [a b=\"c]", "STRUCTURED-DATA: unterminated PARAM-VALUE");
	expect_refused("<13>1 - - - - - [a b=c]", "STRUCTURED-DATA: expected =\" after PARAM-NAME");
	expect_refused("<13>1 - - - - - [a", "STRUCTURED-DATA: truncated SD-ELEMENT");
	expect_refused("<13>1 - - - - - -x", "STRUCTURED-DATA: expected SP or the end after it");
}

/* The parser checks a TIMESTAMP's shape; its numbers' ranges are the
 * reader's to check. */
static void test_timestamp_ranges(void **state)
{
	static const struct {
		const char *ts;
		int in_range;
	} cases[] = {
		{ "-", 1 },
		{ "2025-12-31T23:59:60+23:59", 1 },
		{ "2025-01-01T00:00:00.5Z", 1 },
		{ "2025-13-01T00:00:00Z", 0 },
		{ "2025-00-01T00:00:00Z", 0 },
		{ "2025-01-00T00:00:00Z", 0 },
		{ "2025-01-01T24:00:00Z", 0 },
		{ "2025-01-01T00:00:00+24:00", 0 },
	};
	char s[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(s, sizeof(s), "<13>1 %s - - - - -", cases[i].ts);
		struct rfc5424 m = parse_ok(s);
		if (rfc5424_timestamp_in_range(m.ts) != cases[i].in_range)
			fail_msg("%s: in range is %d", cases[i].ts, !cases[i].in_range);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_structured_data),
		cmocka_unit_test(test_errors_name_the_field),
		cmocka_unit_test(test_timestamp_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
