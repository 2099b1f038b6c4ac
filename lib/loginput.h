/* The init's log inputs: what the kernel and local programs send, parsed
 * into a record's fields. */
#ifndef AMPHI_LOGINPUT_H
#define AMPHI_LOGINPUT_H

#include "logrec.h"

#include <stddef.h>
#include <stdint.h>

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
