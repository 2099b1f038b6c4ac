#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Before PID 1 has a console (fd -1), lines wait in a small buffer so the
 * first mount errors are not lost; log_set_fd flushes them. */
static int log_fd = -1;
static int log_verbose;
static char early[4096];
static size_t early_len;

static const char *const level_tag[] = {
	[LOG_LVL_ERROR] = "error: ",
	[LOG_LVL_WARN] = "warning: ",
	[LOG_LVL_INFO] = "",
	[LOG_LVL_DEBUG] = "debug: ",
};

/* Never blocks when fd is nonblocking: a console that cannot take the line
 * loses it rather than stall PID 1. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void emit(const char *line, size_t n)
{
	if (log_fd >= 0)
		write_all(log_fd, line, n);
	else if (early_len + n <= sizeof(early)) {
		memcpy(early + early_len, line, n);
		early_len += n;
	}
}

void log_set_fd(int fd)
{
	log_fd = fd;
	if (fd >= 0 && early_len) {
		write_all(fd, early, early_len);
		early_len = 0;
	}
}

void log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	int saved = errno;
	va_list ap;
	int n;

	if (level == LOG_LVL_DEBUG && !log_verbose)
		return;
	n = snprintf(line, sizeof(line), "amphi: %s", level_tag[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';

	emit(line, (size_t)n);
	errno = saved;
}

void log_output(const char *source, const char *text, size_t len)
{
	char line[1100];
	int n = snprintf(line, sizeof(line), "%s: %.*s", source, (int)(len > 1024 ? 1024 : len), text);

	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	emit(line, (size_t)n);
}
