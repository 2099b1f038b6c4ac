#include "log.h"
#include "logring.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Before PID 1 has a console (fd -1), lines wait in a small buffer so the
 * first mount errors are not lost; log_set_fd flushes them. */
static int log_fd = -1;
static int log_verbose;
static char early[4096];
static size_t early_len;
static int console_init_only;

/* The words on the console, and RFC 5424 severities (facility daemon). */
static const struct {
	int pri;
} levels[] = {
	[LOG_LVL_ERROR] = { 3 * 8 + 3 },
	[LOG_LVL_WARN] = { 3 * 8 + 4 },
	[LOG_LVL_INFO] = { 3 * 8 + 6 },
	[LOG_LVL_DEBUG] = { 3 * 8 + 7 },
};
/* Service output: facility daemon, severity info. */
#define PRI_OUTPUT (3 * 8 + 6)

/* A console that cannot take a line now (a full pty or serial buffer):
 * the rest waits here and goes out when it can (log_console_flush, run by
 * the loop's owner while log_console_waiting says so). The init's own lines may
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
 * queue (the rule console_put keeps; console_budget asks it first, so a
 * line that would not fit is not formatted). */
static int others_fit(size_t n)
{
	return pend_len + n <= sizeof(pend) / 2;
}

/* 1 if a line of len bytes from another program may go to the console. */
static int console_budget(size_t len)
{
	int64_t now = mono_ms(), cost = (int64_t)(len < 1024 ? len : 1024) + 64; /* as console_line cuts it */

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
		ssize_t n = write(log_fd, buf, len);
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

static int flush(int now_or_never)
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
		unsigned long n = pend_dropped;
		pend_dropped = 0;
		note_ms = now;
		log_warn("console: %lu lines were not shown here (it did not keep up); the log stream has them", n);
	}
	return pend_len > 0 || pend_dropped > 0;
}

int log_console_flush(void)
{
	return flush(0);
}

void log_console_drain(int timeout_ms)
{
	struct pollfd p = { .fd = log_fd, .events = POLLOUT };

	/* Waits of 10 ms at most, timeout_ms / 10 of them: bounded without a
	 * clock of its own. The count of lines not shown is said now. */
	for (int i = 0; i < timeout_ms / 10 && flush(1); i++)
		poll(&p, 1, 10);
}

int log_console_waiting(void)
{
	return pend_len > 0 || pend_dropped > 0;
}

/* Anaconda's words for RFC 5424 severities (as lib/logrec's text format). */
static const char *const severity_word[8] = {
	"CRITICAL", "CRITICAL", "CRITICAL", "ERROR", "WARNING", "INFO", "INFO", "DEBUG",
};

/* "HH:MM:SS,mmm LEVEL " + prefix + text + "\n" to the console (or the early
 * buffer): the Anaconda text layout, but with a space after "program:" so
 * the line reads "amphi: ready" as DESIGN.md promises. */
static void console_line(int pri, const char *prefix, const char *text, size_t len, int own)
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
	if (log_fd >= 0)
		console_put(line, (size_t)n, own);
	else if (early_len + (size_t)n <= sizeof(early)) {
		memcpy(early + early_len, line, (size_t)n);
		early_len += (size_t)n;
	}
}

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int clock_held, clock_valid;
static int64_t held_rt, held_up;

void log_clock_hold(void)
{
	clock_held = 1;
	clock_valid = 0;
}

void log_clock_release(void)
{
	clock_held = 0;
}

/* Into the ring, stamped: uptime_us of -1 means now. */
static void record(enum logrec_source source, const char *app, int pri, int64_t uptime_us,
		   const char *text, size_t len, int plain, const char *sd, size_t sdlen)
{
	struct logrec r = { .pri = pri, .source = source, .uptime_us = uptime_us, .msg = text, .msglen = len,
			    .plain = plain, .sd = sd, .sdlen = sdlen };
	size_t n = logrec_name_len(app, sizeof(r.app) - 1);
	int64_t now_rt, now_up;

	memcpy(r.app, app, n);  /* r.app is zeroed: stays terminated */
	if (clock_held && clock_valid) {
		now_rt = held_rt, now_up = held_up;
	} else {
		now_rt = held_rt = clock_us(CLOCK_REALTIME);
		now_up = held_up = clock_us(CLOCK_BOOTTIME);
		clock_valid = clock_held;
	}
	if (r.uptime_us < 0)
		r.uptime_us = now_up;
	/* A kernel record's wall time: now minus how long ago it was. */
	r.realtime_us = now_rt - (now_up - r.uptime_us);
	logring_append(&r);
}

void log_set_fd(int fd)
{
	log_fd = fd;
	if (fd >= 0 && early_len) {
		console_put(early, early_len, 1);
		early_len = 0;
	}
}

void log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

void log_set_console_init_only(int on)
{
	console_init_only = on;
}

static void vlog(enum log_level level, enum logrec_source source, const char *app, const char *sd, size_t sdlen,
		 const char *fmt, va_list ap)
{
	char text[LOGREC_MSG_MAX], prefix[24];
	int saved = errno;
	int n;

	if (level == LOG_LVL_DEBUG && !log_verbose)
		return;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	snprintf(prefix, sizeof(prefix), "%s: ", app);
	console_line(levels[level].pri, prefix, text, (size_t)n, 1);
	record(source, app, levels[level].pri, -1, text, (size_t)n, 0, sd, sdlen);
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, LOGSRC_INIT, "amphi", NULL, 0, fmt, ap);
	va_end(ap);
}

void log_install(enum log_level level, const char *sd, size_t sdlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, LOGSRC_INSTALL, "install", sd, sdlen, fmt, ap);
	va_end(ap);
}

/* "NAME: " before a line on the console. */
static void console_named(int pri, const char *name, const char *text, size_t len)
{
	char prefix[80];
	if (log_fd >= 0 && !console_budget(len))
		return;
	snprintf(prefix, sizeof(prefix), "%s: ", name);
	console_line(pri, prefix, text, len, 0);
}

void log_output(const char *source, const char *text, size_t len, int plain)
{
	if (!console_init_only)
		console_named(PRI_OUTPUT, source, text, len);
	record(LOGSRC_SERVICE, source, PRI_OUTPUT, -1, text, len, plain, NULL, 0);
}

void log_file_output(const char *name, const char *text, size_t len, int plain)
{
	if (!console_init_only)
		console_named(PRI_OUTPUT, name, text, len);
	record(LOGSRC_FILE, name, PRI_OUTPUT, -1, text, len, plain, NULL, 0);
}

/* The init's own programs. Another's record under one of these names (or
 * with a ':' that makes a reader split "install:verdict..." at it) would
 * read as the init's on the console and on the text port: it gets its
 * source in front instead, "syslog.amphi". Units cannot be so named (the
 * recipe parser refuses them). */
void log_name_other(char name[LOGREC_NAME_MAX], const char *source)
{
	char was[LOGREC_NAME_MAX];

	for (char *c = name; (c = strchr(c, ':'));)
		*c = '_';
	if (logrec_name_is_init(name)) {
		memcpy(was, name, sizeof(was));
		snprintf(name, LOGREC_NAME_MAX, "%s.%s", source, was);
	}
}

void log_syslog(int pri, const char *tag, const char *text, size_t len)
{
	char app[LOGREC_NAME_MAX];

	snprintf(app, sizeof(app), "%s", tag);
	log_name_other(app, "syslog");
	if (!console_init_only)
		console_named(pri, app, text, len);
	record(LOGSRC_SYSLOG, app, pri, -1, text, len, 0, NULL, 0);
}

void log_kernel(int pri, int64_t uptime_us, const char *text, size_t len, int show)
{
	if (show && (pri & 7) <= 3)  /* errors and worse, whatever [log] console says */
		console_named(pri, "kernel", text, len);
	record(LOGSRC_KERNEL, "kernel", pri, uptime_us, text, len, 0, NULL, 0);
}
