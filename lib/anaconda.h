/* Anaconda text: the text port's one-way format. See docs/PROTOCOL.md. */
#ifndef AMPHI_ANACONDA_H
#define AMPHI_ANACONDA_H

#include "logrec.h"

#include <stddef.h>

/* "HH:MM:SS,mmm LEVEL app:message\n" in UTC, LEVEL from the severity
 * (DEBUG, INFO, WARNING, ERROR, CRITICAL), control bytes (CR included) and
 * invalid UTF-8 escaped, always ending in LF. A message longer than what
 * fits is cut: the caller splits long records before. Returns the length
 * written, or -1. */
int logrec_text(const struct logrec *r, char *out, size_t outlen);

#endif
