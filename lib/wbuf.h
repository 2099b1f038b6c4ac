/* A bounded writer into a caller's buffer: what the log's wire formats are
 * written with. Once a piece does not fit, full is set and stays set, and
 * nothing more is added: a cut message never loses bytes in its middle. */
#ifndef AMPHI_WBUF_H
#define AMPHI_WBUF_H

#include <stddef.h>
#include <stdint.h>

struct wbuf {
	char *p;
	size_t n, cap;   /* written so far, room in all */
	int full;
};

void wbuf_put(struct wbuf *b, const char *s, size_t n);
void wbuf_puts(struct wbuf *b, const char *s);
/* How many decimal digits v has (1-20). */
size_t wbuf_ndigits(uint64_t v);
/* v in decimal, zero-padded to at least width digits (at most 20). */
void wbuf_num(struct wbuf *b, uint64_t v, int width);

#endif
