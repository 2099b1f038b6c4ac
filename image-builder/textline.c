/* Anaconda text, line by line (see textline.h). */
#include "textline.h"
#include "logescape.h"

#include <string.h>

/* ---- lines ---- */

/* The line so far; cut = it goes on in the next one. */
static int flush_line(struct textline_split *t, int cut, textline_fn fn, void *ctx)
{
	int rc = fn(ctx, t->line, t->len, t->cont);

	t->cont = cut;
	t->len = 0;
	return rc;
}

/* A line that fills the buffer is cut only once more of it comes: one of
 * exactly cap bytes is whole when its LF follows. */
int textline_feed(struct textline_split *t, const char *p, size_t n, textline_fn fn, void *ctx)
{
	int rc = 0;

	while (n && rc >= 0) {
		const char *lf = memchr(p, '\n', n);
		size_t want = lf ? (size_t)(lf - p) : n, room = t->cap - t->len;
		size_t k = want < room ? want : room;

		memcpy(t->line + t->len, p, k);
		t->len += k, p += k, n -= k;
		if (k < want)
			rc = flush_line(t, 1, fn, ctx);
		else if (lf)
			p++, n--, rc = flush_line(t, 0, fn, ctx);
	}
	return rc < 0 ? rc : 0;
}

int textline_flush(struct textline_split *t, textline_fn fn, void *ctx)
{
	return t->len ? flush_line(t, 0, fn, ctx) : 0;
}

/* ---- what Lorax's log monitor counts as a failure ---- */

static const char *find(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle));
}

/* "packaging: base repo (?!\(CDROM/file).* not valid" */
static int base_repo_invalid(const char *s, size_t n)
{
	static const char head[] = "packaging: base repo ", cdrom[] = "(CDROM/file";

	for (const char *p = find(s, n, head); p; p = find(p + 1, n - (size_t)(p + 1 - s), head)) {
		const char *rest = p + sizeof(head) - 1;
		size_t left = n - (size_t)(rest - s);
		if (!(left >= sizeof(cdrom) - 1 && memcmp(rest, cdrom, sizeof(cdrom) - 1) == 0) &&
		    find(rest, left, " not valid"))
			return 1;
	}
	return 0;
}

/* "packaging: .* requires .*": the first "packaging: " leaves the most room. */
static int packaging_requires(const char *s, size_t n)
{
	const char *p = find(s, n, "packaging: ");

	return p && find(p + 11, n - (size_t)(p + 11 - s), " requires ");
}

/* "Process [0-9]+ \(anaconda\) of user [0-9]+ dumped core" */
static int anaconda_dumped_core(const char *s, size_t n)
{
	static const char mid[] = " (anaconda) of user ", tail[] = " dumped core";

	for (const char *p = find(s, n, mid); p; p = find(p + 1, n - (size_t)(p + 1 - s), mid)) {
		const char *b = p, *e = p + sizeof(mid) - 1, *end = s + n;
		while (b > s && b[-1] >= '0' && b[-1] <= '9')
			b--;
		int pid_ok = b < p && b - s >= 8 && memcmp(b - 8, "Process ", 8) == 0;
		const char *d = e;
		while (d < end && *d >= '0' && *d <= '9')
			d++;
		if (pid_ok && d > e && (size_t)(end - d) >= sizeof(tail) - 1 && memcmp(d, tail, sizeof(tail) - 1) == 0)
			return 1;
	}
	return 0;
}

/* pylorax/monitor.py LogRequestHandler.simple_tests, and the failure
 * strings of the amphi brief (NevraSpec) on top. */
static const char *const failure_strings[] = {
	"Traceback (",
	"traceback script(s) have been run",
	"Out of memory:",
	"Call Trace:",
	"insufficient disk space:",
	"Not enough disk space to download the packages",
	"error populating transaction after",
	"crashed on signal",
	"packaging: Missed: NoSuchPackage",
	"packaging: Missed: NevraSpec",
	"packaging: Installation failed",
	"The following error occurred while installing.  This is a fatal error",
	"Error in POSTIN scriptlet in rpm package",
};

/* LogRequestHandler.re_tests, one small matcher each. */
static int (*const failure_patterns[])(const char *, size_t) = {
	anaconda_dumped_core,
	base_repo_invalid,
	packaging_requires,
};

/* As LogRequestHandler.iserror: a line with "IGNORED" never counts. */
int textline_failure(const char *s, size_t n)
{
	if (find(s, n, "IGNORED"))
		return 0;
	for (size_t i = 0; i < sizeof(failure_strings) / sizeof(failure_strings[0]); i++)
		if (find(s, n, failure_strings[i]))
			return 1;
	for (size_t i = 0; i < sizeof(failure_patterns) / sizeof(failure_patterns[0]); i++)
		if (failure_patterns[i](s, n))
			return 1;
	return 0;
}

/* ---- one line ---- */

int textline_fields(const char *s, size_t n, struct textline_fields *f)
{
	static const char shape[] = "99:99:99,999 ";
	size_t i;

	for (i = 0; shape[i]; i++)
		if (i >= n || (shape[i] == '9' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i]))
			return 0;
	for (f->level = i; i < n && s[i] >= 'A' && s[i] <= 'Z'; i++)
		;
	if (i == f->level || i >= n || s[i] != ' ')
		return 0;
	f->levellen = i - f->level;
	for (f->prog = ++i; i < n && s[i] != ':' && (unsigned char)s[i] > ' ' && s[i] != 0x7f; i++)
		;
	if (i == f->prog || i >= n || s[i] != ':')
		return 0;
	f->proglen = i - f->prog;
	f->msg = i + 1;
	return 1;
}

char *textline_json(char *out, const char *s, size_t n, int cont, int failed)
{
	struct textline_fields f;
	char *e = out;

	if (!cont && textline_fields(s, n, &f)) {
		e = logs_escape(stpcpy(e, "{\"time\":\""), s, 12, 1);
		e = logs_escape(stpcpy(e, "\",\"level\":\""), s + f.level, f.levellen, 1);
		e = logs_escape(stpcpy(e, "\",\"program\":\""), s + f.prog, f.proglen, 1);
		e = logs_escape(stpcpy(e, "\",\"msg\":\""), s + f.msg, n - f.msg, 1);
	} else { /* not in the format, or the rest of a cut line */
		e = logs_escape(stpcpy(e, "{\"time\":null,\"level\":null,\"program\":null,\"msg\":\""), s, n, 1);
	}
	return stpcpy(e, failed ? "\",\"failure\":true}" : "\",\"failure\":false}");
}
