/* The log as a whole: the init's lines, its children's output, the
 * kernel's and syslog's records go into one ring (logbuf) and out to the
 * sinks (logsink). */
#ifndef AMPHI_LOGCORE_H
#define AMPHI_LOGCORE_H

#include "detect.h"
#include "recipe.h"

/* Records from now on: as early as PID 1 can, so boot lines are kept. */
void logcore_begin(void);
/* The sources and sinks, as the recipe's [log] says, overridden by
 * amphi.log= on the kernel command line (VM) or $AMPHI_LOG (container):
 * "ring=KIB,policy=auto|block|drop". The recipe's hostname names the
 * records; the boot id comes from the kernel. */
void logcore_start(const char *root, enum world world, const struct recipe *r);

/* Back-pressure: while a connected reader is owed a full ring, sources
 * stop reading (their writers wait). A source asks before each read, and
 * registers (once, up to four sources) how to resume once the reader has
 * caught up. */
int logcore_backpressure(void);
/* About how much a source may read now before logcore_backpressure()
 * would stop it (SIZE_MAX: no limit). */
size_t logcore_room(void);
void logcore_on_resume(void (*fn)(void));
/* The lines of one read share one reading of the clocks (under TCG a
 * clock read can be a trap to the host): between hold and release, records
 * take the time of the first one. */
void logcore_clock_hold(void);
void logcore_clock_release(void);
/* Before the machine goes down: the last records reach connected readers
 * (bounded; see logsink_flush). */
void logcore_flush(void);
/* The sinks made room: resume the sources if the pressure is gone. */
void logcore_maybe_resume(void);

#endif
