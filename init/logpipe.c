#include "logpipe.h"
#include "log.h"
#include "logflow.h"
#include "loop.h"
#include "recipe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

/* What one read of a pipe takes at most, as much as the pipe holds
 * (logpipe_open): under TCG a wakeup of PID 1 and of the writer costs as
 * much as copying tens of KiB, so a chatty unit is read in big pieces (the
 * buffer's pages are touched only as far as reads reach). */
#define OUT_READ (256 * 1024)

/* Every pipe opened: a resume wakes them all. */
static struct logpipe *pipes[RECIPE_UNITS_MAX];
static int npipes;
static int backlog_timer;  /* drain_backlogs is due */

/* The lines of one read share one reading of the clocks. */
static const char *feed(struct logpipe *p, const char *from, const char *to, int (*stop)(void))
{
	log_clock_hold();
	const char *left = linesplit_feed(&p->out, from, to, stop, p->emit, p->ctx);
	log_clock_release();
	return left;
}

/* With yield_to_readers, a fair share per turn of the loop and never while
 * a connected reader is owed a full ring (the pipe is left unread and the
 * child waits in write() until resume_output); without, what the child
 * left in the pipe as it ended (its last lines before the news of its
 * end): a pipe's worth, no more, for a child it left behind may write on,
 * and that is read in turns as any output (read to EAGAIN, such an
 * orphan would hold PID 1 for as long as it writes, and the power button
 * would go unanswered). What one read brought beyond the pressure waits in
 * the pipe's backlog (mapped the first time it is needed, kept for the
 * pipe's life). Returns -1 when paused. */
static int drain(struct logpipe *p, int yield_to_readers)
{
	static char buf[OUT_READ];  /* one pipe at a time: not reentrant */
	int (*stop)(void) = yield_to_readers ? logflow_hold : NULL;
	ssize_t n;

	if (p->backlog_len) {
		const char *b = p->backlog + p->backlog_off;
		const char *left = feed(p, b, b + p->backlog_len, stop);
		p->backlog_off += (size_t)(left - b);
		p->backlog_len -= (size_t)(left - b);
		if (p->backlog_len)
			return -1;
		p->backlog_off = 0;
	}
	for (int turns = 0; turns < (yield_to_readers ? 4 : 1); turns++) {
		if (stop && stop())
			return -1;
		/* No more than the ring has room for: what a read brings
		 * beyond the pressure is copied again, to the backlog. A
		 * record's header takes room too, hence the quarter kept. */
		size_t want = sizeof(buf), room = yield_to_readers ? logflow_room() : SIZE_MAX;
		if (room != SIZE_MAX && room - room / 4 < want)
			want = room - room / 4 > 4096 ? room - room / 4 : 4096;
		if ((n = read(p->r, buf, want)) <= 0)
			return 0;
		const char *left = feed(p, buf, buf + n, stop);
		if (left == buf + n)
			continue;
		if (!p->backlog) {
			void *m = mmap(NULL, OUT_READ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED) {  /* cannot keep it: log it now, pressure or not */
				feed(p, left, buf + n, NULL);
				continue;
			}
			p->backlog = m;
		}
		p->backlog_len = (size_t)(buf + n - left);
		memcpy(p->backlog, left, p->backlog_len);
		return -1;
	}
	return 0;
}

static void on_output(int fd, uint32_t events, void *data)
{
	(void)events;
	if (drain(data, 1) < 0)
		loop_mod_fd(fd, 0);
}

/* Backlogs drain from the loop, not from inside the sink that made room
 * (what they log reaches the sinks in the turn's send). */
static long drain_backlogs(void *unused)
{
	(void)unused;
	backlog_timer = 0;
	for (int i = 0; i < npipes; i++)
		if (pipes[i]->backlog_len && drain(pipes[i], 1) < 0)
			loop_mod_fd(pipes[i]->r, 0);
	return -1;
}

static void resume_output(void)
{
	for (int i = 0; i < npipes; i++) {
		loop_mod_fd(pipes[i]->r, EPOLLIN);
		if (pipes[i]->backlog_len && !backlog_timer && loop_add_timer(0, drain_backlogs, NULL) >= 0)
			backlog_timer = 1;
	}
}

int logpipe_open(struct logpipe *p, linesplit_emit emit, void *ctx)
{
	int fds[2];

	if (p->r >= 0)
		return 0;
	if (npipes == RECIPE_UNITS_MAX)
		return -ENOSPC;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	/* A chatty unit fills more before PID 1 must wake: fewer, larger
	 * reads (the kernel may give less; then the default stays). */
	fcntl(fds[0], F_SETPIPE_SZ, OUT_READ);
	p->r = fds[0];
	p->w = fds[1];
	p->emit = emit;
	p->ctx = ctx;
	if (npipes == 0)
		logflow_on_resume(resume_output);
	pipes[npipes++] = p;
	return loop_add_fd(fds[0], EPOLLIN, on_output, p);
}

void logpipe_child_ended(struct logpipe *p)
{
	if (p->r < 0)
		return;
	drain(p, 0);
	linesplit_flush(&p->out, p->emit, p->ctx);
}
