/* image-builder/storefile.c: a store file gets every byte once, in order;
 * the writes a full buffer makes end on a 64 KiB boundary of the file (so
 * the page cache takes whole folios); blocks allocated ahead are given
 * back; a failed or short write is an error with errno, never a silent
 * loss. write(2) is wrapped to watch each one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "storefile.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALIGN (64 * 1024)

static int spied_fd = -1;
static int fail_with;            /* errno the next write fails with; 0: none */
static int short_by;             /* the next write takes this many bytes less */
static int then_fail;            /* errno the writes after that short one fail with */
static size_t writes, unaligned; /* writes to spied_fd; of them, ending off a boundary */

ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
	if (fd != spied_fd)
		return __real_write(fd, buf, len);
	if (fail_with) {
		errno = fail_with;
		return -1;
	}
	if (short_by) {
		len -= (size_t)short_by;
		short_by = 0;
		fail_with = then_fail;
		then_fail = 0;
	}
	struct stat st;
	fstat(fd, &st);
	ssize_t n = __real_write(fd, buf, len);
	writes++;
	if (n > 0 && (st.st_size + n) % ALIGN)
		unaligned++;
	return n;
}

static char dir[64];
static int dirfd_ = -1;

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/amphi-test-storefile-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	return dirfd_ < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	close(dirfd_);
	return remove_tree(dir);
}

static void reset_spy(void)
{
	fail_with = short_by = then_fail = 0;
	writes = unaligned = 0;
}

/* Bytes of blocks the file has past its size. */
static long long allocated_past_end(const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd_, name, &st, 0), 0);
	return (long long)st.st_blocks * 512 - (long long)st.st_size;
}

/* What a line i holds: its length and bytes vary, so cuts fall anywhere. */
static size_t make_line(char *out, unsigned i)
{
	size_t n = 1 + (i * 7919u) % 3000u;
	for (size_t k = 0; k < n; k++)
		out[k] = (char)('a' + (i + k) % 26);
	out[n - 1] = '\n';
	return n;
}

static void test_every_byte_once_in_order_and_full_buffers_aligned(void **state)
{
	(void)state;
	struct storefile f = { .fd = -1 };
	static char expect[10 << 20]; /* over 8 MiB: a second allocation ahead, mostly unused at close */
	size_t total = 0;
	char line[3000];

	reset_spy();
	/* a file that is not empty: the boundaries are the file's, not ours */
	int pre = openat(dirfd_, "a.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(pre, "12345", 5), 5);
	close(pre);
	memcpy(expect, "12345", 5);
	total = 5;
	spied_fd = storefile_open(&f, dirfd_, "a.log");
	assert_true(spied_fd >= 0);
	for (unsigned i = 0; total < (9 << 20); i++) {
		size_t n = make_line(line, i);
		if (i % 2) { /* as store() does: made in place */
			char *at = storefile_room(&f, n);
			assert_non_null(at);
			memcpy(at, line, n);
			storefile_commit(&f, n);
		} else {
			assert_int_equal(storefile_write(&f, line, n), 0);
		}
		memcpy(expect + total, line, n);
		total += n;
	}
	assert_true(writes > 20);
	assert_int_equal(unaligned, 0); /* only full buffers were written so far */
	assert_int_equal(storefile_close(&f), 0);
	spied_fd = -1;
	assert_true(allocated_past_end("a.log") < 64 * 1024); /* what was allocated ahead is given back */

	char path[128];
	size_t got;
	snprintf(path, sizeof(path), "%s/a.log", dir);
	char *text = read_text(path, &got);
	assert_non_null(text);
	assert_int_equal(got, total);
	assert_memory_equal(text, expect, total);
	free(text);
	free(f.buf);
}

/* A reader killed in a flood leaves blocks allocated past the end: the
 * next open gives them back. */
static void test_open_gives_back_blocks_allocated_ahead(void **state)
{
	(void)state;
	struct storefile f = { .fd = -1 };
	int fd = openat(dirfd_, "k.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_int_equal(write(fd, "x\n", 2), 2);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8 << 20) < 0) {
		close(fd);
		skip(); /* a file system without it: nothing to give back */
	}
	close(fd);
	assert_true(allocated_past_end("k.log") >= 4 << 20);
	assert_true(storefile_open(&f, dirfd_, "k.log") >= 0);
	assert_true(allocated_past_end("k.log") < 64 * 1024);
	assert_int_equal(storefile_close(&f), 0);
	free(f.buf);
}

static void test_a_flush_writes_everything(void **state)
{
	(void)state;
	struct storefile f = { .fd = -1 };
	struct stat st;

	reset_spy();
	spied_fd = storefile_open(&f, dirfd_, "b.log");
	assert_int_equal(storefile_write(&f, "one\n", 4), 0);
	assert_int_equal(writes, 0); /* buffered */
	assert_int_equal(storefile_flush(&f), 0);
	assert_int_equal(fstat(f.fd, &st), 0);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(f.len, 0);
	assert_int_equal(storefile_close(&f), 0);
	spied_fd = -1;
	free(f.buf);
}

static void test_failed_and_short_writes_are_errors(void **state)
{
	(void)state;
	struct storefile f = { .fd = -1 };
	char line[3000];

	reset_spy();
	spied_fd = storefile_open(&f, dirfd_, "c.log");
	assert_int_equal(storefile_write(&f, "x\n", 2), 0);
	fail_with = EIO;
	errno = 0;
	assert_int_equal(storefile_flush(&f), -1);
	assert_int_equal(errno, EIO);

	/* a full buffer whose write the disk takes only part of, and then
	 * nothing (it is full): the rest of the write is tried, and fails */
	fail_with = 0;
	short_by = 1;
	then_fail = ENOSPC;
	char *at = NULL;
	for (unsigned i = 0; i < 10000 && (at = storefile_room(&f, sizeof(line))); i++)
		storefile_commit(&f, make_line(at, i));
	assert_null(at);
	assert_int_equal(errno, ENOSPC);

	fail_with = ENOSPC;
	assert_int_equal(storefile_close(&f), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(f.fd, -1);
	spied_fd = -1;
	free(f.buf);
}

/* A disk that fills up takes part of a write, then nothing: the part it
 * took is not written again, and once there is room the rest follows. */
static void a_write_the_disk_took_in_part_goes_on_where_it_stopped(void **state)
{
	(void)state;
	struct storefile f = { .fd = -1 };
	char want[64 * 40 + 1] = "", *text;

	reset_spy();
	spied_fd = storefile_open(&f, dirfd_, "d.log");
	for (int i = 0; i < 40; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "line %02d of the store, to be written once\n", i);
		assert_int_equal(storefile_write(&f, line, (size_t)n), 0);
		strcat(want, line);
	}
	short_by = 1000;
	then_fail = ENOSPC;
	assert_int_equal(storefile_flush(&f), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(storefile_flush(&f), -1); /* still full */
	fail_with = 0;
	assert_int_equal(storefile_flush(&f), 0);
	assert_int_equal(storefile_close(&f), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/d.log", dir);
	text = read_text(path, NULL);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
	spied_fd = -1;
	free(f.buf);
}

/* A close on a full disk drops what it could not write, and the line the
 * disk took a part of: the file ends on a whole line, so the same records
 * stored again later (the guest sends them again) follow it cleanly. */
static void a_close_on_a_full_disk_leaves_whole_lines(void **state)
{
	(void)state;
	struct storefile f = { .fd = -1 };
	char path[128], *text;

	reset_spy();
	spied_fd = storefile_open(&f, dirfd_, "e.log");
	assert_int_equal(storefile_write(&f, "0.01 service web: one\n", 22), 0);
	assert_int_equal(storefile_flush(&f), 0);
	assert_int_equal(storefile_write(&f, "0.02 service web: two\n", 22), 0);
	assert_int_equal(storefile_write(&f, "0.03 service web: three\n", 24), 0);
	short_by = 36; /* the disk takes "0.02 servi" and then nothing */
	then_fail = ENOSPC;
	assert_int_equal(storefile_close(&f), -1);
	assert_int_equal(errno, ENOSPC);
	fail_with = 0;
	spied_fd = storefile_open(&f, dirfd_, "e.log");
	assert_int_equal(storefile_write(&f, "0.02 service web: two\n", 22), 0);
	assert_int_equal(storefile_close(&f), 0);
	snprintf(path, sizeof(path), "%s/e.log", dir);
	text = read_text(path, NULL);
	assert_non_null(text);
	assert_string_equal(text, "0.01 service web: one\n0.02 service web: two\n");
	free(text);
	spied_fd = -1;
	free(f.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_once_in_order_and_full_buffers_aligned),
		cmocka_unit_test(test_open_gives_back_blocks_allocated_ahead),
		cmocka_unit_test(test_a_flush_writes_everything),
		cmocka_unit_test(test_failed_and_short_writes_are_errors),
		cmocka_unit_test(a_write_the_disk_took_in_part_goes_on_where_it_stopped),
		cmocka_unit_test(a_close_on_a_full_disk_leaves_whole_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
