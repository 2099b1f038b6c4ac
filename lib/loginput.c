/* The init's two log inputs: /dev/kmsg records and /dev/log datagrams.
 * Pure: the caller reads, these only parse what it read. */
#include "loginput.h"
#include "rfc5424.h"

#include <stddef.h>
#include <string.h>

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
	if (logrec_parse_u64(data, (size_t)(c1 - data), &v[0]) < 0 || v[0] > 0x7fffffff ||
	    logrec_parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), &v[1]) < 0 ||
	    logrec_parse_u64(c2 + 1, (size_t)(c3 - c2 - 1), &v[2]) < 0 || v[2] > INT64_MAX)
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
				if (pat[k] == 'd' ? !logrec_isdigit(s[k])
				    : pat[k] == 'D' ? !logrec_isdigit(s[k]) && s[k] != ' '
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
		while (p + 1 + digits < end && logrec_isdigit(p[1 + digits]) && digits < 4)
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
	    rfc5424_parse(data, (size_t)(end - data), &m, NULL, 0) == 0) {
		if (!span_is(m.app, "-"))
			span_copy(app, LOGREC_NAME_MAX, m.app);
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
		while (++t < end && logrec_isdigit(*t))
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
