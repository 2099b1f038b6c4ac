/* Helpers every unit test shares. Include after <cmocka.h>. */
#ifndef AMPHI_TESTUTIL_H
#define AMPHI_TESTUTIL_H

#include <stddef.h>

/* $AMPHI_FIXTURES, or tests/fixtures relative to the repository root. */
const char *fixtures_dir(void);
/* The whole file, NUL-terminated (free it); NULL if it cannot be opened.
 * lenp may be NULL. */
char *read_text(const char *path, size_t *lenp);
/* rm -rf path (a test's temporary tree): 0, or -1. */
int remove_tree(const char *path);

#endif
