/* Sockets and FIFOs in a directory a guest can write (a container's host
 * directory, bind-mounted into it): root there may have put a symbolic
 * link, a device or a file of the wrong kind in place of what the host
 * expects. These never follow a link at the last component and never
 * open (nor connect to) an inode of another type than asked for. */
#ifndef AMPHI_GUESTPATH_H
#define AMPHI_GUESTPATH_H

#include <sys/types.h>

/* What an inode of mode is, for messages: "a symbolic link", "a FIFO"... */
const char *guestpath_kind(mode_t mode);

/* The inode at path opened with flags (O_RDONLY | O_NONBLOCK ...) if it is
 * of type (S_IFIFO...): its fd, or -errno; -EMEDIUMTYPE if it is of
 * another type, which *found then says (a link is not followed: S_IFLNK). */
int guestpath_open(const char *path, mode_t type, int flags, mode_t *found);

/* A nonblocking unix stream socket connected to the socket at path, or
 * -errno; -EMEDIUMTYPE (and *found) as guestpath_open. */
int guestpath_connect(const char *path, mode_t *found);

#endif
