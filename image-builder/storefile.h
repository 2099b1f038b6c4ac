/* The files amphi logs stores records in (all.log and one per app):
 * appended to through a buffer of their own, in writes shaped for the page
 * cache. A write that fails is said by the caller (errno and the file's
 * name); the store is not to be trusted after it. */
#ifndef AMPHI_STOREFILE_H
#define AMPHI_STOREFILE_H

#include <stddef.h>
#include <sys/types.h>

#define STOREFILE_NAME_MAX 64
/* The most a caller may ask room for at once. */
#define STOREFILE_LINE_MAX (40 * 1024)

struct storefile {
	char name[STOREFILE_NAME_MAX];
	int fd;     /* -1: closed */
	char *buf;  /* kept across opens of the same slot */
	size_t len; /* bytes in buf */
	off_t end;  /* where the next write lands: the file's size */
	off_t alloc; /* blocks are allocated up to here; -1: cannot be */
};

/* Opens DIRFD/NAME to append to (O_NOFOLLOW): its fd, or -1 (errno). */
int storefile_open(struct storefile *f, int dirfd, const char *name);

/* Room for at least most (<= STOREFILE_LINE_MAX) bytes at the end of f's
 * buffer, or NULL (errno: a write to make room failed). */
char *storefile_room(struct storefile *f, size_t most);

/* The n bytes written at storefile_room's pointer are f's. */
void storefile_commit(struct storefile *f, size_t n);

/* Copies n bytes (<= STOREFILE_LINE_MAX) to the end of f. 0 or -1 (errno). */
int storefile_write(struct storefile *f, const char *s, size_t n);

/* Writes out all that is buffered: 0 or -1 (errno). */
int storefile_flush(struct storefile *f);

/* Flushes and closes f (if open). 0 or -1 (errno; f is closed anyway,
 * its name kept for the caller to say which file failed, and cut back to
 * its last whole line: what was not written is dropped whole). Callers
 * write whole lines. */
int storefile_close(struct storefile *f);

#endif
