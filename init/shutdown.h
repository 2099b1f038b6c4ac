/* The stop sequence: TERM everyone, a bounded wait, KILL, sync, unmount
 * (VM), then reboot(2). In a container reboot(2) ends the PID namespace and
 * the manager reads halt/power-off or restart from how it ended. */
#ifndef AMPHI_SHUTDOWN_H
#define AMPHI_SHUTDOWN_H

#include "detect.h"

enum stop_action { STOP_POWEROFF, STOP_HALT, STOP_REBOOT };

void shutdown_init(enum world world, int timeout_s);
void shutdown_begin(enum stop_action action, const char *why);

#endif
