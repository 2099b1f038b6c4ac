/* The log's wiring: it starts each part as the recipe says (the ring's
 * size, flow control, the sources, the sinks, followed files) and runs
 * what each turn of the loop owes the log. The parts never call it. */
#ifndef AMPHI_LOGSETUP_H
#define AMPHI_LOGSETUP_H

#include "detect.h"
#include "recipe.h"

/* Before the loop runs: once per turn, new records go out to the sinks
 * and a console that stopped taking lines is tried again. */
void logsetup_begin(void);
/* The sources and sinks, as the recipe's [log] says, overridden by
 * amphi.log= on the kernel command line (VM) or $AMPHI_LOG (container):
 * "ring=KIB,policy=auto|block|drop". The recipe's hostname names the
 * records; the boot id comes from the kernel. */
void logsetup_start(const char *root, enum world world, const struct recipe *r);
/* Before the machine goes down: the last records reach connected readers
 * (bounded; see logsink_flush). */
void logsetup_flush(void);

#endif
