/* One RFC 5424 message (§6), parsed in place: its header fields and the
 * structured data amphi reads, as raw (still escaped) values. Shared by
 * the frame reader (logread.c) and the init's /dev/log input
 * (loginput.c). */
#ifndef AMPHI_RFC5424_H
#define AMPHI_RFC5424_H

#include <stddef.h>
#include <stdint.h>

/* A piece of the message: not NUL-terminated. */
struct span {
	const char *s;
	size_t n;
};

/* The parameters we look for, as raw (still escaped) values. */
struct rfc5424_sd {
	struct span seq, uptime, source, boot, proto;          /* [meta], [amphi@32473] */
	struct span event, state, name, how, step, steps, ms;  /* [install@32473] */
};

/* A parsed RFC 5424 message (RFC 5424 §6). */
struct rfc5424 {
	int pri;
	struct span ts, host, app, procid, msgid, msg;
	struct rfc5424_sd sd;
};

/* "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG]" in s[0..n):
 * 0, or -1 with why (if not NULL) saying which field is wrong and how. */
int rfc5424_parse(const char *s, size_t n, struct rfc5424 *m, char *why, size_t whylen);

/* A PARAM-VALUE without its escapes (RFC 5424 §6.3.3) into dst, as
 * printable ASCII of at most cap-1 bytes: 0, or -1. */
int rfc5424_param_text(struct span v, char *dst, size_t cap);
/* A PARAM-VALUE as a number of at most max: 0, or -1. */
int rfc5424_param_num(struct span v, uint64_t max, uint64_t *out);
/* Whether a TIMESTAMP rfc5424_parse took has its numbers in RFC 3339's
 * ranges (it checks the shape only). */
int rfc5424_timestamp_in_range(struct span t);

int span_is(struct span v, const char *s);
/* v as a NUL-terminated string in dst, cut to cap-1 bytes. */
void span_copy(char *dst, size_t cap, struct span v);

/* why as printf would make it, when the caller asked for it (why not NULL). */
void rfc5424_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Says why and fails, in a parser whose parameters are why and whylen. */
#define RFC5424_FAIL(...)                              \
	do {                                           \
		rfc5424_why(why, whylen, __VA_ARGS__); \
		return -1;                             \
	} while (0)

#endif
