#include "conf.h"

#include <stdio.h>
#include <string.h>

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trims blanks in place at both ends of s[0..n) and NUL-terminates. */
static char *trim(char *s, size_t n)
{
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	s[n] = '\0';
	while (is_blank(*s))
		s++;
	return s;
}

static int is_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

const char *conf_end_comment(const char *s)
{
	for (const char *p = s; (p = strchr(p, '#')); p++)
		if (p > s && is_blank(p[-1]))
			return p;
	return NULL;
}

/* Said after an error that quotes the comment (it was taken as part of the
 * value), not after one about something else. */
static void comment_hint(const char *s, char *err, size_t errlen)
{
	const char *p = conf_end_comment(s);
	if (p && strstr(err, p)) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (a '#' starts a comment only at the start of a line)");
	}
}

/* One line, already copied into buf and trimmed. Returns 0 or -1 with err set. */
static int parse_line(char *line, int lineno, char *section, size_t seclen, conf_key_fn fn,
		      void *ctx, char *err, size_t errlen)
{
	if (*line == '\0' || *line == '#' || *line == ';')
		return 0;
	if (*line == '[') {
		char *end = strchr(line, ']');
		if (!end || end[1] != '\0') {
			snprintf(err, errlen, "expected a section header like [runtime], got '%s'", line);
			comment_hint(line, err, errlen);
			return -1;
		}
		char *name = trim(line + 1, (size_t)(end - line - 1));
		if (!is_name(name) || strlen(name) >= seclen) {
			snprintf(err, errlen, "expected a section name of letters, digits, '_', '-' or '.', got '[%s]'", name);
			return -1;
		}
		strcpy(section, name);
		return 0;
	}
	char *eq = strchr(line, '=');
	if (!eq) {
		snprintf(err, errlen, "expected 'key = value', got '%s'", line);
		return -1;
	}
	char *key = trim(line, (size_t)(eq - line));
	char *value = trim(eq + 1, strlen(eq + 1));
	if (!is_name(key)) {
		snprintf(err, errlen, "expected a key name before '=', got '%s'", key);
		return -1;
	}
	if (!section[0]) {
		snprintf(err, errlen, "key '%s' comes before any [section]", key);
		return -1;
	}
	if (fn(ctx, section, key, value, lineno, err, errlen) < 0) {
		comment_hint(value, err, errlen);
		return -1;
	}
	return 0;
}

int conf_parse(const char *text, size_t len, conf_key_fn fn, void *ctx,
	       char *err, size_t errlen)
{
	char section[64] = "";
	char buf[CONF_LINE_MAX];
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (n >= sizeof(buf)) {
			snprintf(err, errlen, "line is longer than %d bytes", CONF_LINE_MAX - 1);
			return lineno;
		}
		if (memchr(text + pos, '\0', n)) {
			snprintf(err, errlen, "expected text, found a NUL byte");
			return lineno;
		}
		memcpy(buf, text + pos, n);
		if (parse_line(trim(buf, n), lineno, section, sizeof(section), fn, ctx, err, errlen) < 0)
			return lineno;
		pos += n + (nl ? 1 : 0);
	}
	return 0;
}
