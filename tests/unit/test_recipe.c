/* recipe_load() and conf_parse() against golden files (the shape of inih's
 * tests). Every tests/fixtures/recipe/good/NAME.conf has NAME.expect, the
 * parsed recipe dumped as
 *
 *   name=...\nhostname=...\nttys=N\nstop_timeout=N\nmodules=a b c\n
 *
 * and every recipe/bad/NAME.conf has NAME.expect, the exact error on one
 * line with @FILE@ standing for the path given to recipe_load. The
 * directories are enumerated, so adding a pair adds a case. Files that
 * cannot be committed as text (a NUL byte, over 64 KiB) are written at test
 * time. AMPHI_FIXTURES names the fixtures directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argv.h"
#include "conf.h"
#include "recipe.h"
#include "testutil.h"

#define MAX_CASES 256

struct golden {
	int good;                /* 1: good/, 0: bad/ */
	char name[NAME_MAX + 1]; /* without ".conf" */
};

static struct golden cases[MAX_CASES];
static size_t ncases;


static void case_path(char *out, size_t outlen, const struct golden *g, const char *ext)
{
	int n = snprintf(out, outlen, "%s/recipe/%s/%s.%s", fixtures_dir(), g->good ? "good" : "bad",
			 g->name, ext);

	assert_true(n > 0 && (size_t)n < outlen);
}


static void put(char *out, size_t outlen, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *out, size_t outlen, size_t *used, const char *fmt, ...)
{
	va_list ap;

	if (*used >= outlen)
		return;
	va_start(ap, fmt);
	*used += (size_t)vsnprintf(out + *used, outlen - *used, fmt, ap);
	va_end(ap);
}

static void put_list(char *out, size_t outlen, size_t *used, const char *key,
		     const struct recipe_list *l)
{
	put(out, outlen, used, "%s=", key);
	for (int i = 0; i < l->n; i++)
		put(out, outlen, used, "%s%s", i ? " " : "", l->item[i]);
	put(out, outlen, used, "\n");
}

/* Lines past modules= appear only when they differ from the defaults, so
 * the older goldens stay as they are. */
static void dump(const struct recipe *r, char *out, size_t outlen)
{
	size_t used = 0;

	put(out, outlen, &used, "name=%s\nhostname=%s\nttys=%d\nstop_timeout=%d\n",
	    r->name, r->hostname, r->ttys, r->stop_timeout);
	put_list(out, outlen, &used, "modules", &r->modules);
	if (r->image_root != ROOT_AUTO || r->image_overlay != OVERLAY_TMPFS)
		put(out, outlen, &used, "root=%d overlay=%d root_image=%d\n", r->image_root, r->image_overlay,
		    recipe_root_image(r));
	for (int i = 0; i < r->packages.n; i++)
		put(out, outlen, &used, "package %s line=%d\n", r->packages.item[i], r->packages_line[i]);
	for (int i = 0; i < r->nfiles; i++)
		put(out, outlen, &used, "file %s -> %s owner=%s group=%s line=%d\n", r->files[i].src, r->files[i].dest,
		    r->files[i].owner, r->files[i].group, r->files[i].line);
	for (int i = 0; i < r->nsetup; i++)
		put(out, outlen, &used, "setup line=%d %s\n", r->setup[i].line, r->setup[i].cmd);
	if (r->getty.n != 1 || strcmp(r->getty.item[0], "auto") != 0)
		put_list(out, outlen, &used, "getty", &r->getty);
	if (r->autologin)
		put(out, outlen, &used, "autologin=yes\n");
	for (int i = 0; i < r->nunits; i++) {
		const struct recipe_unit *u = &r->unit[i];
		put(out, outlen, &used, "[%s.%s] line=%d exec=%s shell=%d user=%s group=%s workdir=%s\n",
		    recipe_unit_kind(u->kind), u->name, u->line, u->exec, u->shell,
		    u->user, u->group, u->workdir);
		put_list(out, outlen, &used, "  env", &u->env);
		if (u->kind == UNIT_STEP)
			put(out, outlen, &used, "  timeout=%d\n", u->timeout);
		else if (u->kind == UNIT_TASK)
			put(out, outlen, &used, "  on_failure=%s timeout=%d\n",
			    u->stop_boot_on_failure ? "stop" : "continue", u->timeout);
		else {
			put(out, outlen, &used, "  restart=%d stop_signal=%d stop_timeout=%d\n",
			    (int)u->restart, u->stop_signal, u->stop_timeout);
			put_list(out, outlen, &used, "  after", &u->after);
			if (u->needs_network)
				put(out, outlen, &used, "  needs=network\n");
		}
	}
	if (r->log_ring_kib != 1024 || r->log_policy != LOG_POLICY_AUTO || r->log_files.n || r->log_console_init_only) {
		put(out, outlen, &used, "log ring=%d policy=%d%s\n", r->log_ring_kib, r->log_policy,
		    r->log_console_init_only ? " console=init" : "");
		put_list(out, outlen, &used, "  files", &r->log_files);
	}
	if (r->install_mode != INSTALL_NONE)
		put(out, outlen, &used, "install mode=%d then=%d shell_on_failure=%d marker=%s steps=%d\n",
		    r->install_mode, r->install_then, r->install_shell_on_failure, r->install_marker, r->nsteps);
	if (r->network_timeout != 30)
		put(out, outlen, &used, "network_timeout=%d\n", r->network_timeout);
	if (!r->unnamed_dhcp)
		put(out, outlen, &used, "network unnamed=none\n");
	for (int i = 0; i < r->nnets; i++) {
		const struct recipe_net *n = &r->net[i];
		put(out, outlen, &used, "[network.%s] line=%d mac=%s dhcp=%d mtu=%d gateway=%s gateway6=%s bridge=%s\n",
		    n->name, n->line, n->mac, n->dhcp, n->mtu, n->gateway, n->gateway6, n->bridge);
		put_list(out, outlen, &used, "  address", &n->address);
		put_list(out, outlen, &used, "  dns", &n->dns);
		put_list(out, outlen, &used, "  search", &n->search);
	}
	for (int i = 0; i < r->nlxc; i++)
		put(out, outlen, &used, "lxc %s=%s\n", r->lxc[i].key, r->lxc[i].value);
	if (r->nservices) {
		put(out, outlen, &used, "start_order=");
		for (int i = 0; i < r->nservices; i++)
			put(out, outlen, &used, "%s%s", i ? " " : "", r->unit[r->start_order[i]].name);
		put(out, outlen, &used, "\n");
	}
}

/* expect with every @FILE@ replaced by path, and one trailing newline cut. */
static void substitute(const char *expect, const char *path, char *out, size_t outlen)
{
	size_t used = 0;

	for (const char *p = expect; *p; ) {
		if (strncmp(p, "@FILE@", 6) == 0) {
			used += (size_t)snprintf(out + used, outlen - used, "%s", path);
			p += 6;
		} else {
			assert_true(used + 1 < outlen);
			out[used++] = *p++;
		}
		assert_true(used < outlen);
	}
	out[used] = '\0';
	if (used > 0 && out[used - 1] == '\n')
		out[used - 1] = '\0';
}

static void test_golden(void **state)
{
	const struct golden *g = *state;
	char conf[PATH_MAX], expect_path[PATH_MAX], err[RECIPE_ERR_MAX * 2], got[4096], want[4096];
	struct recipe r;
	char *expect;
	int rc;

	case_path(conf, sizeof(conf), g, "conf");
	case_path(expect_path, sizeof(expect_path), g, "expect");
	expect = read_text(expect_path, NULL);
	if (!expect)
		fail_msg("%s has no %s", conf, expect_path);

	recipe_defaults(&r);
	err[0] = '\0';
	rc = recipe_load(conf, &r, err, sizeof(err));
	if (g->good) {
		if (rc != 0)
			fail_msg("%s: expected success, got error: %s", conf, err);
		dump(&r, got, sizeof(got));
		assert_string_equal(got, expect);
	} else {
		assert_int_equal(rc, -1);
		substitute(expect, conf, want, sizeof(want));
		assert_string_equal(err, want);
	}
	free(expect);
}

/* The CRLF case must really have CRLF (a checkout with autocrlf could
 * rewrite it and the case would silently test LF). */
static void test_crlf_fixture_has_crlf(void **state)
{
	char path[PATH_MAX];
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/recipe/good/crlf.conf", fixtures_dir());
	text = read_text(path, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "name = crlf\r\n"));
	free(text);
}

/* Every .expect has its .conf (a lone .expect would be a case never run),
 * and both directories hold cases. */
static void test_no_orphan_expect(void **state)
{
	static const char *const dirs[] = { "good", "bad" };

	(void)state;
	assert_true(ncases < MAX_CASES);  /* else collect() dropped some */
	for (size_t i = 0; i < 2; i++) {
		char dir[PATH_MAX], conf[PATH_MAX + NAME_MAX + 2];
		struct dirent *de;
		DIR *d;
		int nconf = 0;

		snprintf(dir, sizeof(dir), "%s/recipe/%s", fixtures_dir(), dirs[i]);
		d = opendir(dir);
		if (!d)
			fail_msg("cannot open %s: %s", dir, strerror(errno));
		while ((de = readdir(d))) {
			size_t n = strlen(de->d_name);

			if (n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0)
				nconf++;
			if (n <= 7 || strcmp(de->d_name + n - 7, ".expect") != 0)
				continue;
			snprintf(conf, sizeof(conf), "%s/%.*s.conf", dir, (int)(n - 7), de->d_name);
			if (access(conf, F_OK) != 0)
				fail_msg("%s/%s has no .conf", dir, de->d_name);
		}
		closedir(d);
		assert_true(nconf > 0);
	}
}

/* Writes len bytes to a new temporary file; path gets its name. */
static void write_temp(char path[64], const char *data, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/amphi-recipe-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[image]\nname = ok\nmodules = a\0b\nname = later\n";
	char path[64], err[RECIPE_ERR_MAX * 2], want[RECIPE_ERR_MAX * 2];
	struct recipe r;
	int rc;

	(void)state;
	write_temp(path, text, sizeof(text) - 1);
	recipe_defaults(&r);
	rc = recipe_load(path, &r, err, sizeof(err));
	unlink(path);
	assert_int_equal(rc, -1);
	snprintf(want, sizeof(want), "%s:3: expected text, found a NUL byte", path);
	assert_string_equal(err, want);
}

static void test_file_over_64k(void **state)
{
	enum { LEN = 64 * 1024 + 1 };
	char *text = malloc(LEN);
	char path[64], err[RECIPE_ERR_MAX * 2], want[RECIPE_ERR_MAX * 2];
	struct recipe r;
	int rc;

	(void)state;
	assert_non_null(text);
	/* Comment lines of 63 characters and a newline. */
	for (size_t i = 0; i < LEN; i++)
		text[i] = i % 64 == 0 ? '#' : i % 64 == 63 ? '\n' : 'x';
	write_temp(path, text, LEN);
	free(text);
	recipe_defaults(&r);
	rc = recipe_load(path, &r, err, sizeof(err));
	unlink(path);
	assert_int_equal(rc, -1);
	snprintf(want, sizeof(want), "%s: larger than 65536 bytes; a recipe is a short text file", path);
	assert_string_equal(err, want);
}

/* Exactly 64 KiB is still read. */
static void test_file_of_64k(void **state)
{
	enum { LEN = 64 * 1024 };
	static const char head[] = "[image]\nname = big\n";
	char *text = malloc(LEN);
	char path[64], err[RECIPE_ERR_MAX * 2];
	struct recipe r;
	int rc;

	(void)state;
	assert_non_null(text);
	memcpy(text, head, sizeof(head) - 1);
	for (size_t i = sizeof(head) - 1; i < LEN; i++)
		text[i] = (i - (sizeof(head) - 1)) % 64 == 0 ? ';' : '\n';
	write_temp(path, text, LEN);
	free(text);
	recipe_defaults(&r);
	rc = recipe_load(path, &r, err, sizeof(err));
	unlink(path);
	if (rc != 0)
		fail_msg("%s", err);
	assert_string_equal(r.name, "big");
}

static void test_missing_file(void **state)
{
	char path[PATH_MAX], err[RECIPE_ERR_MAX * 2], want[RECIPE_ERR_MAX * 2];
	struct recipe r;

	(void)state;
	snprintf(path, sizeof(path), "%s/recipe/no-such-recipe.conf", fixtures_dir());
	recipe_defaults(&r);
	assert_int_equal(recipe_load(path, &r, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);
}

/* Every recipe names its appliance: an empty one is an error, not a
 * nameless image. */
static void test_empty_buffer_needs_a_name(void **state)
{
	struct recipe r;
	char err[RECIPE_ERR_MAX] = "untouched";

	(void)state;
	memset(&r, 0x5a, sizeof(r));
	recipe_defaults(&r);
	assert_int_equal(recipe_parse("", 0, "empty.conf", &r, err, sizeof(err)), -1);
	assert_string_equal(err, "empty.conf: [image] has no name; every recipe names its appliance (name = web)");
	assert_int_equal(r.ttys, 1);
	assert_int_equal(r.stop_timeout, 5);
	assert_int_equal(r.modules.n, 0);
}

/* The error names the filename given, not a path of its own. */
static void test_parse_names_filename(void **state)
{
	static const char text[] = "[runtime]\n\n# c\nttys = 40\n";
	struct recipe r;
	char err[RECIPE_ERR_MAX];

	(void)state;
	recipe_defaults(&r);
	assert_int_equal(recipe_parse(text, sizeof(text) - 1, "<cmdline>", &r, err, sizeof(err)), -1);
	assert_string_equal(err, "<cmdline>:4: ttys = '40': expected a whole number from 0 to 12");
}

/* --- conf_parse through a callback --- */

struct seen {
	int n;
	char line[8][96];  /* "section/key=value" per call */
	const char *fail_key;
};

static int record(void *ctx, const char *section, const char *key, const char *value,
		  int line, char *err, size_t errlen)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->line[s->n++], sizeof(s->line[0]), "%s/%s=%s", section, key, value);
	if (s->fail_key && strcmp(key, s->fail_key) == 0) {
		snprintf(err, errlen, "callback refused '%s'", value);
		return -1;
	}
	return 0;
}

static void test_conf_callback_sees_trimmed(void **state)
{
	static const char text[] = "[ a ]\n k1 =  v 1 \r\n[b]\nk2=\nk.3-x_y = = x\n";
	struct seen s = { 0 };
	char err[128] = "";

	(void)state;
	assert_int_equal(conf_parse(text, sizeof(text) - 1, record, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.line[0], "a/k1=v 1");
	assert_string_equal(s.line[1], "b/k2=");
	assert_string_equal(s.line[2], "b/k.3-x_y== x");
}

static void test_conf_callback_error_stops(void **state)
{
	static const char text[] = "[s]\na = 1\nstop = here\nafter = 2\n[broken\n";
	struct seen s = { .fail_key = "stop" };
	char err[128] = "";

	(void)state;
	assert_int_equal(conf_parse(text, sizeof(text) - 1, record, &s, err, sizeof(err)), 3);
	assert_string_equal(err, "callback refused 'here'");
	assert_int_equal(s.n, 2);  /* nothing after the refused line */
	assert_string_equal(s.line[1], "s/stop=here");
}

static void test_conf_line_numbers_count_everything(void **state)
{
	static const char text[] =
		"\n"              /* 1 */
		"# comment\n"     /* 2 */
		"; comment\r\n"   /* 3 */
		"[s]\n"           /* 4 */
		"   \t\n"         /* 5 */
		"a = 1\n"         /* 6 */
		"\n"              /* 7 */
		"#\n"             /* 8 */
		"fail = now\n"    /* 9 */
		"b = 2\n";
	struct seen s = { .fail_key = "fail" };
	char err[128] = "";

	(void)state;
	assert_int_equal(conf_parse(text, sizeof(text) - 1, record, &s, err, sizeof(err)), 9);
	assert_int_equal(s.n, 2);
}

/* Grammar errors are the parser's own and never reach the callback. */
static void test_conf_grammar_error_line(void **state)
{
	static const char text[] = "[s]\nok = 1\n\n\njunk\n";
	struct seen s = { 0 };
	char err[128] = "";

	(void)state;
	assert_int_equal(conf_parse(text, sizeof(text) - 1, record, &s, err, sizeof(err)), 5);
	assert_string_equal(err, "expected 'key = value', got 'junk'");
	assert_int_equal(s.n, 1);
}

static void test_conf_empty(void **state)
{
	struct seen s = { 0 };
	char err[16] = "";

	(void)state;
	assert_int_equal(conf_parse("", 0, record, &s, err, sizeof(err)), 0);
	assert_int_equal(conf_parse("\n\n# only\n", 9, record, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 0);
}

static int by_name(const void *a, const void *b)
{
	const struct golden *x = a, *y = b;

	if (x->good != y->good)
		return y->good - x->good;
	return strcmp(x->name, y->name);
}

/* Collects the .conf files of recipe/good and recipe/bad; a missing directory yields no cases,
 * which test_no_orphan_expect reports. */
static void collect(int good)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/recipe/%s", fixtures_dir(), good ? "good" : "bad");
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) && ncases < MAX_CASES) {
		size_t n = strlen(de->d_name);

		if (n <= 5 || strcmp(de->d_name + n - 5, ".conf") != 0)
			continue;
		cases[ncases].good = good;
		snprintf(cases[ncases].name, sizeof(cases[0].name), "%.*s", (int)(n - 5), de->d_name);
		ncases++;
	}
	closedir(d);
}


/* --- argv_split: exec = lines into words --- */

static void expect_words(const char *line, int n, const char *const want[])
{
	char buf[256], err[128] = "";
	char *argv[ARGV_MAX];

	int got = argv_split(line, buf, sizeof(buf), argv, ARGV_MAX, err, sizeof(err));
	if (got != n)
		fail_msg("'%s': %d words (%s), expected %d", line, got, err, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[n]);
}

static void test_argv_words(void **state)
{
	(void)state;
	expect_words("/bin/echo  a\\tb", 2, (const char *const[]){ "/bin/echo", "atb" });
	expect_words("  x 'a b' \"c \\\" d\" e\\ f ", 4, (const char *const[]){ "x", "a b", "c \" d", "e f" });
	expect_words("sh -c 'echo \"$HOME\"'", 3, (const char *const[]){ "sh", "-c", "echo \"$HOME\"" });
	expect_words("''", 1, (const char *const[]){ "" });
	/* '#' starts a comment where sh would start one: at a word's start,
	 * unquoted; inside a word or in quotes it is a character */
	expect_words("/usr/sbin/httpd -f   # words; quotes as in sh", 2, (const char *const[]){ "/usr/sbin/httpd", "-f" });
	expect_words("echo a#b '#c' \"#d\" \\#e #f g", 5, (const char *const[]){ "echo", "a#b", "#c", "#d", "#e" });
}

static void test_argv_errors(void **state)
{
	char buf[16], err[128];
	char *argv[4];

	(void)state;
	assert_int_equal(argv_split("a 'b", buf, sizeof(buf), argv, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "unterminated ' quote");
	assert_int_equal(argv_split("   ", buf, sizeof(buf), argv, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "expected a command");
	assert_int_equal(argv_split("a b c d", buf, sizeof(buf), argv, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "more than 3 words");
	assert_int_equal(argv_split("aaaaaaaaaaaaaaaaaaaa", buf, sizeof(buf), argv, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "command line too long");
	assert_int_equal(argv_split("  # only a comment", buf, sizeof(buf), argv, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "expected a command");
}

static void test_signal_names(void **state)
{
	(void)state;
	assert_int_equal(recipe_signal("TERM"), SIGTERM);
	assert_int_equal(recipe_signal("SIGHUP"), SIGHUP);
	assert_int_equal(recipe_signal("9"), 9);
	assert_int_equal(recipe_signal("0"), -1);
	assert_int_equal(recipe_signal("NOPE"), -1);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_no_orphan_expect),
		cmocka_unit_test(test_crlf_fixture_has_crlf),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_file_over_64k),
		cmocka_unit_test(test_file_of_64k),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_empty_buffer_needs_a_name),
		cmocka_unit_test(test_parse_names_filename),
		cmocka_unit_test(test_conf_callback_sees_trimmed),
		cmocka_unit_test(test_conf_callback_error_stops),
		cmocka_unit_test(test_conf_line_numbers_count_everything),
		cmocka_unit_test(test_conf_grammar_error_line),
		cmocka_unit_test(test_conf_empty),
		cmocka_unit_test(test_argv_words),
		cmocka_unit_test(test_argv_errors),
		cmocka_unit_test(test_signal_names),
	};
	enum { NFIXED = sizeof(fixed) / sizeof(fixed[0]) };
	static char names[MAX_CASES][NAME_MAX + 8];
	static struct CMUnitTest tests[MAX_CASES + NFIXED];
	size_t n = 0;

	collect(1);
	collect(0);
	qsort(cases, ncases, sizeof(cases[0]), by_name);
	for (size_t i = 0; i < ncases; i++, n++) {
		snprintf(names[i], sizeof(names[i]), "%s/%s", cases[i].good ? "good" : "bad", cases[i].name);
		tests[n] = (struct CMUnitTest){
			.name = names[i],
			.test_func = test_golden,
			.initial_state = &cases[i],
		};
	}
	for (size_t i = 0; i < NFIXED; i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("recipe", tests, n, NULL, NULL);
}
