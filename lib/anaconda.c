/* Anaconda text, the one-way format of the text port: one line a record.
 * See docs/PROTOCOL.md. */
#include "anaconda.h"
#include "wbuf.h"

int logrec_text(const struct logrec *r, char *out, size_t outlen)
{
	/* By severity (RFC 5424 §6.2.1): emergency, alert, critical, error,
	 * warning, notice, informational, debug. */
	static const char *const levels[8] = { "CRITICAL", "CRITICAL", "CRITICAL", "ERROR",
					       "WARNING", "INFO", "INFO", "DEBUG" };
	int64_t ms = r->realtime_us > 0 ? r->realtime_us / 1000 % 86400000 : 0;
	struct wbuf b = { out, 0, 0, 0 };

	if (outlen < 2)
		return -1;
	b.cap = outlen - 2; /* the LF and the NUL always fit */
	wbuf_num(&b, (uint64_t)(ms / 3600000), 2);
	wbuf_put(&b, ":", 1);
	wbuf_num(&b, (uint64_t)(ms / 60000 % 60), 2);
	wbuf_put(&b, ":", 1);
	wbuf_num(&b, (uint64_t)(ms / 1000 % 60), 2);
	wbuf_put(&b, ",", 1);
	wbuf_num(&b, (uint64_t)(ms % 1000), 3);
	wbuf_put(&b, " ", 1);
	wbuf_puts(&b, levels[(unsigned)r->pri & 7]);
	wbuf_put(&b, " ", 1);
	logrec_put_name(&b, r->app, LOGREC_NAME_MAX);
	wbuf_put(&b, ":", 1);
	if (b.full)
		return -1;
	logrec_put_msg(&b, r->msg, r->msg ? r->msglen : 0, r->plain);
	out[b.n++] = '\n';
	out[b.n] = '\0';
	return (int)b.n;
}
