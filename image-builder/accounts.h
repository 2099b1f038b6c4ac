/* The users and groups of a staged tree (etc/passwd, etc/group, etc/shadow). */
#ifndef AMPHI_ACCOUNTS_H
#define AMPHI_ACCOUNTS_H

#include "manifest.h"

#include <stddef.h>

/* Over a tree that packages made: the skeleton's lines replace the tree's
 * lines of the same name (root's password and shell), the packages' own
 * users (www-data, ...) stay, and the skeleton's others are added. */
int accounts_merge(struct manifest *m, const char *skeleton, char *err, size_t errlen);

/* A user's or group's number in the tree: a name in its etc/passwd or
 * etc/group, or a number. -1 if the tree has no such name. */
int accounts_id(struct manifest *m, const char *file, const char *name, unsigned *id);

/* A user's number and primary group in the tree's etc/passwd (or a
 * number, with its own number as group). -1 if there is no such user. */
int accounts_user(struct manifest *m, const char *name, unsigned *uid, unsigned *gid);

#endif
