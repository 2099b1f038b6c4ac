/* Log records on the wire: the amphi stream (RFC 5424 in RFC 6587 octet
 * counting), its acks, Anaconda text, and the two inputs (/dev/kmsg,
 * /dev/log). See docs/PROTOCOL.md. Pure: caller buffers, no allocation.
 *
 * Everything that writes goes through struct wbuf, whose "full" flag is
 * sticky: once a piece does not fit nothing more is added, so a cut
 * message never loses bytes in its middle. Everything that reads walks a
 * cursor that never passes its end. */
#include "logrec.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const source_names[] = { "kernel", "init", "service", "syslog", "file", "install" };

int logrec_name_is_init(const char *name)
{
	return !strcasecmp(name, "amphi") || !strcasecmp(name, "install") || !strcasecmp(name, "kernel");
}

const char *logrec_source_name(enum logrec_source s)
{
	unsigned i = (unsigned)s;

	return i < sizeof(source_names) / sizeof(source_names[0]) ? source_names[i] : "unknown";
}

int logrec_source_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(source_names) / sizeof(source_names[0]); i++)
		if (strcmp(name, source_names[i]) == 0)
			return (int)i;
	return -1;
}

/* ---- writing ---- */

struct wbuf {
	char *p;
	size_t n, cap;
	int full;
};

static void put(struct wbuf *b, const char *s, size_t n)
{
	if (b->full || n > b->cap - b->n) {
		b->full = 1;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static const uint64_t pow10_[20] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000, UINT64_C(10000000000),
	UINT64_C(100000000000), UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000),
	UINT64_C(1000000000000000), UINT64_C(10000000000000000), UINT64_C(100000000000000000),
	UINT64_C(1000000000000000000), UINT64_C(10000000000000000000)
};

static void puts_(struct wbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static size_t ndigits(uint64_t v)
{
	size_t n = 1;

	while (n < 20 && v >= pow10_[n])
		n++;
	return n;
}

/* Decimal, zero-padded to at least width digits (at most 20), written in
 * place from its last digit, two at a time: a frame has five numbers, and
 * under TCG each division step is dearer than it looks. */
static void put_num(struct wbuf *b, uint64_t v, int width)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				    "8081828384858687888990919293949596979899";
	size_t n = ndigits(v);

	if (width > 20)
		width = 20;
	if (n < (size_t)width)
		n = (size_t)width;
	if (b->full || n > b->cap - b->n) {
		b->full = 1;
		return;
	}
	char *end = b->p + b->n + n, *p = end;
	while (v >= 100) {
		unsigned k = (unsigned)(v % 100) * 2;
		v /= 100;
		*--p = pairs[k + 1];
		*--p = pairs[k];
	}
	if (v >= 10) {
		*--p = pairs[v * 2 + 1];
		*--p = pairs[v * 2];
	} else {
		*--p = (char)('0' + v);
	}
	while (p > b->p + b->n)
		*--p = '0';
	b->n += n;
}

char *logrec_put_num(char *out, uint64_t v, int width)
{
	struct wbuf b = { out, 0, 21, 0 };

	put_num(&b, v, width);
	out[b.n] = '\0';
	return out + b.n;
}

static void put_hex_escape(struct wbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

	put(b, e, sizeof(e));
}

size_t logrec_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t logrec_ascii_run(const char *s, size_t n)
{
	const unsigned char *m = (const unsigned char *)s;
	size_t run = 0;

	/* Eight bytes at once: a byte below 0x20, 0x7f or above sets its high
	 * bit in one of the three terms (a borrow or carry only spills out of
	 * a byte that is itself flagged). Four words a turn while the line
	 * lasts (under TCG the turn itself costs as much as a word's test);
	 * where one is flagged, the word loop and the byte loop find it. */
#define FLAGGED(w) (((w) - UINT64_C(0x2020202020202020)) | ((w) + UINT64_C(0x0101010101010101)) | (w))
	for (uint64_t a, b, c, d; run + 32 <= n; run += 32) {
		/* Word by word: one 32-byte copy would go through an SSE register
		 * and the stack. */
		memcpy(&a, m + run, 8);
		memcpy(&b, m + run + 8, 8);
		memcpy(&c, m + run + 16, 8);
		memcpy(&d, m + run + 24, 8);
		if ((FLAGGED(a) | FLAGGED(b) | FLAGGED(c) | FLAGGED(d)) & UINT64_C(0x8080808080808080))
			break;
	}
	for (uint64_t w; run + 8 <= n; run += 8) {
		memcpy(&w, m + run, 8);
		if (FLAGGED(w) & UINT64_C(0x8080808080808080))
			break;
	}
#undef FLAGGED
	while (run < n && m[run] >= 0x20 && m[run] < 0x7f)
		run++;
	return run;
}

const char *logrec_line_end(const char *p, const char *end, int *plain)
{
	size_t run = logrec_ascii_run(p, (size_t)(end - p));

	*plain = 1;
	if (p + run < end && p[run] == '\n')
		return p + run;
	*plain = 0;
	return p + run < end ? memchr(p + run, '\n', (size_t)(end - p - run)) : NULL;
}

/* Characters that are valid UTF-8 and still break a line for a reader
 * that splits with Python's str.splitlines (Lorax's log monitor): the C1
 * controls U+0080-U+009F (NEL among them, and CSI), U+2028, U+2029. */
static int utf8_breaks_line(const unsigned char *s, size_t k)
{
	return (k == 2 && s[0] == 0xc2 && s[1] < 0xa0) || (k == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] | 1) == 0xa9);
}

/* Valid UTF-8 as is; invalid bytes, control characters but TAB, and what
 * utf8_breaks_line names as \xHH, so the result is UTF-8 without a line
 * break in it. A plain message (see logrec_line_end) is copied as it is. */
static void put_msg(struct wbuf *b, const char *msg, size_t len, int plain)
{
	const unsigned char *m = (const unsigned char *)msg;

	if (plain && !b->full) {
		size_t room = b->cap - b->n, n = len < room ? len : room;
		logrec_copy(b->p + b->n, msg, n);  /* a cut, as below, keeps whole bytes */
		b->n += n;
		b->full = n < len;
		return;
	}
	for (size_t i = 0; i < len && !b->full;) {
		/* Printable ASCII and tabs, the bulk of any log, go in runs: one
		 * copy per run, not per byte. */
		size_t run = i + logrec_ascii_run(msg + i, len - i);
		while (run < len && ((m[run] >= 0x20 && m[run] < 0x7f) || m[run] == '\t'))
			run++;
		if (run > i) {
			size_t n = run - i < b->cap - b->n ? run - i : b->cap - b->n;
			put(b, msg + i, n);  /* each byte is whole: cut the run to fit */
			if (n < run - i)
				b->full = 1;
			i = run;
			continue;
		}
		size_t k = m[i] < 0x80 ? 0 : logrec_utf8_len(m + i, len - i);
		if (k == 0) {
			put_hex_escape(b, m[i]);
			k = 1;
		} else if (utf8_breaks_line(m + i, k)) {
			for (size_t j = 0; j < k; j++)
				put_hex_escape(b, m[i + j]);
		} else {
			put(b, msg + i, k);
		}
		i += k;
	}
}

size_t logrec_escape(const char *msg, size_t len, char *out, size_t cap)
{
	struct wbuf b = { out, 0, cap, 0 };
	put_msg(&b, msg, len, 0);
	return b.n;
}

/* RFC 5424 header fields are PRINTUSASCII (%d33-126): others become '_'. */
static void put_name(struct wbuf *b, const char *s, size_t max)
{
	size_t n = s ? logrec_name_len(s, max) : 0;

	if (n == 0)
		put(b, "-", 1);
	for (size_t i = 0; i < n;) {
		size_t run = i;
		while (run < n && (unsigned char)s[run] > 32 && (unsigned char)s[run] < 127)
			run++;
		put(b, s + i, run - i);  /* valid names go in one piece */
		if (run < n)
			put(b, "_", 1);
		i = run + 1;
	}
}

/* PARAM-VALUE: '"', '\' and ']' escaped (RFC 5424 §6.3.3); anything but
 * printable ASCII becomes '_' (our values are names and ids). */
static void put_param(struct wbuf *b, const char *name, const char *v)
{
	put(b, " ", 1);
	puts_(b, name);
	put(b, "=\"", 2);
	while (v && *v) {
		size_t run = 0;
		while (v[run] && (unsigned char)v[run] >= 32 && (unsigned char)v[run] < 127 && v[run] != '"' &&
		       v[run] != '\\' && v[run] != ']')
			run++;
		put(b, v, run);  /* plain characters in one piece */
		v += run;
		if (!*v)
			break;
		unsigned char c = (unsigned char)*v++;
		if (c == '"' || c == '\\' || c == ']')
			put(b, "\\", 1);
		put(b, c >= 32 && c < 127 ? (const char *)&c : "_", 1);
	}
	put(b, "\"", 1);
}

size_t logrec_sd_param(char *out, size_t len, size_t cap, const char *name, const char *value)
{
	struct wbuf b = { out, len, cap, len > cap };

	put_param(&b, name, value);
	return b.full ? cap : b.n;
}

/* Proleptic Gregorian date of a day count since 1970-01-01 (days >= 0),
 * after Howard Hinnant's civil_from_days. */
static void civil_from_days(int64_t days, unsigned *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468;
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (unsigned)(yoe + era * 400) + (*m <= 2);
}

/* RFC 3339 "2025-11-23T08:15:30.123456Z", or the NILVALUE when the clock
 * is unset or past year 9999. */
static void put_timestamp(struct wbuf *b, int64_t us)
{
	int64_t s = us / 1000000;
	unsigned y, m, d;

	if (us <= 0 || s >= INT64_C(253402300800)) {
		put(b, "-", 1);
		return;
	}
	/* Records come in bursts from the same second: all but its
	 * microseconds is worked out once. */
	static int64_t last_s = -1;
	static char sec[24];
	static size_t sec_len;
	if (s != last_s) {
		struct wbuf db = { sec, 0, sizeof(sec), 0 };
		civil_from_days(s / 86400, &y, &m, &d);
		put_num(&db, y, 4);
		put(&db, "-", 1);
		put_num(&db, m, 2);
		put(&db, "-", 1);
		put_num(&db, d, 2);
		put(&db, "T", 1);
		put_num(&db, (uint64_t)(s % 86400 / 3600), 2);
		put(&db, ":", 1);
		put_num(&db, (uint64_t)(s % 3600 / 60), 2);
		put(&db, ":", 1);
		put_num(&db, (uint64_t)(s % 60), 2);
		put(&db, ".", 1);
		last_s = s;
		sec_len = db.n;
	}
	put(b, sec, sec_len);
	put_num(b, (uint64_t)(us % 1000000), 6);
	put(b, "Z", 1);
}

/* ' source="NAME"': constants, as the names need no escaping. */
static void put_source(struct wbuf *b, enum logrec_source src)
{
#define P(name) { " source=\"" name "\"", sizeof(" source=\"" name "\"") - 1 }
	static const struct {
		const char *s;
		size_t n;
	} params[] = { P("kernel"), P("init"), P("service"), P("syslog"), P("file"), P("install") };
#undef P
	_Static_assert(sizeof(params) / sizeof(params[0]) == sizeof(source_names) / sizeof(source_names[0]),
		       "a source param per source name");
	_Static_assert(sizeof(params) / sizeof(params[0]) == LOGREC_SOURCES, "a frame tail per source");
	unsigned i = (unsigned)src;

	if (i < sizeof(params) / sizeof(params[0]))
		put(b, params[i].s, params[i].n);
	else
		put_param(b, "source", logrec_source_name(src));
}

/* '"][amphi@32473 source="…" boot="…" proto="1"] ': the boot field is in
 * every record, not only the boot's first, and so is the protocol version:
 * a reader that comes after the first was dropped still learns both. */
static void put_tail(struct wbuf *b, const struct logrec_origin *o, enum logrec_source src)
{
	put(b, "\"][" LOGREC_SD_AMPHI, sizeof("\"][" LOGREC_SD_AMPHI) - 1);
	put_source(b, src);
	put(b, o->boot, o->bootlen);
	put(b, " proto=\"1\"] ", 12);
}

void logrec_origin_init(struct logrec_origin *o, const char *hostname, const char *boot_id)
{
	struct wbuf h = { o->host, 0, sizeof(o->host), 0 }, bt = { o->boot, 0, sizeof(o->boot), 0 };

	put_name(&h, hostname, 255);
	put_param(&bt, "boot", boot_id);
	o->hostlen = h.full ? 0 : h.n;
	o->bootlen = bt.full ? 0 : bt.n;
	for (int i = 0; i < LOGREC_SOURCES; i++) {
		struct wbuf t = { o->tail[i], 0, sizeof(o->tail[i]), 0 };
		put_tail(&t, o, (enum logrec_source)i);
		o->taillen[i] = t.full ? 0 : t.n;
	}
	o->midlen = 0;
}

int logrec_frame(const struct logrec *r, const char *hostname, const char *boot_id,
		 const char *msgid, char *out, size_t outlen)
{
	struct logrec_origin o;

	logrec_origin_init(&o, hostname, boot_id);
	return logrec_frame_from(r, &o, msgid, out, outlen);
}

static int same_name(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* o->mid for this app and msgid (records come in runs from one app). */
static void make_mid(struct logrec_origin *o, const char *app, const char *msgid)
{
	if (!msgid)
		msgid = "";  /* the NILVALUE, as put_name makes of it */
	if (o->midlen && same_name(o->mid_app, app) && same_name(o->mid_msgid, msgid))
		return;
	size_t an = logrec_name_len(app, LOGREC_NAME_MAX - 1), mn = logrec_name_len(msgid, LOGREC_NAME_MAX - 1);
	struct wbuf m = { o->mid, 0, sizeof(o->mid), 0 };
	put(&m, " ", 1);
	put(&m, o->host, o->hostlen);
	put(&m, " ", 1);
	put_name(&m, app, LOGREC_NAME_MAX);
	put(&m, " - ", 3);
	put_name(&m, msgid, 32);
	put(&m, " [meta sequenceId=\"", 19);
	/* A name cut to fit the key is never taken for the whole one. */
	o->midlen = m.full || app[an] || msgid[mn] ? 0 : m.n;
	memcpy(o->mid_app, app, an);
	o->mid_app[an] = '\0';
	memcpy(o->mid_msgid, msgid, mn);
	o->mid_msgid[mn] = '\0';
}

int logrec_frame_from(const struct logrec *r, struct logrec_origin *o, const char *msgid, char *out,
		      size_t outlen)
{
	/* MSG first, then "LEN SP" goes in front once its length is known; a
	 * NUL ends the frame. With room to spare, MSG starts where a 4-digit
	 * length leaves it (the usual case: no move). */
	size_t at = outlen >= LOGREC_FRAME_MAX + 7 ? 5 : 0;
	struct wbuf b = { out + at, 0, 0, 0 };
	unsigned pri = r->pri >= 0 && r->pri <= 191 ? (unsigned)r->pri : 8 | ((unsigned)r->pri & 7);
	unsigned src = (unsigned)r->source;

	if (outlen < 2 || !o->hostlen || !o->bootlen)
		return -1;
	make_mid(o, r->app, msgid);
	b.cap = outlen - 2 - at < LOGREC_FRAME_MAX ? outlen - 2 - at : LOGREC_FRAME_MAX;
	put(&b, "<", 1);
	put_num(&b, pri, 1);
	put(&b, ">1 ", 3);
	put_timestamp(&b, r->realtime_us);
	if (o->midlen) {
		put(&b, o->mid, o->midlen);
	} else {  /* names too long to keep: made in place */
		put(&b, " ", 1);
		put(&b, o->host, o->hostlen);
		put(&b, " ", 1);
		put_name(&b, r->app, LOGREC_NAME_MAX);
		put(&b, " - ", 3);
		put_name(&b, msgid, 32);
		put(&b, " [meta sequenceId=\"", 19);
	}
	put_num(&b, r->seq, 1);
	put(&b, "\" sysUpTime=\"", 13);
	put_num(&b, r->uptime_us > 0 ? (uint64_t)r->uptime_us / 10000 : 0, 1);
	if (src < LOGREC_SOURCES && o->taillen[src])
		put(&b, o->tail[src], o->taillen[src]);
	else
		put_tail(&b, o, r->source);
	if (r->sdlen && !b.full) {  /* in before the SP that ends the tail */
		b.n--;
		put(&b, r->sd, r->sdlen);
		put(&b, " ", 1);
	}
	put_msg(&b, r->msg, r->msg ? r->msglen : 0, r->plain);
	if (b.full)
		return -1;

	size_t d = ndigits(b.n);
	struct wbuf h = { out, 0, d + 1, 0 };

	if (d + 1 + b.n >= outlen)
		return -1;
	if (d + 1 != at)
		memmove(out + d + 1, out + at, b.n);
	put_num(&h, b.n, 1);
	put(&h, " ", 1);
	out[d + 1 + b.n] = '\0';
	return (int)(d + 1 + b.n);
}

int logrec_ack_format(uint64_t seq, char *out, size_t outlen)
{
	struct wbuf b = { out, 0, outlen ? outlen - 1 : 0, 0 };

	put(&b, "ACK ", 4);
	put_num(&b, seq, 1);
	put(&b, "\n", 1);
	if (b.full || outlen == 0)
		return -1;
	out[b.n] = '\0';
	return (int)b.n;
}

int logrec_text(const struct logrec *r, char *out, size_t outlen)
{
	/* By severity (RFC 5424 §6.2.1): emergency, alert, critical, error,
	 * warning, notice, informational, debug. */
	static const char *const levels[8] = { "CRITICAL", "CRITICAL", "CRITICAL", "ERROR",
					       "WARNING", "INFO", "INFO", "DEBUG" };
	int64_t ms = r->realtime_us > 0 ? r->realtime_us / 1000 % 86400000 : 0;
	struct wbuf b = { out, 0, 0, 0 };

	if (outlen < 2)
		return -1;
	b.cap = outlen - 2; /* the LF and the NUL always fit */
	put_num(&b, (uint64_t)(ms / 3600000), 2);
	put(&b, ":", 1);
	put_num(&b, (uint64_t)(ms / 60000 % 60), 2);
	put(&b, ":", 1);
	put_num(&b, (uint64_t)(ms / 1000 % 60), 2);
	put(&b, ",", 1);
	put_num(&b, (uint64_t)(ms % 1000), 3);
	put(&b, " ", 1);
	puts_(&b, levels[(unsigned)r->pri & 7]);
	put(&b, " ", 1);
	put_name(&b, r->app, LOGREC_NAME_MAX);
	put(&b, ":", 1);
	if (b.full)
		return -1;
	put_msg(&b, r->msg, r->msg ? r->msglen : 0, r->plain);
	out[b.n++] = '\n';
	out[b.n] = '\0';
	return (int)b.n;
}

/* ---- reading ---- */

static int isdigit_(int c)
{
	return c >= '0' && c <= '9';
}

/* 1-20 digits, no overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isdigit_(s[i]) || __builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, s[i] - '0', &x))
			return -1;
	*v = x;
	return 0;
}

static void why_(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

#define FAIL(...)                              \
	do {                                   \
		why_(why, whylen, __VA_ARGS__); \
		return -1;                     \
	} while (0)

/* Byte classes of the RFC 5424 header, by table: the reader parses every
 * frame's header, most of its own work in a flood (measured). PRINT:
 * PRINTUSASCII (%d33-126); NAME: what an SD-NAME may hold (PRINTUSASCII
 * but '=', ']', '"'); TEXT: printable ASCII with SP. */
enum { C_PRINT = 1, C_NAME = 2, C_TEXT = 4, C_ALL = 7 };
static const unsigned char cls[256] = {
	[' '] = C_TEXT,
	['!'] = C_ALL,
	['"'] = C_PRINT | C_TEXT,
	['#' ... '<'] = C_ALL,
	['='] = C_PRINT | C_TEXT,
	['>' ... '\\'] = C_ALL,
	[']'] = C_PRINT | C_TEXT,
	['^' ... '~'] = C_ALL,
};

static int is_(char c, int class)
{
	return cls[(unsigned char)c] & class;
}

static int sd_escaped(char c)
{
	return c == '"' || c == '\\' || c == ']';
}

struct span {
	const char *s;
	size_t n;
};

static void copy_field(char *dst, size_t cap, struct span v)
{
	size_t n = v.n < cap - 1 ? v.n : cap - 1;

	memcpy(dst, v.s, n);
	dst[n] = '\0';
}

static int span_is(struct span v, const char *s)
{
	return v.n == strlen(s) && memcmp(v.s, s, v.n) == 0;
}

/* Two digits at s, at most max (RFC 3339 §5.6's ranges). */
static int two_digits_le(const char *s, int max)
{
	return (s[0] - '0') * 10 + (s[1] - '0') <= max;
}

/* RFC 3339 as RFC 5424 §6.2.3 restricts it:
 * YYYY-MM-DDTHH:MM:SS[.1-6 digits](Z|+HH:MM|-HH:MM). */
static int timestamp_ok(struct span t)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	size_t i = 0, f = 0;

	for (; pat[i]; i++)
		if (i >= t.n || (pat[i] == 'd' ? !isdigit_(t.s[i]) : t.s[i] != pat[i]))
			return 0;
	if (i < t.n && t.s[i] == '.') {
		while (++i < t.n && isdigit_(t.s[i]))
			f++;
		if (f < 1 || f > 6)
			return 0;
	}
	if (i < t.n && t.s[i] == 'Z')
		return i + 1 == t.n;
	return i + 6 == t.n && (t.s[i] == '+' || t.s[i] == '-') && isdigit_(t.s[i + 1]) &&
	       isdigit_(t.s[i + 2]) && t.s[i + 3] == ':' && isdigit_(t.s[i + 4]) && isdigit_(t.s[i + 5]);
}

/* A timestamp_ok one whose numbers are in RFC 3339 §5.6's ranges (month
 * 01-12, day 01-31, hour 00-23, second 00-60 for a leap second, offset up
 * to 23:59). The reader's check only: the init's syslog parser keeps what
 * a local program sent. */
static int timestamp_in_range(struct span t)
{
	const char *s = t.s, *off = s + t.n - 6;

	if (t.n == 1) /* "-" */
		return 1;
	if (!two_digits_le(s + 5, 12) || !memcmp(s + 5, "00", 2) || !two_digits_le(s + 8, 31) ||
	    !memcmp(s + 8, "00", 2) || !two_digits_le(s + 11, 23) || !two_digits_le(s + 14, 59) ||
	    !two_digits_le(s + 17, 60))
		return 0;
	return s[t.n - 1] == 'Z' || (two_digits_le(off + 1, 23) && two_digits_le(off + 4, 59));
}

/* The parameters we look for, as raw (still escaped) values. */
struct sd_values {
	struct span seq, uptime, source, boot, proto;
	struct span event, state, name, how, step, steps, ms;  /* [install@32473] */
};

/* A parsed RFC 5424 message (RFC 5424 §6). */
struct rfc5424 {
	int pri;
	struct span ts, host, app, procid, msgid, msg;
	struct sd_values sd;
};

struct cursor {
	const char *p, *end;
};

/* A header field: 1..max PRINTUSASCII, then SP. */
static int field(struct cursor *c, size_t max, struct span *v, const char *name, char *why, size_t whylen)
{
	v->s = c->p;
	while (c->p < c->end && is_(*c->p, C_PRINT))
		c->p++;
	v->n = (size_t)(c->p - v->s);
	if (v->n == 0 || v->n > max)
		FAIL("%s: expected 1 to %lu printable ASCII characters", name, (unsigned long)max);
	if (c->p >= c->end || *c->p != ' ')
		FAIL("%s: expected SP after it", name);
	c->p++;
	return 0;
}

/* SD-NAME (RFC 5424 §6.3.2): 1-32 PRINTUSASCII but '=', SP, ']', '"'. */
static int sd_name(struct cursor *c, struct span *v)
{
	v->s = c->p;
	while (c->p < c->end && is_(*c->p, C_NAME))
		c->p++;
	v->n = (size_t)(c->p - v->s);
	return v->n >= 1 && v->n <= 32 ? 0 : -1;
}

/* The '"' that ends a PARAM-VALUE starting at p, or end. A backslash
 * always takes the next byte with it: an escape, or a plain backslash
 * before a plain byte. Values rarely hold one: then the first '"' is it. */
static const char *value_end(const char *p, const char *end)
{
	const char *q = memchr(p, '"', (size_t)(end - p));

	if (q && !memchr(p, '\\', (size_t)(q - p)))
		return q;
	while (p < end && *p != '"')
		p += *p == '\\' && end - p >= 2 ? 2 : 1;
	return p;
}

/* A parameter of [install@32473]: the names of docs/PROTOCOL.md. */
static void install_param(struct sd_values *out, struct span name, struct span v)
{
	static const struct {
		const char *name;
		size_t at;
	} known[] = {
		{ "event", offsetof(struct sd_values, event) }, { "state", offsetof(struct sd_values, state) },
		{ "result", offsetof(struct sd_values, state) }, { "name", offsetof(struct sd_values, name) },
		{ "how", offsetof(struct sd_values, how) },     { "step", offsetof(struct sd_values, step) },
		{ "steps", offsetof(struct sd_values, steps) }, { "ms", offsetof(struct sd_values, ms) },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (span_is(name, known[i].name))
			*(struct span *)(void *)((char *)out + known[i].at) = v;
}

/* STRUCTURED-DATA: "-" or SD-ELEMENTs; keeps the values we know. A loop
 * over a bounded buffer, one byte at least per step. */
static int sd_parse(struct cursor *c, struct sd_values *out, char *why, size_t whylen)
{
	if (c->p < c->end && *c->p == '-') {
		c->p++;
		return 0;
	}
	if (c->p >= c->end || *c->p != '[')
		FAIL("STRUCTURED-DATA: expected '-' or '['");
	while (c->p < c->end && *c->p == '[') {
		struct span id, name, v;

		c->p++;
		if (sd_name(c, &id) < 0)
			FAIL("STRUCTURED-DATA: bad SD-ID");
		for (;;) {
			if (c->p >= c->end)
				FAIL("STRUCTURED-DATA: truncated SD-ELEMENT");
			if (*c->p == ']')
				break;
			if (*c->p != ' ')
				FAIL("STRUCTURED-DATA: expected SP or ']' in SD-ELEMENT");
			c->p++;
			if (sd_name(c, &name) < 0)
				FAIL("STRUCTURED-DATA: bad PARAM-NAME");
			if (c->end - c->p < 2 || c->p[0] != '=' || c->p[1] != '"')
				FAIL("STRUCTURED-DATA: expected =\" after PARAM-NAME");
			c->p += 2;
			v.s = c->p;
			c->p = value_end(c->p, c->end);
			if (c->p >= c->end)
				FAIL("STRUCTURED-DATA: unterminated PARAM-VALUE");
			v.n = (size_t)(c->p - v.s);
			c->p++;
			if (span_is(id, "meta") && span_is(name, "sequenceId"))
				out->seq = v;
			else if (span_is(id, "meta") && span_is(name, "sysUpTime"))
				out->uptime = v;
			else if (span_is(id, LOGREC_SD_AMPHI) && span_is(name, "source"))
				out->source = v;
			else if (span_is(id, LOGREC_SD_AMPHI) && span_is(name, "boot"))
				out->boot = v;
			else if (span_is(id, LOGREC_SD_AMPHI) && span_is(name, "proto"))
				out->proto = v;
			else if (span_is(id, LOGREC_SD_INSTALL))
				install_param(out, name, v);
		}
		c->p++;
	}
	return 0;
}

/* "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG]", field
 * lengths from RFC 5424 §6. A UTF-8 BOM before MSG is dropped. */
static int parse_5424(const char *s, size_t n, struct rfc5424 *m, char *why, size_t whylen)
{
	struct cursor c = { s, s + n };
	size_t digits = 0;

	m->pri = 0;
	m->sd = (struct sd_values){ 0 };
	if (c.p >= c.end || *c.p++ != '<')
		FAIL("PRI: expected '<'");
	while (c.p < c.end && isdigit_(*c.p) && digits < 4)
		m->pri = m->pri * 10 + (*c.p++ - '0'), digits++;
	if (digits == 0 || digits > 3 || (digits > 1 && c.p[-(int)digits] == '0') || m->pri > 191)
		FAIL("PRI: expected 0 to 191 without leading zeros");
	if (c.end - c.p < 3 || memcmp(c.p, ">1 ", 3) != 0)
		FAIL("HEADER: expected \">1 \" (RFC 5424 version 1) after PRI");
	c.p += 3;
	if (field(&c, 32, &m->ts, "TIMESTAMP", why, whylen) < 0 ||
	    field(&c, 255, &m->host, "HOSTNAME", why, whylen) < 0 ||
	    field(&c, 48, &m->app, "APP-NAME", why, whylen) < 0 ||
	    field(&c, 128, &m->procid, "PROCID", why, whylen) < 0 ||
	    field(&c, 32, &m->msgid, "MSGID", why, whylen) < 0)
		return -1;
	if (!span_is(m->ts, "-") && !timestamp_ok(m->ts))
		FAIL("TIMESTAMP: not an RFC 3339 time");
	if (sd_parse(&c, &m->sd, why, whylen) < 0)
		return -1;
	if (c.p < c.end && *c.p++ != ' ')
		FAIL("STRUCTURED-DATA: expected SP or the end after it");
	if (c.end - c.p >= 3 && memcmp(c.p, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	m->msg.s = c.p;
	m->msg.n = (size_t)(c.end - c.p);
	return 0;
}

/* A PARAM-VALUE without its escapes (RFC 5424 §6.3.3) into dst, as
 * printable ASCII of at most cap-1 bytes. */
static int param_text(struct span v, char *dst, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < v.n; i++) {
		if (v.s[i] == '\\' && i + 1 < v.n && sd_escaped(v.s[i + 1]))
			i++;
		if (n + 1 >= cap || !is_(v.s[i], C_TEXT))
			return -1;
		dst[n++] = v.s[i];
	}
	dst[n] = '\0';
	return 0;
}

static int param_num(struct span v, uint64_t max, uint64_t *out)
{
	char t[24];

	if (!memchr(v.s, '\\', v.n)) /* nothing to unescape: the digits as they are */
		return parse_u64(v.s, v.n, out) < 0 || *out > max ? -1 : 0;
	return param_text(v, t, sizeof(t)) < 0 || parse_u64(t, strlen(t), out) < 0 || *out > max ? -1 : 0;
}

/* p->install from [install@32473], on a record of source "install" only:
 * on any other, whatever it says is not the init's. A bad value is a
 * broken stream, as in [meta]. */
static int install_event(const struct sd_values *sd, struct logrec_parsed *p, char *why, size_t whylen)
{
	struct logrec_install *e = &p->install;
	const struct span none = { "", 0 };

	*e = (struct logrec_install){ 0 };
	if (!sd->event.s || strcmp(p->source, "install") != 0)
		return 0;
	if (param_text(sd->event, e->event, sizeof(e->event)) < 0 ||
	    param_text(sd->state.s ? sd->state : none, e->state, sizeof(e->state)) < 0 ||
	    param_text(sd->name.s ? sd->name : none, e->name, sizeof(e->name)) < 0 ||
	    param_text(sd->how.s ? sd->how : none, e->how, sizeof(e->how)) < 0 ||
	    (sd->step.s && param_num(sd->step, UINT32_MAX, &e->step) < 0) ||
	    (sd->steps.s && param_num(sd->steps, UINT32_MAX, &e->steps) < 0) ||
	    (sd->ms.s && param_num(sd->ms, UINT64_MAX, &e->ms) < 0))
		FAIL("STRUCTURED-DATA: bad value in [" LOGREC_SD_INSTALL "]");
	return 0;
}

/* A boot id names a directory on the reader's host: letters, digits, '-'
 * and '_' only (a UUID, the kernel's boot_id, or "-" where there is none),
 * so that no two ids share a name and none is "", "." or "..". */
static int boot_id_ok(const char *id)
{
	size_t n = 0;

	for (char c; (c = id[n]); n++)
		if (!isdigit_(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && c != '-' && c != '_')
			return 0;
	return n > 0;
}

static int frame_parse(const char *s, size_t n, struct logrec_parsed *p, char *why, size_t whylen)
{
	struct rfc5424 m;
	uint64_t v;

	if (parse_5424(s, n, &m, why, whylen) < 0)
		return -1;
	p->pri = m.pri;
	if (!timestamp_in_range(m.ts))
		FAIL("TIMESTAMP: not an RFC 3339 time (a number out of its range)");
	copy_field(p->timestamp, sizeof(p->timestamp), m.ts);
	copy_field(p->host, sizeof(p->host), m.host);
	copy_field(p->app, sizeof(p->app), m.app);
	copy_field(p->msgid, sizeof(p->msgid), m.msgid);
	if (!m.sd.seq.s || param_num(m.sd.seq, UINT64_MAX, &p->seq) < 0 || p->seq == 0)
		FAIL("STRUCTURED-DATA: missing or bad sequenceId in [meta]: expected 1 to 18446744073709551615 "
		     "(a boot's records count from 1)");
	if (!m.sd.uptime.s || param_num(m.sd.uptime, INT64_MAX, &v) < 0)
		FAIL("STRUCTURED-DATA: missing or bad sysUpTime in [meta]");
	p->uptime_cs = (int64_t)v;
	if (!m.sd.source.s || param_text(m.sd.source, p->source, sizeof(p->source)) < 0 ||
	    logrec_source_parse(p->source) < 0)
		FAIL("STRUCTURED-DATA: missing or bad source in [" LOGREC_SD_AMPHI "]: expected kernel, init, "
		     "service, syslog, file or install");
	if (!m.sd.boot.s || param_text(m.sd.boot, p->boot, sizeof(p->boot)) < 0 || !boot_id_ok(p->boot))
		FAIL("STRUCTURED-DATA: missing or bad boot in [" LOGREC_SD_AMPHI "]: expected 1 to %zu letters, "
		     "digits, '-' or '_' (it names the boot's directory on the host)", sizeof(p->boot) - 1);
	v = 0;
	if (m.sd.proto.s && param_num(m.sd.proto, 999999, &v) < 0)
		FAIL("STRUCTURED-DATA: bad proto in [" LOGREC_SD_AMPHI "]");
	p->proto = (int)v;
	if (install_event(&m.sd, p, why, whylen) < 0)
		return -1;
	p->msg = m.msg.s;
	p->msglen = m.msg.n;
	return 0;
}

void logrec_reader_init(struct logrec_reader *rd)
{
	rd->start = rd->len = 0;
}

char *logrec_reader_space(struct logrec_reader *rd, size_t *room)
{
	/* The parsed frames before start are no longer needed: the rest (a
	 * partial frame at most, once the caller took what it could) moves to
	 * the front once per read, not once per frame. */
	if (rd->start) {
		memmove(rd->buf, rd->buf + rd->start, rd->len);
		rd->start = 0;
	}
	*room = sizeof(rd->buf) - rd->len;
	return rd->buf + rd->len;
}

void logrec_reader_wrote(struct logrec_reader *rd, size_t n)
{
	rd->len += n;
}

size_t logrec_reader_feed(struct logrec_reader *rd, const char *data, size_t len)
{
	size_t room;
	char *at = logrec_reader_space(rd, &room);

	if (len > room)
		len = room;
	if (len)
		memcpy(at, data, len);
	logrec_reader_wrote(rd, len);
	return len;
}

static int frame_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int logrec_reader_next(struct logrec_reader *rd, struct logrec_parsed *p, char *why, size_t whylen)
{
	char *b;
	size_t d = 0, len = 0;

	/* Frames may be separated by line breaks (a trailer some senders
	 * add, RFC 6587 §3.4.2); drop them. */
	while (rd->len && frame_space(rd->buf[rd->start])) {
		rd->start++;
		rd->len--;
	}
	b = rd->buf + rd->start;
	if (rd->len == 0)
		return 0;
	/* MSG-LEN = NONZERO-DIGIT 0*4DIGIT (at most 8192), then SP. */
	while (d < rd->len && d < 6 && isdigit_(b[d]))
		len = len * 10 + (size_t)(b[d++] - '0');
	if (d == 0)
		FAIL("frame length: expected a digit, got byte 0x%02x", (unsigned char)b[0]);
	if (b[0] == '0')
		FAIL("frame length: leading zero");
	if (d > 5)
		FAIL("frame length: more than 5 digits");
	if (len > LOGREC_FRAME_MAX)
		FAIL("frame length: %zu is over %d bytes", len, LOGREC_FRAME_MAX);
	if (d == rd->len)
		return 0;
	if (b[d] != ' ')
		FAIL("frame length: expected SP after %zu, got byte 0x%02x", len, (unsigned char)b[d]);
	if (rd->len - d - 1 < len)
		return 0;
	if (frame_parse(b + d + 1, len, p, why, whylen) < 0) /* sets every field of p */
		return -1;
	/* The frame stays where it is (p->msg points into it) until the next
	 * feed moves the rest to the front. */
	rd->start += d + 1 + len;
	rd->len -= d + 1 + len;
	return 1;
}

uint64_t logrec_ack_parse(const char *data, size_t len, size_t *used)
{
	uint64_t best = 0, v;
	size_t line = 0;

	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		size_t e = i > line && data[i - 1] == '\r' ? i - 1 : i;
		if (e - line > 4 && memcmp(data + line, "ACK ", 4) == 0 &&
		    parse_u64(data + line + 4, e - line - 4, &v) == 0 && v > best)
			best = v;
		line = i + 1;
	}
	/* No ACK line is this long: junk without a newline is dropped so it
	 * cannot fill the caller's buffer. */
	if (len - line > 64)
		line = len;
	if (used)
		*used = line;
	return best;
}

/* ---- inputs ---- */

int logrec_parse_kmsg(const char *data, size_t len, int *pri, uint64_t *kseq, int64_t *uptime_us,
		      const char **text, size_t *textlen)
{
	/* Documentation/ABI/testing/dev-kmsg: the prefix is "PRI,SEQ,TS"
	 * then optional fields (the flag, "caller=T1", future ones) up to
	 * ';'. No newline before the ';'. */
	const char *semi = memchr(data, ';', len), *nl = memchr(data, '\n', len);
	const char *c1, *c2, *c3;
	uint64_t v[3];

	if (!semi || (nl && nl < semi))
		return -1;
	c1 = memchr(data, ',', (size_t)(semi - data));
	c2 = c1 ? memchr(c1 + 1, ',', (size_t)(semi - c1 - 1)) : NULL;
	if (!c2)
		return -1;
	c3 = memchr(c2 + 1, ',', (size_t)(semi - c2 - 1));
	if (!c3)
		c3 = semi;
	if (parse_u64(data, (size_t)(c1 - data), &v[0]) < 0 || v[0] > 0x7fffffff ||
	    parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), &v[1]) < 0 ||
	    parse_u64(c2 + 1, (size_t)(c3 - c2 - 1), &v[2]) < 0 || v[2] > INT64_MAX)
		return -1;
	*pri = (int)v[0];
	*kseq = v[1];
	*uptime_us = (int64_t)v[2];
	*text = semi + 1;
	nl = memchr(*text, '\n', (size_t)(data + len - *text));
	*textlen = (size_t)((nl ? nl : data + len) - *text);
	return 0;
}

/* An RFC 3164 timestamp "Mmm dd hh:mm:ss " (day space-padded, as
 * syslog(3) writes it with "%b %e %T"): its length, or 0. */
static size_t bsd_timestamp(const char *s, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const char pat[] = "mmm Dd dd:dd:dd ";

	if (n < sizeof(pat) - 1)
		return 0;
	for (size_t i = 0; i < 36; i += 3)
		if (memcmp(s, months + i, 3) == 0) {
			for (size_t k = 3; pat[k]; k++)
				if (pat[k] == 'd' ? !isdigit_(s[k])
				    : pat[k] == 'D' ? !isdigit_(s[k]) && s[k] != ' '
						    : s[k] != pat[k])
					return 0;
			return sizeof(pat) - 1;
		}
	return 0;
}

int logrec_parse_syslog(const char *data, size_t len, int *pri, char app[LOGREC_NAME_MAX],
			const char **msg, size_t *msglen)
{
	const char *p = data, *end = data + len;
	struct rfc5424 m;
	size_t digits = 0;
	int v = 0;

	*pri = 13; /* user.notice, what a PRI-less message gets (RFC 3164 §4.3.3) */
	strcpy(app, "syslog");
	/* musl's syslog(3) ends a message in '\n', some senders in a NUL. */
	while (end > p && (end[-1] == '\n' || end[-1] == '\0'))
		end--;
	if (p < end && *p == '<') {
		while (p + 1 + digits < end && isdigit_(p[1 + digits]) && digits < 4)
			v = v * 10 + (p[1 + digits++] - '0');
		if (digits && p + 1 + digits < end && p[1 + digits] == '>') {
			if (digits > 3 || v > 191)
				return -1;
			*pri = v;
			p += digits + 2;
		} else if (digits > 3) {
			return -1;
		}
	}
	/* RFC 5424 if it parses as such; else RFC 3164, which takes anything. */
	if (p > data && end - p >= 2 && memcmp(p, "1 ", 2) == 0 &&
	    parse_5424(data, (size_t)(end - data), &m, NULL, 0) == 0) {
		if (!span_is(m.app, "-"))
			copy_field(app, LOGREC_NAME_MAX, m.app);
		*msg = m.msg.s;
		*msglen = m.msg.n;
		return 0;
	}
	p += bsd_timestamp(p, (size_t)(end - p));
	/* TAG: printable ASCII up to '[' or ':', then "[pid]" and ": ". */
	const char *t = p;
	while (t < end && *t > 32 && *t < 127 && *t != ':' && *t != '[')
		t++;
	size_t taglen = (size_t)(t - p);
	if (t < end && *t == '[') {
		while (++t < end && isdigit_(*t))
			;
		t = t < end && *t == ']' ? t + 1 : end;
	}
	if (taglen > 0 && taglen < LOGREC_NAME_MAX && t < end && *t == ':') {
		memcpy(app, p, taglen);
		app[taglen] = '\0';
		p = t + 1 + (t + 1 < end && t[1] == ' ');
	}
	*msg = p;
	*msglen = (size_t)(end - p);
	return 0;
}
