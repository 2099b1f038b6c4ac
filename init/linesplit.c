#include "linesplit.h"
#include "logrec.h"

#include <string.h>

void linesplit_flush(struct linesplit *ls, linesplit_emit emit, void *ctx)
{
	if (ls->len)
		emit(ctx, ls->buf, ls->len, 0);
	ls->len = 0;
}

const char *linesplit_feed(struct linesplit *ls, const char *p, const char *end, int (*stop)(void),
			   linesplit_emit emit, void *ctx)
{
	while (p < end && !(stop && stop())) {
		if (ls->len == sizeof(ls->buf)) {
			linesplit_flush(ls, emit, ctx);
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		int plain;
		const char *nl = logrec_line_end(p, end, &plain);
		size_t take = (size_t)((nl ? nl : end) - p), room = sizeof(ls->buf) - ls->len;
		if (ls->len == 0 && nl && take <= sizeof(ls->buf)) {
			emit(ctx, p, take, plain);  /* a whole line: no copy */
			p = nl + 1;
			continue;
		}
		if (take > room)
			take = room;
		memcpy(ls->buf + ls->len, p, take);
		ls->len += take;
		p += take;
		if (p < end && *p == '\n' && ls->len < sizeof(ls->buf)) {
			linesplit_flush(ls, emit, ctx);
			p++;
		}
	}
	return p;
}
