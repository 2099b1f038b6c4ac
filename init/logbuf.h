/* The record ring: every record of this boot, from every source, in one
 * bounded buffer with contiguous sequence numbers. Each sink reads it with
 * a cursor of its own; the oldest records go when it is full, and a cursor
 * that falls behind learns which sequence numbers it lost. */
#ifndef AMPHI_LOGBUF_H
#define AMPHI_LOGBUF_H

#include "logrec.h"

#include <stddef.h>
#include <stdint.h>


struct logbuf_cursor {
	uint64_t seq;   /* the next record this reader wants */
	size_t off;     /* where it was, a hint checked against seq */
};

/* Moves the ring to a new one of this size (from the recipe), keeping
 * what it holds and the sequence numbers. 0 or -errno (the old ring stays). */
int logbuf_resize(size_t bytes);

/* Appends a record (r->seq is assigned; long messages are split into
 * several records). Returns the seq of the last record written. */
uint64_t logbuf_append(struct logrec *r);
/* The next sequence number to be assigned (1 before anything). */
uint64_t logbuf_next_seq(void);
/* The oldest record still held (next_seq when empty). */
uint64_t logbuf_oldest_seq(void);

/* Puts c at seq (clamped to what is held). */
void logbuf_seek(struct logbuf_cursor *c, uint64_t seq);
/* The record at c, if any: 1 and r filled (r->msg points into the ring,
 * valid until the next append); 0 when c is at the end. If records c
 * wanted were dropped, c moves to the oldest and *lost_first and *lost_last
 * name them (else both 0). */
int logbuf_peek(struct logbuf_cursor *c, struct logrec *r, uint64_t *lost_first, uint64_t *lost_last);
void logbuf_advance(struct logbuf_cursor *c);

/* Records from seq on are still owed to a connected reader: while they
 * fill the ring, logbuf_pressure() says to stop reading sources (their
 * writers then wait) rather than drop them. UINT64_MAX: nobody waits. */
void logbuf_set_floor(uint64_t seq);
int logbuf_pressure(void);
/* About how many bytes of records may still come before pressure (each
 * record also takes a header); SIZE_MAX while nobody waits. */
size_t logbuf_room(void);
/* The ring's size; *owed, how much of it holds records a reader is still
 * owed (amphi-status's fill). */
size_t logbuf_size(size_t *owed);

#endif
