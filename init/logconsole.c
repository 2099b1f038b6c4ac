#include "logconsole.h"
#include "logrec.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Before PID 1 has a console (fd -1), lines wait in a small buffer so the
 * first mount errors are not lost; logconsole_set_fd writes them. */
static int console_fd = -1;
static char early[4096];
static size_t early_len;

/* A console that cannot take a line now (a full pty or serial buffer):
 * the rest waits here and goes out when it can (logconsole_flush, run by
 * the loop's owner while logconsole_waiting says so). The init's own lines may
 * fill all of it, other programs' output only the first half, so a flood
 * of theirs never pushes out "amphi: ready"; what does not fit is counted
 * and said once the console has caught up. */
static char pend[16384];
static size_t pend_len;
static unsigned long pend_dropped;

/* Other programs' output is also held to a budget: about CONSOLE_RATE
 * bytes a second, CONSOLE_BURST at once. On a VM's serial console every
 * byte is an emulated UART write paid for by the guest's CPU (about 1 MB/s
 * takes all of a vCPU under TCG), so a flood shown in full would starve
 * the appliance and its own log stream. What goes over is dropped before
 * it is formatted and counted with the rest; the init's lines are never
 * held to it. The count is said once drops have stopped for NOTE_QUIET_MS,
 * or every NOTE_EVERY_MS while they go on. */
#define CONSOLE_RATE 32768
#define CONSOLE_BURST 65536
#define NOTE_QUIET_MS 200
#define NOTE_EVERY_MS 5000
static int64_t budget = CONSOLE_BURST, budget_ms, dropped_ms, note_ms;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop_one(void)
{
	if (pend_dropped++ == 0)
		note_ms = mono_ms();  /* a new run of drops: its note waits from here */
	dropped_ms = mono_ms();
}

/* Whether n more bytes of other programs' output fit in their half of the
 * queue (the rule console_put keeps; logconsole_budget asks it first, so a
 * line that would not fit is not formatted). */
static int others_fit(size_t n)
{
	return pend_len + n <= sizeof(pend) / 2;
}

int logconsole_budget(size_t len)
{
	if (console_fd < 0)
		return 1;  /* the early buffer: no budget before the console is there */
	int64_t now = mono_ms(), cost = (int64_t)(len < 1024 ? len : 1024) + 64; /* as logconsole_line cuts it */

	budget += (now - budget_ms) * CONSOLE_RATE / 1000;
	if (budget > CONSOLE_BURST)
		budget = CONSOLE_BURST;
	budget_ms = now;
	/* Over budget, or a queue is waiting and its half for others has no
	 * room for the line, with some to spare. */
	if (budget < cost || (pend_len && !others_fit((size_t)cost + 64))) {
		drop_one();
		return 0;
	}
	budget -= cost;
	return 1;
}

/* Writes what it can; 0 when all is out, -1 when the console is broken
 * (nothing to wait for), else what is left. */
static ssize_t write_some(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(console_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return (ssize_t)len;
}

static void console_put(const char *line, size_t n, int own)
{
	if (pend_len == 0) {
		ssize_t left = write_some(line, n);
		if (left <= 0)
			return;
		/* The rest of a started line is owed whoever wrote it: a cut
		 * line would run into the next one. */
		line += n - (size_t)left;
		n = (size_t)left;
		own = 1;
	}
	if (own ? pend_len + n > sizeof(pend) : !others_fit(n)) {
		drop_one();
		return;
	}
	memcpy(pend + pend_len, line, n);
	pend_len += n;
}

int logconsole_flush(int now_or_never, unsigned long *not_shown)
{
	ssize_t left = pend_len ? write_some(pend, pend_len) : 0;

	if (left < 0)
		left = 0;  /* gone: what waited goes with it */
	memmove(pend, pend + pend_len - (size_t)left, (size_t)left);
	pend_len = (size_t)left;
	if (pend_len == 0 && pend_dropped) {
		int64_t now = mono_ms();
		if (!now_or_never && now - dropped_ms < NOTE_QUIET_MS && now - note_ms < NOTE_EVERY_MS)
			return 1;  /* still dropping: the note waits (and the timer with it) */
		*not_shown = pend_dropped;
		pend_dropped = 0;
		note_ms = now;
	}
	return pend_len > 0 || pend_dropped > 0;
}

void logconsole_wait(int ms)
{
	struct pollfd p = { .fd = console_fd, .events = POLLOUT };
	poll(&p, 1, ms);
}

int logconsole_waiting(void)
{
	return pend_len > 0 || pend_dropped > 0;
}

void logconsole_set_fd(int fd)
{
	console_fd = fd;
	if (fd >= 0 && early_len) {
		console_put(early, early_len, 1);
		early_len = 0;
	}
}

/* Anaconda's words for RFC 5424 severities (as lib/logrec's text format). */
static const char *const severity_word[8] = {
	"CRITICAL", "CRITICAL", "CRITICAL", "ERROR", "WARNING", "INFO", "INFO", "DEBUG",
};

/* The Anaconda text layout, but with a space after "program:": the line
 * reads "amphi: ready", which is what hosts and people look for. */
void logconsole_line(int pri, const char *prefix, const char *text, size_t len, int own)
{
	/* Escaped as on the text port: no escape sequence or CR a program
	 * prints reaches the terminal as such. Cut at 1 KiB: the stream has
	 * the whole record. */
	char escaped[1024], line[sizeof(escaped) + 128];
	struct timespec ts;
	struct tm tm;
	size_t elen = logrec_escape(text, len, escaped, sizeof(escaped));

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d,%03ld %s %s%.*s", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 ts.tv_nsec / 1000000, severity_word[pri & 7], prefix, (int)elen, escaped);

	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (console_fd >= 0)
		console_put(line, (size_t)n, own);
	else if (early_len + (size_t)n <= sizeof(early)) {
		memcpy(early + early_len, line, (size_t)n);
		early_len += (size_t)n;
	}
}

