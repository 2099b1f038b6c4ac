/* amphi logs --text: reads Anaconda text (docs/PROTOCOL.md, "Anaconda
 * text"), from amphi or from a real Anaconda, shows it, appends it to
 * DIR/anaconda.log and reports the lines Lorax's log monitor
 * (pylorax/monitor.py) takes for a failed install. The channel is read
 * only: nothing is ever written to it. Everything read is untrusted: lines
 * are cut at LF only, bounded, and escaped before they reach a terminal or
 * a file. */
#include "logescape.h"
#include "logtext.h"
#include "textline.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TEXT_LINE_MAX 65536 /* a longer line is cut and continued */
#define TEXT_EXIT_FAILURE 3 /* the log reported a failed install */

struct text {
	const struct logs_opts *o;
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
	const struct logs_opts *o = T->o;
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
	if (T->o->conn.quiet)
		return 0;
	if (T->o->json)
		textline_json(esc, s, n, cont, failed);
	puts(esc);
	return 0;
}

/* ---- the channel ---- */

static enum logconn_end text_stream(struct text *T, int fd)
{
	char buf[16384];
	struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = T->o->conn.sigfd, .events = POLLIN } };
	enum logconn_end end;

	T->split.len = 0, T->split.cont = 0;
	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "amphi logs: poll: %s\n", strerror(errno));
			end = LOGCONN_BROKEN;
			break;
		}
		if (pf[1].revents) {
			end = LOGCONN_STOP;
			break;
		}
		if (!pf[0].revents)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) { /* a reset is how some peers close */
			end = n < 0 && errno != ECONNRESET ? LOGCONN_BROKEN : LOGCONN_CLOSED;
			if (end == LOGCONN_BROKEN)
				fprintf(stderr, "amphi logs: read: %s\n", strerror(errno));
			break;
		}
		if (textline_feed(&T->split, buf, (size_t)n, text_line, T) < 0)
			return LOGCONN_FATAL;
		fflush(stdout);
	}
	/* the last line, if the peer left without its LF */
	if (textline_flush(&T->split, text_line, T) < 0)
		end = LOGCONN_FATAL;
	fflush(stdout);
	return end;
}

static int text_run(struct text *T, struct logconn *c)
{
	int fd = -1, next;

	/* A FIFO's next read end is opened before the last one closes, so
	 * that what a new writer put in it meanwhile is kept. */
	while ((next = logconn_next(c)) >= 0) {
		if (fd >= 0)
			close(fd);
		fd = next;
		enum logconn_end end = text_stream(T, fd);
		if (!c->fifo || end != LOGCONN_CLOSED || !c->follow) {
			close(fd);
			fd = -1;
		}
		if (!logconn_again(c, end))
			break;
	}
	if (fd >= 0)
		close(fd);
	return c->status;
}

int logtext_run(struct logs_opts *o)
{
	struct text T = { .o = o, .logfd = -1, .split = { .line = line, .cap = sizeof(line) } };
	int rc;

	o->conn.hint = "; is the VM running? (its launcher makes anaconda.sock in AMPHI_LOG_DIR, default the vm directory)";
	if (o->outfd >= 0 &&
	    (T.logfd = openat(o->outfd, "anaconda.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "amphi logs: %s/anaconda.log: %s\n", o->out, strerror(errno));
		return 1;
	}
	if (T.logfd >= 0)
		T.stored = lseek(T.logfd, 0, SEEK_END);
	rc = text_run(&T, &o->conn);
	if (T.logfd >= 0)
		close(T.logfd);
	/* the verdict on the install outweighs a channel that broke after it */
	return T.failures ? TEXT_EXIT_FAILURE : rc;
}
