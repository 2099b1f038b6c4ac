/* init/rootimage.c: which disk is the root image's or the data disk (by
 * serial, on the fixture tree tests/fixtures/rootimage/sys/block), the
 * initramfs's marker, and what counts as a blank disk (trees and files
 * made at run time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recipe.h"
#include "rootimage.h"
#include "testutil.h"

static char top[PATH_MAX];

static const char *fixture(void)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/rootimage", fixtures_dir());
	return path;
}

static void test_the_disk_is_found_by_its_serial(void **state)
{
	char name[32];

	(void)state;
	assert_int_equal(rootimage_find_disk(fixture(), RECIPE_ROOT_SERIAL, name, sizeof(name)), 1);
	assert_string_equal(name, "vdb");
	assert_int_equal(rootimage_find_disk(fixture(), "user-disk", name, sizeof(name)), 1);
	assert_string_equal(name, "vda");
}

static void test_of_two_data_disks_the_first_named(void **state)
{
	char name[32];

	(void)state;
	/* vdc and vdaa both say amphi-data: the kernel named vdc first. A
	 * serial that only starts with it (vdd) or is a part of one (vde
	 * for amphi-ro) is not it. */
	assert_int_equal(rootimage_find_disk(fixture(), RECIPE_DATA_SERIAL, name, sizeof(name)), 1);
	assert_string_equal(name, "vdc");
	assert_int_equal(rootimage_find_disk(fixture(), "amphi-ro", name, sizeof(name)), 1);
	assert_string_equal(name, "vde");
}

static void test_no_such_disk(void **state)
{
	char name[32] = "unchanged";

	(void)state;
	assert_int_equal(rootimage_find_disk(fixture(), "amphi", name, sizeof(name)), 0);
	/* disks without a serial (sda, loop0) or an empty one (vdf) match nothing */
	assert_int_equal(rootimage_find_disk(fixture(), "", name, sizeof(name)), 0);
	assert_int_equal(rootimage_find_disk("/nonexistent-amphi-root", RECIPE_ROOT_SERIAL, name, sizeof(name)), 0);
	assert_string_equal(name, "unchanged");
}

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX * 2], dir[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", top, rel);
	for (char *p = path + strlen(top) + 1; (p = strchr(p, '/')); p++) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(p - path), path);
		mkdir(dir, 0755);
	}
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/amphi-test-rootimage-XXXXXX");
	assert_non_null(mkdtemp(top));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return remove_tree(top);
}

static void test_marker(void **state)
{
	struct rootimage_marker m;
	char err[512], want[PATH_MAX + 256];

	(void)state;
	/* none: an initramfs that is the whole tree */
	assert_int_equal(rootimage_read_marker(top, &m, err, sizeof(err)), 0);
	assert_int_equal(rootimage_switch(top, err, sizeof(err)), 0);
	put("etc/amphi/root-image", "# amphi build\n[root]\nfs = squashfs\noverlay = tmpfs\n");
	assert_int_equal(rootimage_read_marker(top, &m, err, sizeof(err)), 1);
	assert_int_equal(m.overlay_disk, 0);
	put("etc/amphi/root-image", "[root]\nfs = squashfs\noverlay = disk\n");
	assert_int_equal(rootimage_read_marker(top, &m, err, sizeof(err)), 1);
	assert_int_equal(m.overlay_disk, 1);
	put("etc/amphi/root-image", "[root]\nfs = squashfs\noverlay = ssd\n");
	assert_int_equal(rootimage_read_marker(top, &m, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s" RECIPE_ROOT_MARKER ":3: [root] overlay = 'ssd': expected [root] fs = squashfs, "
		 "overlay = tmpfs or disk; amphi build writes this file: build the appliance again", top);
	assert_string_equal(err, want);
	put("etc/amphi/root-image", "[root]\nfs = erofs\n");
	assert_int_equal(rootimage_read_marker(top, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: [root] fs = 'erofs': expected"));
}

static void disk(const char *name, size_t size, long at, char byte)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", top, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (at >= 0)
		assert_int_equal(pwrite(fd, &byte, 1, at), 1);
	close(fd);
}

static int blank(const char *name)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", top, name);
	return rootimage_blank(path);
}

static void test_blank_is_the_first_64k_all_zero(void **state)
{
	(void)state;
	disk("zero", 1 << 20, -1, 0);
	assert_int_equal(blank("zero"), 1);
	disk("last-byte", 1 << 20, 65535, 1);
	assert_int_equal(blank("last-byte"), 0);
	disk("first-byte", 1 << 20, 0, 'x');
	assert_int_equal(blank("first-byte"), 0);
	/* an ext superblock starts at 1024 */
	disk("superblock", 1 << 20, 1024 + 56, 0x53);
	assert_int_equal(blank("superblock"), 0);
	/* what is past 64 KiB is not looked at */
	disk("past", 1 << 20, 65536, 1);
	assert_int_equal(blank("past"), 1);
	disk("exactly", 65536, -1, 0);
	assert_int_equal(blank("exactly"), 1);
	disk("small", 65535, -1, 0);
	assert_int_equal(blank("small"), -ENOSPC);
	assert_int_equal(blank("missing"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_disk_is_found_by_its_serial),
		cmocka_unit_test(test_of_two_data_disks_the_first_named),
		cmocka_unit_test(test_no_such_disk),
		cmocka_unit_test(test_marker),
		cmocka_unit_test(test_blank_is_the_first_64k_all_zero),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
