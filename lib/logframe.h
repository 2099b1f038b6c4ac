/* The amphi stream as the init writes it: a record's frame, the structured
 * data of the init's own, and the reader's acks. See docs/PROTOCOL.md. */
#ifndef AMPHI_LOGFRAME_H
#define AMPHI_LOGFRAME_H

#include "logrec.h"

#include <stddef.h>
#include <stdint.h>

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

/* Parses complete "ACK <seq>" lines in data; returns the highest seq seen
 * (0 if none). Bytes of an incomplete last line are left for next time:
 * *used says how many were consumed. */
uint64_t logrec_ack_parse(const char *data, size_t len, size_t *used);

#endif
