/* User and group names from <root>/etc/passwd and <root>/etc/group, read
 * directly: libc's getpwnam would bring NSS and nscd plumbing into PID 1,
 * and a root prefix lets tests use fixture files. */
#ifndef AMPHI_USERS_H
#define AMPHI_USERS_H

#include <stddef.h>
#include <sys/types.h>

/* A name or a number. Fills uid, its primary gid and its home (when the
 * user is in passwd; a bare number gets gid = uid and home "/").
 * 0, or -ENOENT when the name is not there. */
int users_user(const char *root, const char *user, uid_t *uid, gid_t *gid, char *home, size_t homelen);
/* A name or a number. 0, or -ENOENT. */
int users_group(const char *root, const char *group, gid_t *gid);

#endif
