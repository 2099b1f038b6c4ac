/* The amphi stream as the init writes it: RFC 5424 messages in RFC 6587
 * octet-counted frames, and the reader's acks back. See docs/PROTOCOL.md.
 * Pure: caller buffers, no allocation. */
#include "logframe.h"
#include "wbuf.h"

#include <stddef.h>
#include <string.h>

/* PARAM-VALUE: '"', '\' and ']' escaped (RFC 5424 §6.3.3); anything but
 * printable ASCII becomes '_' (our values are names and ids). */
static void put_param(struct wbuf *b, const char *name, const char *v)
{
	wbuf_put(b, " ", 1);
	wbuf_puts(b, name);
	wbuf_put(b, "=\"", 2);
	while (v && *v) {
		size_t run = 0;
		while (v[run] && (unsigned char)v[run] >= 32 && (unsigned char)v[run] < 127 && v[run] != '"' &&
		       v[run] != '\\' && v[run] != ']')
			run++;
		wbuf_put(b, v, run);  /* plain characters in one piece */
		v += run;
		if (!*v)
			break;
		unsigned char c = (unsigned char)*v++;
		if (c == '"' || c == '\\' || c == ']')
			wbuf_put(b, "\\", 1);
		wbuf_put(b, c >= 32 && c < 127 ? (const char *)&c : "_", 1);
	}
	wbuf_put(b, "\"", 1);
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
		wbuf_put(b, "-", 1);
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
		wbuf_num(&db, y, 4);
		wbuf_put(&db, "-", 1);
		wbuf_num(&db, m, 2);
		wbuf_put(&db, "-", 1);
		wbuf_num(&db, d, 2);
		wbuf_put(&db, "T", 1);
		wbuf_num(&db, (uint64_t)(s % 86400 / 3600), 2);
		wbuf_put(&db, ":", 1);
		wbuf_num(&db, (uint64_t)(s % 3600 / 60), 2);
		wbuf_put(&db, ":", 1);
		wbuf_num(&db, (uint64_t)(s % 60), 2);
		wbuf_put(&db, ".", 1);
		last_s = s;
		sec_len = db.n;
	}
	wbuf_put(b, sec, sec_len);
	wbuf_num(b, (uint64_t)(us % 1000000), 6);
	wbuf_put(b, "Z", 1);
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
	_Static_assert(sizeof(params) / sizeof(params[0]) == LOGREC_SOURCES, "a source param and a frame tail per source");
	unsigned i = (unsigned)src;

	if (i < sizeof(params) / sizeof(params[0]))
		wbuf_put(b, params[i].s, params[i].n);
	else
		put_param(b, "source", logrec_source_name(src));
}

/* '"][amphi@32473 source="…" boot="…" proto="1"] ': the boot field is in
 * every record, not only the boot's first, and so is the protocol version:
 * a reader that comes after the first was dropped still learns both. */
static void put_tail(struct wbuf *b, const struct logrec_origin *o, enum logrec_source src)
{
	wbuf_put(b, "\"][" LOGREC_SD_AMPHI, sizeof("\"][" LOGREC_SD_AMPHI) - 1);
	put_source(b, src);
	wbuf_put(b, o->boot, o->bootlen);
	wbuf_put(b, " proto=\"1\"] ", 12);
}

void logrec_origin_init(struct logrec_origin *o, const char *hostname, const char *boot_id)
{
	struct wbuf h = { o->host, 0, sizeof(o->host), 0 }, bt = { o->boot, 0, sizeof(o->boot), 0 };

	logrec_put_name(&h, hostname, 255);
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
		msgid = "";  /* the NILVALUE, as logrec_put_name makes of it */
	if (o->midlen && same_name(o->mid_app, app) && same_name(o->mid_msgid, msgid))
		return;
	size_t an = logrec_name_len(app, LOGREC_NAME_MAX - 1), mn = logrec_name_len(msgid, LOGREC_NAME_MAX - 1);
	struct wbuf m = { o->mid, 0, sizeof(o->mid), 0 };
	wbuf_put(&m, " ", 1);
	wbuf_put(&m, o->host, o->hostlen);
	wbuf_put(&m, " ", 1);
	logrec_put_name(&m, app, LOGREC_NAME_MAX);
	wbuf_put(&m, " - ", 3);
	logrec_put_name(&m, msgid, 32);
	wbuf_put(&m, " [meta sequenceId=\"", 19);
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
	wbuf_put(&b, "<", 1);
	wbuf_num(&b, pri, 1);
	wbuf_put(&b, ">1 ", 3);
	put_timestamp(&b, r->realtime_us);
	if (o->midlen) {
		wbuf_put(&b, o->mid, o->midlen);
	} else {  /* names too long to keep: made in place */
		wbuf_put(&b, " ", 1);
		wbuf_put(&b, o->host, o->hostlen);
		wbuf_put(&b, " ", 1);
		logrec_put_name(&b, r->app, LOGREC_NAME_MAX);
		wbuf_put(&b, " - ", 3);
		logrec_put_name(&b, msgid, 32);
		wbuf_put(&b, " [meta sequenceId=\"", 19);
	}
	wbuf_num(&b, r->seq, 1);
	wbuf_put(&b, "\" sysUpTime=\"", 13);
	wbuf_num(&b, r->uptime_us > 0 ? (uint64_t)r->uptime_us / 10000 : 0, 1);
	if (src < LOGREC_SOURCES && o->taillen[src])
		wbuf_put(&b, o->tail[src], o->taillen[src]);
	else
		put_tail(&b, o, r->source);
	if (r->sdlen && !b.full) {  /* in before the SP that ends the tail */
		b.n--;
		wbuf_put(&b, r->sd, r->sdlen);
		wbuf_put(&b, " ", 1);
	}
	logrec_put_msg(&b, r->msg, r->msg ? r->msglen : 0, r->plain);
	if (b.full)
		return -1;

	size_t d = wbuf_ndigits(b.n);
	struct wbuf h = { out, 0, d + 1, 0 };

	if (d + 1 + b.n >= outlen)
		return -1;
	if (d + 1 != at)
		memmove(out + d + 1, out + at, b.n);
	wbuf_num(&h, b.n, 1);
	wbuf_put(&h, " ", 1);
	out[d + 1 + b.n] = '\0';
	return (int)(d + 1 + b.n);
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
		    logrec_parse_u64(data + line + 4, e - line - 4, &v) == 0 && v > best)
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
