/* Guest text made safe to show or store (see logescape.h). */
#include "logrec.h"
#include "logescape.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Characters a terminal or an editor acts on without showing them: the
 * Unicode bidirectional controls (UAX #9 Bidi_Control: ALM, LRM, RLM,
 * LRE..RLO, LRI..PDI), which can show a line in another order than its
 * bytes ("Trojan Source", CVE-2021-42574); zero-width and invisible format
 * characters (ZWSP..ZWJ, WJ..INVISIBLE PLUS, the BOM) and the tag
 * characters, which hide text; LINE and PARAGRAPH SEPARATOR, which break
 * a line where no LF is. */
static const struct {
	uint32_t first, last;
} invisible[] = {
	{ 0x061c, 0x061c }, { 0x200b, 0x200f }, { 0x2028, 0x202e }, { 0x2060, 0x2064 },
	{ 0x2066, 0x2069 }, { 0xfeff, 0xfeff }, { 0xe0000, 0xe007f },
};

/* The code point of the valid UTF-8 sequence of l (2-4) bytes at s. */
static uint32_t code_point(const unsigned char *s, size_t l)
{
	uint32_t c = s[0] & (0x7f >> l);

	for (size_t i = 1; i < l; i++)
		c = c << 6 | (s[i] & 0x3f);
	return c;
}

static int is_invisible(uint32_t c)
{
	for (size_t i = 0; i < sizeof(invisible) / sizeof(invisible[0]); i++)
		if (c >= invisible[i].first && c <= invisible[i].last)
			return 1;
	return 0;
}

/* C1 is U+0080 to U+009F, CSI among them; it and the invisible characters
 * are escaped as control bytes are. JSON: RFC 8259 §7 (\uXXXX, a surrogate
 * pair above U+FFFF); invalid bytes as the text "\xHH", as the guest sends
 * them. */
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
		size_t l = s[i] < 0x80 ? 1 : logrec_utf8_len(s + i, n - i);
		uint32_t c = l > 1 ? code_point(s + i, l) : s[i];
		int shown = l == 1 ? c >= 0x20 && c != 0x7f : l > 1 && c >= 0xa0 && !is_invisible(c);
		if (l == 1 && shown) {
			if (json && (c == '"' || c == '\\'))
				*out++ = '\\';
			*out++ = (char)s[i++];
		} else if (shown) {
			memcpy(out, s + i, l);
			out += l, i += l;
		} else if (json && l) { /* a control or invisible character */
			if (c > 0xffff)
				out += sprintf(out, "\\u%04x", 0xd800 + ((c - 0x10000) >> 10)), c = 0xdc00 + (c & 0x3ff);
			out += sprintf(out, "\\u%04x", c);
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
