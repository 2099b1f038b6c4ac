/* Log records and their two wire formats, shared by the init (which writes
 * them) and amphi logs (which reads them). See docs/PROTOCOL.md.
 *
 *  - the amphi stream: RFC 5424 messages in RFC 6587 octet-counted framing,
 *    acknowledged by the reader with "ACK <seq>\n" lines;
 *  - Anaconda text: "HH:MM:SS,mmm LEVEL program:message\n", one-way.
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

/* ---- the amphi stream ---- */

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

/* strnlen for the short names of a record (app, msgid): a plain loop,
 * cheaper than the library's word-at-a-time one for a few bytes. */
static inline size_t logrec_name_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/* One frame "LEN SP <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG" for r,
 * with [meta sequenceId= sysUpTime=] (RFC 5424 §7.3; sysUpTime in
 * hundredths of a second) and [amphi@32473 source= boot=]. msgid is "-"
 * or e.g. "boot" for the first record of a boot. The message is sent as
 * UTF-8 with invalid bytes escaped as \xHH. Returns the frame length, or
 * -1 if it does not fit in outlen. */
int logrec_frame(const struct logrec *r, const char *hostname, const char *boot_id,
		 const char *msgid, char *out, size_t outlen);

/* Appends ' NAME="VALUE"' to the SD-ELEMENT being made in out (len bytes
 * so far, cap in all), VALUE escaped as RFC 5424 §6.3.3 asks. Returns the
 * new length, or cap when it did not fit. */
size_t logrec_sd_param(char *out, size_t len, size_t cap, const char *name, const char *value);

/* What every frame of a stream repeats, escaped once (escaping costs more
 * than the rest of a header) and copied into each frame by
 * logrec_frame_from: the host and boot fields, the structured data after
 * sysUpTime for each source, and, for the app and msgid of the last frame,
 * the fields from HOST to the sequenceId. */
#define LOGREC_SOURCES 6
struct logrec_origin {
	char host[256];            /* RFC 5424: up to 255 */
	char boot[160];            /* ' boot="…"', escaped */
	size_t hostlen, bootlen;   /* 0: the boot id was too long (every frame is then -1) */
	char tail[LOGREC_SOURCES][224]; /* '"][amphi@32473 source="…" boot="…" proto="1"] ' */
	size_t taillen[LOGREC_SOURCES];
	char mid[384];             /* ' HOST APP - MSGID [meta sequenceId="' */
	size_t midlen;             /* 0: not made yet */
	char mid_app[LOGREC_NAME_MAX], mid_msgid[LOGREC_NAME_MAX]; /* what mid was made for */
};
void logrec_origin_init(struct logrec_origin *o, const char *hostname, const char *boot_id);
int logrec_frame_from(const struct logrec *r, struct logrec_origin *o, const char *msgid, char *out,
		      size_t outlen);

/* Incremental reader of frames from an untrusted byte stream. Room for a
 * whole read beside a partial frame: a caller reads straight into it
 * (logrec_reader_space), so the bytes are not copied once more. */
#define LOGREC_READ_MAX (64 * 1024)
struct logrec_reader {
	char buf[LOGREC_READ_MAX + LOGREC_FRAME_MAX + 16];
	size_t start, len;      /* unparsed bytes: buf[start .. start+len) */
};
void logrec_reader_init(struct logrec_reader *rd);
/* Feeds bytes; returns how many it took (it takes at most what fits). */
size_t logrec_reader_feed(struct logrec_reader *rd, const char *data, size_t len);
/* Where the next bytes go instead of a feed, and how many fit (at least
 * LOGREC_READ_MAX once every whole frame is taken); then say how many came. */
char *logrec_reader_space(struct logrec_reader *rd, size_t *room);
void logrec_reader_wrote(struct logrec_reader *rd, size_t n);
/* A parsed frame: fields point into the reader's buffer (valid until the
 * next feed/next call). */
struct logrec_parsed {
	uint64_t seq;
	int64_t uptime_cs;         /* sysUpTime, hundredths of a second */
	int pri;
	char timestamp[40];
	char host[LOGREC_NAME_MAX], app[LOGREC_NAME_MAX], msgid[LOGREC_NAME_MAX];
	char source[16];
	char boot[40];
	int proto;                 /* the protocol version the record says (every amphi record does), else 0 */
	/* [install@32473] of a record of source "install" (event "" if none,
	 * or on any other source). Text values are printable ASCII. */
	struct logrec_install {
		char event[16], state[16], name[64], how[96];
		uint64_t step, steps, ms;
	} install;
	const char *msg;
	size_t msglen;
};
/* Takes the next complete frame out of the buffer. 1 = got one, 0 = need
 * more bytes, -1 = the stream is broken (bad length, oversized frame, not
 * RFC 5424): why says how; the caller drops the connection. */
int logrec_reader_next(struct logrec_reader *rd, struct logrec_parsed *p, char *why, size_t whylen);

/* "ACK <seq>\n" */
int logrec_ack_format(uint64_t seq, char *out, size_t outlen);
/* Parses complete "ACK <seq>" lines in data; returns the highest seq seen
 * (0 if none). Bytes of an incomplete last line are left for next time:
 * *used says how many were consumed. */
uint64_t logrec_ack_parse(const char *data, size_t len, size_t *used);

/* ---- Anaconda text ---- */

/* "HH:MM:SS,mmm LEVEL app:message\n" in UTC, LEVEL from the severity
 * (DEBUG, INFO, WARNING, ERROR, CRITICAL), control bytes (CR included) and
 * invalid UTF-8 escaped, always ending in LF. A message longer than what
 * fits is cut: the caller splits long records before. Returns the length
 * written, or -1. */
int logrec_text(const struct logrec *r, char *out, size_t outlen);

/* ---- inputs ---- */

/* A /dev/kmsg record "PRI,SEQ,TS_USEC,FLAG[,...];text\n[ KEY=value\n]..."
 * (Documentation/ABI/testing/dev-kmsg). Sets pri, kernel seq, uptime_us and
 * the text (up to the first newline). 0, or -1 if malformed. */
int logrec_parse_kmsg(const char *data, size_t len, int *pri, uint64_t *kseq, int64_t *uptime_us,
		      const char **text, size_t *textlen);

/* A datagram on /dev/log: RFC 5424 ("<PRI>1 ...") or RFC 3164
 * ("<PRI>Mmm dd hh:mm:ss tag[pid]: msg", timestamp optional, as syslog(3)
 * and busybox logger send). Sets pri (default 13, user.notice), app (the
 * tag or APP-NAME, "syslog" if none) and the message. 0, or -1. */
int logrec_parse_syslog(const char *data, size_t len, int *pri, char app[LOGREC_NAME_MAX],
			const char **msg, size_t *msglen);

#endif
