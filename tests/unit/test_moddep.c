/* moddep against tests/fixtures/moddep/{modules.dep,modules.builtin}
 * (lines copied from Debian 6.1's), small inline texts for the error
 * cases, and optionally the real modules.dep named by
 * AMPHI_KERNEL_MODULES_DEP (modules.builtin beside it is used when there).
 * AMPHI_FIXTURES names the fixtures directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moddep.h"
#include "testutil.h"

#define ERR_MAX 512



struct texts {
	char *dep, *builtin;
	size_t deplen, builtinlen;
	struct moddep *d;
};

/* Parses modules.dep and modules.builtin found in dir (builtin optional). */
static void load_dir(struct texts *t, const char *dep_path, const char *builtin_path)
{
	char err[ERR_MAX] = "";

	t->dep = read_text(dep_path, &t->deplen);
	if (!t->dep)
		fail_msg("cannot read %s", dep_path);
	t->builtin = builtin_path ? read_text(builtin_path, &t->builtinlen) : NULL;
	t->d = moddep_parse(t->dep, t->deplen, t->builtin, t->builtin ? t->builtinlen : 0, err, sizeof(err));
	if (!t->d)
		fail_msg("%s: %s", dep_path, err);
}

static int setup_fixture(void **state)
{
	struct texts *t = calloc(1, sizeof(*t));
	char dep[PATH_MAX], builtin[PATH_MAX];

	assert_non_null(t);
	snprintf(dep, sizeof(dep), "%s/moddep/modules.dep", fixtures_dir());
	snprintf(builtin, sizeof(builtin), "%s/moddep/modules.builtin", fixtures_dir());
	load_dir(t, dep, builtin);
	assert_non_null(t->builtin);
	*state = t;
	return 0;
}

static int teardown_texts(void **state)
{
	struct texts *t = *state;

	if (t) {
		moddep_free(t->d);
		free(t->dep);
		free(t->builtin);
		free(t);
	}
	return 0;
}

/* The dependency list of path as modules.dep gives it ("" when none);
 * NULL when path has no line. Points into dep, up to the newline. */
static const char *deps_of(const char *dep, const char *path, size_t *lenp)
{
	size_t plen = strlen(path);

	for (const char *line = dep; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n > plen && strncmp(line, path, plen) == 0 && line[plen] == ':') {
			*lenp = n - plen - 1;
			return line + plen + 1;
		}
		line += n + (nl ? 1 : 0);
	}
	return NULL;
}

static size_t index_of(const struct moddep *d, const char *path, size_t len)
{
	for (size_t i = 0; i < moddep_count(d); i++)
		if (strlen(moddep_path(d, i)) == len && strncmp(moddep_path(d, i), path, len) == 0)
			return i;
	return SIZE_MAX;
}

/* Every module of the order appears once, and after every module its line
 * in modules.dep lists. */
static void assert_deps_first(const struct moddep *d, const char *dep)
{
	for (size_t i = 0; i < moddep_count(d); i++) {
		const char *path = moddep_path(d, i), *list;
		size_t len = 0;

		assert_non_null(path);
		assert_int_equal(index_of(d, path, strlen(path)), i);
		list = deps_of(dep, path, &len);
		if (!list)
			fail_msg("%s is in the order but has no line in modules.dep", path);
		for (const char *p = list, *end = list + len; p < end;) {
			const char *w;
			size_t at;

			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			for (w = p; p < end && *p != ' ' && *p != '\t'; p++)
				;
			if (p == w)
				break;
			at = index_of(d, w, (size_t)(p - w));
			if (at == SIZE_MAX)
				fail_msg("%s needs %.*s, which is not in the order", path, (int)(p - w), w);
			if (at > i)
				fail_msg("%s (at %zu) comes before its dependency %.*s (at %zu)", path, i,
					 (int)(p - w), w, at);
		}
	}
	assert_null(moddep_path(d, moddep_count(d)));
}

static void assert_order(const struct moddep *d, const char *const *want, size_t n)
{
	for (size_t i = 0; i < n && i < moddep_count(d); i++)
		assert_string_equal(moddep_path(d, i), want[i]);
	assert_int_equal(moddep_count(d), n);
}

static void add_ok(struct moddep *d, const char *name)
{
	char err[ERR_MAX] = "";

	if (moddep_add(d, name, err, sizeof(err)) != 0)
		fail_msg("moddep_add(%s): %s", name, err);
}

static const char *const virtio_pci_order[] = {
	"kernel/drivers/virtio/virtio_ring.ko",
	"kernel/drivers/virtio/virtio.ko",
	"kernel/drivers/virtio/virtio_pci_modern_dev.ko",
	"kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
	"kernel/drivers/virtio/virtio_pci.ko",
};

/* modprobe loads a module's modules.dep list from the end. */
static void test_virtio_pci_order(void **state)
{
	struct texts *t = *state;

	add_ok(t->d, "virtio_pci");
	assert_order(t->d, virtio_pci_order, 5);
	assert_deps_first(t->d, t->dep);
}

static void test_each_module_once(void **state)
{
	struct texts *t = *state;
	const char *const want[] = {
		virtio_pci_order[0], virtio_pci_order[1], virtio_pci_order[2],
		virtio_pci_order[3], virtio_pci_order[4],
		"kernel/drivers/char/virtio_console.ko",
	};

	add_ok(t->d, "virtio_pci");
	add_ok(t->d, "virtio_console");
	assert_order(t->d, want, 6);
	add_ok(t->d, "virtio_console");
	add_ok(t->d, "virtio");
	assert_order(t->d, want, 6);
	assert_deps_first(t->d, t->dep);
}

static void test_virtio_net_failover(void **state)
{
	struct texts *t = *state;
	const char *const want[] = {
		"kernel/drivers/virtio/virtio_ring.ko",
		"kernel/drivers/virtio/virtio.ko",
		"kernel/net/core/failover.ko",
		"kernel/drivers/net/net_failover.ko",
		"kernel/drivers/net/virtio_net.ko",
	};

	add_ok(t->d, "virtio_net");
	assert_order(t->d, want, 5);
	assert_deps_first(t->d, t->dep);
}

/* Every module in the fixture, in file order: a larger general check. */
static void test_all_fixture_modules(void **state)
{
	struct texts *t = *state;
	size_t lines = 0;

	for (const char *line = t->dep; *line; lines++) {
		const char *colon = strchr(line, ':');
		char name[PATH_MAX];

		assert_non_null(colon);
		snprintf(name, sizeof(name), "%.*s", (int)(colon - line), line);
		add_ok(t->d, name);  /* a path: its basename is the name */
		line = strchr(line, '\n');
		assert_non_null(line);
		line++;
	}
	assert_int_equal(moddep_count(t->d), lines);
	assert_deps_first(t->d, t->dep);
}

static void test_dash_underscore(void **state)
{
	struct texts *t = *state;
	size_t n;

	add_ok(t->d, "virtio_rng");  /* file virtio-rng.ko */
	n = moddep_count(t->d);
	assert_string_equal(moddep_path(t->d, n - 1), "kernel/drivers/char/hw_random/virtio-rng.ko");
	add_ok(t->d, "virtio-rng");
	add_ok(t->d, "virtio-console");  /* file virtio_console.ko */
	assert_int_equal(moddep_count(t->d), n + 1);
	assert_string_equal(moddep_path(t->d, n), "kernel/drivers/char/virtio_console.ko");
	add_ok(t->d, "dm_multipath");  /* dm-multipath.ko needs dm-mod.ko */
	assert_string_equal(moddep_path(t->d, moddep_count(t->d) - 1), "kernel/drivers/md/dm-multipath.ko");
	assert_int_not_equal(index_of(t->d, "kernel/drivers/md/dm-mod.ko", strlen("kernel/drivers/md/dm-mod.ko")), SIZE_MAX);
	assert_deps_first(t->d, t->dep);
}

static void test_builtin(void **state)
{
	struct texts *t = *state;

	add_ok(t->d, "unix");
	add_ok(t->d, "mq_deadline");  /* modules.builtin spells it mq-deadline */
	add_ok(t->d, "lzo-rle");
	assert_int_equal(moddep_count(t->d), 0);
	assert_null(moddep_path(t->d, 0));
}

static void test_unknown_module(void **state)
{
	struct texts *t = *state;
	char err[ERR_MAX] = "";

	add_ok(t->d, "virtio_blk");
	assert_int_equal(moddep_add(t->d, "virtio-gpu", err, sizeof(err)), -1);
	assert_string_equal(err, "kernel module 'virtio-gpu' is neither in modules.dep nor built in; "
				 "check the name against the kernel's modules");
	assert_int_equal(moddep_count(t->d), 3);
}

/* Parses an inline modules.dep that must parse. */
static struct moddep *parse_ok(const char *dep, const char *builtin)
{
	char err[ERR_MAX] = "";
	struct moddep *d = moddep_parse(dep, strlen(dep), builtin, builtin ? strlen(builtin) : 0,
					err, sizeof(err));

	if (!d)
		fail_msg("moddep_parse: %s", err);
	return d;
}

static void test_cycle(void **state)
{
	struct moddep *d = parse_ok("kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n", NULL);
	char err[ERR_MAX] = "";

	(void)state;
	assert_int_equal(moddep_add(d, "a", err, sizeof(err)), -1);
	assert_string_equal(err, "modules.dep: dependency cycle through kernel/a.ko");
	moddep_free(d);
}

static void test_self_cycle(void **state)
{
	struct moddep *d = parse_ok("kernel/c.ko: kernel/x.ko kernel/c.ko\nkernel/x.ko:\n", NULL);
	char err[ERR_MAX] = "";

	(void)state;
	assert_int_equal(moddep_add(d, "c", err, sizeof(err)), -1);
	assert_string_equal(err, "modules.dep: dependency cycle through kernel/c.ko");
	moddep_free(d);
}

static void test_dependency_without_line(void **state)
{
	struct moddep *d = parse_ok("kernel/a.ko: kernel/gone.ko kernel/b.ko\nkernel/b.ko:\n", NULL);
	char err[ERR_MAX] = "";

	(void)state;
	assert_int_equal(moddep_add(d, "a", err, sizeof(err)), -1);
	assert_string_equal(err, "modules.dep: kernel/a.ko needs kernel/gone.ko, which has no line of its own");
	/* A failed add leaves nothing behind: not b (walked first), and no
	 * half-visited mark that would read as a cycle next time. */
	assert_int_equal(moddep_count(d), 0);
	assert_int_equal(moddep_add(d, "a", err, sizeof(err)), -1);
	assert_string_equal(err, "modules.dep: kernel/a.ko needs kernel/gone.ko, which has no line of its own");
	assert_int_equal(moddep_add(d, "b", err, sizeof(err)), 0);
	assert_int_equal(moddep_count(d), 1);
	assert_string_equal(moddep_path(d, 0), "kernel/b.ko");
	moddep_free(d);
}

static void test_malformed_line(void **state)
{
	static const char *const texts[] = {
		"kernel/a.ko:\n\nkernel/b.ko kernel/a.ko\nkernel/c.ko:\n",  /* no colon */
		"kernel/a.ko:\n\n: kernel/a.ko\n",                           /* no path */
		"kernel/a.ko:\nkernel/b.ko:\nkernel/c.ko",                   /* last line, no newline */
	};
	char err[ERR_MAX];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		err[0] = '\0';
		assert_null(moddep_parse(texts[i], strlen(texts[i]), NULL, 0, err, sizeof(err)));
		assert_string_equal(err, "modules.dep:3: expected 'path.ko: dependency.ko ...'");
	}
}

/* No trailing newline, tabs, an empty file: all fine. */
static void test_parse_edges(void **state)
{
	struct moddep *d = parse_ok("kernel/a.ko:\tkernel/b.ko\nkernel/b.ko:", "kernel/z.ko");
	char err[ERR_MAX] = "";

	(void)state;
	add_ok(d, "a");
	assert_int_equal(moddep_count(d), 2);
	assert_string_equal(moddep_path(d, 0), "kernel/b.ko");
	assert_string_equal(moddep_path(d, 1), "kernel/a.ko");
	add_ok(d, "z");
	moddep_free(d);

	d = parse_ok("", NULL);
	assert_int_equal(moddep_add(d, "a", err, sizeof(err)), -1);
	assert_int_equal(moddep_count(d), 0);
	moddep_free(d);
}

static void test_real_debian(void **state)
{
	const char *dep = getenv("AMPHI_KERNEL_MODULES_DEP");
	static const char *const names[] = { "virtio_pci", "virtio_console", "virtio_net", "virtio_blk" };
	char builtin[PATH_MAX];
	struct texts *t;
	FILE *f;

	if (!dep || !*dep || !(f = fopen(dep, "re"))) {
		skip();
		return;
	}
	fclose(f);
	t = calloc(1, sizeof(*t));
	assert_non_null(t);
	*state = t;  /* freed by teardown_texts */
	snprintf(builtin, sizeof(builtin), "%.*s/modules.builtin",
		 strrchr(dep, '/') ? (int)(strrchr(dep, '/') - dep) : 1, strrchr(dep, '/') ? dep : ".");
	f = fopen(builtin, "re");
	if (f)
		fclose(f);
	load_dir(t, dep, f ? builtin : NULL);
	for (size_t i = 0; i < 4; i++)
		add_ok(t->d, names[i]);
	assert_true(moddep_count(t->d) >= 4);
	assert_deps_first(t->d, t->dep);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_virtio_pci_order, setup_fixture, teardown_texts),
		cmocka_unit_test_setup_teardown(test_each_module_once, setup_fixture, teardown_texts),
		cmocka_unit_test_setup_teardown(test_virtio_net_failover, setup_fixture, teardown_texts),
		cmocka_unit_test_setup_teardown(test_all_fixture_modules, setup_fixture, teardown_texts),
		cmocka_unit_test_setup_teardown(test_dash_underscore, setup_fixture, teardown_texts),
		cmocka_unit_test_setup_teardown(test_builtin, setup_fixture, teardown_texts),
		cmocka_unit_test_setup_teardown(test_unknown_module, setup_fixture, teardown_texts),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_self_cycle),
		cmocka_unit_test(test_dependency_without_line),
		cmocka_unit_test(test_malformed_line),
		cmocka_unit_test(test_parse_edges),
		cmocka_unit_test_teardown(test_real_debian, teardown_texts),
	};

	return cmocka_run_group_tests_name("moddep", tests, NULL, NULL);
}
