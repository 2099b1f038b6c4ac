#include "jsonw.h"

#include <stdio.h>
#include <string.h>

void jsonw_init(struct jsonw *w, char *buf, size_t cap)
{
	*w = (struct jsonw){ .buf = buf, .cap = cap };
	if (cap)
		buf[0] = '\0';
}

void jsonw_rawn(struct jsonw *w, const char *s, size_t n)
{
	if (w->overflow || n >= w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void jsonw_raw(struct jsonw *w, const char *s)
{
	jsonw_rawn(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1-4; 1 for ASCII), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] < 0xC2 ? 0 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF5 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) || (s[0] == 0xF0 && s[1] < 0x90) ||
	    (s[0] == 0xF4 && s[1] >= 0x90))
		return 0;
	return n;
}

void jsonw_str(struct jsonw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	jsonw_rawn(w, "\"", 1);
	while (*p) {
		size_t n = 0;
		while (p[n] >= 0x20 && p[n] < 0x7F && p[n] != '"' && p[n] != '\\')
			n++;
		if (n) {
			jsonw_rawn(w, (const char *)p, n);
		} else if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };
			jsonw_rawn(w, esc, 2);
			n = 1;
		} else if (*p < 0x80) {  /* C0 and DEL */
			char esc[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
			jsonw_rawn(w, esc, 6);
			n = 1;
		} else if ((n = utf8_len(p))) {
			jsonw_rawn(w, (const char *)p, n);
		} else {
			jsonw_rawn(w, "\\ufffd", 6);
			n = 1;
		}
		p += n;
	}
	jsonw_rawn(w, "\"", 1);
}

void jsonw_int(struct jsonw *w, long long v)
{
	char num[24];
	snprintf(num, sizeof(num), "%lld", v);
	jsonw_raw(w, num);
}
