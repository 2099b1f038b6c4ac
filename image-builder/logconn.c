/* Where amphi logs reads a guest's stream from (see logconn.h). */
#include "guestpath.h"
#include "logconn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define RETRY_MS 200 /* reconnect delay with --follow */

int logconn_connect(const char *path, char *why, size_t whylen, int *refused)
{
	mode_t found = 0;
	int fd = guestpath_connect(path, &found);

	*refused = fd == -EMEDIUMTYPE;
	if (*refused)
		snprintf(why, whylen, "%s, not a socket; amphi never follows a link nor connects to another "
			 "kind of file where a guest can write: remove it (the appliance makes its socket as it starts)",
			 guestpath_kind(found));
	else if (fd < 0)
		snprintf(why, whylen, "%s", strerror(-fd));
	return fd < 0 ? -1 : fd;
}

int logconn_init(struct logconn *c)
{
	/* --connect goes through /proc/self/fd (guestpath.c): any length */
	const char *path = c->listen ? c->listen : "";

	c->sigfd = c->listenfd = -1;
	c->follow |= c->listen != NULL;
	c->addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(c->addr.sun_path)) {
		fprintf(stderr, "amphi logs: %s: a socket path has at most %zu bytes; use a shorter one\n", path,
			sizeof(c->addr.sun_path) - 1);
		return -1;
	}
	strcpy(c->addr.sun_path, path);
	return 0;
}

/* Left by a reader that died: a socket nobody answers on. */
static int stale_socket(const char *path)
{
	mode_t found;
	int fd = guestpath_connect(path, &found);

	if (fd >= 0)
		close(fd);
	return fd == -ECONNREFUSED;
}

static int sock_listen(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc = fd < 0 ? -1 : bind(fd, (const struct sockaddr *)sa, sizeof(*sa));

	if (rc < 0 && errno == EADDRINUSE && stale_socket(sa->sun_path))
		rc = unlink(sa->sun_path) < 0 ? -1 : bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (rc < 0 || listen(fd, 1) < 0) {
		fprintf(stderr, "amphi logs: listen %s: %s%s\n", sa->sun_path, strerror(errno),
			errno == EADDRINUSE ? "; is another amphi logs listening there? (or remove the file)" : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int logconn_open(struct logconn *c)
{
	sigset_t stop;

	/* SIGINT/SIGTERM through a signalfd: every poll sees them, no races. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0 || (c->sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, "amphi logs: signalfd: %s\n", strerror(errno));
		return -1;
	}
	if (c->listen && (c->listenfd = sock_listen(&c->addr)) < 0)
		return -1;
	return 0;
}

int logconn_wait_signal(const struct logconn *c, int fd, int ms)
{
	struct pollfd pf[2] = { { .fd = c->sigfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };

	return poll(pf, 2, ms) > 0 && pf[0].revents;
}

/* The FIFO a container writes to, made if missing. Opened nonblocking so
 * that open does not wait for a writer; poll does (Linux reports POLLHUP on
 * a FIFO only once a writer came and went, fs/pipe.c pipe_poll). The
 * container's root owns the directory: whatever is there is opened only if
 * it is a FIFO, never through a link (guestpath.c). */
static int fifo_open(const char *path)
{
	mode_t found = 0;
	int fd;

	if (mkfifo(path, 0600) < 0 && errno != EEXIST) {
		fprintf(stderr, "amphi logs: mkfifo %s: %s; is its directory there and writable?\n", path,
			strerror(errno));
		return -1;
	}
	if ((fd = guestpath_open(path, S_IFIFO, O_RDONLY | O_NONBLOCK, &found)) >= 0)
		return fd;
	if (fd == -EMEDIUMTYPE)
		fprintf(stderr, "amphi logs: --fifo %s: %s, not a FIFO; amphi logs never follows a link nor opens "
			"another kind of file where a guest can write: remove it (a FIFO is made where there is none)\n",
			path, guestpath_kind(found));
	else
		fprintf(stderr, "amphi logs: --fifo %s: %s; give the path of a FIFO (or of none, to make one)\n",
			path, strerror(-fd));
	return -1;
}

/* A connection to --connect, retried every RETRY_MS with --follow; -1 =
 * a signal, or no peer without --follow. */
static int connect_retrying(const struct logconn *c)
{
	char why[512];
	int fd, refused;

	for (int attempt = 0;; attempt++) {
		if ((fd = logconn_connect(c->connect, why, sizeof(why), &refused)) >= 0)
			return fd;
		if (attempt == 0) /* once per outage: each retry is not news */
			fprintf(stderr, "amphi logs: connect %s: %s%s%s\n", c->connect, why, refused || !c->hint ? "" : c->hint,
				c->follow ? "; retrying every 200 ms" : "");
		if (!c->follow || logconn_wait_signal(c, -1, RETRY_MS))
			return -1;
	}
}

int logconn_next(struct logconn *c)
{
	int fd = -1;

	if (c->fifo) {
		fd = fifo_open(c->fifo);
	} else if (c->listen) {
		while (!logconn_wait_signal(c, c->listenfd, -1) &&
		       (fd = accept4(c->listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
			;
	} else {
		fd = connect_retrying(c);
	}
	/* a FIFO that cannot be opened is an error even with --follow */
	c->status = c->follow && !c->fifo ? 0 : 1;
	return fd;
}

int logconn_again(struct logconn *c, enum logconn_end end)
{
	if (end == LOGCONN_AGAIN)
		return 1;
	c->status = end == LOGCONN_CLOSED || end == LOGCONN_STOP ? 0 : 1;
	if (end != LOGCONN_CLOSED && end != LOGCONN_BROKEN)
		return 0;
	if (!c->follow)
		return 0;
	if (c->fifo)
		return 1; /* poll waits for the next writer */
	if (!c->quiet)
		fprintf(stderr, "amphi logs: connection closed; waiting for the guest again\n");
	/* a guest that keeps breaking the protocol gets 5 tries a second */
	if (logconn_wait_signal(c, -1, RETRY_MS)) {
		c->status = 0;
		return 0;
	}
	return 1;
}

void logconn_close(struct logconn *c)
{
	if (c->listenfd >= 0) {
		unlink(c->listen);
		close(c->listenfd);
	}
	if (c->sigfd >= 0)
		close(c->sigfd);
	c->sigfd = c->listenfd = -1;
}
