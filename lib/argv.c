#include "argv.h"

#include <stdio.h>

int argv_split(const char *line, char *buf, size_t buflen, char *argv[], int max,
	       char *err, size_t errlen)
{
	size_t out = 0;
	int argc = 0;
	const char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')  /* as in sh: a word that starts with '#' starts a comment */
			break;
		if (argc >= max - 1) {
			snprintf(err, errlen, "more than %d words", max - 1);
			return -1;
		}
		argv[argc++] = buf + out;
		char quote = 0;
		for (; *p && (quote || (*p != ' ' && *p != '\t')); p++) {
			char c = *p;
			if (quote == '\'' && c == '\'') {
				quote = 0;
				continue;
			}
			if (quote == '"' && c == '"') {
				quote = 0;
				continue;
			}
			if (!quote && (c == '\'' || c == '"')) {
				quote = c;
				continue;
			}
			if (c == '\\' && quote != '\'' && p[1] &&
			    (!quote || p[1] == '"' || p[1] == '\\'))
				c = *++p;
			if (out + 1 >= buflen) {
				snprintf(err, errlen, "command line too long");
				return -1;
			}
			buf[out++] = c;
		}
		if (quote) {
			snprintf(err, errlen, "unterminated %c quote", quote);
			return -1;
		}
		if (out + 1 >= buflen) {
			snprintf(err, errlen, "command line too long");
			return -1;
		}
		buf[out++] = '\0';
	}
	argv[argc] = NULL;
	if (argc == 0) {
		snprintf(err, errlen, "expected a command");
		return -1;
	}
	return argc;
}
