/* init/logsink.c, in a container world on a fixture root: the amphi
 * stream on the host directory's socket, Anaconda text on its FIFO. The
 * event loop is a fake that remembers callbacks and lets a test fire
 * them; write(2) is wrapped (-Wl,--wrap=write) to see each write's size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "logring.h"
#include "log.h"
#include "logsink.h"
#include "fakeloop.h"
#include "logread.h"
#include "testutil.h"

/* ---- what logsink needs of log.c (the loop is tests/unit/fakeloop.c) ---- */

void log_msg(enum log_level level, const char *fmt, ...) {}

/* Every write logsink makes to the fd under watch, by size. */
static int spied_fd = -1;
static size_t spied_writes, spied_max, spied_bytes;

ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
	ssize_t n = __real_write(fd, buf, len);
	if (fd == spied_fd && n > 0) {
		spied_writes++;
		spied_bytes += (size_t)n;
		if (len > spied_max)
			spied_max = len;
	}
	return n;
}

/* ---- fixture ---- */

static char root[64], hostdir[PATH_MAX], sockpath[PATH_MAX], fifopath[PATH_MAX];
static int listen_fd = -1;

/* The watched fd that is not the listener: the sink's connection. */
static struct fakeloop_fd *sink_conn(void)
{
	for (size_t i = 0; i < FAKELOOP_SLOTS; i++)
		if (fakeloop_fds[i].fn && fakeloop_fds[i].fd != listen_fd)
			return &fakeloop_fds[i];
	return NULL;
}

/* The loop reports events on the sink's connection, which its reader has
 * left: the sink lets it go. */
static void hang_up(uint32_t events)
{
	struct fakeloop_fd *w = sink_conn();
	assert_non_null(w);
	w->fn(w->fd, events, w->data);
	assert_null(sink_conn());
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);  /* as in PID 1: a reader gone is EPIPE */
	snprintf(root, sizeof(root), "/tmp/amphi-logsink-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* root/var/lib/amphi/host, one level at a time */
	const char *levels[] = { "/var", "/lib", "/amphi", "/host" };
	snprintf(hostdir, sizeof(hostdir), "%s", root);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		strcat(hostdir, levels[i]);
		if (mkdir(hostdir, 0755) < 0)
			return -1;
	}
	snprintf(sockpath, sizeof(sockpath), "%s/%s", hostdir, LOGSINK_SOCKET);
	snprintf(fifopath, sizeof(fifopath), "%s/%s", hostdir, LOGSINK_FIFO);
	if (logring_resize(4 * 1024 * 1024) < 0)
		return -1;
	logsink_start(root, WORLD_CONTAINER, "unit", "0f0e0d0c-0b0a-4909-8807-060504030201");
	for (size_t i = 0; i < FAKELOOP_SLOTS; i++)
		if (fakeloop_fds[i].fn)
			listen_fd = fakeloop_fds[i].fd;  /* the socket's listener: the only fd so far */
	return listen_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return remove_tree(root);
}

static void add_lines(int from, int count, size_t pad)
{
	char msg[LOGREC_MSG_MAX];
	for (int i = from; i < from + count; i++) {
		int n = snprintf(msg, sizeof(msg), "line %d ", i);
		memset(msg + n, 'a' + i % 26, pad);
		struct logrec r = { .pri = 30, .source = LOGSRC_SERVICE, .msg = msg, .msglen = (size_t)n + pad };
		snprintf(r.app, sizeof(r.app), "flood");
		logring_append(&r);
	}
	logsink_send();
}

/* Drains fd (nonblocking) into buf, firing the sink's EPOLLOUT between
 * reads, until the sink has nothing more to send. Returns the bytes read. */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	for (int idle = 0; idle < 3;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n > 0) {
			len += (size_t)n;
			idle = 0;
		} else {
			assert_true(n < 0 && errno == EAGAIN);
			idle++;
		}
		assert_true(len < cap);
		struct fakeloop_fd *w = sink_conn();
		if (w && (w->events & EPOLLOUT))
			w->fn(w->fd, EPOLLOUT, w->data);
	}
	return len;
}

static int connect_stream(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sockpath);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct fakeloop_fd *l = fakeloop_find_fd(listen_fd);
	l->fn(l->fd, EPOLLIN, l->data);  /* the loop saw the listener readable */
	return fd;
}

/* Parses every frame of buf; returns the number of frames and the first
 * and last seq, failing on a gap or a broken frame. */
static int frames(const char *buf, size_t len, uint64_t *first, uint64_t *last)
{
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char why[128];
	int count = 0, rc;

	logrec_reader_init(&rd);
	for (size_t off = 0; off < len;) {
		off += logrec_reader_feed(&rd, buf + off, len - off);
		while ((rc = logrec_reader_next(&rd, &p, why, sizeof(why))) == 1) {
			if (count++ == 0)
				*first = p.seq;
			else
				assert_int_equal(p.seq, *last + 1);
			*last = p.seq;
		}
		assert_int_equal(rc, 0);
	}
	return count;
}

/* ---- tests ---- */

/* A virtio port takes at most 32 KiB a write: a batch one frame over it
 * goes out as two writes, the second a trip to the host for one frame.
 * Every write stays within 32 KiB, and every record arrives once, in
 * order. */
static void test_batches_fit_one_port_write(void **state)
{
	static char buf[4 * 1024 * 1024];
	uint64_t first = 0, last = 0;

	(void)state;
	int c = connect_stream();
	struct fakeloop_fd *w = sink_conn();
	assert_non_null(w);
	spied_fd = w->fd;
	spied_writes = spied_max = spied_bytes = 0;

	add_lines(1, 3000, 300);  /* ~1 MiB: far more than the socket buffer */
	size_t len = drain(c, buf, sizeof(buf));

	assert_int_equal(len, spied_bytes);
	assert_true(spied_max <= 32 * 1024);
	assert_true(spied_max > 24 * 1024);  /* and batches are full: few writes */
	/* (a full socket buffer can take part of a batch: a second write) */
	assert_true(spied_writes <= 2 * (len / (24 * 1024) + 1));
	assert_int_equal(frames(buf, len, &first, &last), 3000);
	assert_int_equal(first, 1);
	assert_int_equal(last, 3000);
	spied_fd = -1;
	close(c);
	hang_up(EPOLLIN);  /* reads EOF */
}

/* A stream reader that comes back gets everything after its last ACK,
 * even what the last connection had been sent already. */
static void test_stream_reader_resumes_after_its_ack(void **state)
{
	static char buf[4 * 1024 * 1024];
	uint64_t first = 0, last = 0;
	char ack[32];

	(void)state;
	int c = connect_stream();
	struct fakeloop_fd *w = sink_conn();
	size_t len = drain(c, buf, sizeof(buf));
	assert_int_equal(frames(buf, len, &first, &last), 3000);  /* never acked: all again */
	assert_int_equal(first, 1);

	int n = logrec_ack_format(1234, ack, sizeof(ack));
	assert_int_equal(write(c, ack, (size_t)n), n);
	w->fn(w->fd, EPOLLIN, w->data);
	close(c);
	hang_up(EPOLLIN);

	add_lines(3001, 10, 10);
	c = connect_stream();
	len = drain(c, buf, sizeof(buf));
	assert_int_equal(frames(buf, len, &first, &last), 3010 - 1234);
	assert_int_equal(first, 1235);
	assert_int_equal(last, 3010);
	close(c);
	hang_up(EPOLLIN);
}

/* Looks for "line N " in a text line. */
static int line_number(const char *line, size_t len)
{
	const char *p = memmem(line, len, " flood:line ", 12);
	return p ? atoi(p + 12) : -1;
}

/* A text reader that goes away in the middle of a batch: the next one
 * gets that batch again from its first record, so between the two nothing
 * is missing (text has no ACK; a repeat is better than a hole). */
static void test_text_reader_gone_mid_batch_loses_nothing(void **state)
{
	static char one[1024 * 1024], two[4 * 1024 * 1024];

	(void)state;
	assert_int_equal(mkfifo(fifopath, 0600), 0);
	int r = open(fifopath, O_RDONLY | O_NONBLOCK);
	assert_true(r >= 0);
	/* One page of pipe: the first batch cannot go in one write. */
	assert_int_equal(fcntl(r, F_SETPIPE_SZ, 4096), 4096);
	logsink_ports_changed();  /* the recheck finds the FIFO: all of the ring so far */
	struct fakeloop_fd *w = sink_conn();
	assert_non_null(w);
	assert_true(w->events & EPOLLOUT);  /* the pipe filled up mid-batch */

	/* The first reader takes one pipe's worth and goes. */
	ssize_t n1 = read(r, one, sizeof(one));
	assert_true(n1 > 0);
	close(r);
	hang_up(EPOLLOUT | EPOLLERR);

	/* The last whole line the first reader got. */
	size_t end = (size_t)n1;
	while (end > 0 && one[end - 1] != '\n')
		end--;
	assert_true(end > 0);
	size_t start = end - 1;
	while (start > 0 && one[start - 1] != '\n')
		start--;
	int got = line_number(one + start, end - start);
	assert_true(got > 0 && got < 3000);

	r = open(fifopath, O_RDONLY | O_NONBLOCK);
	assert_true(r >= 0);
	logsink_ports_changed();
	size_t len = drain(r, two, sizeof(two));
	close(r);

	/* The second reader starts at or before the first one's next line and
	 * goes on, in order, to the last. */
	int expect = -1;
	for (size_t s = 0; s < len;) {
		char *nl = memchr(two + s, '\n', len - s);
		assert_non_null(nl);
		int num = line_number(two + s, (size_t)(nl - (two + s)));
		assert_true(num > 0);
		if (expect < 0)
			assert_true(num <= got + 1);
		else
			assert_int_equal(num, expect);
		expect = num + 1;
		s = (size_t)(nl - two) + 1;
	}
	assert_int_equal(expect, 3011);
	hang_up(EPOLLOUT | EPOLLERR);
	unlink(fifopath);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches_fit_one_port_write),
		cmocka_unit_test(test_stream_reader_resumes_after_its_ack),
		cmocka_unit_test(test_text_reader_gone_mid_batch_loses_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
