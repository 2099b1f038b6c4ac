/* lib/logrec.c and the formats (logframe.c, logread.c, anaconda.c, loginput.c):
 * the amphi stream both ways, acks, Anaconda text, inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logframe.h"
#include "loginput.h"
#include "logread.h"
#include "logrec.h"
#include "anaconda.h"
#include "testutil.h"

#define BOOT "0b1d5c8e-6f0a-4a7e-9d47-3c2f1e0a9b11"

static struct logrec rec(uint64_t seq, int pri, enum logrec_source src, const char *app, const char *msg)
{
	struct logrec r = { .seq = seq, .realtime_us = INT64_C(1763885730123456), .uptime_us = 5140900,
			    .pri = pri, .source = src, .msg = msg, .msglen = strlen(msg) };

	snprintf(r.app, sizeof(r.app), "%s", app);
	return r;
}

/* The MSG part of a frame (after "LEN SP"), checking LEN on the way. */
static const char *frame_msg(const char *frame, int n)
{
	const char *sp = strchr(frame, ' ');

	assert_non_null(sp);
	assert_int_equal(strtol(frame, NULL, 10), n - (sp + 1 - frame));
	return sp + 1;
}

static void test_source_names(void **state)
{
	(void)state;
	assert_string_equal(logrec_source_name(LOGSRC_KERNEL), "kernel");
	assert_string_equal(logrec_source_name(LOGSRC_FILE), "file");
	assert_int_equal(logrec_source_parse("service"), LOGSRC_SERVICE);
	assert_int_equal(logrec_source_parse("syslog"), LOGSRC_SYSLOG);
	assert_int_equal(logrec_source_parse("nope"), -1);
	assert_int_equal(logrec_source_parse(NULL), -1);
}

static void test_frame_golden(void **state)
{
	struct logrec r = rec(42, 30, LOGSRC_SERVICE, "web", "hello world");
	char out[LOGREC_FRAME_MAX + 64];
	int n;

	(void)state;
	n = logrec_frame(&r, "guest1", BOOT, "-", out, sizeof(out));
	assert_string_equal(out, "183 <30>1 2025-11-23T08:15:30.123456Z guest1 web - - "
				 "[meta sequenceId=\"42\" sysUpTime=\"514\"]"
				 "[amphi@32473 source=\"service\" boot=\"" BOOT "\" proto=\"1\"] hello world");
	assert_int_equal(n, (int)strlen(out));

	/* The boot record; no clock, host or app: NILVALUEs. */
	r = rec(1, 6, LOGSRC_INIT, "", "amphi starting");
	r.realtime_us = 0;
	r.uptime_us = 0;
	n = logrec_frame(&r, "", "b1", "boot", out, sizeof(out));
	assert_string_equal(out, "115 <6>1 - - - - boot [meta sequenceId=\"1\" sysUpTime=\"0\"]"
				 "[amphi@32473 source=\"init\" boot=\"b1\" proto=\"1\"] amphi starting");
	frame_msg(out, n);

	/* Odd clocks and PRIs still make a valid header. */
	r = rec(7, 1000, LOGSRC_KERNEL, "kernel", "");
	r.realtime_us = INT64_C(951782400000001); /* 2000-02-29 */
	n = logrec_frame(&r, NULL, NULL, NULL, out, sizeof(out));
	assert_string_equal(frame_msg(out, n), "<8>1 2000-02-29T00:00:00.000001Z - kernel - - "
					       "[meta sequenceId=\"7\" sysUpTime=\"514\"]"
					       "[amphi@32473 source=\"kernel\" boot=\"\" proto=\"1\"] ");
}

static void test_frame_escapes(void **state)
{
	static const char msg[] = "a\rb\nc\x1b[0m\xff\tt\xc3\xa9 \xe2\x82\xac \xc0\xaf \xed\xa0\x80 \xf0\x9f\x98\x80\x7f"
				  " \xc2\x85\xc2\x9b\xc2\xa0\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xaa";
	struct logrec r = rec(3, 14, LOGSRC_SERVICE, "my app\x01\xc3\xa9", msg);
	char out[LOGREC_FRAME_MAX + 64];
	int n;

	(void)state;
	r.msglen = sizeof(msg) - 1;
	n = logrec_frame(&r, "host name", "q\"b]s\\", "-", out, sizeof(out));
	assert_true(n > 0);
	assert_string_equal(frame_msg(out, n),
			    "<14>1 2025-11-23T08:15:30.123456Z host_name my_app___ - - "
			    "[meta sequenceId=\"3\" sysUpTime=\"514\"]"
			    "[amphi@32473 source=\"service\" boot=\"q\\\"b\\]s\\\\\" proto=\"1\"] "
			    "a\\x0db\\x0ac\\x1b[0m\\xff\tt\xc3\xa9 \xe2\x82\xac \\xc0\\xaf \\xed\\xa0\\x80 "
			    "\xf0\x9f\x98\x80\\x7f"
			    /* C1 controls, LINE and PARAGRAPH SEPARATOR break lines for
			     * splitlines(); NBSP and U+202A do not. */
			    " \\xc2\\x85\\xc2\\x9b\xc2\xa0\\xe2\\x80\\xa8\\xe2\\x80\\xa9\xe2\x80\xaa");
	/* A NUL inside the message is data too. */
	r.msg = "a\0b";
	r.msglen = 3;
	n = logrec_frame(&r, "h", "b", "-", out, sizeof(out));
	assert_non_null(strstr(frame_msg(out, n), "] a\\x00b"));
}

/* Every byte value at every offset of a word-sized scan and its tail: the
 * run stops exactly at the first byte outside 0x20-0x7e. */
static void test_ascii_run(void **state)
{
	char buf[75];  /* two 32-byte turns, a word and a tail */
	(void)state;
	for (int c = 0; c < 256; c++)
		for (size_t at = 0; at < sizeof(buf); at++) {
			memset(buf, 'a', sizeof(buf));
			buf[at] = (char)c;
			size_t want = c >= 0x20 && c < 0x7f ? sizeof(buf) : at;
			assert_int_equal(logrec_ascii_run(buf, sizeof(buf)), want);
			assert_int_equal(logrec_ascii_run(buf, at), at);
		}
	assert_int_equal(logrec_ascii_run("", 0), 0);
}

/* Multibyte UTF-8 as RFC 3629 §4 allows it, at its edges: each sequence is
 * valid whole and invalid cut short. */
static void test_utf8_len(void **state)
{
	static const struct {
		const char *s;
		size_t want;
	} cases[] = {
		{ "a", 0 },                    /* ASCII is not a multibyte sequence */
		{ "\x80", 0 },                 /* a stray continuation byte */
		{ "\xc1\xbf", 0 },             /* overlong U+007F */
		{ "\xc2\x80", 2 },             /* U+0080 (C1: valid UTF-8, escaped by callers) */
		{ "\xdf\xbf", 2 },             /* U+07FF */
		{ "\xc3\x28", 0 },             /* second byte not a continuation */
		{ "\xe0\x9f\xbf", 0 },         /* overlong U+07FF */
		{ "\xe0\xa0\x80", 3 },         /* U+0800 */
		{ "\xed\x9f\xbf", 3 },         /* U+D7FF */
		{ "\xed\xa0\x80", 0 },         /* U+D800, a surrogate */
		{ "\xed\xbf\xbf", 0 },         /* U+DFFF */
		{ "\xef\xbf\xbf", 3 },         /* U+FFFF */
		{ "\xe2\x82\x28", 0 },         /* third byte not a continuation */
		{ "\xf0\x8f\xbf\xbf", 0 },     /* overlong U+FFFF */
		{ "\xf0\x90\x80\x80", 4 },     /* U+10000 */
		{ "\xf4\x8f\xbf\xbf", 4 },     /* U+10FFFF */
		{ "\xf4\x90\x80\x80", 0 },     /* U+110000 */
		{ "\xf5\x80\x80\x80", 0 },
		{ "\xff", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const unsigned char *s = (const unsigned char *)cases[i].s;
		size_t n = strlen(cases[i].s);
		assert_int_equal(logrec_utf8_len(s, n), cases[i].want);
		if (cases[i].want)
			assert_int_equal(logrec_utf8_len(s, n - 1), 0);
	}
}

/* The time of a frame, whatever the frame before it: the second a burst
 * shares is worked out once, never reused for another second or day. */
static void test_frame_timestamps(void **state)
{
	static const struct {
		int64_t us;
		const char *want;
	} cases[] = {
		{ INT64_C(1763885730123456), " 2025-11-23T08:15:30.123456Z " },
		{ INT64_C(1763885730999999), " 2025-11-23T08:15:30.999999Z " },
		{ INT64_C(1763885731000000), " 2025-11-23T08:15:31.000000Z " },
		{ INT64_C(1763885730000001), " 2025-11-23T08:15:30.000001Z " },
		{ INT64_C(1763885730123456) + INT64_C(86400000000), " 2025-11-24T08:15:30.123456Z " },
		{ INT64_C(951782400000000), " 2000-02-29T00:00:00.000000Z " },
		{ 0, "<30>1 - " },
		{ INT64_C(1763885730123456), " 2025-11-23T08:15:30.123456Z " },
	};
	struct logrec r = rec(1, 30, LOGSRC_SERVICE, "web", "x");
	char out[512];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.realtime_us = cases[i].us;
		assert_true(logrec_frame(&r, "h", BOOT, "-", out, sizeof(out)) > 0);
		if (!strstr(out, cases[i].want))
			fail_msg("case %zu: %s has no '%s'", i, out, cases[i].want);
	}
}

/* The newline and whether the line before it is plain, found in one pass
 * wherever the first non-plain byte and the newline are. */
static void test_line_end(void **state)
{
	char buf[80];
	int plain = -1;
	(void)state;
	for (size_t nl = 0; nl < sizeof(buf); nl++)
		for (size_t odd = 0; odd <= sizeof(buf); odd++) {
			memset(buf, 'a', sizeof(buf));
			buf[nl] = '\n';
			if (odd < sizeof(buf) && odd != nl)
				buf[odd] = '\t';
			assert_ptr_equal(logrec_line_end(buf, buf + sizeof(buf), &plain), buf + nl);
			assert_int_equal(plain, odd >= nl);
			/* Cut before the newline: none, and never plain. */
			assert_null(logrec_line_end(buf, buf + nl, &plain));
			assert_int_equal(plain, 0);
		}
	assert_null(logrec_line_end(buf, buf, &plain));
}

/* A plain record is framed without the escaping scan: the same bytes as
 * the scan would give; an origin made once gives what logrec_frame does. */
static void test_frame_plain_and_origin(void **state)
{
	struct logrec r = rec(42, 30, LOGSRC_SERVICE, "web", "hello world, all of it printable");
	struct logrec_origin o;
	char a[512], b[512];
	int na, nb;
	(void)state;
	na = logrec_frame(&r, "guest1", BOOT, "-", a, sizeof(a));
	r.plain = 1;
	logrec_origin_init(&o, "guest1", BOOT);
	nb = logrec_frame_from(&r, &o, "-", b, sizeof(b));
	assert_true(na > 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, (size_t)na);
	/* Cut as the scan cuts: it does not fit, nothing half-written counts. */
	assert_int_equal(logrec_frame_from(&r, &o, "-", b, (size_t)na), -1);
	/* A boot id too long to keep: no frame rather than one without it. */
	char longboot[200];
	memset(longboot, 'b', sizeof(longboot) - 1);
	longboot[sizeof(longboot) - 1] = '\0';
	logrec_origin_init(&o, "guest1", longboot);
	assert_int_equal(logrec_frame_from(&r, &o, "-", b, sizeof(b)), -1);
}

/* One origin over a run of records whose app, msgid and source change
 * (and names too long to keep, or with bytes to escape): every frame is
 * what a fresh origin gives, so nothing kept from one record leaks into
 * the next. */
static void test_origin_keeps_nothing_stale(void **state)
{
	static const char *const apps[] = { "web", "web", "db", "w\x01b", "a-name-of-forty-seven-characters-to-fill-app_47", "web" };
	static const char *const ids[] = { "-", "boot", "-", "loss", "a-msgid-longer-than-the-key-of-forty-seven-bytes-x", NULL };
	struct logrec_origin o;
	char a[1024], b[1024];
	(void)state;
	logrec_origin_init(&o, "guest1", BOOT);
	for (int i = 0; i < 60; i++) {
		struct logrec r = rec((uint64_t)i + 1, i % 192, (enum logrec_source)(i % 7), apps[i % 6], "a message");
		const char *id = ids[(i / 6) % 6];
		int na = logrec_frame(&r, "guest1", BOOT, id, a, sizeof(a));
		int nb = logrec_frame_from(&r, &o, id, b, sizeof(b));
		assert_true(na > 0);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, (size_t)na);
	}
}

static void test_frame_does_not_fit(void **state)
{
	static char big[LOGREC_FRAME_MAX];
	struct logrec r = rec(42, 30, LOGSRC_SERVICE, "web", "hello world");
	char out[LOGREC_FRAME_MAX + 64];

	(void)state;
	/* 187 bytes and the NUL. */
	assert_int_equal(logrec_frame(&r, "guest1", BOOT, "-", out, 188), 187);
	assert_int_equal(logrec_frame(&r, "guest1", BOOT, "-", out, 187), -1);
	assert_int_equal(logrec_frame(&r, "guest1", BOOT, "-", out, 20), -1);
	assert_int_equal(logrec_frame(&r, "guest1", BOOT, "-", out, 0), -1);
	/* Over LOGREC_FRAME_MAX no reader takes it, whatever the buffer. */
	memset(big, 'x', sizeof(big));
	r.msg = big;
	r.msglen = LOGREC_FRAME_MAX - 200;
	assert_true(logrec_frame(&r, "h", "b", "-", out, sizeof(out)) > LOGREC_FRAME_MAX - 100);
	r.msglen = LOGREC_FRAME_MAX - 100;
	assert_int_equal(logrec_frame(&r, "h", "b", "-", out, sizeof(out)), -1);
	r.msglen = 3000;
	memset(big, 0xff, 3000); /* 4 bytes each once escaped */
	assert_int_equal(logrec_frame(&r, "h", "b", "-", out, sizeof(out)), -1);
	/* What the ring holds as one record always fits, escaped or not. */
	r.msglen = LOGREC_MSG_MAX;
	assert_true(logrec_frame(&r, "h", "b", "-", out, sizeof(out)) > 4 * LOGREC_MSG_MAX);
}

/* Frames records[0..n) into one stream. */
static size_t make_stream(char *s, size_t cap, int n)
{
	static const char *const msgs[] = { "first", "", "third \xff\r\n", "fourth" };
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		struct logrec r = rec((uint64_t)i + 1, 8 + i, (enum logrec_source)(i % 5), "svc", msgs[i % 4]);
		int k = logrec_frame(&r, "guest1", BOOT, i == 0 ? "boot" : "-", s + len, cap - len);
		assert_true(k > 0);
		len += (size_t)k;
	}
	return len;
}

static void check_parsed(const struct logrec_parsed *p, int i)
{
	static const char *const want[] = { "first", "", "third \\xff\\x0d\\x0a", "fourth" };

	assert_int_equal(p->seq, i + 1);
	assert_int_equal(p->pri, 8 + i);
	assert_int_equal(p->uptime_cs, 514);
	assert_string_equal(p->timestamp, "2025-11-23T08:15:30.123456Z");
	assert_string_equal(p->host, "guest1");
	assert_string_equal(p->app, "svc");
	assert_string_equal(p->msgid, i == 0 ? "boot" : "-");
	assert_string_equal(p->source, logrec_source_name((enum logrec_source)(i % 5)));
	assert_string_equal(p->boot, BOOT);
	assert_int_equal(p->proto, 1);  /* in every record */
	assert_int_equal(p->msglen, strlen(want[i % 4]));
	assert_memory_equal(p->msg, want[i % 4], p->msglen);
}

static void test_roundtrip_one_piece(void **state)
{
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char s[4096], why[256];
	size_t len = make_stream(s, sizeof(s), 4);

	(void)state;
	logrec_reader_init(&rd);
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 0);
	assert_int_equal(logrec_reader_feed(&rd, s, len), len);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 1);
		check_parsed(&p, i);
	}
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 0);
	assert_int_equal(rd.len, 0);
}

static void test_roundtrip_byte_by_byte(void **state)
{
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char s[4096], why[256];
	size_t len = make_stream(s, sizeof(s), 4);
	int got = 0;

	(void)state;
	logrec_reader_init(&rd);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(logrec_reader_feed(&rd, s + i, 1), 1);
		int r = logrec_reader_next(&rd, &p, why, sizeof(why));
		assert_int_not_equal(r, -1);
		if (r == 1)
			check_parsed(&p, got++);
	}
	assert_int_equal(got, 4);
}

static void test_roundtrip_split_feeds(void **state)
{
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char s[4096], why[256];
	size_t len = make_stream(s, sizeof(s), 4);

	(void)state;
	/* A frame and a half, then the rest: the half moves to the front and
	 * the message of the frame taken stays readable until the next call. */
	for (size_t cut = 1; cut < len; cut += 7) {
		int got = 0;

		logrec_reader_init(&rd);
		logrec_reader_feed(&rd, s, cut);
		while (logrec_reader_next(&rd, &p, why, sizeof(why)) == 1)
			check_parsed(&p, got++);
		assert_memory_equal(rd.buf + rd.start, s + cut - rd.len, rd.len);
		logrec_reader_feed(&rd, s + cut, len - cut);
		while (logrec_reader_next(&rd, &p, why, sizeof(why)) == 1)
			check_parsed(&p, got++);
		assert_int_equal(got, 4);
	}
}

static void test_reader_whitespace_and_foreign_writer(void **state)
{
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char path[PATH_MAX], why[256];
	size_t len;
	char *s;

	(void)state;
	snprintf(path, sizeof(path), "%s/logrec/stream.bin", fixtures_dir());
	s = read_text(path, &len);
	assert_non_null(s);
	logrec_reader_init(&rd);
	assert_int_equal(logrec_reader_feed(&rd, "\r\n \t\n", 5), 5);
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 0);
	assert_int_equal(logrec_reader_feed(&rd, s, len), len);
	free(s);

	/* RFC 5424 §6.5 example 4 with our elements after a foreign one. */
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 1);
	assert_int_equal(p.pri, 165);
	assert_string_equal(p.timestamp, "2003-10-11T22:14:15.003-07:00");
	assert_string_equal(p.host, "mymachine.example.com");
	assert_string_equal(p.app, "evntslog");
	assert_string_equal(p.msgid, "boot");
	assert_int_equal(p.proto, 1);
	assert_int_equal(p.seq, 1);
	assert_int_equal(p.uptime_cs, 12);
	assert_string_equal(p.source, "init");
	assert_string_equal(p.boot, "abc");
	assert_int_equal(p.msglen, strlen("An application event log entry..."));
	assert_memory_equal(p.msg, "An application event log entry...", p.msglen); /* BOM dropped */

	/* No MSG at all, then a CRLF LF trailer. */
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 1);
	assert_int_equal(p.seq, 2);
	assert_string_equal(p.source, "file");
	assert_int_equal(p.msglen, 0);

	/* Unknown parameters, escapes in a value. */
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 1);
	assert_int_equal(p.seq, 3);
	assert_string_equal(p.timestamp, "-");
	assert_string_equal(p.boot, "abc");
	assert_int_equal(p.msglen, strlen("tail with \xc3\xa9"));
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 0);
	assert_int_equal(rd.len, 0);
}

/* Feeds s whole and expects the reader to refuse it, saying want. */
static void expect_broken(const char *s, const char *want)
{
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char why[256] = "";

	logrec_reader_init(&rd);
	logrec_reader_feed(&rd, s, strlen(s));
	if (logrec_reader_next(&rd, &p, why, sizeof(why)) != -1)
		fail_msg("accepted: %s", s);
	if (!strstr(why, want))
		fail_msg("%s: why is \"%s\", expected \"%s\"", s, why, want);
}

/* A frame around msg, its length counted. */
static void expect_broken_msg(const char *msg, const char *want)
{
	char s[1024];

	snprintf(s, sizeof(s), "%zu %s", strlen(msg), msg);
	expect_broken(s, want);
}

#define GOOD_SD "[meta sequenceId=\"1\" sysUpTime=\"2\"][amphi@32473 source=\"init\" boot=\"b\"]"

static void test_reader_errors(void **state)
{
	(void)state;
	expect_broken("0", "leading zero");
	expect_broken("012 <1>1 - - - - - -", "leading zero");
	expect_broken("8193 ", "over 8192");
	expect_broken("99999", "over 8192");
	expect_broken("123456", "more than 5 digits");
	expect_broken("abc", "expected a digit, got byte 0x61");
	expect_broken("-5 x", "expected a digit");
	expect_broken("12\n<1>1 - - - - - -", "expected SP after 12, got byte 0x0a");
	expect_broken("5 hello", "PRI");
	expect_broken_msg("<192>1 - - - - - " GOOD_SD, "PRI");
	expect_broken_msg("<013>1 - - - - - " GOOD_SD, "leading zeros");
	expect_broken_msg("<13>2 - - - - - " GOOD_SD, "version 1");
	expect_broken_msg("<13>1 - - - - 0123456789012345678901234567890123 " GOOD_SD, "MSGID");
	expect_broken_msg("<13>1  - - - - " GOOD_SD, "TIMESTAMP");
	expect_broken_msg("<13>1 yesterday - - - - " GOOD_SD, "RFC 3339");
	expect_broken_msg("<13>1 2025-11-23T08:15:30.1234567Z - - - - " GOOD_SD, "RFC 3339");
	expect_broken_msg("<13>1 - h\x01st - - - " GOOD_SD, "HOSTNAME");
	/* APP-NAME names a file on the host (sanitised there): 1-48 PRINTUSASCII */
	expect_broken_msg("<13>1 - - 0123456789012345678901234567890123456789012345678 - - " GOOD_SD, "APP-NAME");
	expect_broken_msg("<13>1 - - caf\xc3\xa9 - - " GOOD_SD, "APP-NAME");
	expect_broken_msg("<13>1 - - - - - " GOOD_SD "x", "expected SP or the end");
	expect_broken_msg("<13>1 - - - - - ", "STRUCTURED-DATA: expected '-'");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"1\"", "truncated");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"1", "unterminated");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"1\\\"]", "unterminated");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId]", "expected =\"");
	expect_broken_msg("<13>1 - - - - - [meta =\"1\"]", "PARAM-NAME");
	expect_broken_msg("<13>1 - - - - - [ meta]", "SD-ID");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"1\"x]", "expected SP or ']'");
	expect_broken_msg("<13>1 - - - - - - msg", "sequenceId");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"1\" sysUpTime=\"2\"]", "source");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"x\" sysUpTime=\"2\"]", "sequenceId");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"18446744073709551616\" sysUpTime=\"2\"]",
			  "sequenceId");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"99999999999999999999\" sysUpTime=\"2\"]",
			  "sequenceId");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"\\\\1\" sysUpTime=\"2\"]", "sequenceId");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"1\" sysUpTime=\"-2\"]", "sysUpTime");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"1\" sysUpTime=\"2\"]"
			  "[amphi@32473 source=\"init\" boot=\"0123456789012345678901234567890123456789\"]",
			  "boot");
	expect_broken_msg("<13>1 - - - - - [meta sequenceId=\"1\" sysUpTime=\"2\"]"
			  "[amphi@32473 source=\"init\" boot=\"b\" proto=\"one\"]",
			  "proto");
}

/* Parses one whole frame made by hand (msg without its length). */
static int parse_frame(const char *msg, struct logrec_parsed *p)
{
	static struct logrec_reader rd;
	char s[2048], why[256];

	snprintf(s, sizeof(s), "%zu %s", strlen(msg), msg);
	logrec_reader_init(&rd);
	logrec_reader_feed(&rd, s, strlen(s));
	return logrec_reader_next(&rd, p, why, sizeof(why));
}

/* PID 1's install events: [install@32473] after [amphi@32473], escaped
 * where it must be, read back field by field; honoured on source
 * "install" only (a record of any other source that carries one is not
 * an event), and a bad value breaks the stream as in [meta]. */
static void test_install_element(void **state)
{
	struct logrec r = rec(9, 30, LOGSRC_INSTALL, "install", "step 2/3 copy: failed in 12 ms: exited with status 1");
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char sd[256], out[LOGREC_FRAME_MAX + 64], why[256];
	size_t n = (size_t)snprintf(sd, sizeof(sd), "[" LOGREC_SD_INSTALL);
	int len;

	(void)state;
	n = logrec_sd_param(sd, n, sizeof(sd), "event", "step");
	n = logrec_sd_param(sd, n, sizeof(sd), "state", "failed");
	n = logrec_sd_param(sd, n, sizeof(sd), "step", "2");
	n = logrec_sd_param(sd, n, sizeof(sd), "steps", "3");
	n = logrec_sd_param(sd, n, sizeof(sd), "ms", "12");
	n = logrec_sd_param(sd, n, sizeof(sd), "name", "copy");
	n = logrec_sd_param(sd, n, sizeof(sd), "how", "said \"no\" [x]");
	sd[n++] = ']';
	r.sd = sd;
	r.sdlen = n;
	len = logrec_frame(&r, "g", "b1", "-", out, sizeof(out));
	assert_non_null(strstr(frame_msg(out, len), "proto=\"1\"][install@32473 event=\"step\" state=\"failed\" step=\"2\" "
						  "steps=\"3\" ms=\"12\" name=\"copy\" how=\"said \\\"no\\\" [x\\]\"] step 2/3"));
	logrec_reader_init(&rd);
	logrec_reader_feed(&rd, out, (size_t)len);
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 1);
	assert_string_equal(p.install.event, "step");
	assert_string_equal(p.install.state, "failed");
	assert_string_equal(p.install.name, "copy");
	assert_string_equal(p.install.how, "said \"no\" [x]");
	assert_int_equal(p.install.step, 2);
	assert_int_equal(p.install.steps, 3);
	assert_int_equal(p.install.ms, 12);
	assert_memory_equal(p.msg, "step 2/3 copy", 13);
	/* cut to fit: sticky, and says so */
	assert_int_equal(logrec_sd_param(sd, 0, 8, "event", "verdict"), 8);
	assert_int_equal(logrec_sd_param(sd, 9, 8, "event", "x"), 8);

#define HEAD "<13>1 - - - - - [meta sequenceId=\"1\" sysUpTime=\"2\"]"
	/* the same element on a syslog record: no event */
	assert_int_equal(parse_frame(HEAD "[amphi@32473 source=\"syslog\" boot=\"b\"]"
				     "[install@32473 event=\"verdict\" result=\"success\"] x", &p), 1);
	assert_string_equal(p.source, "syslog");
	assert_string_equal(p.install.event, "");
	/* nor on a source given after it (the order of SD-ELEMENTs is free) */
	assert_int_equal(parse_frame(HEAD "[install@32473 event=\"verdict\" result=\"success\"]"
				     "[amphi@32473 source=\"service\" boot=\"b\"] x", &p), 1);
	assert_string_equal(p.install.event, "");
	/* on install: taken, "result" as the state */
	assert_int_equal(parse_frame(HEAD "[install@32473 event=\"verdict\" result=\"success\" steps=\"4\"]"
				     "[amphi@32473 source=\"install\" boot=\"b\"] x", &p), 1);
	assert_string_equal(p.install.event, "verdict");
	assert_string_equal(p.install.state, "success");
	assert_int_equal(p.install.steps, 4);
	/* a record of source install without the element: no event */
	assert_int_equal(parse_frame(HEAD "[amphi@32473 source=\"install\" boot=\"b\"] x", &p), 1);
	assert_string_equal(p.install.event, "");
	/* bad values */
	expect_broken_msg(HEAD "[amphi@32473 source=\"install\" boot=\"b\"][install@32473 event=\"step\" step=\"x\"]",
			  "install@32473");
	expect_broken_msg(HEAD "[amphi@32473 source=\"install\" boot=\"b\"][install@32473 event=\"step\" "
			  "step=\"4294967296\"]", "install@32473");
	expect_broken_msg(HEAD "[amphi@32473 source=\"install\" boot=\"b\"][install@32473 event=\"0123456789abcdef\"]",
			  "install@32473");
	expect_broken_msg(HEAD "[amphi@32473 source=\"install\" boot=\"b\"][install@32473 event=\"a\tb\"]",
			  "install@32473");
#undef HEAD
}

/* What the reader takes from a record is used on the host: a boot id
 * names a directory, a source is one of the protocol's, a sequence number
 * counts from 1, a timestamp is a time. */
#define SD_WITH(seq, src, boot) \
	"[meta sequenceId=\"" seq "\" sysUpTime=\"2\"][amphi@32473 source=\"" src "\" boot=\"" boot "\"]"

static void test_reader_refuses_bad_fields(void **state)
{
	static const char *const bad_boots[] = {
		"", ".", "..", "../x", "a/b", "a b", "a.b", "a\\\"b", "a\\]b", "a\\\\b", "\xc3\xa9",
		"0123456789012345678901234567890123456789",
	};
	static const char *const bad_sources[] = { "", "kernels", "Init", "x", "service " };
	static const char *const bad_times[] = {
		"2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z", "2025-01-32T00:00:00Z", "2025-01-00T00:00:00Z",
		"2025-01-01T24:00:00Z", "2025-01-01T00:60:00Z", "2025-01-01T00:00:61Z", "2025-01-01T00:00:00+24:00",
		"2025-01-01T00:00:00-00:60",
	};
	char msg[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_boots) / sizeof(bad_boots[0]); i++) {
		snprintf(msg, sizeof(msg), "<13>1 - - - - - " SD_WITH("1", "init", "%s"), bad_boots[i]);
		expect_broken_msg(msg, "bad boot in [amphi@32473]: expected 1 to 39 letters, digits, '-' or '_'");
	}
	for (size_t i = 0; i < sizeof(bad_sources) / sizeof(bad_sources[0]); i++) {
		snprintf(msg, sizeof(msg), "<13>1 - - - - - " SD_WITH("1", "%s", "b"), bad_sources[i]);
		expect_broken_msg(msg, "bad source in [amphi@32473]: expected kernel, init, service, syslog, file or install");
	}
	expect_broken_msg("<13>1 - - - - - " SD_WITH("0", "init", "b"), "bad sequenceId in [meta]: expected 1 to");
	for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
		snprintf(msg, sizeof(msg), "<13>1 %s - - - - " SD_WITH("1", "init", "b"), bad_times[i]);
		expect_broken_msg(msg, "TIMESTAMP: not an RFC 3339 time");
	}
}

/* The edges of each rule are taken. */
static void test_reader_takes_good_fields(void **state)
{
	static const char *const good[] = {
		"<13>1 - - - - - " SD_WITH("1", "kernel", "-"),
		"<13>1 - - - - - " SD_WITH("18446744073709551615", "install", "012345678901234567890123456789012345678"),
		"<13>1 - - - - - " SD_WITH("1", "syslog", "6f1e7c2a-0b9d-4c1e-9a57-3f2d1c0b9e8a"),
		"<13>1 - - - - - " SD_WITH("1", "file", "A_z-09"),
		"<13>1 2016-12-31T23:59:60Z - - - - " SD_WITH("1", "service", "b"),
		"<13>1 2025-12-31T23:59:59.999999+23:59 - - - - " SD_WITH("1", "init", "b"),
		"<13>1 2025-01-01T00:00:00-00:00 - - - - " SD_WITH("1", "init", "b"),
	};
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char s[1024], why[256] = "";

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(s, sizeof(s), "%zu %s", strlen(good[i]), good[i]);
		logrec_reader_init(&rd);
		logrec_reader_feed(&rd, s, strlen(s));
		if (logrec_reader_next(&rd, &p, why, sizeof(why)) != 1)
			fail_msg("refused: %s: %s", good[i], why);
	}
}

/* Read in place, as amphi logs does: every cut of the stream into two
 * reads gives the same frames, the partial one moves to the front, and
 * after it there is always room for a whole read. */
static void test_put_num(void **state)
{
	char b[32];

	(void)state;
	assert_ptr_equal(logrec_put_num(b, 0, 1), b + 1);
	assert_string_equal(b, "0");
	assert_ptr_equal(logrec_put_num(b, 5, 2), b + 2);
	assert_string_equal(b, "05");
	logrec_put_num(b, 12345, 3);
	assert_string_equal(b, "12345");
	logrec_put_num(b, 7, 40); /* width is at most 20 */
	assert_string_equal(b, "00000000000000000007");
	assert_ptr_equal(logrec_put_num(b, UINT64_MAX, 1), b + 20);
	assert_string_equal(b, "18446744073709551615");
}

static void test_reader_reads_in_place(void **state)
{
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char s[4096], why[256];
	size_t len = make_stream(s, sizeof(s), 4), room;

	(void)state;
	for (size_t cut = 1; cut < len; cut += 5) {
		int got = 0;
		char *at;

		logrec_reader_init(&rd);
		at = logrec_reader_space(&rd, &room);
		assert_ptr_equal(at, rd.buf);
		assert_int_equal(room, sizeof(rd.buf));
		memcpy(at, s, cut);
		logrec_reader_wrote(&rd, cut);
		while (logrec_reader_next(&rd, &p, why, sizeof(why)) == 1)
			check_parsed(&p, got++);
		size_t left = rd.len;
		at = logrec_reader_space(&rd, &room);
		assert_ptr_equal(at, rd.buf + left);
		assert_int_equal(rd.start, 0);
		assert_memory_equal(rd.buf, s + cut - left, left);
		assert_true(room >= LOGREC_READ_MAX);
		memcpy(at, s + cut, len - cut);
		logrec_reader_wrote(&rd, len - cut);
		while (logrec_reader_next(&rd, &p, why, sizeof(why)) == 1)
			check_parsed(&p, got++);
		assert_int_equal(got, 4);
		assert_int_equal(rd.len, 0);
	}
}

static void test_reader_need_more_and_full(void **state)
{
	static struct logrec_reader rd;
	static char junk[sizeof(rd.buf) + 100];
	struct logrec_parsed p;
	char why[256];

	(void)state;
	logrec_reader_init(&rd);
	logrec_reader_feed(&rd, "12", 2);
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 0);
	logrec_reader_feed(&rd, "3 <1>1", 6);
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), 0);
	/* The biggest frame fits whole; the buffer takes no more than it holds. */
	logrec_reader_init(&rd);
	memset(junk, 'x', sizeof(junk));
	memcpy(junk, "8192 ", 5);
	assert_int_equal(logrec_reader_feed(&rd, junk, sizeof(junk)), sizeof(rd.buf));
	assert_int_equal(logrec_reader_feed(&rd, junk, 1), 0);
	assert_int_equal(logrec_reader_next(&rd, &p, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "PRI"));
}

static void test_ack(void **state)
{
	static const char junk[] = "hello\nACK\nACK x\nACK -1\nACK \nACK 5 \nack 6\nACK 123456789012345678901\n"
				   "ACK 18446744073709551616\nACK 9";
	char out[32];
	size_t used = 99;

	(void)state;
	assert_int_equal(logrec_ack_format(42, out, sizeof(out)), 7);
	assert_string_equal(out, "ACK 42\n");
	assert_int_equal(logrec_ack_format(UINT64_MAX, out, sizeof(out)), 25);
	assert_string_equal(out, "ACK 18446744073709551615\n");
	assert_int_equal(logrec_ack_format(42, out, 7), -1);
	assert_int_equal(logrec_ack_format(42, out, 8), 7);

	assert_int_equal(logrec_ack_parse("ACK 1\nACK 5\r\nACK 3\nACK 7", 24, &used), 5);
	assert_int_equal(used, 19);
	assert_int_equal(logrec_ack_parse("ACK 7", 5, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(logrec_ack_parse("ACK 7\n", 6, &used), 7);
	assert_int_equal(used, 6);
	assert_int_equal(logrec_ack_parse("", 0, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(logrec_ack_parse(junk, sizeof(junk) - 1, &used), 0);
	assert_int_equal(used, sizeof(junk) - 1 - strlen("ACK 9"));
	assert_int_equal(logrec_ack_parse("ACK 18446744073709551615\n", 25, &used), UINT64_MAX);
	/* A line too long to be an ack is dropped even without its LF. */
	char longjunk[100];
	memset(longjunk, 'z', sizeof(longjunk));
	assert_int_equal(logrec_ack_parse(longjunk, sizeof(longjunk), &used), 0);
	assert_int_equal(used, sizeof(longjunk));
}

static void test_text_golden_and_levels(void **state)
{
	static const char *const want[8] = { "CRITICAL", "CRITICAL", "CRITICAL", "ERROR",
					     "WARNING", "INFO", "INFO", "DEBUG" };
	struct logrec r = rec(42, 30, LOGSRC_SERVICE, "web", "hello world");
	char out[256], line[256];

	(void)state;
	assert_int_equal(logrec_text(&r, out, sizeof(out)), 34);
	assert_string_equal(out, "08:15:30,123 INFO web:hello world\n");
	for (int sev = 0; sev < 8; sev++) {
		r.pri = 3 * 8 + sev;
		logrec_text(&r, out, sizeof(out));
		snprintf(line, sizeof(line), "08:15:30,123 %s web:hello world\n", want[sev]);
		assert_string_equal(out, line);
	}
	r = rec(1, 3, LOGSRC_INIT, "", "x");
	r.realtime_us = INT64_C(1763942399999999); /* 23:59:59.999999 */
	logrec_text(&r, out, sizeof(out));
	assert_string_equal(out, "23:59:59,999 ERROR -:x\n");
}

/* The text of full is cut between units: an escape, a UTF-8 sequence
 * (this message has only U+00E9), one byte. */
static size_t unit_len(const char *s)
{
	return *s == '\\' ? 4 : *s == '\xc3' ? 2 : 1;
}

static int at_unit_start(const char *full, size_t at)
{
	size_t i = 0;

	while (i < at)
		i += unit_len(full + i);
	return i == at;
}

static void test_text_escapes_and_truncation(void **state)
{
	static const char msg[] = "progress 50%\r\tdone\n\x1b[1m\xc3\xa9\xc3";
	struct logrec r = rec(1, 6, LOGSRC_SERVICE, "dnf", msg);
	char out[256];
	const char *full = "08:15:30,123 INFO dnf:progress 50%\\x0d\tdone\\x0a\\x1b[1m\xc3\xa9\\xc3\n";
	int n;

	(void)state;
	r.msglen = sizeof(msg) - 1;
	n = logrec_text(&r, out, sizeof(out));
	assert_string_equal(out, full);
	assert_int_equal(n, (int)strlen(full));
	/* Cut to fit: never inside an escape or a UTF-8 sequence, LF last. */
	for (size_t cap = 24; cap < strlen(full) + 2; cap++) {
		memset(out, '#', sizeof(out));
		n = logrec_text(&r, out, cap);
		assert_true(n > 0 && (size_t)n < cap);
		assert_int_equal(out[n - 1], '\n');
		assert_int_equal(out[n], '\0');
		assert_memory_equal(out, full, (size_t)n - 1);
		assert_true(at_unit_start(full, (size_t)n - 1));
		assert_true((size_t)n == strlen(full) || n - 1 + unit_len(full + n - 1) > cap - 2);
	}
	memset(out, '#', sizeof(out));
	assert_int_equal(logrec_text(&r, out, 31), 30);
	assert_string_equal(out, "08:15:30,123 INFO dnf:progres\n");
	assert_int_equal(logrec_text(&r, out, 27), 26);
	assert_string_equal(out, "08:15:30,123 INFO dnf:pro\n");
	assert_int_equal(logrec_text(&r, out, 40), 39);
	assert_string_equal(out, "08:15:30,123 INFO dnf:progress 50%\\x0d\n");
	assert_int_equal(logrec_text(&r, out, 39), 35);
	assert_string_equal(out, "08:15:30,123 INFO dnf:progress 50%\n");
	/* Not even the prefix fits. */
	assert_int_equal(logrec_text(&r, out, 23), -1);
	assert_int_equal(logrec_text(&r, out, 1), -1);
}

static void test_kmsg(void **state)
{
	const char *text;
	size_t textlen;
	uint64_t seq;
	int64_t up;
	int pri;
	const char *s;

	(void)state;
	s = "6,339,5140900,-;NET: Registered PF_INET6 protocol family\n";
	assert_int_equal(logrec_parse_kmsg(s, strlen(s), &pri, &seq, &up, &text, &textlen), 0);
	assert_int_equal(pri, 6);
	assert_int_equal(seq, 339);
	assert_int_equal(up, 5140900);
	assert_int_equal(textlen, strlen("NET: Registered PF_INET6 protocol family"));
	assert_memory_equal(text, "NET: Registered PF_INET6 protocol family", textlen);

	s = "30,1024,99,c,caller=T123;usb 1-1: new device\\x1b here\n SUBSYSTEM=usb\n DEVICE=c189:1\n";
	assert_int_equal(logrec_parse_kmsg(s, strlen(s), &pri, &seq, &up, &text, &textlen), 0);
	assert_int_equal(pri, 30);
	assert_int_equal(seq, 1024);
	assert_int_equal(up, 99);
	assert_int_equal(textlen, strlen("usb 1-1: new device\\x1b here"));
	assert_memory_equal(text, "usb 1-1: new device\\x1b here", textlen);

	/* Before the flag field existed; no trailing LF; an empty text. */
	s = "4,1,2;old";
	assert_int_equal(logrec_parse_kmsg(s, strlen(s), &pri, &seq, &up, &text, &textlen), 0);
	assert_int_equal(textlen, 3);
	s = "4,1,2,-;\n";
	assert_int_equal(logrec_parse_kmsg(s, strlen(s), &pri, &seq, &up, &text, &textlen), 0);
	assert_int_equal(textlen, 0);

	static const char *const bad[] = { "", "6,339,5140900,-", "6,339;x", "6;x", "x,1,2,-;t", "6,,2,-;t",
					   "6,1,,-;t", "6,1,2\n,-;t", "6,1,99999999999999999999,-;t",
					   "99999999999,1,2,-;t", "-1,1,2,-;t" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (logrec_parse_kmsg(bad[i], strlen(bad[i]), &pri, &seq, &up, &text, &textlen) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void expect_syslog(const char *s, int want_pri, const char *want_app, const char *want_msg)
{
	char app[LOGREC_NAME_MAX];
	const char *msg;
	size_t msglen;
	int pri;

	memset(app, '#', sizeof(app));
	if (logrec_parse_syslog(s, strlen(s), &pri, app, &msg, &msglen) != 0)
		fail_msg("refused \"%s\"", s);
	assert_int_equal(pri, want_pri);
	assert_string_equal(app, want_app);
	if (msglen != strlen(want_msg) || memcmp(msg, want_msg, msglen) != 0)
		fail_msg("%s: message \"%.*s\", expected \"%s\"", s, (int)msglen, msg, want_msg);
}

static void test_syslog(void **state)
{
	char app[LOGREC_NAME_MAX];
	const char *msg;
	size_t msglen;
	int pri;

	(void)state;
	/* RFC 5424 §6.5 examples 1 and 3. */
	expect_syslog("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
		      "\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
		      34, "su", "'su root' failed for lonvick on /dev/pts/8");
	expect_syslog("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
		      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
		      "An application event log entry...",
		      165, "evntslog", "An application event log entry...");
	expect_syslog("<13>1 - - - - - -", 13, "syslog", "");
	expect_syslog("<13>1 - - app 42 - - hi\n", 13, "app", "hi");
	/* RFC 3164 as busybox logger, musl and glibc send it. */
	expect_syslog("<13>Nov 23 08:15:30 tag: msg", 13, "tag", "msg");
	expect_syslog("<13>Nov  3 08:15:30 tag[123]: msg with: colon\n", 13, "tag", "msg with: colon");
	expect_syslog("<13>tag[123]: msg", 13, "tag", "msg");
	expect_syslog("<30>dhcpcd:x", 30, "dhcpcd", "x");
	expect_syslog("<13>msg", 13, "syslog", "msg");
	expect_syslog("<13>Nov 23 08:15:30 two words", 13, "syslog", "two words");
	expect_syslog("<13>a-very-long-tag-that-cannot-be-a-program-name-at-all: x", 13, "syslog",
		      "a-very-long-tag-that-cannot-be-a-program-name-at-all: x");
	expect_syslog("<13>tag[12x]: msg", 13, "syslog", "tag[12x]: msg");
	expect_syslog("<0>1 broken header", 0, "syslog", "1 broken header");
	expect_syslog("<191>x", 191, "syslog", "x");
	expect_syslog("<13>", 13, "syslog", "");
	/* No PRI: user.notice and all of it is the message. */
	expect_syslog("just text", 13, "syslog", "just text");
	expect_syslog("<html>", 13, "syslog", "<html>");
	expect_syslog("<12", 13, "syslog", "<12");
	expect_syslog("1 - - app - - - hi", 13, "syslog", "1 - - app - - - hi");

	assert_int_equal(logrec_parse_syslog("<13>x\n\0", 6, &pri, app, &msg, &msglen), 0);
	assert_int_equal(msglen, 1);
	assert_int_equal(logrec_parse_syslog("<192>x", 6, &pri, app, &msg, &msglen), -1);
	assert_int_equal(logrec_parse_syslog("<999>x", 6, &pri, app, &msg, &msglen), -1);
	assert_int_equal(logrec_parse_syslog("<1000>x", 7, &pri, app, &msg, &msglen), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source_names),
		cmocka_unit_test(test_frame_golden),
		cmocka_unit_test(test_frame_escapes),
		cmocka_unit_test(test_ascii_run),
		cmocka_unit_test(test_utf8_len),
		cmocka_unit_test(test_line_end),
		cmocka_unit_test(test_frame_timestamps),
		cmocka_unit_test(test_frame_plain_and_origin),
		cmocka_unit_test(test_origin_keeps_nothing_stale),
		cmocka_unit_test(test_frame_does_not_fit),
		cmocka_unit_test(test_roundtrip_one_piece),
		cmocka_unit_test(test_roundtrip_byte_by_byte),
		cmocka_unit_test(test_roundtrip_split_feeds),
		cmocka_unit_test(test_reader_whitespace_and_foreign_writer),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_install_element),
		cmocka_unit_test(test_reader_refuses_bad_fields),
		cmocka_unit_test(test_reader_takes_good_fields),
		cmocka_unit_test(test_put_num),
		cmocka_unit_test(test_reader_reads_in_place),
		cmocka_unit_test(test_reader_need_more_and_full),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_text_golden_and_levels),
		cmocka_unit_test(test_text_escapes_and_truncation),
		cmocka_unit_test(test_kmsg),
		cmocka_unit_test(test_syslog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
