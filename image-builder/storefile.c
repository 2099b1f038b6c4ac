/* The store's files (storefile.h). */
#include "storefile.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A full buffer is written up to the last FILE_ALIGN boundary of the file
 * and the rest kept for the next write: the page cache then takes whole
 * folios, where a write that ends inside a new one makes the kernel zero
 * the rest of it before the next write copies over it (on ext4, 100 MB
 * in 65000-byte writes take 45 ms, in aligned 64 KiB ones 28, in 256 KiB
 * ones 23). */
#define FILE_BUF (256 * 1024)
#define FILE_ALIGN (64 * 1024)
_Static_assert(FILE_BUF - FILE_ALIGN >= STOREFILE_LINE_MAX, "a line fits after a partial write");
/* A file that fills buffers (a flood) has its blocks allocated ahead, this
 * much at a time, as journald does: a write into allocated blocks skips
 * ext4's per-block reservation (100 MB in 256 KiB writes: 26 ms, 18.5 with
 * this). What is left past the end is given back at close. */
#define PREALLOC (8 << 20)

/* Writes the first n bytes of the buffer. What the file took is taken
 * out of the buffer even when it took only part (a disk that filled up
 * meanwhile: a regular file takes what fits, then fails with ENOSPC), so
 * that a later write goes on from there: no byte twice, none lost. */
static int put(struct storefile *f, size_t n)
{
	size_t done = 0;
	int rc = 0;

	while (done < n) {
		ssize_t w = write(f->fd, f->buf + done, n - done);
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			rc = -1;
			break;
		}
		done += (size_t)w;
	}
	f->end += (off_t)done;
	int e = errno;
	memmove(f->buf, f->buf + done, f->len - done);
	f->len -= done;
	errno = e;
	return rc;
}

/* Writes the buffer out: all of it, or (whole = 0) up to the file's last
 * FILE_ALIGN boundary, keeping the rest. All of it goes as two writes,
 * the aligned part and the tail: a folio made for the tail alone is
 * smaller, and less of it is zeroed. */
static int write_out(struct storefile *f, int whole)
{
	size_t tail = (size_t)((f->end + (off_t)f->len) % FILE_ALIGN);
	size_t n = f->len > tail ? f->len - tail : f->len;

	if (!whole && f->alloc >= 0 && f->end + (off_t)n > f->alloc) {
		if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, f->end, PREALLOC) == 0)
			f->alloc = f->end + PREALLOC;
		else
			f->alloc = -1; /* not here: plain appends */
	}
	if (put(f, n) < 0 || (whole && put(f, f->len) < 0))
		return -1;
	return 0;
}

/* Frees the blocks past the end of the file, allocated ahead: a truncate
 * to its own size (a hole punched there is a no-op on ext4). Its size now,
 * not ours: a file someone else appends to loses nothing. */
static void give_back(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && ftruncate(fd, st.st_size) < 0) {
		/* only space: the file is whole either way */
	}
}

int storefile_open(struct storefile *f, int dirfd, const char *name)
{
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->len = 0;
	f->end = f->alloc = 0;
	if (!f->buf && !(f->buf = malloc(FILE_BUF)))
		return f->fd = -1;
	/* read too: a close that fails reads back where the last line ends */
	f->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f->fd < 0)
		return -1;
	f->end = lseek(f->fd, 0, SEEK_END);
	/* a reader killed in a flood (SIGKILL: no close) left blocks allocated */
	struct stat st;
	if (fstat(f->fd, &st) == 0 && (off_t)st.st_blocks * 512 > st.st_size + 2 * FILE_BUF)
		give_back(f->fd);
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

/* A close that could not write all out drops the rest, and with it the
 * line the disk took only part of: the file is cut back to its last whole
 * line, so the records sent again (nothing unwritten was acknowledged)
 * are not appended to a torn one. A line is at most STOREFILE_LINE_MAX. */
static void cut_to_whole_lines(struct storefile *f)
{
	static char tail[STOREFILE_LINE_MAX + 1];
	off_t from = f->end > (off_t)sizeof(tail) ? f->end - (off_t)sizeof(tail) : 0;
	ssize_t n = pread(f->fd, tail, (size_t)(f->end - from), from);
	const char *nl = n > 0 ? memrchr(tail, '\n', (size_t)n) : NULL;
	off_t keep = nl ? from + (nl - tail) + 1 : from;

	if (n >= 0 && keep < f->end && ftruncate(f->fd, keep) == 0)
		f->end = keep;
}

int storefile_close(struct storefile *f)
{
	int rc = 0;

	if (f->fd >= 0) {
		rc = storefile_flush(f);
		int e = errno;
		if (rc < 0)
			cut_to_whole_lines(f);
		if (f->alloc > f->end)
			give_back(f->fd);
		close(f->fd);
		errno = e;
	}
	f->fd = -1;
	f->len = 0;
	return rc;
}
