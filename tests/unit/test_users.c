/* init/users.c: names and numbers from passwd and group under a root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "users.h"
#include "testutil.h"

static char root[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "%s/users", fixtures_dir());
	return 0;
}

static void test_user_by_name(void **state)
{
	uid_t uid;
	gid_t gid;
	char home[64];

	(void)state;
	assert_int_equal(users_user(root, "www", &uid, &gid, home, sizeof(home)), 0);
	assert_int_equal(uid, 33);
	assert_int_equal(gid, 34);
	assert_string_equal(home, "/srv/www");
	assert_int_equal(users_user(root, "root", &uid, &gid, home, sizeof(home)), 0);
	assert_int_equal(uid, 0);
	assert_string_equal(home, "/root");
}

static void test_user_by_number_and_missing(void **state)
{
	uid_t uid;
	gid_t gid;
	char home[64];

	(void)state;
	assert_int_equal(users_user(root, "65534", &uid, &gid, home, sizeof(home)), 0);
	assert_int_equal(uid, 65534);
	assert_int_equal(gid, 65534);
	assert_string_equal(home, "/");
	assert_int_equal(users_user(root, "nobody", &uid, &gid, home, sizeof(home)), -ENOENT);
	/* A line whose UID is not a number does not match. */
	assert_int_equal(users_user(root, "broken", &uid, &gid, home, sizeof(home)), -ENOENT);
	/* No passwd at all: numbers still work. */
	assert_int_equal(users_user("/nonexistent", "7", &uid, &gid, home, sizeof(home)), 0);
	assert_int_equal(uid, 7);
}

static void test_groups(void **state)
{
	gid_t gid;

	(void)state;
	assert_int_equal(users_group(root, "staff", &gid), 0);
	assert_int_equal(gid, 50);
	assert_int_equal(users_group(root, "www-data", &gid), 0);
	assert_int_equal(gid, 34);
	assert_int_equal(users_group(root, "12", &gid), 0);
	assert_int_equal(gid, 12);
	assert_int_equal(users_group(root, "wheel", &gid), -ENOENT);
	/* A user name is not a group name. */
	assert_int_equal(users_group(root, "www", &gid), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_by_name),
		cmocka_unit_test(test_user_by_number_and_missing),
		cmocka_unit_test(test_groups),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
