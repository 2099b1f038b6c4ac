/* The store's files (storefile.h). */
#include "storefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A full buffer is written up to the last FILE_ALIGN boundary of the file
 * and the rest kept for the next write: the page cache then takes whole
 * folios, where a write that ends inside a new one makes the kernel zero
 * the rest of it before the next write copies over it (measured on ext4:
 * 100 MB in 65000-byte writes took 45 ms, in aligned 64 KiB ones 28, in
 * 256 KiB ones 23). */
#define FILE_BUF (256 * 1024)
#define FILE_ALIGN (64 * 1024)
_Static_assert(FILE_BUF - FILE_ALIGN >= STOREFILE_LINE_MAX, "a line fits after a partial write");

/* A regular file takes all of a write or fails (short: the disk is full). */
static int put(struct storefile *f, const char *s, size_t n)
{
	ssize_t w = n ? write(f->fd, s, n) : 0;

	if (w >= 0 && (size_t)w != n)
		errno = ENOSPC;
	if (w < 0 || (size_t)w != n)
		return -1;
	f->end += (off_t)n;
	return 0;
}

/* Writes the buffer out: all of it, or (whole = 0) up to the file's last
 * FILE_ALIGN boundary, keeping the rest. All of it goes as two writes,
 * the aligned part and the tail: a folio made for the tail alone is
 * smaller, and less of it is zeroed. */
static int write_out(struct storefile *f, int whole)
{
	size_t tail = (size_t)((f->end + (off_t)f->len) % FILE_ALIGN);
	size_t n = f->len > tail ? f->len - tail : f->len;

	if (put(f, f->buf, n) < 0 || (whole && put(f, f->buf + n, f->len - n) < 0))
		return -1;
	if (whole)
		n = f->len;
	memmove(f->buf, f->buf + n, f->len - n);
	f->len -= n;
	return 0;
}

int storefile_open(struct storefile *f, int dirfd, const char *name)
{
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->len = 0;
	f->end = 0;
	if (!f->buf && !(f->buf = malloc(FILE_BUF)))
		return f->fd = -1;
	f->fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f->fd >= 0)
		f->end = lseek(f->fd, 0, SEEK_END);
	return f->fd;
}

char *storefile_room(struct storefile *f, size_t most)
{
	if (f->len + most > FILE_BUF && write_out(f, 0) < 0)
		return NULL;
	return f->buf + f->len;
}

void storefile_commit(struct storefile *f, size_t n)
{
	f->len += n;
}

int storefile_write(struct storefile *f, const char *s, size_t n)
{
	char *at = storefile_room(f, n);

	if (!at)
		return -1;
	memcpy(at, s, n);
	f->len += n;
	return 0;
}

int storefile_flush(struct storefile *f)
{
	return write_out(f, 1);
}

int storefile_close(struct storefile *f)
{
	int rc = 0;

	if (f->fd >= 0) {
		rc = storefile_flush(f);
		int e = errno;
		close(f->fd);
		errno = e;
	}
	f->fd = -1;
	f->len = 0;
	f->name[0] = 0;
	return rc;
}
