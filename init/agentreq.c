/* jsmn's code, strict, lives here; every other includer of agentreq.h
 * sees its declarations only (the header is guarded). */
#define JSMN_STRICT
#include <jsmn.h>

#include "agentreq.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* The token after t's whole value. */
static int next(const struct agentreq *r, int t)
{
	int end = r->tok[t].end, i = t + 1;
	while (i < r->ntok && r->tok[i].start < end)
		i++;
	return i;
}

int agentreq_is(const struct agentreq *r, int t, const char *s)
{
	size_t n = strlen(s);
	return t >= 0 && r->tok[t].type == JSMN_STRING && (size_t)(r->tok[t].end - r->tok[t].start) == n &&
	       memcmp(r->js + r->tok[t].start, s, n) == 0;
}

/* The value token of member key in object token obj, or -1. */
static int member(const struct agentreq *r, int obj, const char *key)
{
	if (obj < 0 || r->tok[obj].type != JSMN_OBJECT)
		return -1;
	int t = obj + 1;
	for (int k = 0; k < r->tok[obj].size && t + 1 < r->ntok; k++) {
		if (agentreq_is(r, t, key))
			return t + 1;
		t = next(r, t + 1);
	}
	return -1;
}

/* A token's text, a string's quotes included. */
static int from(const struct agentreq *r, int t)
{
	return r->tok[t].start - (r->tok[t].type == JSMN_STRING);
}

static int to(const struct agentreq *r, int t)
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
static int check(const struct agentreq *r, int t)
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

int agentreq_parse(struct agentreq *r, const char *js, size_t len, const char **why)
{
	jsmn_parser p;

	jsmn_init(&p);
	r->js = js;
	r->execute = r->arguments = r->id = -1;
	r->ntok = jsmn_parse(&p, js, len, r->tok, AGENTREQ_TOKENS);
	if (r->ntok == JSMN_ERROR_NOMEM) {
		*why = "request has too many members";
		return -1;
	}
	if (r->ntok < 1 || r->tok[0].type != JSMN_OBJECT || r->tok[0].end != (int)len || check(r, 0) != r->ntok) {
		*why = "request is not a JSON object";
		return -1;
	}
	r->execute = member(r, 0, "execute");
	r->arguments = member(r, 0, "arguments");
	r->id = member(r, 0, "id");
	if (r->execute < 0 || r->tok[r->execute].type != JSMN_STRING) {
		*why = "request lacks a string member 'execute'";
		return -1;
	}
	if (r->arguments >= 0 && r->tok[r->arguments].type != JSMN_OBJECT) {
		*why = "'arguments' is not an object";
		return -1;
	}
	return 0;
}

int agentreq_arg(const struct agentreq *r, const char *name)
{
	return member(r, r->arguments, name);
}

int agentreq_int(const struct agentreq *r, int t, long long *out)
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

int agentreq_str(const struct agentreq *r, int t, char *out, size_t outlen)
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

const char *agentreq_raw(const struct agentreq *r, int t, size_t *len)
{
	int q = r->tok[t].type == JSMN_STRING;
	*len = (size_t)(r->tok[t].end - r->tok[t].start + 2 * q);
	return r->js + r->tok[t].start - q;
}
