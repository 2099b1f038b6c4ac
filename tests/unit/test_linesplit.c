/* init/linesplit.c: a byte stream cut into lines, without the rest of
 * PID 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "linesplit.h"

static char got[16][LINESPLIT_MAX + 1];
static size_t got_len[16];
static int got_plain[16], ngot;

static void keep(void *ctx, const char *line, size_t len, int plain)
{
	(void)ctx;
	assert_true(ngot < 16 && len <= LINESPLIT_MAX);
	memcpy(got[ngot], line, len);
	got[ngot][len] = '\0';
	got_len[ngot] = len;
	got_plain[ngot++] = plain;
}

static const char *feed(struct linesplit *ls, const char *s, int (*stop)(void))
{
	return linesplit_feed(ls, s, s + strlen(s), stop, keep, NULL);
}

static void test_whole_and_partial_lines(void **state)
{
	struct linesplit ls = { 0 };
	(void)state;
	ngot = 0;
	const char *in = "one\ntwo\nthr";
	assert_ptr_equal(feed(&ls, in, NULL), in + strlen(in));
	assert_int_equal(ngot, 2);
	assert_string_equal(got[0], "one");
	assert_string_equal(got[1], "two");
	assert_int_equal(got_plain[0], 1);
	feed(&ls, "ee\n\x1b[2J\n", NULL);  /* the rest of the line, then one with an escape */
	assert_int_equal(ngot, 4);
	assert_string_equal(got[2], "three");
	assert_string_equal(got[3], "\x1b[2J");
	assert_int_equal(got_plain[3], 0);
	feed(&ls, "last, no newline", NULL);
	assert_int_equal(ngot, 4);
	linesplit_flush(&ls, keep, NULL);
	assert_int_equal(ngot, 5);
	assert_string_equal(got[4], "last, no newline");
	linesplit_flush(&ls, keep, NULL);  /* nothing left */
	assert_int_equal(ngot, 5);
}

/* A line longer than LINESPLIT_MAX goes in pieces of that size; its
 * newline ends the last piece, with no empty line after it. */
static void test_long_line_in_pieces(void **state)
{
	static char in[2 * LINESPLIT_MAX + 2];
	struct linesplit ls = { 0 };
	(void)state;
	ngot = 0;
	memset(in, 'x', 2 * LINESPLIT_MAX);
	in[2 * LINESPLIT_MAX] = '\n';
	feed(&ls, in, NULL);
	assert_int_equal(ngot, 2);
	assert_int_equal(got_len[0], LINESPLIT_MAX);
	assert_int_equal(got_len[1], LINESPLIT_MAX);
	feed(&ls, "next\n", NULL);
	assert_int_equal(ngot, 3);
	assert_string_equal(got[2], "next");
	/* A piece that fills the buffer with no newline yet waits. */
	in[LINESPLIT_MAX] = '\0';
	feed(&ls, in, NULL);
	assert_int_equal(ngot, 3);
	feed(&ls, "\n", NULL);
	assert_int_equal(ngot, 4);
	assert_int_equal(got_len[3], LINESPLIT_MAX);
}

static int stops_left;
static int stop_after(void)
{
	return stops_left-- <= 0;
}

/* stop is asked before each line: the caller gets back where it stopped,
 * and feeding from there gives the rest, nothing twice. */
static void test_stop_before_a_line(void **state)
{
	struct linesplit ls = { 0 };
	(void)state;
	ngot = 0;
	const char *in = "a\nb\nc\n";
	stops_left = 2;
	const char *left = feed(&ls, in, stop_after);
	assert_int_equal(ngot, 2);
	assert_string_equal(left, "c\n");
	assert_ptr_equal(feed(&ls, left, NULL), in + strlen(in));
	assert_int_equal(ngot, 3);
	assert_string_equal(got[2], "c");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_partial_lines),
		cmocka_unit_test(test_long_line_in_pieces),
		cmocka_unit_test(test_stop_before_a_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
