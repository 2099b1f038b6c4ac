/* Starting a child the way PID 1 must: signals back to default, a clean
 * mask, and (for shells) a session with the console as controlling tty. */
#ifndef AMPHI_SPAWN_H
#define AMPHI_SPAWN_H

#include <sys/types.h>

/* Returns the child's pid, or -errno. The child exits 127 if exec fails. */
pid_t spawn(char *const argv[], int with_console_tty);

#endif
