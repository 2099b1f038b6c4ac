#include "log.h"
#include "logconsole.h"
#include "logring.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_verbose;
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
	logconsole_set_fd(fd);
}

/* The console's note of lines it did not show is one of the init's lines. */
static int console_flush(int now)
{
	unsigned long not_shown = 0;
	int more = logconsole_flush(now, &not_shown);
	if (!not_shown)
		return more;
	log_warn("console: %lu lines were not shown here (it did not keep up); the log stream has them", not_shown);
	return logconsole_waiting();
}

int log_console_flush(void)
{
	return console_flush(0);
}

void log_console_drain(int timeout_ms)
{
	/* Waits of 10 ms at most, timeout_ms / 10 of them: bounded without a
	 * clock of its own. The count of lines not shown is said now. */
	for (int i = 0; i < timeout_ms / 10 && console_flush(1); i++)
		logconsole_wait(10);
}

int log_console_waiting(void)
{
	return logconsole_waiting();
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
	logconsole_line(levels[level].pri, prefix, text, (size_t)n, 1);
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
	if (!logconsole_budget(len))
		return;
	snprintf(prefix, sizeof(prefix), "%s: ", name);
	logconsole_line(pri, prefix, text, len, 0);
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
