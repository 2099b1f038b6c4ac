/* The kernel command line, read through the root prefix. */
#ifndef AMPHI_CMDLINE_H
#define AMPHI_CMDLINE_H

#include <stddef.h>

/* The value of the last "key=value" word of ROOT/proc/cmdline into out:
 * 1 if there is one, else 0 (out empty). */
int cmdline_get(const char *root, const char *key, char *out, size_t outlen);

#endif
