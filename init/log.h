/* The init's log: every line becomes a record in the ring (logring.h; the
 * sinks take it to the host) and, for people, a line on the console
 * (logconsole.h: never blocking PID 1; other programs' output that does
 * not fit, or comes faster than about 32 KiB a second, is not shown there,
 * counted and said; the ring keeps all of it). */
#ifndef AMPHI_LOG_H
#define AMPHI_LOG_H

#include "logrec.h"

#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Log to fd from now on (default: 2). Debug lines show only when verbose. */
void log_set_fd(int fd);
void log_set_verbose(int verbose);
/* Only the init's own lines on the console (the rest still go to the
 * host): a serial console is slow, and a chatty service would spend PID 1
 * on it. */
void log_set_console_init_only(int on);
/* The lines logged between hold and release share one reading of the
 * clocks (under TCG a clock read can be a trap to the host): a source
 * holds it around the lines of one read. */
void log_clock_hold(void);
void log_clock_release(void);
/* 1 while the console has lines waiting (it stopped taking them) or a
 * count of lines not shown to say: the owner of the loop then calls
 * log_console_flush until it returns 0 (all is out). */
int log_console_waiting(void);
int log_console_flush(void);
/* Before the machine goes down: waits up to timeout_ms for the console to
 * take what waits. */
void log_console_drain(int timeout_ms);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An install phase record (progress, verdict): "install: text" on the
 * console, source "install" in the stream with the event's structured data
 * sd ("[install@32473 ...]", sdlen bytes; docs/PROTOCOL.md), which is what
 * the host decides on. */
void log_install(enum log_level level, const char *sd, size_t sdlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A line of a child's output: "source: text" on the console. plain: the
 * caller found it printable ASCII (logrec_line_end), so the sinks need not
 * look again. */
void log_output(const char *source, const char *text, size_t len, int plain);
/* A line of a followed log file: "name: text" on the console. */
void log_file_output(const char *name, const char *text, size_t len, int plain);
/* A syslog message (from /dev/log): "tag: text" on the console. */
void log_syslog(int pri, const char *tag, const char *text, size_t len);
/* name, given by a program other than PID 1 (a syslog tag, a followed
 * file's), made so it never reads as one of PID 1's ("amphi", "install",
 * "kernel"): "SOURCE.NAME" then; a ':' in it becomes '_'. */
void log_name_other(char name[LOGREC_NAME_MAX], const char *source);
/* A kernel record; with show, an error or worse is also a "kernel: text"
 * line on the console (once the kernel no longer writes there itself). */
void log_kernel(int pri, int64_t uptime_us, const char *text, size_t len, int show);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
