/* Guest text made safe to show or store (see logs.h). */
#include "logrec.h"
#include "logs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
		size_t l = s[i] < 0x80 ? 1 : logrec_utf8_len(s + i, n - i);
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
