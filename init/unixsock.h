/* A listening unix stream socket of PID 1's, in the loop: the log's and
 * the guest agent's in the container's host directory. */
#ifndef AMPHI_UNIXSOCK_H
#define AMPHI_UNIXSOCK_H

#include "loop.h"

#include <sys/types.h>

/* Replaces what an earlier boot left at path; mode (0: as umask leaves
 * it) before anyone may connect; fn gets the listening fd's events.
 * Returns the fd, or -errno. */
int unixsock_listen(const char *path, mode_t mode, loop_fd_fn fn, void *data);

#endif
