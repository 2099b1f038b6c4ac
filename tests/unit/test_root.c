/* init/root.c: whether an installed root's /sbin/init can be run, with
 * symlinks resolved inside that root (trees made at run time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "root.h"
#include "testutil.h"

static char top[PATH_MAX];

static void put(const char *tree, const char *rel, int mode)
{
	char path[PATH_MAX * 2], dir[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s/%s", top, tree, rel);
	for (char *p = path + strlen(top) + 1; (p = strchr(p, '/')); p++) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(p - path), path);
		mkdir(dir, 0755);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	close(fd);
	chmod(path, mode);
}

static void link_(const char *tree, const char *rel, const char *target)
{
	char path[PATH_MAX * 2];
	put(tree, "sbin/.keep", 0644);
	snprintf(path, sizeof(path), "%s/%s/%s", top, tree, rel);
	assert_int_equal(symlink(target, path), 0);
}

static const char *tree(const char *name)
{
	static char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", top, name);
	return path;
}

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/amphi-test-root-XXXXXX");
	assert_non_null(mkdtemp(top));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return remove_tree(top);
}

static void test_plain_file(void **state)
{
	(void)state;
	put("plain", "sbin/init", 0755);
	assert_int_equal(root_init_runnable(tree("plain")), 1);
	put("noexec", "sbin/init", 0644);
	assert_int_equal(root_init_runnable(tree("noexec")), 0);
	put("missing", "etc/hostname", 0644);
	assert_int_equal(root_init_runnable(tree("missing")), 0);
}

static void test_absolute_link_means_the_new_root(void **state)
{
	(void)state;
	/* Debian's systemd-sysv: /sbin/init -> /lib/systemd/systemd. */
	put("debian", "lib/systemd/systemd", 0755);
	link_("debian", "sbin/init", "/lib/systemd/systemd");
	assert_int_equal(root_init_runnable(tree("debian")), 1);
	/* The same link without the target in the new root: not ours to
	 * find in the initramfs (or on the host running this test). */
	link_("dangling", "sbin/init", "/lib/systemd/systemd");
	assert_int_equal(root_init_runnable(tree("dangling")), 0);
}

static void test_relative_links_and_loops(void **state)
{
	(void)state;
	put("busybox", "bin/busybox", 0755);
	link_("busybox", "sbin/init", "../bin/busybox");
	assert_int_equal(root_init_runnable(tree("busybox")), 1);
	link_("loop", "sbin/init", "/sbin/init");
	assert_int_equal(root_init_runnable(tree("loop")), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_file),
		cmocka_unit_test(test_absolute_link_means_the_new_root),
		cmocka_unit_test(test_relative_links_and_loops),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
