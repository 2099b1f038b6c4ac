/* image-builder/logstore.c: what `amphi logs --out` keeps. Guest-chosen
 * names (boot ids, apps) never leave --out or follow a link; a line goes to
 * all.log and to its app's file, escaped; past LOGSTORE_APP_FILES apps the
 * oldest file is closed and reopened later without losing a line; .stored
 * tells the next reader of the directory what is already there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "logstore.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A full disk: while disk_full, writes to regular files fail as a full
 * disk's do, after taking what "fits" (disk_room bytes, then nothing). */
static int disk_full;
static size_t disk_room;

ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
	struct stat st;

	if (!disk_full || fd <= 2 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) /* 0-2: the test's own output */
		return __real_write(fd, buf, len);
	if (disk_room) {
		size_t n = len < disk_room ? len : disk_room;
		disk_room -= n;
		return __real_write(fd, buf, n);
	}
	errno = ENOSPC;
	return -1;
}

static char dir[64];
static int outfd = -1;
static struct logstore S;

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/amphi-test-logstore-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	outfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (outfd < 0)
		return -1;
	logstore_init(&S, dir, outfd, 0, 0);
	return 0;
}

/* The store keeps its buffers for the next boot; a test gives them back. */
static void store_free(void)
{
	logstore_close(&S);
	free(S.all.buf);
	for (int i = 0; i < LOGSTORE_APP_FILES; i++)
		free(S.apps[i].buf);
	logstore_init(&S, dir, outfd, 0, 0);
}

static int teardown(void **state)
{
	(void)state;
	store_free();
	close(outfd);
	return remove_tree(dir);
}

static void put_at(uint64_t seq, int64_t uptime_cs, const char *app, const char *msg)
{
	struct logrec_parsed p = { .seq = seq, .uptime_cs = uptime_cs, .msg = msg, .msglen = strlen(msg) };

	snprintf(p.source, sizeof(p.source), "service");
	snprintf(p.app, sizeof(p.app), "%s", app);
	assert_int_equal(logstore_put(&S, &p), 0);
}

/* uptime: seq hundredths */
static void put(uint64_t seq, const char *app, const char *msg)
{
	put_at(seq, (int64_t)seq, app, msg);
}

/* DIR/rel, whole (free it); NULL if there is no such file. */
static char *stored(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return read_text(path, NULL);
}

static void assert_stored(const char *rel, const char *want)
{
	char *text = stored(rel);

	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

static void lines_go_to_all_log_and_the_apps_file_escaped(void **state)
{
	(void)state;
	assert_int_equal(logstore_boot(&S, "boot-1"), 0);
	put_at(1, 101, "web", "listening");
	put_at(2, 12345607, "db", "a\rb\x1b[31m \xff end");
	put_at(3, 12345699, "web", "\xc3\xa9t\xc3\xa9"); /* valid UTF-8 stays as it is */
	assert_int_equal(logstore_commit(&S, 0, 0), 0);

	/* committed: in the files before they are closed */
	assert_stored("boot-1/all.log", "1.01 service web: listening\n"
					"123456.07 service db: a\\x0db\\x1b[31m \\xff end\n"
					"123456.99 service web: \xc3\xa9t\xc3\xa9\n");
	assert_stored("boot-1/web.log", "1.01 service web: listening\n123456.99 service web: \xc3\xa9t\xc3\xa9\n");
	assert_stored("boot-1/db.log", "123456.07 service db: a\\x0db\\x1b[31m \\xff end\n");
	assert_int_equal(S.highest, 3);
}

static void guest_names_stay_inside_out_as_plain_file_names(void **state)
{
	(void)state;
	assert_int_equal(logstore_boot(&S, "../../escaped"), 0);
	put(1, "../../../etc/passwd", "x");
	put(2, "all", "not into all.log's name");
	put(3, ".hidden", "y");
	put(4, "", "no name");
	put(5, "a b/c", "z");
	logstore_close(&S);

	/* "../../escaped" -> "_._.._escaped": one directory, right under DIR */
#define L1 "0.01 service ../../../etc/passwd: x\n"
#define L2 "0.02 service all: not into all.log's name\n"
#define L3 "0.03 service .hidden: y\n"
#define L4 "0.04 service : no name\n"
#define L5 "0.05 service a b/c: z\n"
	assert_stored("_._.._escaped/_._.._.._etc_passwd.log", L1);
	assert_stored("_._.._escaped/_all.log", L2);
	assert_stored("_._.._escaped/_hidden.log", L3);
	assert_stored("_._.._escaped/_.log", L4);
	assert_stored("_._.._escaped/a_b_c.log", L5);
	assert_stored("_._.._escaped/all.log", L1 L2 L3 L4 L5);
}

static void a_boot_directory_that_is_a_link_or_a_file_is_refused(void **state)
{
	(void)state;
	char path[128], elsewhere[128];

	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", dir);
	assert_int_equal(mkdir(elsewhere, 0755), 0);
	snprintf(path, sizeof(path), "%s/linked", dir);
	assert_int_equal(symlink(elsewhere, path), 0);
	assert_int_equal(logstore_boot(&S, "linked"), -1);
	snprintf(path, sizeof(path), "%s/elsewhere/all.log", dir);
	assert_int_equal(access(path, F_OK), -1);

	snprintf(path, sizeof(path), "%s/plain", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(logstore_boot(&S, "plain"), -1);

	/* an app's file that is a link is not followed either */
	snprintf(path, sizeof(path), "%s/links", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/links/web.log", dir);
	assert_int_equal(symlink("../elsewhere/target", path), 0);
	assert_int_equal(logstore_boot(&S, "links"), 0);
	struct logrec_parsed p = { .seq = 1, .msg = "x", .msglen = 1, .source = "service", .app = "web" };
	assert_int_equal(logstore_put(&S, &p), -1);
	snprintf(path, sizeof(path), "%s/elsewhere/target", dir);
	assert_int_equal(access(path, F_OK), -1);

	/* and the store is usable again for the next boot */
	assert_int_equal(logstore_boot(&S, "good"), 0);
	put(1, "a", "b");
	logstore_close(&S);
	assert_stored("good/a.log", "0.01 service a: b\n");
}

static void more_apps_than_open_files_lose_nothing(void **state)
{
	(void)state;
	char app[16], want[4096] = "", line[64];
	int apps = LOGSTORE_APP_FILES + 3;

	assert_int_equal(logstore_boot(&S, "many"), 0);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < apps; i++) {
			snprintf(app, sizeof(app), "app%d", i);
			put((uint64_t)(round * apps + i + 1), app, round ? "second" : "first");
			if (round == 0 && i == LOGSTORE_APP_FILES - 1) { /* the first ones all stay open */
				int open_files = 0;
				for (int k = 0; k < LOGSTORE_APP_FILES; k++)
					open_files += S.apps[k].fd >= 0;
				assert_int_equal(open_files, LOGSTORE_APP_FILES);
			}
		}
	logstore_close(&S);
	for (int i = 0; i < apps; i++) {
		char rel[32];
		uint64_t s1 = (uint64_t)i + 1, s2 = (uint64_t)(apps + i + 1);

		snprintf(rel, sizeof(rel), "many/app%d.log", i);
		snprintf(want, sizeof(want), "0.%02d service app%d: first\n0.%02d service app%d: second\n", (int)s1, i,
			 (int)s2, i);
		assert_stored(rel, want);
	}
	/* all.log has every line once, in the order put, and nothing else */
	char all[8192] = "";
	for (int n = 1; n <= 2 * apps; n++) {
		snprintf(line, sizeof(line), "0.%02d service app%d: %s\n", n, (n - 1) % apps, n > apps ? "second" : "first");
		strcat(all, line);
	}
	assert_stored("many/all.log", all);
}

static void stored_says_what_a_restarted_reader_already_has(void **state)
{
	(void)state;
	assert_int_equal(logstore_boot(&S, "again"), 0);
	assert_int_equal(S.highest, 0);
	for (uint64_t s = 1; s <= 5; s++)
		put(s, "svc", "line");
	assert_int_equal(logstore_commit(&S, 1, 0), 0);
	assert_stored("again/.stored", "00000000000000000005\n");

	/* a later boot, then this one again (a reader started anew) */
	assert_int_equal(logstore_boot(&S, "other"), 0);
	assert_int_equal(S.highest, 0);
	assert_int_equal(logstore_boot(&S, "again"), 0);
	assert_int_equal(S.highest, 5);
	put(6, "svc", "more");
	logstore_close(&S);
	assert_stored("again/.stored", "00000000000000000006\n");
	char *svc = stored("again/svc.log");
	assert_non_null(svc);
	assert_non_null(strstr(svc, "0.05 service svc: line\n0.06 service svc: more\n"));
	free(svc);
}

/* A boot gets LOGSTORE_APPS_MAX program files; the records of the others
 * are in all.log only, said once; a program with a file keeps it, also
 * for a reader started again (which counts what is there). */
static void programs_past_the_cap_go_to_all_log_only(void **state)
{
	(void)state;
	char app[16], rel[64];
	int apps = LOGSTORE_APPS_MAX + 6;

	assert_int_equal(logstore_boot(&S, "tags"), 0);
	for (int i = 0; i < apps; i++) {
		snprintf(app, sizeof(app), "tag%d", i);
		put((uint64_t)i + 1, app, "x");
	}
	put((uint64_t)apps + 1, "tag0", "still its own");
	assert_int_equal(S.apps_made, LOGSTORE_APPS_MAX);
	assert_int_equal(S.apps_said, 6);
	logstore_close(&S);
	for (int i = 0; i < apps; i++) {
		snprintf(rel, sizeof(rel), "%s/tags/tag%d.log", dir, i);
		assert_int_equal(access(rel, F_OK), i < LOGSTORE_APPS_MAX ? 0 : -1);
	}
	char *all = stored("tags/all.log");
	assert_non_null(all);
	assert_non_null(strstr(all, "service tag69: x\n"));
	assert_non_null(strstr(all, "service tag0: still its own\n"));
	free(all);

	/* started again: the 64 are counted, a new program gets none */
	assert_int_equal(logstore_boot(&S, "tags"), 0);
	assert_int_equal(S.apps_made, LOGSTORE_APPS_MAX);
	put((uint64_t)apps + 2, "newcomer", "y");
	put((uint64_t)apps + 3, "tag1", "z");
	logstore_close(&S);
	snprintf(rel, sizeof(rel), "%s/tags/newcomer.log", dir);
	assert_int_equal(access(rel, F_OK), -1);
	all = stored("tags/tag1.log");
	assert_non_null(strstr(all, "service tag1: z\n"));
	free(all);
}

/* A full disk: the commit fails and says which file, .stored does not
 * count what did not reach the files, and once there is room the same
 * commit writes everything once; what a full disk took in part is not
 * written twice. */
static void a_full_disk_keeps_what_was_put_and_writes_it_once_later(void **state)
{
	(void)state;
	assert_int_equal(logstore_boot(&S, "full"), 0);
	put(1, "web", "one");
	assert_int_equal(logstore_commit(&S, 0, 0), 0);
	put(2, "web", "two");
	put(3, "db", "three");
	disk_full = 1;
	disk_room = 10; /* part of the first line */
	assert_int_equal(logstore_commit(&S, 0, 0), -ENOSPC);
	assert_true(logstore_is_full(-ENOSPC));
	assert_non_null(strstr(S.full, "writing "));
	assert_non_null(strstr(S.full, "/full/"));
	assert_non_null(strstr(S.full, "No space left on device"));
	assert_stored("full/.stored", "00000000000000000001\n");
	assert_int_equal(logstore_commit(&S, 0, 0), -ENOSPC); /* still full */
	disk_full = 0;
	assert_int_equal(logstore_commit(&S, 0, 0), 0);
	assert_stored("full/.stored", "00000000000000000003\n");
	assert_stored("full/all.log", "0.01 service web: one\n0.02 service web: two\n0.03 service db: three\n");
	assert_stored("full/web.log", "0.01 service web: one\n0.02 service web: two\n");
	assert_stored("full/db.log", "0.03 service db: three\n");
	logstore_close(&S);
}

/* A full disk when a program's file must close to make room for another:
 * the record is not put, the closing file keeps its lines, and the record
 * put again later (the guest sends it again) lands once everywhere. */
static void a_full_disk_while_a_file_makes_room_loses_no_line(void **state)
{
	(void)state;
	char app[16], rel[64], want[64];
	struct logrec_parsed p = { .msg = "z", .msglen = 1, .source = "service" };

	assert_int_equal(logstore_boot(&S, "evict"), 0);
	for (int i = 0; i < LOGSTORE_APP_FILES; i++) {
		snprintf(app, sizeof(app), "app%d", i);
		put((uint64_t)i + 1, app, "z");
	}
	disk_full = 1;
	p.seq = LOGSTORE_APP_FILES + 1;
	p.uptime_cs = (int64_t)p.seq;
	snprintf(p.app, sizeof(p.app), "late");
	assert_int_equal(logstore_put(&S, &p), -ENOSPC);
	disk_full = 0;
	assert_int_equal(logstore_put(&S, &p), 0);
	assert_int_equal(logstore_commit(&S, 0, 0), 0);
	logstore_close(&S);
	for (int i = 0; i < LOGSTORE_APP_FILES; i++) {
		snprintf(rel, sizeof(rel), "evict/app%d.log", i);
		snprintf(want, sizeof(want), "0.%02d service app%d: z\n", i + 1, i);
		assert_stored(rel, want);
	}
	snprintf(want, sizeof(want), "0.%02d service late: z\n", LOGSTORE_APP_FILES + 1);
	assert_stored("evict/late.log", want);
	char *all = stored("evict/all.log");
	size_t lines = 0;
	for (const char *c = all; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, LOGSTORE_APP_FILES + 1); /* the late one once */
	free(all);
}

/* --max-boots: the oldest boots go first, never the one being written. */
static void boots_past_max_boots_are_removed_oldest_first(void **state)
{
	(void)state;
	char path[128];
	static const char *const boots[] = { "b1", "b2", "b3", "b4" };

	logstore_init(&S, dir, outfd, 2, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(logstore_boot(&S, boots[i]), 0);
		put(1, "web", boots[i]);
		assert_int_equal(logstore_commit(&S, 0, 0), 0);
		usleep(20 * 1000); /* .stored's times differ (the kernel's clock is coarse) */
	}
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, boots[i]);
		assert_int_equal(access(path, F_OK), i < 2 ? -1 : 0);
	}
	/* not a boot of ours (no .stored): never counted nor removed */
	snprintf(path, sizeof(path), "%s/mine", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(logstore_boot(&S, "b5"), 0);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/b3", dir);
	assert_int_equal(access(path, F_OK), -1);
	logstore_close(&S);
}

/* --max-size: the oldest boots go until the rest fit; when the boot being
 * written alone is over it, the store is full (nothing may be acked). */
static void boots_past_max_size_are_removed_and_then_the_store_is_full(void **state)
{
	(void)state;
	char msg[1001], path[128];

	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	logstore_init(&S, dir, outfd, 0, 10000);
	assert_int_equal(logstore_boot(&S, "old"), 0);
	for (uint64_t s = 1; s <= 4; s++) /* 4 lines of ~1 KB in two files: ~8 KB */
		put(s, "web", msg);
	assert_int_equal(logstore_commit(&S, 0, 0), 0);
	usleep(20 * 1000);
	assert_int_equal(logstore_boot(&S, "new"), 0);
	put(1, "web", msg);
	put(2, "web", msg);
	assert_int_equal(logstore_commit(&S, 0, 0), 0); /* ~12 KB: old goes */
	snprintf(path, sizeof(path), "%s/old", dir);
	assert_int_equal(access(path, F_OK), -1);
	for (uint64_t s = 3; s <= 6; s++)
		put(s, "web", msg);
	assert_int_equal(logstore_commit(&S, 0, 0), -EFBIG);
	assert_non_null(strstr(S.full, "over --max-size 10000, and the boot being written (new) is the only one left"));
	assert_int_equal(logstore_commit(&S, 0, 0), -EFBIG); /* measured again: still */
	logstore_close(&S);
	snprintf(path, sizeof(path), "%s/new/all.log", dir);
	assert_int_equal(access(path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lines_go_to_all_log_and_the_apps_file_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(guest_names_stay_inside_out_as_plain_file_names, setup, teardown),
		cmocka_unit_test_setup_teardown(a_boot_directory_that_is_a_link_or_a_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(more_apps_than_open_files_lose_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(stored_says_what_a_restarted_reader_already_has, setup, teardown),
		cmocka_unit_test_setup_teardown(programs_past_the_cap_go_to_all_log_only, setup, teardown),
		cmocka_unit_test_setup_teardown(a_full_disk_keeps_what_was_put_and_writes_it_once_later, setup, teardown),
		cmocka_unit_test_setup_teardown(a_full_disk_while_a_file_makes_room_loses_no_line, setup, teardown),
		cmocka_unit_test_setup_teardown(boots_past_max_boots_are_removed_oldest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(boots_past_max_size_are_removed_and_then_the_store_is_full, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
