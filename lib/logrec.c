/* The log record's own vocabulary, shared by both wire formats and both
 * sides: the source names, the byte classes of a message and its escaping
 * into a line, and decimal numbers both ways. See docs/PROTOCOL.md. */
#include "logrec.h"
#include "wbuf.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

static const char *const source_names[] = { "kernel", "init", "service", "syslog", "file", "install" };
_Static_assert(sizeof(source_names) / sizeof(source_names[0]) == LOGREC_SOURCES, "a name per source");

int logrec_name_is_init(const char *name)
{
	return !strcasecmp(name, "amphi") || !strcasecmp(name, "install") || !strcasecmp(name, "kernel");
}

const char *logrec_source_name(enum logrec_source s)
{
	unsigned i = (unsigned)s;

	return i < sizeof(source_names) / sizeof(source_names[0]) ? source_names[i] : "unknown";
}

int logrec_source_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(source_names) / sizeof(source_names[0]); i++)
		if (strcmp(name, source_names[i]) == 0)
			return (int)i;
	return -1;
}

char *logrec_put_num(char *out, uint64_t v, int width)
{
	struct wbuf b = { out, 0, 21, 0 };

	wbuf_num(&b, v, width);
	out[b.n] = '\0';
	return out + b.n;
}

static void put_hex_escape(struct wbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

	wbuf_put(b, e, sizeof(e));
}

size_t logrec_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t logrec_ascii_run(const char *s, size_t n)
{
	const unsigned char *m = (const unsigned char *)s;
	size_t run = 0;

	/* Eight bytes at once: a byte below 0x20, 0x7f or above sets its high
	 * bit in one of the three terms (a borrow or carry only spills out of
	 * a byte that is itself flagged). Four words a turn while the line
	 * lasts (under TCG the turn itself costs as much as a word's test);
	 * where one is flagged, the word loop and the byte loop find it. */
#define FLAGGED(w) (((w) - UINT64_C(0x2020202020202020)) | ((w) + UINT64_C(0x0101010101010101)) | (w))
	for (uint64_t a, b, c, d; run + 32 <= n; run += 32) {
		/* Word by word: one 32-byte copy would go through an SSE register
		 * and the stack. */
		memcpy(&a, m + run, 8);
		memcpy(&b, m + run + 8, 8);
		memcpy(&c, m + run + 16, 8);
		memcpy(&d, m + run + 24, 8);
		if ((FLAGGED(a) | FLAGGED(b) | FLAGGED(c) | FLAGGED(d)) & UINT64_C(0x8080808080808080))
			break;
	}
	for (uint64_t w; run + 8 <= n; run += 8) {
		memcpy(&w, m + run, 8);
		if (FLAGGED(w) & UINT64_C(0x8080808080808080))
			break;
	}
#undef FLAGGED
	while (run < n && m[run] >= 0x20 && m[run] < 0x7f)
		run++;
	return run;
}

const char *logrec_line_end(const char *p, const char *end, int *plain)
{
	size_t run = logrec_ascii_run(p, (size_t)(end - p));

	*plain = 1;
	if (p + run < end && p[run] == '\n')
		return p + run;
	*plain = 0;
	return p + run < end ? memchr(p + run, '\n', (size_t)(end - p - run)) : NULL;
}

/* Characters that are valid UTF-8 and still break a line for a reader
 * that splits with Python's str.splitlines (Lorax's log monitor): the C1
 * controls U+0080-U+009F (NEL among them, and CSI), U+2028, U+2029. */
static int utf8_breaks_line(const unsigned char *s, size_t k)
{
	return (k == 2 && s[0] == 0xc2 && s[1] < 0xa0) || (k == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] | 1) == 0xa9);
}

/* Valid UTF-8 as is; invalid bytes, control characters but TAB, and what
 * utf8_breaks_line names as \xHH, so the result is UTF-8 without a line
 * break in it. A plain message (see logrec_line_end) is copied as it is. */
void logrec_put_msg(struct wbuf *b, const char *msg, size_t len, int plain)
{
	const unsigned char *m = (const unsigned char *)msg;

	if (plain && !b->full) {
		size_t room = b->cap - b->n, n = len < room ? len : room;
		logrec_copy(b->p + b->n, msg, n);  /* a cut, as below, keeps whole bytes */
		b->n += n;
		b->full = n < len;
		return;
	}
	for (size_t i = 0; i < len && !b->full;) {
		/* Printable ASCII and tabs, the bulk of any log, go in runs: one
		 * copy per run, not per byte. */
		size_t run = i + logrec_ascii_run(msg + i, len - i);
		while (run < len && ((m[run] >= 0x20 && m[run] < 0x7f) || m[run] == '\t'))
			run++;
		if (run > i) {
			size_t n = run - i < b->cap - b->n ? run - i : b->cap - b->n;
			wbuf_put(b, msg + i, n);  /* each byte is whole: cut the run to fit */
			if (n < run - i)
				b->full = 1;
			i = run;
			continue;
		}
		size_t k = m[i] < 0x80 ? 0 : logrec_utf8_len(m + i, len - i);
		if (k == 0) {
			put_hex_escape(b, m[i]);
			k = 1;
		} else if (utf8_breaks_line(m + i, k)) {
			for (size_t j = 0; j < k; j++)
				put_hex_escape(b, m[i + j]);
		} else {
			wbuf_put(b, msg + i, k);
		}
		i += k;
	}
}

size_t logrec_escape(const char *msg, size_t len, char *out, size_t cap)
{
	struct wbuf b = { out, 0, cap, 0 };
	logrec_put_msg(&b, msg, len, 0);
	return b.n;
}

/* RFC 5424 header fields are PRINTUSASCII (%d33-126): others become '_'. */
void logrec_put_name(struct wbuf *b, const char *s, size_t max)
{
	size_t n = s ? logrec_name_len(s, max) : 0;

	if (n == 0)
		wbuf_put(b, "-", 1);
	for (size_t i = 0; i < n;) {
		size_t run = i;
		while (run < n && (unsigned char)s[run] > 32 && (unsigned char)s[run] < 127)
			run++;
		wbuf_put(b, s + i, run - i);  /* valid names go in one piece */
		if (run < n)
			wbuf_put(b, "_", 1);
		i = run + 1;
	}
}

/* 1-20 digits, no overflow. */
int logrec_parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!logrec_isdigit(s[i]) || __builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, s[i] - '0', &x))
			return -1;
	*v = x;
	return 0;
}
