/* JSON text taken apart by jsmn (no allocation: the caller gives the
 * tokens), with what jsmn lets through that is not JSON refused ({"a" 1},
 * [1,]), and the values read back: members by name, elements in turn,
 * integers exactly as 64 bits, strings unescaped. For the init's guest
 * agent (requests) and amphi ctl (replies); both read hostile text. */
#ifndef AMPHI_JSONTOK_H
#define AMPHI_JSONTOK_H

#define JSMN_HEADER
#include <jsmn.h>

#include <stddef.h>

struct jsontok {
	const char *js;
	jsmntok_t *tok;
	int ntok;
};

/* js[0..len) must be one JSON value, whitespace around it allowed: 0, or
 * -1 (not JSON), -2 (more than max tokens). With separators, the commas
 * and colons jsmn does not look at are checked too (else {"a" 1} passes:
 * the init leaves that out for its size; the host checks). */
int jsontok_parse(struct jsontok *d, const char *js, size_t len, jsmntok_t *tok, int max, int separators);
/* The token after token t's whole value (its members or elements too). */
int jsontok_next(const struct jsontok *d, int t);
/* Is token t the string s? */
int jsontok_is(const struct jsontok *d, int t, const char *s);
/* The value of member key of object t, or -1 (also when t is -1). */
int jsontok_member(const struct jsontok *d, int t, const char *key);
/* A JSON integer as 64 bits exactly, never through a double: 0 or -1. */
int jsontok_int(const struct jsontok *d, int t, long long *out);
/* A string, its escapes undone; 0, or -1 if t is not a string, does not
 * fit out, holds a NUL or a \u beyond ASCII. */
int jsontok_str(const struct jsontok *d, int t, char *out, size_t outlen);
/* The text of token t, a string's quotes included. */
const char *jsontok_raw(const struct jsontok *d, int t, size_t *len);

#endif
