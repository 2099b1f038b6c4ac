/* A bounded writer into a caller's buffer, for the log's wire formats.
 * Its "full" flag is sticky: once a piece does not fit nothing more is
 * added, so a cut message never loses bytes in its middle. */
#include "wbuf.h"

#include <string.h>

void wbuf_put(struct wbuf *b, const char *s, size_t n)
{
	if (b->full || n > b->cap - b->n) {
		b->full = 1;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static const uint64_t pow10_[20] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000, UINT64_C(10000000000),
	UINT64_C(100000000000), UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000),
	UINT64_C(1000000000000000), UINT64_C(10000000000000000), UINT64_C(100000000000000000),
	UINT64_C(1000000000000000000), UINT64_C(10000000000000000000)
};

void wbuf_puts(struct wbuf *b, const char *s)
{
	wbuf_put(b, s, strlen(s));
}

size_t wbuf_ndigits(uint64_t v)
{
	size_t n = 1;

	while (n < 20 && v >= pow10_[n])
		n++;
	return n;
}

/* Decimal, zero-padded to at least width digits (at most 20), written in
 * place from its last digit, two at a time: a frame has five numbers, and
 * under TCG each division step is dearer than it looks. */
void wbuf_num(struct wbuf *b, uint64_t v, int width)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				    "8081828384858687888990919293949596979899";
	size_t n = wbuf_ndigits(v);

	if (width > 20)
		width = 20;
	if (n < (size_t)width)
		n = (size_t)width;
	if (b->full || n > b->cap - b->n) {
		b->full = 1;
		return;
	}
	char *end = b->p + b->n + n, *p = end;
	while (v >= 100) {
		unsigned k = (unsigned)(v % 100) * 2;
		v /= 100;
		*--p = pairs[k + 1];
		*--p = pairs[k];
	}
	if (v >= 10) {
		*--p = pairs[v * 2 + 1];
		*--p = pairs[v * 2];
	} else {
		*--p = (char)('0' + v);
	}
	while (p > b->p + b->n)
		*--p = '0';
	b->n += n;
}
