/* The amphi stream as amphi logs reads it from an untrusted guest: frames
 * taken out of a byte stream, each checked field by field, and the acks
 * sent back. See docs/PROTOCOL.md. */
#include "logread.h"
#include "rfc5424.h"
#include "wbuf.h"

#include <stddef.h>
#include <string.h>

/* p->install from [install@32473], on a record of source "install" only:
 * on any other, whatever it says is not the init's. A bad value is a
 * broken stream, as in [meta]. */
static int install_event(const struct rfc5424_sd *sd, struct logrec_parsed *p, char *why, size_t whylen)
{
	struct logrec_install *e = &p->install;
	const struct span none = { "", 0 };

	*e = (struct logrec_install){ 0 };
	if (!sd->event.s || strcmp(p->source, "install") != 0)
		return 0;
	if (rfc5424_param_text(sd->event, e->event, sizeof(e->event)) < 0 ||
	    rfc5424_param_text(sd->state.s ? sd->state : none, e->state, sizeof(e->state)) < 0 ||
	    rfc5424_param_text(sd->name.s ? sd->name : none, e->name, sizeof(e->name)) < 0 ||
	    rfc5424_param_text(sd->how.s ? sd->how : none, e->how, sizeof(e->how)) < 0 ||
	    (sd->step.s && rfc5424_param_num(sd->step, UINT32_MAX, &e->step) < 0) ||
	    (sd->steps.s && rfc5424_param_num(sd->steps, UINT32_MAX, &e->steps) < 0) ||
	    (sd->ms.s && rfc5424_param_num(sd->ms, UINT64_MAX, &e->ms) < 0))
		RFC5424_FAIL("STRUCTURED-DATA: bad value in [" LOGREC_SD_INSTALL "]");
	return 0;
}

/* A boot id names a directory on the reader's host: letters, digits, '-'
 * and '_' only (a UUID, the kernel's boot_id, or "-" where there is none),
 * so that no two ids share a name and none is "", "." or "..". */
static int boot_id_ok(const char *id)
{
	size_t n = 0;

	for (char c; (c = id[n]); n++)
		if (!logrec_isdigit(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && c != '-' && c != '_')
			return 0;
	return n > 0;
}

static int frame_parse(const char *s, size_t n, struct logrec_parsed *p, char *why, size_t whylen)
{
	struct rfc5424 m;
	uint64_t v;

	if (rfc5424_parse(s, n, &m, why, whylen) < 0)
		return -1;
	p->pri = m.pri;
	if (!rfc5424_timestamp_in_range(m.ts))
		RFC5424_FAIL("TIMESTAMP: not an RFC 3339 time (a number out of its range)");
	span_copy(p->timestamp, sizeof(p->timestamp), m.ts);
	span_copy(p->host, sizeof(p->host), m.host);
	span_copy(p->app, sizeof(p->app), m.app);
	span_copy(p->msgid, sizeof(p->msgid), m.msgid);
	if (!m.sd.seq.s || rfc5424_param_num(m.sd.seq, UINT64_MAX, &p->seq) < 0 || p->seq == 0)
		RFC5424_FAIL("STRUCTURED-DATA: missing or bad sequenceId in [meta]: expected 1 to 18446744073709551615 "
		     "(a boot's records count from 1)");
	if (!m.sd.uptime.s || rfc5424_param_num(m.sd.uptime, INT64_MAX, &v) < 0)
		RFC5424_FAIL("STRUCTURED-DATA: missing or bad sysUpTime in [meta]");
	p->uptime_cs = (int64_t)v;
	if (!m.sd.source.s || rfc5424_param_text(m.sd.source, p->source, sizeof(p->source)) < 0 ||
	    logrec_source_parse(p->source) < 0)
		RFC5424_FAIL("STRUCTURED-DATA: missing or bad source in [" LOGREC_SD_AMPHI "]: expected kernel, init, "
		     "service, syslog, file or install");
	if (!m.sd.boot.s || rfc5424_param_text(m.sd.boot, p->boot, sizeof(p->boot)) < 0 || !boot_id_ok(p->boot))
		RFC5424_FAIL("STRUCTURED-DATA: missing or bad boot in [" LOGREC_SD_AMPHI "]: expected 1 to %zu letters, "
		     "digits, '-' or '_' (it names the boot's directory on the host)", sizeof(p->boot) - 1);
	v = 0;
	if (m.sd.proto.s && rfc5424_param_num(m.sd.proto, 999999, &v) < 0)
		RFC5424_FAIL("STRUCTURED-DATA: bad proto in [" LOGREC_SD_AMPHI "]");
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
	while (d < rd->len && d < 6 && logrec_isdigit(b[d]))
		len = len * 10 + (size_t)(b[d++] - '0');
	if (d == 0)
		RFC5424_FAIL("frame length: expected a digit, got byte 0x%02x", (unsigned char)b[0]);
	if (b[0] == '0')
		RFC5424_FAIL("frame length: leading zero");
	if (d > 5)
		RFC5424_FAIL("frame length: more than 5 digits");
	if (len > LOGREC_FRAME_MAX)
		RFC5424_FAIL("frame length: %zu is over %d bytes", len, LOGREC_FRAME_MAX);
	if (d == rd->len)
		return 0;
	if (b[d] != ' ')
		RFC5424_FAIL("frame length: expected SP after %zu, got byte 0x%02x", len, (unsigned char)b[d]);
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

int logrec_ack_format(uint64_t seq, char *out, size_t outlen)
{
	struct wbuf b = { out, 0, outlen ? outlen - 1 : 0, 0 };

	wbuf_put(&b, "ACK ", 4);
	wbuf_num(&b, seq, 1);
	wbuf_put(&b, "\n", 1);
	if (b.full || outlen == 0)
		return -1;
	out[b.n] = '\0';
	return (int)b.n;
}
