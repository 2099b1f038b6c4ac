/* The INI-like grammar shared by the recipe (host builder) and the init:
 *
 *   # comment            ; comment   (whole lines only)
 *   [section]
 *   key = value          (value runs to end of line, surrounding blanks trimmed)
 *
 * A value may hold '#' (a shell command, an env value), so there are no
 * end-of-line comments; an error on a value with " #" in it says so.
 *
 * One core, a callback per key, the line number of the first error back
 * (the shape of inih). No allocation: the init links this too. */
#ifndef AMPHI_CONF_H
#define AMPHI_CONF_H

#include <stddef.h>

#define CONF_LINE_MAX 1024

/* Called for each key, with its line. Return 0 to go on, or -1 after
 * writing what was expected into err (errlen bytes), which stops the parse
 * at this line. */
typedef int (*conf_key_fn)(void *ctx, const char *section, const char *key,
			   const char *value, int line, char *err, size_t errlen);

/* Parses text[0..len). Returns 0, or the 1-based line of the first error
 * with the reason in err. */
int conf_parse(const char *text, size_t len, conf_key_fn fn, void *ctx,
	       char *err, size_t errlen);

/* Where s has what would be an end-of-line comment elsewhere (a '#' after a
 * blank), or NULL. An error on such a value says why it may have failed. */
const char *conf_end_comment(const char *s);

#endif
