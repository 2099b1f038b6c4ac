/* image-builder/logconn.c: where amphi logs takes its streams from, against
 * unix sockets and FIFOs in a temporary directory: a connect retried with
 * --follow until the guest's socket appears (said once), a planted link
 * refused, --listen replacing a dead reader's socket, when a reader goes
 * on after a stream and when it stops, and SIGTERM ending every wait. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "logconn.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64], sock[128], fifo[128];
static struct logconn c;

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(strcpy(dir, "/tmp/amphi-test-logconn-XXXXXX")))
		return -1;
	snprintf(sock, sizeof(sock), "%s/amphi.sock", dir);
	snprintf(fifo, sizeof(fifo), "%s/anaconda.fifo", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return remove_tree(dir);
}

/* A fresh reader of the given source, its signals set up; nothing of an
 * earlier test left at the paths. */
static void open_conn(const char *connect, const char *listen, const char *fifo_path, int follow)
{
	unlink(sock);
	unlink(fifo);
	memset(&c, 0, sizeof(c));
	c.connect = connect, c.listen = listen, c.fifo = fifo_path, c.follow = follow, c.quiet = 1;
	c.hint = "; is the guest running?";
	assert_int_equal(logconn_init(&c), 0);
	assert_int_equal(logconn_open(&c), 0);
}

/* Takes a pending SIGTERM off the signalfd, so the next test starts
 * without one. */
static void close_conn(void)
{
	struct signalfd_siginfo si;

	while (read(c.sigfd, &si, sizeof(si)) == sizeof(si))
		;
	logconn_close(&c);
}

static int listening_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What fn wrote to stderr while it ran, into out. */
static void capture_stderr(void (*fn)(void), char *out, size_t len)
{
	char path[128];
	int saved = dup(2), fd;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
}

static void test_connect_reaches_the_socket(void **state)
{
	(void)state;
	open_conn(sock, NULL, NULL, 0);
	int server = listening_socket(sock);
	int fd = logconn_next(&c);
	assert_true(fd >= 0);
	int peer = accept(server, NULL, NULL);
	assert_int_equal(write(peer, "x", 1), 1);
	char b;
	assert_true(logconn_wait_signal(&c, fd, 1000) == 0);
	assert_int_equal(read(fd, &b, 1), 1);
	assert_int_equal(b, 'x');
	close(peer), close(fd), close(server);
	close_conn();
}

static int next_fd;
static void next_into_fd(void)
{
	next_fd = logconn_next(&c);
}

static void test_no_guest_without_follow_is_said_and_stops_with_1(void **state)
{
	char err[1024];

	(void)state;
	open_conn(sock, NULL, NULL, 0);
	capture_stderr(next_into_fd, err, sizeof(err));
	assert_int_equal(next_fd, -1);
	assert_int_equal(c.status, 1);
	assert_non_null(strstr(err, "amphi logs: connect "));
	assert_non_null(strstr(err, ": No such file or directory; is the guest running?\n"));
	assert_null(strstr(err, "retrying"));
	close_conn();
}

/* The guest's socket appears 300 ms late: the reader retries every 200 ms
 * and says so once, not once per try. */
static void test_follow_retries_until_the_socket_appears_said_once(void **state)
{
	char err[1024];

	(void)state;
	open_conn(sock, NULL, NULL, 1);
	pid_t guest = fork();
	assert_true(guest >= 0);
	if (guest == 0) {
		usleep(300 * 1000);
		int server = listening_socket(sock);
		int peer = accept(server, NULL, NULL);
		_exit(peer >= 0 && write(peer, "y", 1) == 1 ? 0 : 1);
	}
	capture_stderr(next_into_fd, err, sizeof(err));
	assert_true(next_fd >= 0);
	char b;
	assert_int_equal(logconn_wait_signal(&c, next_fd, 5000), 0);
	assert_int_equal(read(next_fd, &b, 1), 1);
	int status;
	assert_int_equal(waitpid(guest, &status, 0), guest);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(next_fd);
	char *said = strstr(err, "; retrying every 200 ms\n");
	assert_non_null(said);
	assert_null(strstr(said + strlen("; retrying"), "retrying"));
	close_conn();
}

static void test_a_signal_ends_the_retries_with_0(void **state)
{
	(void)state;
	open_conn(sock, NULL, NULL, 1);
	kill(getpid(), SIGTERM); /* blocked: it waits on the signalfd */
	assert_int_equal(logconn_next(&c), -1);
	assert_int_equal(c.status, 0);
	close_conn();
}

static void test_a_planted_link_is_refused_without_the_hint(void **state)
{
	char why[512], target[128];
	int refused = 0;

	(void)state;
	unlink(sock);
	snprintf(target, sizeof(target), "%s/real.sock", dir);
	int server = listening_socket(target);
	assert_int_equal(symlink(target, sock), 0);
	assert_int_equal(logconn_connect(sock, why, sizeof(why), &refused), -1);
	assert_int_equal(refused, 1);
	assert_non_null(strstr(why, "a symbolic link, not a socket; amphi never follows a link"));
	close(server);
	unlink(target);
	unlink(sock);
}

static void test_listen_replaces_a_dead_readers_socket_and_accepts(void **state)
{
	struct stat st;

	(void)state;
	close(listening_socket(sock)); /* the file stays; nobody answers on it */
	memset(&c, 0, sizeof(c));
	c.listen = sock;
	assert_int_equal(logconn_init(&c), 0);
	assert_int_equal(c.follow, 1);
	assert_int_equal(logconn_open(&c), 0);
	int guest = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(guest, (struct sockaddr *)&c.addr, sizeof(c.addr)), 0);
	int fd = logconn_next(&c);
	assert_true(fd >= 0);
	close(fd), close(guest);
	logconn_close(&c);
	assert_int_equal(lstat(sock, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_listen_path_too_long_for_a_socket_is_refused(void **state)
{
	char path[200];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memset(&c, 0, sizeof(c));
	c.listen = path;
	assert_int_equal(logconn_init(&c), -1);
}

/* What follows a stream: stop (and with what status) or go on. */
static void test_after_a_stream(void **state)
{
	(void)state;
	open_conn(sock, NULL, NULL, 0);
	assert_int_equal(logconn_again(&c, LOGCONN_CLOSED), 0);
	assert_int_equal(c.status, 0);
	assert_int_equal(logconn_again(&c, LOGCONN_BROKEN), 0);
	assert_int_equal(c.status, 1);
	assert_int_equal(logconn_again(&c, LOGCONN_AGAIN), 1);
	c.follow = 1;
	assert_int_equal(logconn_again(&c, LOGCONN_STOP), 0);
	assert_int_equal(c.status, 0);
	assert_int_equal(logconn_again(&c, LOGCONN_FATAL), 0);
	assert_int_equal(c.status, 1);
	assert_int_equal(logconn_again(&c, LOGCONN_FULL), 0);
	assert_int_equal(c.status, 1);
	/* a guest that keeps breaking the protocol: 5 tries a second */
	long long t0 = now_ms();
	assert_int_equal(logconn_again(&c, LOGCONN_BROKEN), 1);
	assert_true(now_ms() - t0 >= 190);
	kill(getpid(), SIGTERM);
	assert_int_equal(logconn_again(&c, LOGCONN_CLOSED), 0);
	assert_int_equal(c.status, 0);
	close_conn();
}

/* A FIFO is made where there is none; its next writer is waited for by
 * poll, not by a pause; a link in its place is refused. */
static void test_fifo(void **state)
{
	struct stat st;

	(void)state;
	open_conn(NULL, NULL, fifo, 1);
	int fd = logconn_next(&c);
	assert_true(fd >= 0);
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	long long t0 = now_ms();
	assert_int_equal(logconn_again(&c, LOGCONN_CLOSED), 1);
	assert_true(now_ms() - t0 < 150);
	close(fd);
	unlink(fifo);
	assert_int_equal(symlink("/dev/null", fifo), 0);
	assert_int_equal(logconn_next(&c), -1);
	assert_int_equal(c.status, 1); /* even with --follow */
	close_conn();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_reaches_the_socket),
		cmocka_unit_test(test_no_guest_without_follow_is_said_and_stops_with_1),
		cmocka_unit_test(test_follow_retries_until_the_socket_appears_said_once),
		cmocka_unit_test(test_a_signal_ends_the_retries_with_0),
		cmocka_unit_test(test_a_planted_link_is_refused_without_the_hint),
		cmocka_unit_test(test_listen_replaces_a_dead_readers_socket_and_accepts),
		cmocka_unit_test(test_listen_path_too_long_for_a_socket_is_refused),
		cmocka_unit_test(test_after_a_stream),
		cmocka_unit_test(test_fifo),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
