/* One RFC 5424 message (§6) parsed in place, keeping the structured data
 * amphi reads ([meta], [amphi@32473], [install@32473]) as raw values.
 * Read by the frame reader on the host (lib/logread.c) and by the init's
 * /dev/log input (lib/loginput.c). A cursor walks the message and never
 * passes its end. */
#include "rfc5424.h"
#include "logrec.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

void rfc5424_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Byte classes of the RFC 5424 header, by table: the reader parses every
 * frame's header, most of its own work in a flood. PRINT:
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

void span_copy(char *dst, size_t cap, struct span v)
{
	size_t n = v.n < cap - 1 ? v.n : cap - 1;

	memcpy(dst, v.s, n);
	dst[n] = '\0';
}

int span_is(struct span v, const char *s)
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
		if (i >= t.n || (pat[i] == 'd' ? !logrec_isdigit(t.s[i]) : t.s[i] != pat[i]))
			return 0;
	if (i < t.n && t.s[i] == '.') {
		while (++i < t.n && logrec_isdigit(t.s[i]))
			f++;
		if (f < 1 || f > 6)
			return 0;
	}
	if (i < t.n && t.s[i] == 'Z')
		return i + 1 == t.n;
	return i + 6 == t.n && (t.s[i] == '+' || t.s[i] == '-') && logrec_isdigit(t.s[i + 1]) &&
	       logrec_isdigit(t.s[i + 2]) && t.s[i + 3] == ':' && logrec_isdigit(t.s[i + 4]) && logrec_isdigit(t.s[i + 5]);
}

/* A timestamp_ok one whose numbers are in RFC 3339 §5.6's ranges (month
 * 01-12, day 01-31, hour 00-23, second 00-60 for a leap second, offset up
 * to 23:59). The reader's check only: the init's syslog parser keeps what
 * a local program sent. */
int rfc5424_timestamp_in_range(struct span t)
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
		RFC5424_FAIL("%s: expected 1 to %lu printable ASCII characters", name, (unsigned long)max);
	if (c->p >= c->end || *c->p != ' ')
		RFC5424_FAIL("%s: expected SP after it", name);
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
static void install_param(struct rfc5424_sd *out, struct span name, struct span v)
{
	static const struct {
		const char *name;
		size_t at;
	} known[] = {
		{ "event", offsetof(struct rfc5424_sd, event) }, { "state", offsetof(struct rfc5424_sd, state) },
		{ "result", offsetof(struct rfc5424_sd, state) }, { "name", offsetof(struct rfc5424_sd, name) },
		{ "how", offsetof(struct rfc5424_sd, how) },     { "step", offsetof(struct rfc5424_sd, step) },
		{ "steps", offsetof(struct rfc5424_sd, steps) }, { "ms", offsetof(struct rfc5424_sd, ms) },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (span_is(name, known[i].name))
			*(struct span *)(void *)((char *)out + known[i].at) = v;
}

/* STRUCTURED-DATA: "-" or SD-ELEMENTs; keeps the values we know. A loop
 * over a bounded buffer, one byte at least per step. */
static int sd_parse(struct cursor *c, struct rfc5424_sd *out, char *why, size_t whylen)
{
	if (c->p < c->end && *c->p == '-') {
		c->p++;
		return 0;
	}
	if (c->p >= c->end || *c->p != '[')
		RFC5424_FAIL("STRUCTURED-DATA: expected '-' or '['");
	while (c->p < c->end && *c->p == '[') {
		struct span id, name, v;

		c->p++;
		if (sd_name(c, &id) < 0)
			RFC5424_FAIL("STRUCTURED-DATA: bad SD-ID");
		for (;;) {
			if (c->p >= c->end)
				RFC5424_FAIL("STRUCTURED-DATA: truncated SD-ELEMENT");
			if (*c->p == ']')
				break;
			if (*c->p != ' ')
				RFC5424_FAIL("STRUCTURED-DATA: expected SP or ']' in SD-ELEMENT");
			c->p++;
			if (sd_name(c, &name) < 0)
				RFC5424_FAIL("STRUCTURED-DATA: bad PARAM-NAME");
			if (c->end - c->p < 2 || c->p[0] != '=' || c->p[1] != '"')
				RFC5424_FAIL("STRUCTURED-DATA: expected =\" after PARAM-NAME");
			c->p += 2;
			v.s = c->p;
			c->p = value_end(c->p, c->end);
			if (c->p >= c->end)
				RFC5424_FAIL("STRUCTURED-DATA: unterminated PARAM-VALUE");
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
int rfc5424_parse(const char *s, size_t n, struct rfc5424 *m, char *why, size_t whylen)
{
	struct cursor c = { s, s + n };
	size_t digits = 0;

	m->pri = 0;
	m->sd = (struct rfc5424_sd){ 0 };
	if (c.p >= c.end || *c.p++ != '<')
		RFC5424_FAIL("PRI: expected '<'");
	while (c.p < c.end && logrec_isdigit(*c.p) && digits < 4)
		m->pri = m->pri * 10 + (*c.p++ - '0'), digits++;
	if (digits == 0 || digits > 3 || (digits > 1 && c.p[-(int)digits] == '0') || m->pri > 191)
		RFC5424_FAIL("PRI: expected 0 to 191 without leading zeros");
	if (c.end - c.p < 3 || memcmp(c.p, ">1 ", 3) != 0)
		RFC5424_FAIL("HEADER: expected \">1 \" (RFC 5424 version 1) after PRI");
	c.p += 3;
	if (field(&c, 32, &m->ts, "TIMESTAMP", why, whylen) < 0 ||
	    field(&c, 255, &m->host, "HOSTNAME", why, whylen) < 0 ||
	    field(&c, 48, &m->app, "APP-NAME", why, whylen) < 0 ||
	    field(&c, 128, &m->procid, "PROCID", why, whylen) < 0 ||
	    field(&c, 32, &m->msgid, "MSGID", why, whylen) < 0)
		return -1;
	if (!span_is(m->ts, "-") && !timestamp_ok(m->ts))
		RFC5424_FAIL("TIMESTAMP: not an RFC 3339 time");
	if (sd_parse(&c, &m->sd, why, whylen) < 0)
		return -1;
	if (c.p < c.end && *c.p++ != ' ')
		RFC5424_FAIL("STRUCTURED-DATA: expected SP or the end after it");
	if (c.end - c.p >= 3 && memcmp(c.p, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	m->msg.s = c.p;
	m->msg.n = (size_t)(c.end - c.p);
	return 0;
}

/* A PARAM-VALUE without its escapes (RFC 5424 §6.3.3) into dst, as
 * printable ASCII of at most cap-1 bytes. */
int rfc5424_param_text(struct span v, char *dst, size_t cap)
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

int rfc5424_param_num(struct span v, uint64_t max, uint64_t *out)
{
	char t[24];

	if (!memchr(v.s, '\\', v.n)) /* nothing to unescape: the digits as they are */
		return logrec_parse_u64(v.s, v.n, out) < 0 || *out > max ? -1 : 0;
	return rfc5424_param_text(v, t, sizeof(t)) < 0 || logrec_parse_u64(t, strlen(t), out) < 0 || *out > max ? -1 : 0;
}
