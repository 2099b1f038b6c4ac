/* init/logflow.c: sources held back keep every record a reader is owed;
 * room ends at the hold; held sources resume when the readers catch up,
 * and under drop after one turn of the loop. On the real ring
 * (init/logring.c) and a fake loop (tests/unit/fakeloop.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fakeloop.h"
#include "log.h"
#include "logflow.h"
#include "logring.h"

static int errors;
void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level == LOG_LVL_ERROR)
		errors++;
}

static uint64_t add(const char *app, const char *msg, size_t len)
{
	struct logrec r = { .pri = 30, .source = LOGSRC_SERVICE, .msg = msg, .msglen = len };
	snprintf(r.app, sizeof(r.app), "%s", app);
	return logring_append(&r);
}

static int resumed_a, resumed_b;
static void resume_a(void) { resumed_a++; }
static void resume_b(void) { resumed_b++; }

/* Fills the ring until a source is held, with the floor at the next
 * record: everything from here on is owed. */
static void fill_until_held(void)
{
	char msg[500];
	memset(msg, 'f', sizeof(msg));
	logflow_set_floor(logring_next_seq());
	for (int i = 0; !logflow_hold(); i++) {
		assert_true(i < 1000);
		add("src", msg, sizeof(msg));
	}
}

/* A source that appends while logflow_hold() says 0 never pushes out a
 * record at or after the floor, whatever part of the ring is owed: the
 * whole of it, or only the newer part (the older was acked). */
static void test_pressure_keeps_owed_records(void **state)
{
	char msg[300];
	(void)state;
	memset(msg, 'p', sizeof(msg));
	assert_int_equal(logring_resize(64 * 1024), 0);
	for (int round = 0; round < 40; round++) {
		/* Owed: from a point 0..39 records after the oldest. */
		uint64_t floor = logring_oldest_seq() + (uint64_t)round;
		logflow_set_floor(floor);
		while (!logflow_hold()) {
			add("src", msg, (size_t)(37 * round % 290));
			assert_true(logring_oldest_seq() <= floor);
		}
		/* The reader catches up: everything so far is acked. */
		logflow_set_floor(logring_next_seq());
		assert_int_equal(logflow_hold(), 0);
		for (int i = 0; i < 50; i++)
			add("src", msg, 100);  /* and the ring wraps some more */
	}
	logflow_set_floor(UINT64_MAX);
}

/* logflow_room says how far a source may go: appending that much in
 * records ends short of pressure and never pushes out an owed record;
 * nobody owed: no limit. */
static void test_room_ends_at_pressure(void **state)
{
	char msg[1000];
	(void)state;
	memset(msg, 'r', sizeof(msg));
	assert_int_equal(logring_resize(64 * 1024), 0);
	logflow_set_floor(UINT64_MAX);
	assert_true(logflow_room() == SIZE_MAX);
	for (int round = 0; round < 20; round++) {
		uint64_t floor = logring_next_seq() - 1 - (uint64_t)(round % 5);
		logflow_set_floor(floor);
		size_t room = logflow_room(), used = 0, left = room;
		assert_true(room > 0 && room < 64 * 1024);
		assert_int_equal(logflow_hold(), 0);
		size_t len = 100 + (size_t)round * 40;
		while (used + len + 64 <= room) {
			add("src", msg, len);
			used += len + 64;  /* a header and the name, padded: under 64 */
			assert_int_equal(logflow_hold(), 0);
			assert_true(logring_oldest_seq() <= floor);
			assert_true(logflow_room() < left);  /* every record takes some */
			left = logflow_room();
		}
		while (!logflow_hold())
			add("src", msg, len);
		assert_int_equal(logflow_room(), 0);
		assert_true(logring_oldest_seq() <= floor);
	}
	logflow_set_floor(UINT64_MAX);
}


/* block and auto: a held source stays held until the readers take enough;
 * then each registered source resumes once. */
static void test_held_sources_resume_when_the_floor_moves(void **state)
{
	(void)state;
	assert_int_equal(logring_resize(64 * 1024), 0);
	logflow_set_drop(0);
	logflow_on_resume(resume_a);
	logflow_on_resume(resume_b);
	logflow_on_resume(resume_a);  /* once each */
	resumed_a = resumed_b = 0;
	fill_until_held();
	assert_int_equal(logflow_hold(), 1);
	assert_int_equal(logflow_room(), 0);
	assert_int_equal(fakeloop_timers_pending(), 0);  /* nothing but the readers ends it */
	/* A reader takes one record: still too little. */
	logflow_set_floor(logring_oldest_seq() + 1);
	assert_int_equal(resumed_a + resumed_b, 0);
	assert_int_equal(logflow_hold(), 1);
	/* It takes everything. */
	logflow_set_floor(logring_next_seq());
	assert_int_equal(resumed_a, 1);
	assert_int_equal(resumed_b, 1);
	assert_int_equal(logflow_hold(), 0);
	logflow_set_floor(logring_next_seq());
	assert_int_equal(resumed_a, 1);  /* nobody was held: nobody resumes */
	logflow_set_floor(UINT64_MAX);
}

/* drop: the first hold lasts one turn of the loop; then the sources go on
 * (the oldest records go) with no limit, until the readers catch up, and
 * the next pressure holds them one turn again. */
static void test_drop_holds_one_turn(void **state)
{
	char msg[500];
	(void)state;
	memset(msg, 'd', sizeof(msg));
	assert_int_equal(logring_resize(64 * 1024), 0);
	logflow_set_drop(1);
	resumed_a = resumed_b = 0;
	fill_until_held();
	assert_int_equal(fakeloop_timers_pending(), 1);
	assert_int_equal(logflow_hold(), 1);  /* the same turn: still held, no second timer */
	assert_int_equal(fakeloop_timers_pending(), 1);
	assert_int_equal(fakeloop_run_timers(), 1);
	assert_int_equal(resumed_a, 1);
	assert_int_equal(resumed_b, 1);
	/* The turn is over: nothing holds the sources, the ring drops. */
	uint64_t oldest = logring_oldest_seq();
	assert_true(logflow_room() == SIZE_MAX);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(logflow_hold(), 0);
		add("src", msg, sizeof(msg));
	}
	assert_true(logring_oldest_seq() > oldest);
	assert_int_equal(fakeloop_timers_pending(), 0);
	/* The readers catch up; the next pressure holds for a turn again. */
	logflow_set_floor(logring_next_seq());
	fill_until_held();
	assert_int_equal(fakeloop_timers_pending(), 1);
	fakeloop_run_timers();
	assert_int_equal(resumed_a, 2);
	logflow_set_floor(logring_next_seq());
	logflow_set_drop(0);
	logflow_set_floor(UINT64_MAX);
}

static void resume_c(void) {}
static void resume_d(void) {}
static void resume_e(void) {}

/* More sources than the table holds: said, never silent. Runs last (a
 * and b are in since the resume test). */
static void test_a_fifth_source_is_said(void **state)
{
	(void)state;
	errors = 0;
	logflow_on_resume(resume_a);
	logflow_on_resume(resume_c);
	logflow_on_resume(resume_d);
	assert_int_equal(errors, 0);
	logflow_on_resume(resume_e);
	assert_int_equal(errors, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pressure_keeps_owed_records),
		cmocka_unit_test(test_room_ends_at_pressure),
		cmocka_unit_test(test_held_sources_resume_when_the_floor_moves),
		cmocka_unit_test(test_drop_holds_one_turn),
		cmocka_unit_test(test_a_fifth_source_is_said),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
