/* jsmn's code, strict, lives here; every other includer of jsontok.h
 * sees its declarations only (the header is guarded). */
#define JSMN_STRICT
#include <jsmn.h>

#include "jsontok.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* The token after t's whole value. */
int jsontok_next(const struct jsontok *r, int t)
{
	int end = r->tok[t].end, i = t + 1;
	while (i < r->ntok && r->tok[i].start < end)
		i++;
	return i;
}

int jsontok_is(const struct jsontok *r, int t, const char *s)
{
	size_t n = strlen(s);
	return t >= 0 && r->tok[t].type == JSMN_STRING && (size_t)(r->tok[t].end - r->tok[t].start) == n &&
	       memcmp(r->js + r->tok[t].start, s, n) == 0;
}

int jsontok_member(const struct jsontok *r, int obj, const char *key)
{
	if (obj < 0 || r->tok[obj].type != JSMN_OBJECT)
		return -1;
	int t = obj + 1;
	for (int k = 0; k < r->tok[obj].size && t + 1 < r->ntok; k++) {
		if (jsontok_is(r, t, key))
			return t + 1;
		t = jsontok_next(r, t + 1);
	}
	return -1;
}

/* A token's text, a string's quotes included. */
static int from(const struct jsontok *r, int t)
{
	return r->tok[t].start - (r->tok[t].type == JSMN_STRING);
}

static int to(const struct jsontok *r, int t)
{
	return r->tok[t].end + (r->tok[t].type == JSMN_STRING);
}

/* Nothing but whitespace in js[a..b). */
static int gap(const char *js, int a, int b)
{
	for (; a < b; a++)
		if (!strchr(" \t\r\n", js[a]) || !js[a])
			return 0;
	return 1;
}

/* Whitespace, then c, before limit: *pos moves past it. */
static int sep(const char *js, int *pos, char c, int limit)
{
	while (*pos < limit && strchr(" \t\r\n", js[*pos]) && js[*pos])
		(*pos)++;
	if (*pos >= limit || js[*pos] != c)
		return 0;
	(*pos)++;
	return 1;
}

/* jsmn takes some text that is not JSON ({"a" 1}, [1,]): the separators
 * between its tokens are checked here. Returns the token after t's
 * value, or -1. */
static int check(const struct jsontok *r, int t)
{
	const jsmntok_t *c = &r->tok[t];
	int pos = c->start + 1, i = t + 1;

	if (c->type != JSMN_OBJECT && c->type != JSMN_ARRAY)
		return t + 1;
	for (int m = 0; m < c->size; m++) {
		if (m && !sep(r->js, &pos, ',', c->end))
			return -1;
		if (c->type == JSMN_OBJECT) {
			if (i >= r->ntok || r->tok[i].type != JSMN_STRING || !gap(r->js, pos, from(r, i)))
				return -1;
			pos = to(r, i++);
			if (!sep(r->js, &pos, ':', c->end))
				return -1;
		}
		if (i >= r->ntok || !gap(r->js, pos, from(r, i)))
			return -1;
		pos = to(r, i);
		if ((i = check(r, i)) < 0)
			return -1;
	}
	return gap(r->js, pos, c->end - 1) ? i : -1;
}

int jsontok_parse(struct jsontok *d, const char *js, size_t len, jsmntok_t *tok, int max, int separators)
{
	jsmn_parser p;
	const char *v;
	size_t n;

	jsmn_init(&p);
	*d = (struct jsontok){ .js = js, .tok = tok };
	d->ntok = jsmn_parse(&p, js, len, tok, (unsigned)max);
	if (d->ntok == JSMN_ERROR_NOMEM)
		return -2;
	if (d->ntok < 1)
		return -1;
	v = jsontok_raw(d, 0, &n);
	if (separators && check(d, 0) != d->ntok)
		return -1;
	return gap(js, 0, (int)(v - js)) && gap(js, (int)(v - js + n), (int)len) ? 0 : -1;
}

int jsontok_int(const struct jsontok *r, int t, long long *out)
{
	if (t < 0 || r->tok[t].type != JSMN_PRIMITIVE)
		return -1;
	const char *s = r->js + r->tok[t].start, *end = r->js + r->tok[t].end;
	int neg = *s == '-';
	unsigned long long v = 0, limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;

	s += neg;
	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (limit - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return 0;
}

static int hex4(const char *s, unsigned *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (d > 15)
			return -1;
		*out = *out * 16 + d;
	}
	return 0;
}

int jsontok_str(const struct jsontok *r, int t, char *out, size_t outlen)
{
	if (t < 0 || r->tok[t].type != JSMN_STRING || outlen == 0)
		return -1;
	const char *s = r->js + r->tok[t].start, *end = r->js + r->tok[t].end;
	size_t n = 0;

	while (s < end) {
		unsigned c = (unsigned char)*s++;
		if (c == '\\') {
			switch (s < end ? *s++ : 0) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u':
				/* Only ASCII: no name here needs more. */
				if (end - s < 4 || hex4(s, &c) < 0 || c == 0 || c >= 0x80)
					return -1;
				s += 4;
				break;
			default:
				return -1;
			}
		}
		if (n + 1 >= outlen)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

const char *jsontok_raw(const struct jsontok *r, int t, size_t *len)
{
	int q = r->tok[t].type == JSMN_STRING;
	*len = (size_t)(r->tok[t].end - r->tok[t].start + 2 * q);
	return r->js + r->tok[t].start - q;
}
