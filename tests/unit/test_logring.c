/* init/logring.c: the ring keeps order, wraps, evicts the oldest, and
 * tells a reader that fell behind what it lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "logring.h"

static uint64_t add(const char *app, const char *msg, size_t len)
{
	struct logrec r = { .pri = 30, .source = LOGSRC_SERVICE, .msg = msg, .msglen = len };
	snprintf(r.app, sizeof(r.app), "%s", app);
	return logring_append(&r);
}

/* Runs first, on the empty early ring; records survive the move to the
 * recipe's size. */
static void test_order_and_fields(void **state)
{
	struct logring_cursor c;
	struct logrec r;
	uint64_t lf, ll;

	(void)state;
	logring_seek(&c, 1);
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 0);
	struct logrec e = { .pri = 30, .source = LOGSRC_INSTALL, .app = "install", .msg = "hello", .msglen = 5,
			    .sd = "[install@32473 event=\"begin\"]", .sdlen = 29 };
	assert_int_equal(logring_append(&e), 1);
	assert_int_equal(add("db", "", 0), 2);
	assert_int_equal(logring_resize(1024 * 1024), 0);
	logring_seek(&c, 1);
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 1);
	assert_int_equal(r.seq, 1);
	assert_string_equal(r.app, "install");
	assert_int_equal(r.source, LOGSRC_INSTALL);
	assert_int_equal(r.sdlen, 29);
	assert_memory_equal(r.sd, "[install@32473 event=\"begin\"]", 29);
	assert_int_equal(r.msglen, 5);
	assert_memory_equal(r.msg, "hello", 5);
	assert_int_equal(lf, 0);
	logring_advance(&c);
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 1);
	assert_int_equal(r.seq, 2);
	assert_string_equal(r.app, "db");
	assert_int_equal(r.sdlen, 0);
	assert_int_equal(r.msglen, 0);
	logring_advance(&c);
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 0);
}

static void test_long_message_is_split(void **state)
{
	static char big[LOGREC_MSG_MAX * 2 + 10];
	struct logring_cursor c;
	struct logrec r;
	uint64_t lf, ll, first = logring_next_seq();

	(void)state;
	memset(big, 'x', sizeof(big));
	/* structured data goes with the first piece only */
	struct logrec e = { .app = "big", .msg = big, .msglen = sizeof(big), .sd = "[x@1]", .sdlen = 5 };
	assert_int_equal(logring_append(&e), first + 2);
	logring_seek(&c, first);
	size_t total = 0;
	while (logring_peek(&c, &r, &lf, &ll)) {
		assert_int_equal(r.sdlen, r.seq == first ? 5 : 0);
		assert_true(r.msglen <= LOGREC_MSG_MAX);
		total += r.msglen;
		logring_advance(&c);
	}
	assert_int_equal(total, sizeof(big));
}

/* Far more than fits: the ring wraps many times, what is held stays
 * contiguous and intact, and a reader left behind learns its loss. */
static void test_wrap_evict_and_loss(void **state)
{
	struct logring_cursor behind, c;
	struct logrec r;
	uint64_t lf, ll;
	char msg[700];

	(void)state;
	logring_seek(&behind, logring_next_seq());
	uint64_t start = logring_next_seq();
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(msg, sizeof(msg), "record %d ", i);
		memset(msg + n, 'a' + i % 26, (size_t)(i % 600));  /* varied lengths to hit every wrap case */
		add("flood", msg, (size_t)n + (size_t)(i % 600));
	}
	uint64_t oldest = logring_oldest_seq(), next = logring_next_seq();
	assert_int_equal(next, start + 20000);
	assert_true(oldest > start);
	assert_true(next - oldest > 1000);  /* it holds a lot, not just a few */

	/* The reader that fell behind: told exactly what it lost. */
	assert_int_equal(logring_peek(&behind, &r, &lf, &ll), 1);
	assert_int_equal(lf, start);
	assert_int_equal(ll, oldest - 1);
	assert_int_equal(r.seq, oldest);

	/* Everything held: contiguous, and each message is the one written. */
	logring_seek(&c, 0);
	uint64_t expect = oldest;
	while (logring_peek(&c, &r, &lf, &ll)) {
		assert_int_equal(lf, 0);
		assert_int_equal(r.seq, expect);
		int i = (int)(r.seq - start);
		int n = snprintf(msg, sizeof(msg), "record %d ", i);
		assert_int_equal(r.msglen, (size_t)n + (size_t)(i % 600));
		assert_memory_equal(r.msg, msg, (size_t)n);
		if (i % 600)
			assert_int_equal(r.msg[r.msglen - 1], 'a' + i % 26);
		logring_advance(&c);
		expect++;
	}
	assert_int_equal(expect, next);
}

static void test_seek_into_the_middle(void **state)
{
	struct logring_cursor c;
	struct logrec r;
	uint64_t lf, ll, mid = (logring_oldest_seq() + logring_next_seq()) / 2;

	(void)state;
	logring_seek(&c, mid);
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 1);
	assert_int_equal(r.seq, mid);
	/* A stale offset hint is noticed and corrected. */
	c.off = 0;
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 1);
	assert_int_equal(r.seq, mid);
	logring_seek(&c, logring_next_seq() + 5);
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 0);
}

/* Shrinking keeps the newest records, their seqs and their bytes. */
static void test_resize_after_wrap(void **state)
{
	struct logring_cursor c;
	struct logrec r, last_before;
	uint64_t lf, ll, next = logring_next_seq();
	char copy[700];

	(void)state;
	logring_seek(&c, next - 1);
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 1);
	last_before = r;
	memcpy(copy, r.msg, r.msglen);
	assert_int_equal(logring_resize(256 * 1024), 0);
	assert_int_equal(logring_next_seq(), next);
	assert_true(logring_oldest_seq() < next - 100);
	logring_seek(&c, 0);
	uint64_t expect = logring_oldest_seq();
	while (logring_peek(&c, &r, &lf, &ll)) {
		assert_int_equal(r.seq, expect++);
		logring_advance(&c);
	}
	assert_int_equal(expect, next);
	logring_seek(&c, next - 1);
	assert_int_equal(logring_peek(&c, &r, &lf, &ll), 1);
	assert_int_equal(r.msglen, last_before.msglen);
	assert_memory_equal(r.msg, copy, r.msglen);
}

/* Lines of every length, as a real boot has: after every append the ring
 * holds exactly oldest..next-1, in order, each record whole. (With lines
 * of one length the wrap always met the oldest record at the write
 * position; mixed ones left a gap before it, which a wrap once ignored.) */
static void test_mixed_lengths_wrap_keeps_every_record_whole(void **state)
{
	static char msg[LOGREC_MSG_MAX];
	uint32_t rng = 12345;

	(void)state;
	assert_int_equal(logring_resize(64 * 1024), 0);
	uint64_t first = logring_next_seq();  /* earlier tests' records may still be held */
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	for (int i = 0; i < 5000; i++) {
		rng = rng * 1103515245u + 12345u;
		size_t len = (rng >> 8) % sizeof(msg);
		char app[8];
		snprintf(app, sizeof(app), "a%u", (unsigned)(len % 7));
		add(app, msg + len % 13, len - len % 13);

		struct logring_cursor c;
		struct logrec r;
		uint64_t lf, ll, want = logring_oldest_seq();
		logring_seek(&c, want);
		while (logring_peek(&c, &r, &lf, &ll)) {
			assert_int_equal(lf, 0);
			assert_int_equal(r.seq, want);
			want++;
			logring_advance(&c);
			if (r.seq < first)
				continue;
			assert_true(r.msglen < sizeof(msg));
			assert_true(r.app[0] == 'a' && r.app[1] >= '0' && r.app[1] <= '6' && r.app[2] == 0);
			/* every message is a run of the alphabet from where it began */
			for (size_t k = 1; k < r.msglen; k++)
				assert_int_equal((r.msg[k] - 'a' + 26 - (r.msg[k - 1] - 'a')) % 26, 1);
		}
		assert_int_equal(want, logring_next_seq());
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_fields),
		cmocka_unit_test(test_long_message_is_split),
		cmocka_unit_test(test_wrap_evict_and_loss),
		cmocka_unit_test(test_seek_into_the_middle),
		cmocka_unit_test(test_resize_after_wrap),
		cmocka_unit_test(test_mixed_lengths_wrap_keeps_every_record_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
