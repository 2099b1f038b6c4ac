/* The fallback when the appliance cannot start: say why on the console and
 * give the operator a shell there, respawned, while PID 1 keeps reaping.
 * Where there is no shell at all, that is said, and PID 1 waits. */
#ifndef AMPHI_EMERGENCY_H
#define AMPHI_EMERGENCY_H

void emergency_start(const char *reason);
/* Stop respawning (the system is going down). */
void emergency_stop(void);

#endif
