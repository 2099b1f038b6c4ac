/* The init's own log: one line per event, "amphi: " prefixed, to the console.
 * Writes never block PID 1: the console fd is nonblocking and a full console
 * drops the line (the log stream of a later issue is where nothing is lost). */
#ifndef AMPHI_LOG_H
#define AMPHI_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Log to fd from now on (default: 2). Debug lines show only when verbose. */
void log_set_fd(int fd);
void log_set_verbose(int verbose);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line of a child's output: "source: text", text as it came. */
void log_output(const char *source, const char *text, size_t len);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
