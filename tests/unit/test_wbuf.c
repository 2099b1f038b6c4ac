/* lib/wbuf.c: the bounded writer of the log's wire formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "testutil.h"
#include "wbuf.h"

/* Once a piece does not fit, nothing more goes in, not even a piece that
 * would: a cut leaves no hole in the middle. */
static void test_full_is_sticky(void **state)
{
	char out[8];
	struct wbuf b = { out, 0, sizeof(out), 0 };

	(void)state;
	wbuf_puts(&b, "abc");
	wbuf_put(&b, "defgh", 5);
	assert_int_equal(b.n, 8);
	assert_false(b.full);
	wbuf_put(&b, "", 0);
	assert_false(b.full);
	wbuf_put(&b, "i", 1);
	assert_true(b.full);
	assert_memory_equal(out, "abcdefgh", 8);

	b = (struct wbuf){ out, 0, 4, 0 };
	wbuf_puts(&b, "12345");
	wbuf_puts(&b, "x");
	assert_true(b.full);
	assert_int_equal(b.n, 0);
}

static void test_numbers(void **state)
{
	static const struct {
		uint64_t v;
		int width;
		const char *want;
	} cases[] = {
		{ 0, 1, "0" },
		{ 7, 2, "07" },
		{ 123456, 6, "123456" },
		{ 99, 1, "99" },
		{ 100, 4, "0100" },
		{ 5, 25, "00000000000000000005" },  /* width at most 20 */
		{ UINT64_MAX, 1, "18446744073709551615" },
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wbuf b = { out, 0, sizeof(out), 0 };
		wbuf_num(&b, cases[i].v, cases[i].width);
		assert_false(b.full);
		assert_int_equal(b.n, strlen(cases[i].want));
		assert_memory_equal(out, cases[i].want, b.n);
	}
	assert_int_equal(wbuf_ndigits(0), 1);
	assert_int_equal(wbuf_ndigits(9), 1);
	assert_int_equal(wbuf_ndigits(10), 2);
	assert_int_equal(wbuf_ndigits(UINT64_MAX), 20);

	/* A number that does not fit whole is not written at all. */
	struct wbuf b = { out, 0, 3, 0 };
	wbuf_num(&b, 1234, 1);
	assert_true(b.full);
	assert_int_equal(b.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_is_sticky),
		cmocka_unit_test(test_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
