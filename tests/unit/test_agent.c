/* The guest agent's pure parts: requests cut out of the stream
 * (agentframe.c), taken apart (agentreq.c), replies written (jsonw.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentframe.h"
#include "agentreq.h"
#include "jsonw.h"
#include "testutil.h"

/* What the framer reported, one line each: "R <request>", "L", "G". */
static char seen[8192];

static void record(enum agentframe_what what, const char *req, size_t len, void *ctx)
{
	size_t used = strlen(seen);
	(void)ctx;
	if (what == AGENTFRAME_REQUEST) {
		assert_int_equal(strlen(req), len);
		snprintf(seen + used, sizeof(seen) - used, "R %s\n", req);
	} else
		snprintf(seen + used, sizeof(seen) - used, "%s\n", what == AGENTFRAME_TOO_LONG ? "L" : "G");
}

static struct agentframe frame;

static const char *feed(const char *bytes, size_t n)
{
	seen[0] = '\0';
	agentframe_feed(&frame, bytes, n, record, NULL);
	return seen;
}

static const char *feeds(const char *text)
{
	return feed(text, strlen(text));
}

static int reset(void **state)
{
	(void)state;
	agentframe_reset(&frame);
	return 0;
}

static void test_requests_end_where_braces_balance_outside_strings(void **state)
{
	(void)state;
	assert_string_equal(feeds("{\"execute\":\"guest-ping\"}{\"execute\":\"guest-info\"}"),
			    "R {\"execute\":\"guest-ping\"}\nR {\"execute\":\"guest-info\"}\n");
	/* Braces and escaped quotes in strings count for nothing. */
	assert_string_equal(feeds("{\"a\":\"}{\\\"}\",\"b\":[{}]}"), "R {\"a\":\"}{\\\"}\",\"b\":[{}]}\n");
	/* Byte by byte, with whitespace between: the same. */
	const char *two = " {\"execute\":\n \"guest-ping\"}\r\n\t{\"x\":1} ";
	char all[256] = "";
	for (size_t i = 0; i < strlen(two); i++)
		strcat(all, feed(two + i, 1));
	assert_string_equal(all, "R {\"execute\":\n \"guest-ping\"}\nR {\"x\":1}\n");
}

static void test_0xff_flushes_a_partial_request_silently(void **state)
{
	(void)state;
	assert_string_equal(feeds("{\"execute\":\"gue"), "");
	assert_string_equal(feeds("\xff{\"execute\":\"guest-sync-delimited\"}"),
			    "R {\"execute\":\"guest-sync-delimited\"}\n");
	/* Inside a string too. */
	assert_string_equal(feeds("{\"a\":\"\xff{}"), "R {}\n");
}

static void test_garbage_is_reported_once_per_run(void **state)
{
	(void)state;
	char junk[1 << 20];
	memset(junk, 'x', sizeof(junk));
	assert_string_equal(feed(junk, sizeof(junk)), "");
	assert_string_equal(feeds("]] 12 {\"execute\":\"guest-ping\"}"), "G\nR {\"execute\":\"guest-ping\"}\n");
	/* A control byte inside an object ends it as garbage. */
	assert_string_equal(feeds("{\"a\":\"b\001\"}{}"), "G\nR {}\n");
	assert_string_equal(feeds("{\"a\":\001}{}"), "G\nR {}\n");
	/* An object closed by a bracket is none. */
	assert_string_equal(feeds("{\"a\":1]{}"), "G\nR {}\n");
}

static void test_too_long_or_too_deep_is_read_to_its_end_and_refused(void **state)
{
	(void)state;
	static char big[AGENTFRAME_MAX * 3];
	size_t n = 0;
	n += (size_t)sprintf(big, "{\"a\":\"");
	memset(big + n, 'y', AGENTFRAME_MAX * 2);
	n += AGENTFRAME_MAX * 2;
	n += (size_t)sprintf(big + n, "\"}{\"b\":1}");
	assert_string_equal(feed(big, n), "L\nR {\"b\":1}\n");
	char deep[64] = "";
	for (int i = 0; i <= AGENTFRAME_DEPTH; i++)
		strcat(deep, "[");
	char req[160];
	snprintf(req, sizeof(req), "{\"a\":%s", deep + 1);
	for (int i = 0; i < AGENTFRAME_DEPTH; i++)
		strcat(req, "]");
	strcat(req, "}{}");
	assert_string_equal(feeds(req), "L\nR {}\n");
	/* Exactly the limit is taken. */
	memset(big, ' ', AGENTFRAME_MAX);
	big[0] = '{';
	big[AGENTFRAME_MAX - 1] = '}';
	assert_int_equal(strlen(feed(big, AGENTFRAME_MAX)), AGENTFRAME_MAX + 3);
	assert_memory_equal(seen, "R {  ", 5);
}

/* ---- requests ---- */

static struct agentreq req;

static int parse(const char *js, const char **why)
{
	return agentreq_parse(&req, js, strlen(js), why);
}

static void test_a_request_gives_its_name_arguments_and_id(void **state)
{
	const char *why = NULL;
	long long v;
	char s[32];
	size_t n;
	(void)state;

	assert_int_equal(parse("{\"execute\":\"guest-sync\", \"arguments\":{\"id\":9223372036854775807}}", &why), 0);
	assert_true(jsontok_is(&req.doc, req.execute, "guest-sync"));
	assert_false(jsontok_is(&req.doc, req.execute, "guest-syn"));
	assert_int_equal(jsontok_int(&req.doc, agentreq_arg(&req, "id"), &v), 0);
	assert_true(v == 9223372036854775807LL);
	assert_int_equal(req.id, -1);

	/* Members in any order; nested values are skipped over; the id as it came. */
	assert_int_equal(parse("{\"id\":\"x\\\"1\",\"arguments\":{\"a\":{\"b\":[1,{\"c\":2}]},\"mode\":\"re\\u0062oot\"},"
			       "\"execute\":\"guest-shutdown\"}", &why), 0);
	assert_true(jsontok_is(&req.doc, req.execute, "guest-shutdown"));
	assert_int_equal(jsontok_str(&req.doc, agentreq_arg(&req, "mode"), s, sizeof(s)), 0);
	assert_string_equal(s, "reboot");
	assert_int_equal(agentreq_arg(&req, "c"), -1);
	const char *raw = jsontok_raw(&req.doc, req.id, &n);
	assert_int_equal(n, 6);
	assert_memory_equal(raw, "\"x\\\"1\"", 6);

	assert_int_equal(parse("{\"execute\":\"guest-ping\"}", &why), 0);
	assert_int_equal(agentreq_arg(&req, "id"), -1);
}

static void test_integers_are_exact_64_bit_or_refused(void **state)
{
	const char *why;
	long long v;
	(void)state;

	const char *bad[] = { "9223372036854775808", "1.5", "1e3", "-", "true", "\"1\"", "18446744073709551616" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char js[128];
		snprintf(js, sizeof(js), "{\"execute\":\"x\",\"arguments\":{\"id\":%s}}", bad[i]);
		assert_int_equal(parse(js, &why), 0);
		assert_int_equal(jsontok_int(&req.doc, agentreq_arg(&req, "id"), &v), -1);
	}
	assert_int_equal(parse("{\"execute\":\"x\",\"arguments\":{\"id\":-9223372036854775808}}", &why), 0);
	assert_int_equal(jsontok_int(&req.doc, agentreq_arg(&req, "id"), &v), 0);
	assert_true(v == (-9223372036854775807LL - 1));
	assert_int_equal(parse("{\"execute\":\"x\",\"arguments\":{\"id\":1733480000123}}", &why), 0);
	assert_int_equal(jsontok_int(&req.doc, agentreq_arg(&req, "id"), &v), 0);
	assert_true(v == 1733480000123LL);
}

static void test_malformed_requests_say_why(void **state)
{
	const char *why;
	char s[4];
	(void)state;

	assert_int_equal(parse("{\"execute\":1}", &why), -1);
	assert_string_equal(why, "request lacks a string member 'execute'");
	assert_int_equal(parse("{\"arguments\":{}}", &why), -1);
	assert_int_equal(parse("{\"execute\":\"x\",\"arguments\":[]}", &why), -1);
	assert_string_equal(why, "'arguments' is not an object");
	assert_int_equal(parse("{\"execute\":x}", &why), -1);
	assert_int_equal(parse("{execute:\"x\"}", &why), -1);
	assert_int_equal(parse("{]", &why), -1);
	assert_int_equal(parse("{\"execute\":\"x\"} {}", &why), -1);
	assert_int_equal(parse("{\"execute\":\"x\" , \"arguments\" : { \"a\" : [ 1 , {} ] } }", &why), 0);
	char many[1024] = "{\"execute\":\"x\",\"arguments\":{\"a\":[";
	for (int i = 0; i < AGENTREQ_TOKENS; i++)
		strcat(many, i ? ",1" : "1");
	strcat(many, "]}}");
	assert_int_equal(parse(many, &why), -1);
	assert_string_equal(why, "request has too many members");
	/* Strings: too long, a NUL, beyond ASCII, a bad escape. */
	assert_int_equal(parse("{\"execute\":\"abcd\"}", &why), 0);
	assert_int_equal(jsontok_str(&req.doc, req.execute, s, sizeof(s)), -1);
	const char *strs[] = { "{\"execute\":\"\\u0000\"}", "{\"execute\":\"\\u00e9\"}", "{\"execute\":\"\\q\"}",
			       "{\"execute\":\"\\u12\"}" };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (parse(strs[i], &why) == 0)
			assert_int_equal(jsontok_str(&req.doc, req.execute, s, sizeof(s)), -1);
	}
}

/* What jsmn lets through and only the separators check refuses (amphi
 * ctl's; the init goes without it for its size). */
static void test_separators_are_checked_where_asked(void **state)
{
	static const char *const lax[] = { "{\"a\" 1}", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\":1 \"b\":2}",
					   "{\"a\"::1}", "[,1]" };
	jsmntok_t tok[16];
	struct jsontok d;
	(void)state;

	for (size_t i = 0; i < sizeof(lax) / sizeof(lax[0]); i++)
		assert_int_equal(jsontok_parse(&d, lax[i], strlen(lax[i]), tok, 16, 1), -1);
	const char *good = " { \"a\" : [ 1 , \"x\" , { } ] , \"b\" : null } \n";
	assert_int_equal(jsontok_parse(&d, good, strlen(good), tok, 16, 1), 0);
	assert_int_equal(jsontok_next(&d, jsontok_member(&d, 0, "a")), 6);
	assert_int_equal(jsontok_parse(&d, good, strlen(good), tok, 4, 1), -2);
}

/* ---- replies ---- */

static void test_strings_are_escaped_and_always_valid_utf8(void **state)
{
	char buf[128];
	struct jsonw w;
	(void)state;

	jsonw_init(&w, buf, sizeof(buf));
	jsonw_raw(&w, "{\"host-name\":");
	jsonw_str(&w, "a\"b\\c\n\x01\x7f");
	jsonw_raw(&w, ",\"n\":");
	jsonw_int(&w, -9223372036854775807LL - 1);
	jsonw_raw(&w, "}");
	assert_false(w.overflow);
	assert_string_equal(buf, "{\"host-name\":\"a\\\"b\\\\c\\u000a\\u0001\\u007f\",\"n\":-9223372036854775808}");

	/* UTF-8 passes; what is not UTF-8 becomes U+FFFD, byte by byte. */
	jsonw_init(&w, buf, sizeof(buf));
	jsonw_str(&w, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xc3|\xed\xa0\x80|\xc0\xaf|\xff");
	assert_string_equal(buf, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\ufffd|\\ufffd\\ufffd\\ufffd|"
				 "\\ufffd\\ufffd|\\ufffd\"");
}

static void test_what_does_not_fit_is_an_overflow_never_a_cut_reply(void **state)
{
	char buf[8];
	struct jsonw w;
	(void)state;

	jsonw_init(&w, buf, sizeof(buf));
	jsonw_str(&w, "abcde");
	assert_false(w.overflow);
	assert_string_equal(buf, "\"abcde\"");
	jsonw_raw(&w, "x");
	assert_true(w.overflow);
	jsonw_raw(&w, "");
	assert_true(w.overflow);
	assert_string_equal(buf, "\"abcde\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_requests_end_where_braces_balance_outside_strings, reset),
		cmocka_unit_test_setup(test_0xff_flushes_a_partial_request_silently, reset),
		cmocka_unit_test_setup(test_garbage_is_reported_once_per_run, reset),
		cmocka_unit_test_setup(test_too_long_or_too_deep_is_read_to_its_end_and_refused, reset),
		cmocka_unit_test(test_a_request_gives_its_name_arguments_and_id),
		cmocka_unit_test(test_integers_are_exact_64_bit_or_refused),
		cmocka_unit_test(test_malformed_requests_say_why),
		cmocka_unit_test(test_separators_are_checked_where_asked),
		cmocka_unit_test(test_strings_are_escaped_and_always_valid_utf8),
		cmocka_unit_test(test_what_does_not_fit_is_an_overflow_never_a_cut_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
