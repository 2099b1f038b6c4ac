#include "logring.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* A record in the ring: this header, the app name, PID 1's own
 * structured data (if any), the message, padded to 8 bytes. A header with
 * len 0 marks the end of the used part before the ring wraps to offset 0. */
struct rec_hdr {
	uint32_t len;
	uint32_t msglen;
	uint64_t seq;
	int64_t realtime_us, uptime_us;
	uint16_t pri;
	uint8_t source, applen, plain;
	uint16_t sdlen;
};

struct ring {
	unsigned char *buf;
	size_t size;
	size_t head, tail;   /* next write; oldest record */
	size_t count;        /* records held */
	uint64_t next_seq, oldest_seq;
};

/* Until the recipe says how big, a small ring in BSS (untouched pages cost
 * nothing); logring_resize moves it to its real size. */
static _Alignas(8) unsigned char early_buf[64 * 1024];
static struct ring R = { early_buf, sizeof(early_buf), 0, 0, 0, 1, 1 };
#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

static struct rec_hdr *at(const struct ring *g, size_t off)
{
	return (struct rec_hdr *)(void *)(g->buf + off);
}

/* The offset after the record at off, across a wrap marker. After the
 * newest record it is the head (what lies there is not a record yet: in a
 * fresh ring it reads as a marker, which would send every reader at the
 * end back to a seek from the oldest record). */
static size_t after(const struct ring *g, size_t off)
{
	off += at(g, off)->len;
	if (off == g->head)
		return off;
	if (off + sizeof(struct rec_hdr) > g->size || at(g, off)->len == 0)
		off = 0;
	return off;
}

static uint64_t oldest(const struct ring *g)
{
	return g->count ? g->oldest_seq : g->next_seq;
}

static void evict_oldest(struct ring *g)
{
	g->tail = after(g, g->tail);
	g->oldest_seq++;
	if (--g->count == 0)
		g->head = g->tail = 0;
}

static void put(struct ring *g, const struct logrec *r, size_t sdlen, const char *msg, size_t msglen)
{
	size_t applen = logrec_name_len(r->app, LOGREC_NAME_MAX - 1);
	size_t need = ALIGN8(sizeof(struct rec_hdr) + applen + sdlen + msglen);
	size_t p = g->head;

	if (p + need > g->size) {
		/* The wrap marker goes at p, and what lies from p to the end
		 * (the oldest records, when the ring has wrapped before) goes
		 * first: a record written at 0 takes the place of newer ones,
		 * which may only go once everything older has. (Evicting only a
		 * record that starts at p would leave older ones a little past it
		 * in place, and the new record would overwrite newer records still
		 * counted as held: readers would find garbage headers.) */
		while (g->count && g->tail >= p)
			evict_oldest(g);
		if (p + sizeof(struct rec_hdr) <= g->size)
			at(g, p)->len = 0;
		p = 0;
	}
	/* Make room: the oldest records ahead of p go. */
	while (g->count && g->tail >= p && g->tail < p + need)
		evict_oldest(g);
	struct rec_hdr *h = at(g, p);
	*h = (struct rec_hdr){ .len = (uint32_t)need, .msglen = (uint32_t)msglen, .seq = g->next_seq++,
			       .realtime_us = r->realtime_us, .uptime_us = r->uptime_us, .pri = (uint16_t)r->pri,
			       .source = (uint8_t)r->source, .applen = (uint8_t)applen, .plain = r->plain != 0,
			       .sdlen = (uint16_t)sdlen };
	memcpy(g->buf + p + sizeof(*h), r->app, applen);
	if (sdlen)
		memcpy(g->buf + p + sizeof(*h) + applen, r->sd, sdlen);
	logrec_copy((char *)g->buf + p + sizeof(*h) + applen + sdlen, msg, msglen);
	if (g->count++ == 0) {
		g->tail = p;
		g->oldest_seq = h->seq;
	}
	g->head = p + need;
	if (g->head + sizeof(struct rec_hdr) > g->size)
		g->head = 0;  /* no room for even a marker: wrap now */
}

static void read_at(const struct ring *g, size_t off, struct logrec *r)
{
	const struct rec_hdr *h = at(g, off);
	r->seq = h->seq;
	r->realtime_us = h->realtime_us;
	r->uptime_us = h->uptime_us;
	r->pri = h->pri;
	r->source = (enum logrec_source)h->source;
	memcpy(r->app, g->buf + off + sizeof(*h), h->applen);
	r->app[h->applen] = '\0';
	r->sd = (const char *)g->buf + off + sizeof(*h) + h->applen;
	r->sdlen = h->sdlen;
	r->msg = r->sd + h->sdlen;
	r->msglen = h->msglen;
	r->plain = h->plain;
}

int logring_resize(size_t bytes)
{
	struct ring fresh = { .size = bytes, .next_seq = oldest(&R), .oldest_seq = oldest(&R) };
	struct logrec r;
	size_t off = R.tail;

	fresh.buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh.buf == MAP_FAILED)
		return -errno;
	for (size_t i = 0; i < R.count; i++, off = after(&R, off)) {
		read_at(&R, off, &r);
		put(&fresh, &r, r.sdlen, r.msg, r.msglen);
	}
	if (R.buf != early_buf)
		munmap(R.buf, R.size);
	R = fresh;
	return 0;
}

uint64_t logring_append(struct logrec *r)
{
	const char *msg = r->msg;
	size_t left = r->msglen;

	/* Long messages become several records, each within the frame limit;
	 * structured data goes with the first (a frame has room for both). */
	size_t sdlen = r->sdlen < 1024 ? r->sdlen : 0;
	do {
		size_t n = left > LOGREC_MSG_MAX ? LOGREC_MSG_MAX : left;
		put(&R, r, msg == r->msg ? sdlen : 0, msg, n);
		msg += n;
		left -= n;
	} while (left > 0);
	r->seq = R.next_seq - 1;
	return r->seq;
}

uint64_t logring_next_seq(void)
{
	return R.next_seq;
}

uint64_t logring_oldest_seq(void)
{
	return oldest(&R);
}

void logring_seek(struct logring_cursor *c, uint64_t seq)
{
	c->off = R.tail;
	c->seq = oldest(&R);
	while (c->seq < seq && c->seq < R.next_seq) {
		c->off = after(&R, c->off);
		c->seq++;
	}
}

int logring_peek(struct logring_cursor *c, struct logrec *r, uint64_t *lost_first, uint64_t *lost_last)
{
	*lost_first = *lost_last = 0;
	if (c->seq < oldest(&R)) {
		*lost_first = c->seq;
		*lost_last = oldest(&R) - 1;
		logring_seek(c, oldest(&R));
	}
	if (c->seq >= R.next_seq)
		return 0;
	/* A cursor left at the head before the ring wrapped: its record is
	 * at 0, after the marker put where the head was. */
	if (c->off + sizeof(struct rec_hdr) > R.size || at(&R, c->off)->len == 0)
		c->off = 0;
	if (at(&R, c->off)->seq != c->seq)
		logring_seek(c, c->seq);  /* the hint went stale */
	read_at(&R, c->off, r);
	return 1;
}

void logring_advance(struct logring_cursor *c)
{
	if (c->seq < R.next_seq) {
		c->off = after(&R, c->off);
		c->seq++;
	}
}

/* Where the first owed record is: a cursor kept from one call to the
 * next, so the walk is paid once per record, not once per question. */
static struct logring_cursor owed_at;

size_t logring_bytes_from(uint64_t seq)
{
	if (!R.count || seq >= R.next_seq)
		return 0;
	uint64_t from = seq < R.oldest_seq ? R.oldest_seq : seq;
	if (owed_at.seq > from || owed_at.seq < R.oldest_seq || owed_at.off + sizeof(struct rec_hdr) > R.size ||
	    at(&R, owed_at.off)->seq != owed_at.seq)
		logring_seek(&owed_at, from);
	while (owed_at.seq < from)
		logring_advance(&owed_at);
	return R.head > owed_at.off ? R.head - owed_at.off : R.size - owed_at.off + R.head;
}

size_t logring_size(void)
{
	return R.size;
}
