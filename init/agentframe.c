#include "agentframe.h"

#include <string.h>

void agentframe_reset(struct agentframe *f)
{
	memset(f, 0, offsetof(struct agentframe, buf));
}

static void end_garbage(struct agentframe *f, agentframe_fn fn, void *ctx)
{
	if (f->garbage)
		fn(AGENTFRAME_GARBAGE, NULL, 0, ctx);
	f->garbage = 0;
}

static void take(struct agentframe *f, char c)
{
	if (f->len < AGENTFRAME_MAX)
		f->buf[f->len++] = c;
	else
		f->over = 1;
}

void agentframe_feed(struct agentframe *f, const char *p, size_t n, agentframe_fn fn, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == 0xFF) {
			agentframe_reset(f);
			continue;
		}
		if (f->depth == 0) {
			if (c == '{') {
				end_garbage(f, fn, ctx);
				f->len = 0;
				f->over = 0;
				f->depth = 1;
				take(f, '{');
			} else if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
				f->garbage = 1;
			continue;
		}
		/* JSON has no raw control bytes inside an object but whitespace. */
		if (c < 0x20 && (f->in_string || (c != '\t' && c != '\n' && c != '\r'))) {
			agentframe_reset(f);
			f->garbage = 1;
			continue;
		}
		take(f, (char)c);
		if (f->in_string) {
			if (f->escaped)
				f->escaped = 0;
			else if (c == '\\')
				f->escaped = 1;
			else if (c == '"')
				f->in_string = 0;
			continue;
		}
		if (c == '"')
			f->in_string = 1;
		else if (c == '{' || c == '[') {
			if (++f->depth > AGENTFRAME_DEPTH)
				f->over = 1;
		} else if ((c == '}' || c == ']') && --f->depth == 0) {
			if (c == ']')
				f->garbage = 1;  /* "{...]": not an object */
			else if (f->over)
				fn(AGENTFRAME_TOO_LONG, NULL, 0, ctx);
			else {
				f->buf[f->len] = '\0';
				fn(AGENTFRAME_REQUEST, f->buf, f->len, ctx);
			}
			f->len = 0;
			f->over = 0;
		}
	}
}
