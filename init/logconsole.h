/* The console as the init's log writes it: lines in the Anaconda text
 * layout, escaped; writes that never block PID 1 (the fd is nonblocking,
 * what a full console cannot take waits in a small queue, the init's own
 * lines first); other programs' output held to a budget, what does not fit
 * counted. Below log.c, which is the only caller. */
#ifndef AMPHI_LOGCONSOLE_H
#define AMPHI_LOGCONSOLE_H

#include <stddef.h>

/* From now on lines go to fd (nonblocking), the early ones first. */
void logconsole_set_fd(int fd);
/* 1 if a line of len bytes of another program's output may be shown now
 * (its budget and its half of the queue); else it is counted as not shown. */
int logconsole_budget(size_t len);
/* "HH:MM:SS,mmm LEVEL " + prefix + text + "\n"; own: an init line. */
void logconsole_line(int pri, const char *prefix, const char *text, size_t len, int own);
/* Writes what waits. 1 while lines wait or a count of lines not shown is
 * to be said later; *not_shown: the count to say now (else left as is).
 * With now_or_never the count is due at once. */
int logconsole_flush(int now_or_never, unsigned long *not_shown);
int logconsole_waiting(void);
/* Until the console takes more, up to ms. */
void logconsole_wait(int ms);

#endif
