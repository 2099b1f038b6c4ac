/* What amphi logs --out may hold: at most so many boots, at most so many
 * bytes, the oldest boots removed first, as journald's vacuum removes its
 * oldest archived files (journald.conf(5), SystemMaxUse=). The boot being
 * written is never removed. Only directories the store made (they hold a
 * .stored) are counted or removed. */
#ifndef AMPHI_LOGVACUUM_H
#define AMPHI_LOGVACUUM_H

#include <dirent.h>
#include <stdint.h>

/* Removes boot directories under outfd (named out in messages), oldest
 * first by the time their .stored was last written, never keep: while
 * there are more than max_boots (0: no limit), then while they hold more
 * than max_size bytes (0: no limit). Each removal is said on stderr.
 * Returns the bytes the boots left hold (file sizes). */
uint64_t logvacuum_run(int outfd, const char *out, const char *keep, int max_boots, uint64_t max_size);

/* A DIR on a copy of dirfd (dirfd stays the caller's), or NULL. */
DIR *logvacuum_opendir(int dirfd);

#endif
