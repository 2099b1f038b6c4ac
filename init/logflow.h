/* Flow control between the log's sources and its readers. Sinks say what
 * a connected reader is still owed (the floor); sources ask before each
 * read whether to hold off (their writers then wait in write(2), the
 * kernel keeps kmsg) and register how to resume. It depends only on the
 * ring (logring) and the loop: sources and sinks call down into it. */
#ifndef AMPHI_LOGFLOW_H
#define AMPHI_LOGFLOW_H

#include <stddef.h>
#include <stdint.h>

/* Room kept free under pressure: what a source may still append after it
 * last saw none, i.e. one line, one syslog datagram or one kmsg record (8
 * KiB at most, then split into records), the init's own lines meanwhile,
 * and a wrap. */
#define LOGFLOW_HEADROOM (3 * 8192)
/* At most this many sources register a resume (service pipes, /dev/log and
 * /dev/kmsg, followed files): a fifth is a bug, said once. */
#define LOGFLOW_SOURCES 4

/* Records from seq on are still owed to a reader: while they fill the
 * ring, sources hold off rather than the ring drop them. UINT64_MAX:
 * nobody waits. Sources held back resume here once the pressure is gone. */
void logflow_set_floor(uint64_t seq);
/* Policy drop: a full ring holds the sources for one turn of the loop
 * (the sinks send what their readers take), then they go on and the
 * oldest records go, until the readers have caught up again. */
void logflow_set_drop(int on);
/* 1: a source must not read now. */
int logflow_hold(void);
/* About how many bytes of records a source may append before it would be
 * held (each record also takes a header); SIZE_MAX: no limit. */
size_t logflow_room(void);
/* fn runs when held sources may read again (once per source). */
void logflow_on_resume(void (*fn)(void));
/* How much of the ring holds records a reader is still owed. */
size_t logflow_owed(void);

#endif
