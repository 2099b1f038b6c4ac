/* image-builder/textline.c: Anaconda text from a guest cut into lines at LF
 * only, bounded by the caller's buffer; a line's fields; the JSON form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "textline.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

/* Each piece as "[cont]text|" in one string. */
static char got[256];

static int collect(void *ctx, const char *s, size_t n, int cont)
{
	(void)ctx;
	snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%.*s|", cont ? "+" : "", (int)n, s);
	return 0;
}

static void split(size_t cap, const char *const chunks[])
{
	char buf[64];
	struct textline_split t = { .line = buf, .cap = cap };

	got[0] = '\0';
	for (int i = 0; chunks[i]; i++)
		assert_int_equal(textline_feed(&t, chunks[i], strlen(chunks[i]), collect, NULL), 0);
	assert_int_equal(textline_flush(&t, collect, NULL), 0);
}

static void test_lines_at_lf_only(void **state)
{
	(void)state;
	split(16, (const char *const[]){ "a\r\nb", "c\n\nlast", NULL });
	assert_string_equal(got, "a\r|bc||last|");
}

static void test_long_line_cut_and_continued(void **state)
{
	(void)state;
	split(4, (const char *const[]){ "abcdefghij\nxy\n", NULL });
	assert_string_equal(got, "abcd|+efgh|+ij|xy|");
}

/* Found by tests/fuzz/fuzz_logtext.c: a line exactly as long as the buffer
 * was shown and stored as itself and then an empty line, whenever its LF
 * came after the buffer filled (in the same read or the next one). */
static void test_line_of_exactly_the_buffer_is_one_line(void **state)
{
	(void)state;
	split(4, (const char *const[]){ "abcd\nef\n", NULL });
	assert_string_equal(got, "abcd|ef|");
	split(4, (const char *const[]){ "abcd", "\nef", NULL });
	assert_string_equal(got, "abcd|ef|");
	split(4, (const char *const[]){ "abcdefgh\n", NULL });
	assert_string_equal(got, "abcd|+efgh|");
	split(4, (const char *const[]){ "abcd", "e\n", NULL });
	assert_string_equal(got, "abcd|+e|");
	split(4, (const char *const[]){ "abcd", NULL });
	assert_string_equal(got, "abcd|");
}

static int stop(void *ctx, const char *s, size_t n, int cont)
{
	(*(int *)ctx)++;
	return -1;
}

static void test_callback_error_stops(void **state)
{
	char buf[8];
	struct textline_split t = { .line = buf, .cap = sizeof(buf) };
	int calls = 0;

	(void)state;
	assert_int_equal(textline_feed(&t, "a\nb\nc\n", 6, stop, &calls), -1);
	assert_int_equal(calls, 1);
}

static void test_fields(void **state)
{
	static const char ok[] = "14:02:11,210 INFO anaconda:Starting";
	struct textline_fields f;

	(void)state;
	assert_int_equal(textline_fields(ok, strlen(ok), &f), 1);
	assert_int_equal(f.level, 13);
	assert_int_equal(f.levellen, 4);
	assert_int_equal(f.prog, 18);
	assert_int_equal(f.proglen, 8);
	assert_string_equal(ok + f.msg, "Starting");
	static const char *const bad[] = { "14:02:11,210 INFO anaconda", "14:02:11,210 info x:y",
					   "14:02:11.210 INFO x:y", "14:02:11,210 INFO :y", "14:02:11,210 INFO",
					   "14:02:11,210 INFO a b:c", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (textline_fields(bad[i], strlen(bad[i]), &f))
			fail_msg("took \"%s\"", bad[i]);
}

static void test_failure_lines(void **state)
{
	static const char *const yes[] = { "x Traceback (most recent call last):",
					   "Process 12 (anaconda) of user 0 dumped core",
					   "packaging: base repo http://x is not valid",
					   "packaging: foo requires bar" };
	static const char *const no[] = { "Traceback ( IGNORED", "Process x (anaconda) of user 0 dumped core",
					  "packaging: base repo (CDROM/file) not valid", "all is well" };

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!textline_failure(yes[i], strlen(yes[i])))
			fail_msg("missed \"%s\"", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (textline_failure(no[i], strlen(no[i])))
			fail_msg("took \"%s\"", no[i]);
}

static void test_json(void **state)
{
	static const char line[] = "14:02:11,210 ERROR anaconda:say \"hi\"\x1b";
	char out[6 * sizeof(line) + 256];

	(void)state;
	textline_json(out, line, strlen(line), 0, 1);
	assert_string_equal(out, "{\"time\":\"14:02:11,210\",\"level\":\"ERROR\",\"program\":\"anaconda\","
				 "\"msg\":\"say \\\"hi\\\"\\u001b\",\"failure\":true}");
	textline_json(out, line, strlen(line), 1, 0);
	assert_string_equal(out, "{\"time\":null,\"level\":null,\"program\":null,"
				 "\"msg\":\"14:02:11,210 ERROR anaconda:say \\\"hi\\\"\\u001b\",\"failure\":false}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_at_lf_only),
		cmocka_unit_test(test_long_line_cut_and_continued),
		cmocka_unit_test(test_line_of_exactly_the_buffer_is_one_line),
		cmocka_unit_test(test_callback_error_stops),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_failure_lines),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
