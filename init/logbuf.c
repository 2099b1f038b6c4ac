#include "logbuf.h"

#include <string.h>

/* A record in the ring: this header, the app name, the message, padded
 * to 8 bytes. A header with len 0 marks the end of the used part before
 * the ring wraps to offset 0. */
struct rec_hdr {
	uint32_t len;
	uint32_t msglen;
	uint64_t seq;
	int64_t realtime_us, uptime_us;
	uint16_t pri;
	uint8_t source, applen;
};

static _Alignas(8) unsigned char ring[LOGBUF_BYTES];
static size_t head, tail;   /* next write; oldest record */
static size_t count;        /* records held */
static uint64_t next_seq = 1, oldest_seq = 1;
static uint64_t floor_seq = UINT64_MAX;
/* Room kept free under pressure: the largest record and a wrap. */
#define HEADROOM (2 * (LOGREC_MSG_MAX + LOGREC_NAME_MAX + 64))

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

static struct rec_hdr *at(size_t off)
{
	return (struct rec_hdr *)(void *)(ring + off);
}

/* The offset after the record at off, across a wrap marker. */
static size_t after(size_t off)
{
	off += at(off)->len;
	if (off + sizeof(struct rec_hdr) > LOGBUF_BYTES || at(off)->len == 0)
		off = 0;
	return off;
}

static void evict_oldest(void)
{
	tail = after(tail);
	oldest_seq++;
	if (--count == 0)
		head = tail = 0;
}

static void put(const struct logrec *r, const char *msg, size_t msglen)
{
	size_t applen = strnlen(r->app, LOGREC_NAME_MAX - 1);
	size_t need = ALIGN8(sizeof(struct rec_hdr) + applen + msglen);
	size_t p = head;

	if (p + need > LOGBUF_BYTES) {
		/* The wrap marker goes at p: if the oldest record starts there
		 * (the ring is full), it goes first. */
		while (count && tail == p)
			evict_oldest();
		if (p + sizeof(struct rec_hdr) <= LOGBUF_BYTES)
			at(p)->len = 0;
		p = 0;
	}
	/* Make room: the oldest records ahead of p go. */
	while (count && tail >= p && tail < p + need)
		evict_oldest();
	struct rec_hdr *h = at(p);
	h->len = (uint32_t)need;
	h->msglen = (uint32_t)msglen;
	h->seq = next_seq++;
	h->realtime_us = r->realtime_us;
	h->uptime_us = r->uptime_us;
	h->pri = (uint16_t)r->pri;
	h->source = (uint8_t)r->source;
	h->applen = (uint8_t)applen;
	memcpy(ring + p + sizeof(*h), r->app, applen);
	memcpy(ring + p + sizeof(*h) + applen, msg, msglen);
	if (count++ == 0) {
		tail = p;
		oldest_seq = h->seq;
	}
	head = p + need;
	if (head + sizeof(struct rec_hdr) > LOGBUF_BYTES)
		head = 0;  /* no room for even a marker: wrap now */
}

uint64_t logbuf_append(struct logrec *r)
{
	const char *msg = r->msg;
	size_t left = r->msglen;

	/* Long messages become several records, each within the frame limit. */
	do {
		size_t n = left > LOGREC_MSG_MAX ? LOGREC_MSG_MAX : left;
		put(r, msg, n);
		msg += n;
		left -= n;
	} while (left > 0);
	r->seq = next_seq - 1;
	return r->seq;
}

uint64_t logbuf_next_seq(void)
{
	return next_seq;
}

uint64_t logbuf_oldest_seq(void)
{
	return count ? oldest_seq : next_seq;
}

void logbuf_seek(struct logbuf_cursor *c, uint64_t seq)
{
	c->off = tail;
	c->seq = count ? oldest_seq : next_seq;
	while (c->seq < seq && c->seq < next_seq) {
		c->off = after(c->off);
		c->seq++;
	}
}

int logbuf_peek(struct logbuf_cursor *c, struct logrec *r, uint64_t *lost_first, uint64_t *lost_last)
{
	*lost_first = *lost_last = 0;
	if (c->seq < logbuf_oldest_seq()) {
		*lost_first = c->seq;
		*lost_last = logbuf_oldest_seq() - 1;
		logbuf_seek(c, logbuf_oldest_seq());
	}
	if (c->seq >= next_seq)
		return 0;
	if (at(c->off)->seq != c->seq)   /* the hint went stale */
		logbuf_seek(c, c->seq);
	const struct rec_hdr *h = at(c->off);
	r->seq = h->seq;
	r->realtime_us = h->realtime_us;
	r->uptime_us = h->uptime_us;
	r->pri = h->pri;
	r->source = (enum logrec_source)h->source;
	memcpy(r->app, ring + c->off + sizeof(*h), h->applen);
	r->app[h->applen] = '\0';
	r->msg = (const char *)ring + c->off + sizeof(*h) + h->applen;
	r->msglen = h->msglen;
	return 1;
}

void logbuf_advance(struct logbuf_cursor *c)
{
	if (c->seq < next_seq) {
		c->off = after(c->off);
		c->seq++;
	}
}

void logbuf_set_floor(uint64_t seq)
{
	floor_seq = seq;
}

int logbuf_pressure(void)
{
	if (!count || floor_seq > oldest_seq)
		return 0;  /* what would go first is no longer owed to anyone */
	size_t used = head > tail ? head - tail : LOGBUF_BYTES - tail + head;
	return used + HEADROOM > LOGBUF_BYTES;
}
