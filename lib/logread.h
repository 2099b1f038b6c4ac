/* The amphi stream as amphi logs reads it: frames out of an untrusted
 * byte stream, and the acks it sends back. See docs/PROTOCOL.md. */
#ifndef AMPHI_LOGREAD_H
#define AMPHI_LOGREAD_H

#include "logrec.h"

#include <stddef.h>
#include <stdint.h>

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

#endif
