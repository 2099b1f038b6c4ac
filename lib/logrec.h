/* A log record and what both its wire formats share, for the init (which
 * writes records) and amphi logs (which reads them). See docs/PROTOCOL.md.
 * The formats have headers of their own:
 *
 *  - the amphi stream, RFC 5424 messages in RFC 6587 octet-counted framing,
 *    acknowledged by the reader with "ACK <seq>\n" lines: logframe.h (the
 *    writer) and logread.h (the reader);
 *  - Anaconda text, "HH:MM:SS,mmm LEVEL program:message\n", one-way:
 *    anaconda.h;
 *  - the init's inputs, /dev/kmsg and /dev/log: loginput.h.
 *
 * Pure functions on caller buffers: no allocation, no I/O. */
#ifndef AMPHI_LOGREC_H
#define AMPHI_LOGREC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LOGREC_PROTO_VERSION 1
/* Longer messages are split into several records: small enough that one
 * fits in a frame even when every byte becomes \xHH, headers included
 * (8192 is also rsyslog's default maximum message size). */
#define LOGREC_MSG_MAX 1920
#define LOGREC_NAME_MAX 48       /* source / app names */
#define LOGREC_FRAME_MAX 8192    /* a reader refuses longer frames */
/* RFC 5424 SD-IDs of our own: name@PEN, 32473 being the PEN RFC 5612
 * reserves for documentation and examples. */
#define LOGREC_SD_AMPHI "amphi@32473"
/* The install phase's events (docs/PROTOCOL.md, "Install records"): only
 * PID 1 makes records of source "install", and a reader honours this
 * element on no other source. */
#define LOGREC_SD_INSTALL "install@32473"

enum logrec_source { LOGSRC_KERNEL, LOGSRC_INIT, LOGSRC_SERVICE, LOGSRC_SYSLOG, LOGSRC_FILE, LOGSRC_INSTALL };
#define LOGREC_SOURCES 6

struct logrec {
	uint64_t seq;              /* per boot, contiguous from 1 */
	int64_t realtime_us;       /* CLOCK_REALTIME */
	int64_t uptime_us;         /* CLOCK_BOOTTIME (time since boot) */
	int pri;                   /* RFC 5424 PRI: facility * 8 + severity */
	enum logrec_source source;
	char app[LOGREC_NAME_MAX]; /* "kernel", "amphi", a service's name, a syslog tag */
	const char *msg;           /* not NUL-terminated necessarily */
	size_t msglen;
	int plain;                 /* msg is known to be printable ASCII: nothing to escape */
	/* SD-ELEMENTs of PID 1's own ("[install@32473 ...]"), sent after
	 * [amphi@32473]; sdlen 0 for none. Nothing another program sends ever
	 * reaches here: its text only ever goes to msg. */
	const char *sd;
	size_t sdlen;
};

/* 1 if name is one of the init's own programs ("amphi", "install",
 * "kernel"), in any case: no other record may go by it, for on the console
 * and the text port only the name tells who spoke (docs/PROTOCOL.md). */
int logrec_name_is_init(const char *name);

/* "kernel", "init", "service", "syslog", "file"; and back (-1 if unknown). */
const char *logrec_source_name(enum logrec_source s);
int logrec_source_parse(const char *name);

/* How many bytes at s are printable ASCII (0x20-0x7e): the bulk of any
 * log, which the escapers copy in one piece. */
size_t logrec_ascii_run(const char *s, size_t n);
/* Length of the valid multibyte UTF-8 sequence at s (RFC 3629 §4: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0: ASCII bytes,
 * stray or cut-off sequences. */
size_t logrec_utf8_len(const unsigned char *s, size_t n);

/* The newline ending the line at p (before end), or NULL; *plain says
 * whether everything before it is printable ASCII. One pass finds both,
 * so a source that splits lines spares the sinks their escaping scan. */
const char *logrec_line_end(const char *p, const char *end, int *plain);

/* msg as both wire formats carry it: valid UTF-8 as it is, anything that
 * would break or colour a line as \xHH. Returns the length written (cut
 * at a whole character to fit cap; 4 * len always fits). */
size_t logrec_escape(const char *msg, size_t len, char *out, size_t cap);

/* What logrec_escape does, and the copy of a message known to be plain,
 * into a writer (wbuf.h) of either format. */
struct wbuf;
void logrec_put_msg(struct wbuf *b, const char *msg, size_t len, int plain);
/* An RFC 5424 header field (PRINTUSASCII) of at most max bytes of s: "-"
 * for none, '_' for any other byte. */
void logrec_put_name(struct wbuf *b, const char *s, size_t max);

/* memcpy for a message: 32 bytes a turn, then the rest as the build's
 * copies go (-mstringop-strategy=loop in the init): a loop of one word a
 * turn spends as much on the turn as on the word. */
static inline void logrec_copy(char *d, const char *s, size_t n)
{
	for (; n >= 32; d += 32, s += 32, n -= 32) {
		uint64_t a, b, c, e;
		memcpy(&a, s, 8);
		memcpy(&b, s + 8, 8);
		memcpy(&c, s + 16, 8);
		memcpy(&e, s + 24, 8);
		memcpy(d, &a, 8);
		memcpy(d + 8, &b, 8);
		memcpy(d + 16, &c, 8);
		memcpy(d + 24, &e, 8);
	}
	memcpy(d, s, n);
}

/* v in decimal, zero-padded to width digits (at most 20), at out, then a
 * NUL; returns where the NUL is. out has room for 21 bytes. */
char *logrec_put_num(char *out, uint64_t v, int width);

/* n (1-20) decimal digits at s, with no overflow: 0, or -1. */
int logrec_parse_u64(const char *s, size_t n, uint64_t *v);

/* isdigit(3) without the locale: for the parsers of the wire formats. */
static inline int logrec_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

/* strnlen for the short names of a record (app, msgid): a plain loop,
 * cheaper than the library's word-at-a-time one for a few bytes. */
static inline size_t logrec_name_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

#endif
