/* JSON text into a fixed buffer, for the guest agent's replies: what does
 * not fit sets overflow, and the reply is then replaced by an error. */
#ifndef AMPHI_JSONW_H
#define AMPHI_JSONW_H

#include <stddef.h>

struct jsonw {
	char *buf;
	size_t cap, len;
	int overflow;
};

void jsonw_init(struct jsonw *w, char *buf, size_t cap);
/* Text as it is: punctuation, member names, literals. */
void jsonw_raw(struct jsonw *w, const char *s);
void jsonw_rawn(struct jsonw *w, const char *s, size_t n);
/* A quoted string: quotes, backslashes and control bytes escaped; bytes
 * that are not valid UTF-8 become U+FFFD, so the reader's parser never
 * stops at them (a hostname or a unit name may hold anything). */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, long long v);

#endif
