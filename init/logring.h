/* The record ring: every record of this boot, from every source, in one
 * bounded buffer with contiguous sequence numbers. Each sink reads it with
 * a cursor of its own; the oldest records go when it is full, and a cursor
 * that falls behind learns which sequence numbers it lost. */
#ifndef AMPHI_LOGRING_H
#define AMPHI_LOGRING_H

#include "logrec.h"

#include <stddef.h>
#include <stdint.h>


struct logring_cursor {
	uint64_t seq;   /* the next record this reader wants */
	size_t off;     /* where it was, a hint checked against seq */
};

/* Moves the ring to a new one of this size (from the recipe), keeping
 * what it holds and the sequence numbers. 0 or -errno (the old ring stays). */
int logring_resize(size_t bytes);

/* Appends a record (r->seq is assigned; long messages are split into
 * several records). Returns the seq of the last record written. */
uint64_t logring_append(struct logrec *r);
/* The next sequence number to be assigned (1 before anything). */
uint64_t logring_next_seq(void);
/* The oldest record still held (next_seq when empty). */
uint64_t logring_oldest_seq(void);

/* Puts c at seq (clamped to what is held). */
void logring_seek(struct logring_cursor *c, uint64_t seq);
/* The record at c, if any: 1 and r filled (r->msg points into the ring,
 * valid until the next append); 0 when c is at the end. If records c
 * wanted were dropped, c moves to the oldest and *lost_first and *lost_last
 * name them (else both 0). */
int logring_peek(struct logring_cursor *c, struct logrec *r, uint64_t *lost_first, uint64_t *lost_last);
void logring_advance(struct logring_cursor *c);

/* Bytes from the record seq (or the oldest held, if seq went) to the
 * newest one's end: what keeping seq on takes of the ring. 0 when no
 * record from seq on is held. */
size_t logring_bytes_from(uint64_t seq);
size_t logring_size(void);

#endif
