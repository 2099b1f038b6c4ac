/* The staged tree (image-builder/manifest*.c): paths resolve through the
 * tree's own links and never leave it, keep leaves what is there, a tar's
 * owners and hard links come in, and accounts merge by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts.h"
#include "manifest.h"
#include "testutil.h"

static void setup_tree(struct manifest *m)
{
	manifest_init(m, 0);
	/* Debian's merged /usr, and links a hostile tree could hold. */
	assert_int_equal(manifest_dir(m, "usr/bin", 0755), 0);
	assert_int_equal(manifest_symlink(m, "bin", "usr/bin"), 0);
	assert_int_equal(manifest_symlink(m, "etc/out", "/../../../host"), 0);
	assert_int_equal(manifest_symlink(m, "up", "../../.."), 0);
	assert_int_equal(manifest_symlink(m, "loop", "loop2"), 0);
	assert_int_equal(manifest_symlink(m, "loop2", "loop"), 0);
}

static void test_paths_resolve_through_the_trees_links_and_stay_in_it(void **state)
{
	struct manifest m;
	char out[PATH_MAX];

	(void)state;
	setup_tree(&m);
	assert_int_equal(manifest_resolve(&m, "bin/busybox", out), 0);
	assert_string_equal(out, "usr/bin/busybox");
	assert_int_equal(manifest_resolve(&m, "/bin/../bin/./sh", out), 0);
	assert_string_equal(out, "usr/bin/sh");
	/* An absolute link means the tree's root; .. stops at it. */
	assert_int_equal(manifest_resolve(&m, "etc/out/x", out), 0);
	assert_string_equal(out, "host/x");
	assert_int_equal(manifest_resolve(&m, "up/etc/passwd", out), 0);
	assert_string_equal(out, "etc/passwd");
	assert_int_equal(manifest_resolve(&m, "loop/x", out), -1);
	/* A file added through a link lands where it points; the link stays. */
	assert_int_equal(manifest_data(&m, "bin/busybox", 0755, "x", 1), 0);
	assert_non_null(manifest_find(&m, "usr/bin/busybox"));
	assert_null(manifest_find(&m, "bin/busybox"));
	assert_int_equal(manifest_find(&m, "bin")->kind, MF_SYMLINK);
	assert_int_equal(manifest_data(&m, "etc/out/planted", 0644, "x", 1), 0);
	assert_non_null(manifest_find(&m, "host/planted"));
	/* A path that only loops is refused. */
	assert_int_equal(manifest_data(&m, "loop/x", 0644, "x", 1), -1);
	manifest_free(&m);
}

static void test_keep_leaves_what_is_there(void **state)
{
	struct manifest m;

	(void)state;
	setup_tree(&m);
	assert_int_equal(manifest_data(&m, "usr/bin/sh", 0755, "dash", 4), 0);
	m.keep = 1;
	assert_int_equal(manifest_symlink(&m, "bin/sh", "/bin/busybox"), 0);
	assert_int_equal(manifest_dir(&m, "bin", 0700), 0);
	assert_int_equal(manifest_find(&m, "usr/bin/sh")->kind, MF_DATA);
	assert_int_equal(manifest_find(&m, "bin")->kind, MF_SYMLINK);
	assert_int_equal(manifest_symlink(&m, "bin/ls", "/bin/busybox"), 0);
	assert_int_equal(manifest_find(&m, "usr/bin/ls")->kind, MF_SYMLINK);
	m.keep = 0;
	assert_int_equal(manifest_symlink(&m, "bin/sh", "/bin/busybox"), 0);
	assert_int_equal(manifest_find(&m, "usr/bin/sh")->kind, MF_SYMLINK);
	manifest_free(&m);
}

static void add_entry(struct archive *a, const char *path, unsigned type, unsigned mode, unsigned uid,
		      const char *data, const char *link)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, uid);
	if (link && type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	else if (link)
		archive_entry_set_hardlink(e, link);
	if (type == AE_IFCHR)
		archive_entry_set_rdevmajor(e, 1), archive_entry_set_rdevminor(e, 3);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (data)
		assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t)strlen(data));
	archive_entry_free(e);
}

static void test_a_tar_comes_in_with_owners_links_and_no_devices(void **state)
{
	char path[] = "/tmp/amphi-test-manifest-XXXXXX";
	int fd = mkstemp(path);
	struct archive *a = archive_write_new();
	struct manifest m;
	char err[512] = "";

	(void)state;
	assert_true(fd >= 0);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	add_entry(a, "./", AE_IFDIR, 0755, 0, NULL, NULL);
	add_entry(a, "./usr/bin/perl", AE_IFREG, 0755, 0, "#!perl\n", NULL);
	add_entry(a, "./usr/bin/perl5", AE_IFREG, 0755, 0, NULL, "./usr/bin/perl");
	add_entry(a, "./var/log/nginx/access.log", AE_IFREG, 0640, 33, "", NULL);
	add_entry(a, "./bin", AE_IFLNK, 0777, 0, NULL, "usr/bin");
	add_entry(a, "./dev/null", AE_IFCHR, 0666, 0, NULL, NULL);
	add_entry(a, "./dev", AE_IFDIR, 0755, 0, NULL, NULL);
	archive_write_close(a);
	archive_write_free(a);
	close(fd);

	manifest_init(&m, 0);
	assert_int_equal(manifest_add_tar(&m, path, err, sizeof(err)), 0);
	unlink(path);
	struct manifest_entry *e = manifest_find(&m, "usr/bin/perl5");
	assert_non_null(e);
	assert_int_equal(e->kind, MF_DATA);
	assert_int_equal(e->len, 7);
	assert_memory_equal(e->data, "#!perl\n", 7);
	e = manifest_find(&m, "var/log/nginx/access.log");
	assert_int_equal(e->uid, 33);
	assert_int_equal(e->mode, 0640);
	assert_string_equal(manifest_find(&m, "bin")->source, "usr/bin");
	assert_null(manifest_find(&m, "dev/null"));
	assert_non_null(manifest_find(&m, "dev"));
	manifest_free(&m);
}

static void test_accounts_merge_by_name_and_find_ids(void **state)
{
	char dir[] = "/tmp/amphi-test-skel-XXXXXX", path[PATH_MAX], err[512] = "";
	struct manifest m;
	unsigned uid, gid;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/etc", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/etc/passwd", dir);
	f = fopen(path, "w");
	fputs("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", f);
	fclose(f);
	manifest_init(&m, 0);
	const char *debian = "root:*:0:0:root:/root:/bin/bash\nwww-data:*:33:33:www-data:/var/www:/usr/sbin/nologin\n";
	assert_int_equal(manifest_data(&m, "etc/passwd", 0644, debian, strlen(debian)), 0);
	assert_int_equal(manifest_data(&m, "etc/group", 0644, "adm:x:4:\n", 9), 0);
	assert_int_equal(accounts_merge(&m, dir, err, sizeof(err)), 0);
	struct manifest_entry *e = manifest_find(&m, "etc/passwd");
	assert_int_equal(e->kind, MF_DATA);
	char *text = strndup(e->data, e->len);
	assert_string_equal(text, "root:x:0:0:root:/root:/bin/sh\nwww-data:*:33:33:www-data:/var/www:/usr/sbin/nologin\n"
				  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
	free(text);
	assert_int_equal(accounts_user(&m, "www-data", &uid, &gid), 0);
	assert_int_equal(uid, 33);
	assert_int_equal(gid, 33);
	assert_int_equal(accounts_id(&m, "etc/group", "adm", &gid), 0);
	assert_int_equal(gid, 4);
	assert_int_equal(accounts_id(&m, "etc/group", "1234", &gid), 0);
	assert_int_equal(gid, 1234);
	assert_int_equal(accounts_user(&m, "www", &uid, &gid), -1);  /* a prefix is not a name */
	assert_int_equal(accounts_id(&m, "etc/group", "nogroup", &gid), -1);
	manifest_free(&m);
	remove_tree(dir);
}

/* An output's additions and owner changes over the one staged tree stay
 * its own; the tree's contents are shared, not copied, and outlive it. */
static void test_a_layer_over_the_tree_leaves_the_tree_as_it_was(void **state)
{
	struct manifest tree, over, copy;

	(void)state;
	setup_tree(&tree);
	assert_int_equal(manifest_data(&tree, "etc/passwd", 0644, "root:x:0:0::/root:/bin/sh\n", 26), 0);
	assert_int_equal(manifest_data(&tree, "etc/motd", 0644, "hi\n", 3), 0);
	assert_int_equal(manifest_over(&over, &tree), 0);
	assert_int_equal(over.n, tree.n);
	assert_ptr_equal(manifest_find(&over, "etc/passwd")->data, manifest_find(&tree, "etc/passwd")->data);
	/* Through the tree's own links, as in the tree. */
	assert_int_equal(manifest_data(&over, "bin/extra", 0755, "x", 1), 0);
	assert_non_null(manifest_find(&over, "usr/bin/extra"));
	assert_int_equal(manifest_data(&over, "etc/motd", 0644, "bye\n", 4), 0);
	assert_int_equal(manifest_chown(&over, "etc/passwd", 100000, 100000), 0);
	assert_int_equal(manifest_chardev(&over, "dev/console", 0600, 5, 1), 0);
	assert_int_equal(manifest_sort(&over), 0);
	assert_null(manifest_find(&tree, "usr/bin/extra"));
	assert_null(manifest_find(&tree, "dev"));
	assert_int_equal(manifest_find(&tree, "etc/passwd")->uid, 0);
	assert_memory_equal(manifest_find(&tree, "etc/motd")->data, "hi\n", 3);
	assert_memory_equal(manifest_find(&over, "etc/motd")->data, "bye\n", 4);
	/* A borrowed entry copied elsewhere is that manifest's own. */
	manifest_init(&copy, 0);
	assert_int_equal(manifest_copy(&copy, manifest_find(&over, "etc/passwd")), 0);
	assert_false(manifest_find(&copy, "etc/passwd")->borrowed);
	manifest_free(&over);
	assert_memory_equal(manifest_find(&tree, "etc/passwd")->data, "root:x:0:0::/root:/bin/sh\n", 26);
	assert_memory_equal(manifest_find(&copy, "etc/passwd")->data, "root:x:0:0::/root:/bin/sh\n", 26);
	manifest_free(&copy);
	manifest_free(&tree);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_resolve_through_the_trees_links_and_stay_in_it),
		cmocka_unit_test(test_keep_leaves_what_is_there),
		cmocka_unit_test(test_a_tar_comes_in_with_owners_links_and_no_devices),
		cmocka_unit_test(test_accounts_merge_by_name_and_find_ids),
		cmocka_unit_test(test_a_layer_over_the_tree_leaves_the_tree_as_it_was),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
