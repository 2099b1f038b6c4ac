/* Guest text made safe to show or store (see logs.h). */
#include "logrec.h"
#include "logs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t c = s[0] & (0x7f >> len);

	if (len < 2 || n < len)
		return len < 2 ? len : 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	return c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ? 0 : len;
}

/* C1 is U+0080 to U+009F, CSI among them. JSON: RFC 8259 §7; invalid bytes
 * as the text "\xHH", as the guest sends them. */
char *logs_escape(char *out, const char *str, size_t n, int json)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < n;) {
		/* Printable ASCII in runs, one copy each (JSON escapes two of it). */
		size_t run = i;
		if (!json)
			run += logrec_ascii_run(str + i, n - i);
		else
			while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
				run++;
		if (run > i) {
			memcpy(out, s + i, run - i);
			out += run - i, i = run;
			continue;
		}
		size_t l = utf8_seq(s + i, n - i);
		int c1 = l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0;
		if (l == 1 && s[i] >= 0x20 && s[i] != 0x7f) {
			if (json && (s[i] == '"' || s[i] == '\\'))
				*out++ = '\\';
			*out++ = (char)s[i++];
		} else if (l > 1 && !c1) {
			memcpy(out, s + i, l);
			out += l, i += l;
		} else if (json && l) { /* a control character */
			out += sprintf(out, "\\u%04x", c1 ? s[i + 1] : s[i]);
			i += l;
		} else {
			for (size_t k = 0; k < (l ? l : 1); k++, i++)
				out += sprintf(out, json ? "\\\\x%02x" : "\\x%02x", s[i]);
		}
	}
	*out = 0;
	return out;
}

/* (Once a record: sprintf cost more than the rest of the line.) */
char *logs_put_uptime(char *out, int64_t cs)
{
	uint64_t v = cs < 0 ? 0 : (uint64_t)cs;

	out = logrec_put_num(out, v / 100, 1);
	*out++ = '.';
	return logrec_put_num(out, v % 100, 2);
}
