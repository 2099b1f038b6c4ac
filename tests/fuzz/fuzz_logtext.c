/* libFuzzer: Anaconda text from a guest, in reads of any size, through what
 * amphi logs --text does with it (image-builder/textline.c): lines cut at
 * LF and bounded, fields, failure lines, the escaped and JSON forms. The
 * line buffer is small (its size from the first byte) so that cut lines
 * are common. Built by `make fuzz` (Makefile: fuzz_src_logtext). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logrec.h"
#include "logescape.h"
#include "textline.h"

struct seen {
	char *text;     /* the input as the pieces give it back */
	size_t len;
	size_t cap;     /* of the split's line buffer */
	int pieces;
	size_t last_n;  /* of the piece before */
	char *esc;
};

/* What a terminal or anaconda.log gets: no C0, DEL or C1 control, valid UTF-8. */
static void check_escaped(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t l = u[i] < 0x80 ? 1 : logrec_utf8_len(u + i, n - i);
		if (l == 0 || (l == 1 && (u[i] < 0x20 || u[i] == 0x7f)) ||
		    (l == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0))
			__builtin_trap();
		i += l;
	}
}

static int on_line(void *ctx, const char *s, size_t n, int cont)
{
	struct seen *w = ctx;
	struct textline_fields f;
	char *e;

	/* A piece is at most the buffer and holds no LF; a line is cut only
	 * where it filled the buffer, and what follows the cut is not empty. */
	if (n > w->cap || memchr(s, '\n', n) || (cont && (!w->pieces || w->last_n != w->cap || n == 0)))
		__builtin_trap();
	w->last_n = n;
	if (w->pieces++ && !cont)
		w->text[w->len++] = '\n';
	memcpy(w->text + w->len, s, n);
	w->len += n;

	if (textline_fields(s, n, &f)) {
		if (f.level != 13 || !f.levellen || !f.proglen || f.prog != f.level + f.levellen + 1 ||
		    f.msg != f.prog + f.proglen + 1 || f.msg > n || s[f.msg - 1] != ':' ||
		    memchr(s + f.prog, ':', f.proglen))
			__builtin_trap();
	}
	e = logs_escape(w->esc, s, n, 0);
	if (e < w->esc || (size_t)(e - w->esc) > 4 * n || *e || strlen(w->esc) != (size_t)(e - w->esc))
		__builtin_trap();
	check_escaped(w->esc, (size_t)(e - w->esc));
	e = textline_json(w->esc, s, n, cont, textline_failure(s, n));
	if ((size_t)(e - w->esc) > 6 * n + 256 || *e || strlen(w->esc) != (size_t)(e - w->esc) ||
	    w->esc[0] != '{' || e[-1] != '}')
		__builtin_trap();
	check_escaped(w->esc, (size_t)(e - w->esc));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct textline_split t = { 0 };
	struct seen w = { 0 };
	uint32_t rng;
	size_t off = 1, want;

	if (size < 1)
		return 0;
	t.cap = 1 + data[0] % 64;
	t.line = malloc(t.cap);
	rng = data[0] * 2654435761u + 1;
	w.cap = t.cap;
	w.text = malloc(2 * size + 1);
	w.esc = malloc(6 * t.cap + 256);
	for (; off < size; off += want) {
		rng = rng * 1103515245u + 12345u;
		want = (rng >> 16) % 8 == 0 ? size - off : 1 + (rng >> 16) % 64;
		if (want > size - off)
			want = size - off;
		if (textline_feed(&t, (const char *)data + off, want, on_line, &w) != 0)
			__builtin_trap();
	}
	textline_flush(&t, on_line, &w);
	/* Every byte comes back, in order, lines joined by the LFs that ended
	 * them (a last LF ends the last line and leaves nothing after it). */
	size_t inlen = size - 1;
	if (inlen && data[size - 1] == '\n')
		inlen--;
	if (w.len != inlen || memcmp(w.text, data + 1, inlen) != 0)
		__builtin_trap();
	free(t.line);
	free(w.text);
	free(w.esc);
	return 0;
}
