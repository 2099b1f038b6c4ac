#include "logstore.h"
#include "logescape.h"
#include "logvacuum.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An ack promises the records are written to the store (the page cache:
 * they survive this process). all.log is also sent to the disk this often,
 * by a thread of its own (disk_sync_later), not per ack: a sync per batch
 * makes the next append wait for the page under writeback and halves the
 * throughput, and one a second in line stalls the reader for a fifth of
 * it during a flood. --sync syncs before every ack. */
#define SYNC_EVERY_MS 1000

void logstore_init(struct logstore *S, const char *out, int outfd, int max_boots, uint64_t max_size)
{
	*S = (struct logstore){ .out = out, .outfd = outfd, .bootfd = -1, .statefd = -1, .all.fd = -1,
				.max_boots = max_boots, .max_size = max_size };
	for (int i = 0; i < LOGSTORE_APP_FILES; i++)
		S->apps[i].fd = -1;
}

/* A guest-chosen name as a file name: [A-Za-z0-9._-] only, no leading '.',
 * at most LOGREC_NAME_MAX chars, never empty. No '/' survives. */
static void sanitise(const char *in, char out[LOGREC_NAME_MAX + 1])
{
	size_t n;

	for (n = 0; in[n] && n < LOGREC_NAME_MAX; n++) {
		char c = in[n];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			 c == '_' || c == '-';
		out[n] = ok ? c : '_';
	}
	if (n == 0)
		out[n++] = '_';
	if (out[0] == '.')
		out[0] = '_';
	out[n] = 0;
}

/* Doing what to name failed (errno). A full disk is for the caller to
 * say (S->full), once, and to try again later: -errno. Anything else is
 * said here: -1, the store is not to be trusted. */
static int failed(struct logstore *S, const char *doing, const char *name)
{
	int e = errno;

	if (e == ENOSPC || e == EDQUOT) {
		snprintf(S->full, sizeof(S->full), "%s %s/%s/%s: %s", doing, S->out, S->dir, name, strerror(e));
		return -e;
	}
	fprintf(stderr, "amphi logs: %s %s/%s/%s: %s\n", doing, S->out, S->dir, name, strerror(e));
	return -1;
}

static int write_failed(struct logstore *S, const struct storefile *f)
{
	return failed(S, "writing", f->name);
}

static int file_open(struct logstore *S, struct storefile *f, const char *name)
{
	int fd = storefile_open(f, S->bootfd, name);
	return fd < 0 ? failed(S, "opening", name) : fd;
}

static int file_close(struct logstore *S, struct storefile *f)
{
	S->last_file = NULL;
	return storefile_close(f) < 0 ? write_failed(S, f) : 0;
}

/* The disk syncs of all.log that nobody waits for: one at a time, on a
 * copy of its fd (the file may be closed meanwhile). Started from the main
 * thread after SIGINT and SIGTERM are blocked, which it inherits. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;       /* to sync; -1: nothing asked */
	int busy, started;
	int err;      /* errno of a sync that failed, for the next request to say */
} disk = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, 0, 0, 0 };

static void *disk_syncer(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&disk.mu);
	for (;;) {
		while (disk.fd < 0)
			pthread_cond_wait(&disk.cv, &disk.mu);
		int fd = disk.fd;
		disk.fd = -1;
		pthread_mutex_unlock(&disk.mu);
		int e = fdatasync(fd) < 0 ? errno : 0;
		close(fd);
		pthread_mutex_lock(&disk.mu);
		if (e)
			disk.err = e;
		disk.busy = 0;
	}
	return NULL;
}

/* Asks for all.log to reach the disk without waiting for it; in line if
 * there is no thread for it. 1 = asked (or done), 0 = the last one is
 * still going (a slow disk: ask again later), -1 = a sync failed (errno). */
static int disk_sync_later(int fd)
{
	pthread_t t;
	int copy, rc = 0;

	pthread_mutex_lock(&disk.mu);
	if (!disk.started && pthread_create(&t, NULL, disk_syncer, NULL) == 0) {
		pthread_detach(t);
		disk.started = 1;
	}
	if (disk.err) {
		errno = disk.err;
		rc = -1;
	} else if (!disk.started) {
		rc = fdatasync(fd) < 0 ? -1 : 1;
	} else if (!disk.busy && (copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
		disk.fd = copy;
		disk.busy = 1;
		pthread_cond_signal(&disk.cv);
		rc = 1;
	}
	pthread_mutex_unlock(&disk.mu);
	return rc;
}

/* A sync of all.log failed (in line or on the thread): errno says why. */
static int sync_failed(struct logstore *S)
{
	fprintf(stderr, "amphi logs: syncing %s/%s/all.log to the disk: %s\n", S->out, S->dir, strerror(errno));
	return -1;
}

/* Everything put so far written out; with sync, all.log on the disk. */
static int flush_all(struct logstore *S, int sync)
{
	int rc = 0;
	for (int i = 0; i < LOGSTORE_APP_FILES && rc == 0; i++)
		if (S->apps[i].fd >= 0 && storefile_flush(&S->apps[i]) < 0)
			rc = write_failed(S, &S->apps[i]);
	if (rc < 0 || S->all.fd < 0)
		return rc;
	if (storefile_flush(&S->all) < 0)
		return write_failed(S, &S->all);
	if (sync && fdatasync(S->all.fd) < 0)
		return sync_failed(S);
	S->flushed = S->highest;
	return 0;
}

/* After a flush: what is in the files (not what waits in a buffer), for
 * the next reader of this DIR. */
static int save_stored(struct logstore *S)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%020" PRIu64 "\n", S->flushed);
	if (S->statefd >= 0 && pwrite(S->statefd, num, (size_t)n, 0) != n)
		return failed(S, "writing", ".stored");
	return 0;
}

void logstore_close(struct logstore *S)
{
	int rc = 0, r;

	for (int i = 0; i < LOGSTORE_APP_FILES; i++)
		if ((r = file_close(S, &S->apps[i])) < 0)
			rc = r;
	if ((r = file_close(S, &S->all)) < 0)
		rc = r;
	if (rc == 0)
		S->flushed = S->highest;
	else if (logstore_is_full(rc))
		fprintf(stderr, "amphi logs: %s; the records not written were not acknowledged: the guest sends "
				"them again\n", S->full);
	if (S->statefd >= 0) {
		if (save_stored(S) < 0 && S->full[0])
			fprintf(stderr, "amphi logs: %s\n", S->full);
		close(S->statefd);
	}
	S->statefd = -1;
	if (S->bootfd >= 0)
		close(S->bootfd);
	S->bootfd = -1;
}

/* The program files a boot's directory holds already ("*.log" but all.log). */
static int count_app_files(int bootfd)
{
	DIR *d = logvacuum_opendir(bootfd);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		n += len > 4 && strcmp(e->d_name + len - 4, ".log") == 0 && strcmp(e->d_name, "all.log") != 0;
	}
	closedir(d);
	return n;
}

int logstore_boot(struct logstore *S, const char *id)
{
	int rc;

	logstore_close(S);
	S->highest = S->flushed = 0;
	S->apps_said = 0;
	sanitise(id, S->dir);
	if ((mkdirat(S->outfd, S->dir, 0755) < 0 && errno != EEXIST) ||
	    (S->bootfd = openat(S->outfd, S->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOSPC || errno == EDQUOT) {
			snprintf(S->full, sizeof(S->full), "making %s/%s: %s", S->out, S->dir, strerror(errno));
			return -errno;
		}
		fprintf(stderr, "amphi logs: %s/%s: %s; is --out a directory you can write to?\n", S->out, S->dir,
			strerror(errno));
		return -1;
	}
	S->apps_made = count_app_files(S->bootfd);
	if ((rc = file_open(S, &S->all, "all.log")) < 0)
		return rc;
	/* A reader killed before its last ack left records the guest sends
	 * again: what .stored says is there is not stored twice. */
	char num[24] = "";
	S->statefd = openat(S->bootfd, ".stored", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (S->statefd < 0)  /* as all.log: a boot without it is neither counted nor kept track of */
		return failed(S, "opening", ".stored");
	if (pread(S->statefd, num, sizeof(num) - 1, 0) > 0)
		S->highest = S->flushed = strtoull(num, NULL, 10);
	if (S->max_boots || S->max_size)
		S->used = logvacuum_run(S->outfd, S->out, S->dir, S->max_boots, S->max_size);
	return 0;
}

/* The file of an app's records, opened if it is not; all.log itself for
 * a program past LOGSTORE_APPS_MAX that has none. 0, or as logstore_put. */
static int app_file(struct logstore *S, const char *app, struct storefile **fp)
{
	char name[LOGREC_NAME_MAX + 8];
	struct storefile *f = NULL;
	struct stat st;
	int rc;

	if (S->last_file && strcmp(app, S->last_app) == 0) {
		*fp = S->last_file;
		return 0;
	}
	sanitise(app, name);
	if (strcmp(name, "all") == 0) /* would write into all.log */
		strcpy(name, "_all");
	strcat(name, ".log");
	for (int i = 0; i < LOGSTORE_APP_FILES && !f; i++)
		if (S->apps[i].fd >= 0 && strcmp(S->apps[i].name, name) == 0)
			f = &S->apps[i];
	if (!f && S->apps_made >= LOGSTORE_APPS_MAX && fstatat(S->bootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (!S->apps_said++) {
			char shown[6 * LOGREC_NAME_MAX + 1];
			logs_escape(shown, app, strlen(app), 0);
			fprintf(stderr, "amphi logs: %s/%s has %d program files, as many as a boot gets; the records of "
					"programs without one (the first: %s) are in all.log only\n", S->out, S->dir,
				LOGSTORE_APPS_MAX, shown);
		}
		f = &S->all;
	}
	if (!f) {
		/* the slot's file is written out before it is closed: a full disk
		 * keeps its lines in the buffer, for a later commit */
		f = &S->apps[S->next_app];
		if (f->fd >= 0 && storefile_flush(f) < 0)
			return write_failed(S, f);
		S->next_app = (S->next_app + 1) % LOGSTORE_APP_FILES;
		if ((rc = file_close(S, f)) < 0)
			return rc;
		int existed = fstatat(S->bootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if ((rc = file_open(S, f, name)) < 0)
			return rc;
		S->apps_made += !existed;
	}
	snprintf(S->last_app, sizeof(S->last_app), "%s", app);
	S->last_file = f;
	*fp = f;
	return 0;
}

/* The line is made once, in all.log's buffer, and copied from there. Room
 * in both files is made first: a full disk stores the record in neither. */
int logstore_put(struct logstore *S, const struct logrec_parsed *p)
{
	struct storefile *f;
	size_t slen = strlen(p->source), alen = strlen(p->app);
	/* escaping makes a byte at most 4 ("\xHH"); a frame is at most
	 * LOGREC_FRAME_MAX, so this is within STOREFILE_LINE_MAX */
	size_t most = 32 + 4 * (slen + alen + p->msglen) + 4;
	_Static_assert(32 + 4 * LOGREC_FRAME_MAX + 4 <= STOREFILE_LINE_MAX, "a stored line fits a file's buffer");
	int rc = app_file(S, p->app, &f);

	if (rc < 0)
		return rc;
	if (f != &S->all && !storefile_room(f, most))
		return write_failed(S, f);
	char *line0 = storefile_room(&S->all, most);
	if (!line0)
		return write_failed(S, &S->all);
	char *e = logs_put_uptime(line0, p->uptime_cs);

	*e++ = ' ';
	e = logs_escape(e, p->source, slen, 0);
	*e++ = ' ';
	e = logs_escape(e, p->app, alen, 0);
	e = logs_escape(stpcpy(e, ": "), p->msg, p->msglen, 0);
	*e++ = '\n';
	size_t len = (size_t)(e - line0);
	storefile_commit(&S->all, len);
	if (f != &S->all && storefile_write(f, line0, len) < 0) /* there is room: no write */
		return write_failed(S, f);
	S->used += f != &S->all ? 2 * len : len;
	if (p->seq > S->highest)
		S->highest = p->seq;
	return 0;
}

/* Over --max-size once the oldest boots are gone: full until there is
 * room (the next commit measures again). */
static int over_max_size(struct logstore *S)
{
	S->used = logvacuum_run(S->outfd, S->out, S->dir, S->max_boots, S->max_size);
	if (S->used <= S->max_size)
		return 0;
	snprintf(S->full, sizeof(S->full), "the boots under %s hold %" PRIu64 " bytes, over --max-size %" PRIu64
		 ", and the boot being written (%s) is the only one left to remove; give amphi logs a larger "
		 "--max-size (started again, it goes on where it stopped), or move logs away",
		 S->out, S->used, S->max_size, S->dir);
	return -EFBIG;
}

int logstore_commit(struct logstore *S, int sync, int64_t now_ms)
{
	int rc;

	if ((rc = flush_all(S, sync)) < 0 || (rc = save_stored(S)) < 0)
		return rc;
	if (S->max_size && S->used > S->max_size && (rc = over_max_size(S)) < 0)
		return rc;
	if (!sync && S->all.fd >= 0 && now_ms - S->synced_ms >= SYNC_EVERY_MS) {
		int r = disk_sync_later(S->all.fd);
		if (r < 0)
			return sync_failed(S);  /* as a failed write: the store is not to be trusted */
		if (r > 0)
			S->synced_ms = now_ms;
	}
	return 0;
}
