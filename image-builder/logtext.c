/* amphi logs --text: reads Anaconda text (docs/PROTOCOL.md, "Anaconda
 * text"), from amphi or from a real Anaconda, shows it, appends it to
 * DIR/anaconda.log and reports the lines Lorax's log monitor
 * (pylorax/monitor.py) takes for a failed install. The channel is read
 * only: nothing is ever written to it. Everything read is untrusted: lines
 * are cut at LF only, bounded, and escaped before they reach a terminal or
 * a file. */
#include "guestpath.h"
#include "logs.h"
#include "textline.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEXT_LINE_MAX 65536 /* a longer line is cut and continued */
#define TEXT_RETRY_MS 200   /* reconnect delay with --follow */
#define TEXT_EXIT_FAILURE 3 /* the log reported a failed install */

enum text_end { TEXT_CLOSED, TEXT_BROKEN, TEXT_STOP, TEXT_FATAL };

struct text {
	const struct logtext_opts *o;
	int logfd;    /* DIR/anaconda.log, or -1 */
	off_t stored; /* its size: where the next line goes */
	long long unstored; /* lines not stored since the last one that was (0: none) */
	int failures; /* lines that reported a failure */
	struct textline_split split;
};

static char line[TEXT_LINE_MAX];
/* An escaped line: a byte becomes at most 6 ("\u00HH"), plus the JSON keys. */
static char esc[6 * TEXT_LINE_MAX + 256];

/* A regular file takes all of a write or fails (short: the disk is full). */
static int append(int fd, const char *s, size_t n)
{
	ssize_t w = write(fd, s, n);

	if (w >= 0 && (size_t)w != n)
		errno = ENOSPC;
	return w >= 0 && (size_t)w == n ? 0 : -1;
}

/* A line into DIR/anaconda.log. Nothing on this channel is acknowledged:
 * a line that does not fit (a full disk, --max-size) is shown but not
 * stored, said once until one is stored again; a part of one that a full
 * disk took is taken back, so every stored line is whole. -1: another
 * error (said), fatal. */
static int store_line(struct text *T, const char *s, size_t n)
{
	const struct logtext_opts *o = T->o;
	int over = o->max_size && T->stored + (off_t)n > o->max_size;

	if (!over && append(T->logfd, s, n) == 0) {
		T->stored += (off_t)n;
		if (T->unstored)
			fprintf(stderr, "amphi logs: %s/anaconda.log takes lines again; %lld were not stored\n", o->out,
				T->unstored);
		T->unstored = 0;
		return 0;
	}
	if (!over && errno != ENOSPC && errno != EDQUOT) {
		fprintf(stderr, "amphi logs: writing %s/anaconda.log: %s\n", o->out, strerror(errno));
		return -1;
	}
	if (!over && ftruncate(T->logfd, T->stored) < 0) {
		/* the part is there: the next line starts after it */
	}
	if (!T->unstored++) {
		if (over)
			fprintf(stderr, "amphi logs: %s/anaconda.log is at --max-size %lld; the lines past it are shown, "
					"not stored (move it away, or give a larger --max-size)\n", o->out, o->max_size);
		else
			fprintf(stderr, "amphi logs: writing %s/anaconda.log: %s; the lines are shown, not stored, until "
					"there is room (this channel is not acknowledged: the guest keeps nothing)\n",
				o->out, strerror(errno));
	}
	return 0;
}

/* One line without its LF (or a piece of a cut one): reported, stored, shown. */
static int text_line(void *ctx, const char *s, size_t n, int cont)
{
	struct text *T = ctx;
	int failed = textline_failure(s, n);
	char *e = logs_escape(esc, s, n, 0);

	if (failed) {
		T->failures++;
		fprintf(stderr, "amphi logs: failure: %s\n", esc);
	}
	if (T->logfd >= 0) {
		*e = '\n';
		if (store_line(T, esc, (size_t)(e - esc) + 1) < 0)
			return -1;
		*e = 0;
	}
	if (T->o->quiet)
		return 0;
	if (T->o->json)
		textline_json(esc, s, n, cont, failed);
	puts(esc);
	return 0;
}

/* ---- the channel ---- */

/* Waits up to ms (forever if < 0) for a signal or for fd. 1 = a signal. */
static int wait_signal(const struct text *T, int fd, int ms)
{
	struct pollfd pf[2] = { { .fd = T->o->sigfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };

	return poll(pf, 2, ms) > 0 && pf[0].revents;
}

static enum text_end text_stream(struct text *T, int fd)
{
	char buf[16384];
	struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = T->o->sigfd, .events = POLLIN } };
	enum text_end end;

	T->split.len = 0, T->split.cont = 0;
	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "amphi logs: poll: %s\n", strerror(errno));
			end = TEXT_BROKEN;
			break;
		}
		if (pf[1].revents) {
			end = TEXT_STOP;
			break;
		}
		if (!pf[0].revents)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) { /* a reset is how some peers close */
			end = n < 0 && errno != ECONNRESET ? TEXT_BROKEN : TEXT_CLOSED;
			if (end == TEXT_BROKEN)
				fprintf(stderr, "amphi logs: read: %s\n", strerror(errno));
			break;
		}
		if (textline_feed(&T->split, buf, (size_t)n, text_line, T) < 0)
			return TEXT_FATAL;
		fflush(stdout);
	}
	/* the last line, if the peer left without its LF */
	if (textline_flush(&T->split, text_line, T) < 0)
		end = TEXT_FATAL;
	fflush(stdout);
	return end;
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

/* The next source of text; -1 = stop (a signal, no peer without --follow,
 * or a FIFO that cannot be opened). */
static int text_next(struct text *T)
{
	const struct logtext_opts *o = T->o;

	for (int attempt = 0;; attempt++) {
		int fd;
		if (o->fifo)
			return fifo_open(o->fifo);
		if (o->listen) {
			if (wait_signal(T, o->listenfd, -1))
				return -1;
			if ((fd = accept4(o->listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
				return fd;
			continue;
		}
		char why[512];
		int refused;
		if ((fd = logs_sock_connect(o->connect, why, sizeof(why), &refused)) >= 0)
			return fd;
		if (attempt == 0) /* once per outage: each retry is not news */
			fprintf(stderr, "amphi logs: connect %s: %s%s%s\n", o->connect, why,
				refused ? "" : "; is the VM running? (its launcher makes anaconda.sock in AMPHI_LOG_DIR, "
					       "default the vm directory)",
				o->follow ? "; retrying every 200 ms" : "");
		if (!o->follow || wait_signal(T, -1, TEXT_RETRY_MS))
			return -1;
	}
}

static int text_run(struct text *T)
{
	int fifo = T->o->fifo != NULL, fd = -1;

	for (;;) {
		/* A FIFO's next read end is opened before the last one closes, so
		 * that what a new writer put in it meanwhile is kept. */
		int next = text_next(T);
		if (fd >= 0)
			close(fd);
		if ((fd = next) < 0)
			return T->o->follow && !fifo ? 0 : 1;
		enum text_end end = text_stream(T, fd);
		if (!fifo || end != TEXT_CLOSED || !T->o->follow) {
			close(fd);
			fd = -1;
		}
		if (end == TEXT_STOP || (end == TEXT_CLOSED && !T->o->follow))
			return 0;
		if (end == TEXT_FATAL || !T->o->follow)
			return 1;
		if (fifo)
			continue; /* poll waits for the next writer */
		if (!T->o->quiet)
			fprintf(stderr, "amphi logs: connection closed; waiting for the guest again\n");
		if (wait_signal(T, -1, TEXT_RETRY_MS))
			return 0;
	}
}

int logtext_run(const struct logtext_opts *o)
{
	struct text T = { .o = o, .logfd = -1, .split = { .line = line, .cap = sizeof(line) } };
	int rc;

	if (o->outfd >= 0 &&
	    (T.logfd = openat(o->outfd, "anaconda.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "amphi logs: %s/anaconda.log: %s\n", o->out, strerror(errno));
		return 1;
	}
	if (T.logfd >= 0)
		T.stored = lseek(T.logfd, 0, SEEK_END);
	rc = text_run(&T);
	if (T.logfd >= 0)
		close(T.logfd);
	/* the verdict on the install outweighs a channel that broke after it */
	return T.failures ? TEXT_EXIT_FAILURE : rc;
}
