#include "logstore.h"
#include "logs.h"

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
 * made the next append wait for the page under writeback and halved the
 * throughput, and one a second in line stalled the reader for a fifth of
 * it during a flood (measured). --sync syncs before every ack. */
#define SYNC_EVERY_MS 1000

void logstore_init(struct logstore *S, const char *out, int outfd)
{
	*S = (struct logstore){ .out = out, .outfd = outfd, .bootfd = -1, .statefd = -1, .all.fd = -1 };
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

/* A write to f failed (errno): said. The store is not to be trusted. */
static int write_failed(struct logstore *S, const struct storefile *f)
{
	fprintf(stderr, "amphi logs: writing %s/%s/%s: %s\n", S->out, S->dir, f->name, strerror(errno));
	return -1;
}

static int file_open(struct logstore *S, struct storefile *f, const char *name)
{
	int fd = storefile_open(f, S->bootfd, name);
	if (fd < 0)
		fprintf(stderr, "amphi logs: %s/%s/%s: %s\n", S->out, S->dir, name, strerror(errno));
	return fd;
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

/* Everything stored so far written out; with sync, all.log on the disk. */
static int flush_all(struct logstore *S, int sync)
{
	int rc = 0;
	for (int i = 0; i < LOGSTORE_APP_FILES; i++)
		if (S->apps[i].fd >= 0 && storefile_flush(&S->apps[i]) < 0)
			rc = write_failed(S, &S->apps[i]);
	if (S->all.fd < 0)
		return rc;
	if (storefile_flush(&S->all) < 0)
		return write_failed(S, &S->all);
	return sync && fdatasync(S->all.fd) < 0 ? sync_failed(S) : rc;
}

/* After a flush: what is in the files, for the next reader of this DIR. */
static void save_stored(struct logstore *S)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%020" PRIu64 "\n", S->highest);
	if (S->statefd >= 0 && pwrite(S->statefd, num, (size_t)n, 0) != n)
		fprintf(stderr, "amphi logs: %s/%s/.stored: %s\n", S->out, S->dir, strerror(errno));
}

void logstore_close(struct logstore *S)
{
	for (int i = 0; i < LOGSTORE_APP_FILES; i++)
		file_close(S, &S->apps[i]);
	file_close(S, &S->all);
	if (S->statefd >= 0) {
		save_stored(S);
		close(S->statefd);
	}
	S->statefd = -1;
	if (S->bootfd >= 0)
		close(S->bootfd);
	S->bootfd = -1;
}

int logstore_boot(struct logstore *S, const char *id)
{
	logstore_close(S);
	S->highest = 0;
	sanitise(id, S->dir);
	if ((mkdirat(S->outfd, S->dir, 0755) < 0 && errno != EEXIST) ||
	    (S->bootfd = openat(S->outfd, S->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fprintf(stderr, "amphi logs: %s/%s: %s; is --out a directory you can write to?\n", S->out, S->dir,
			strerror(errno));
		return -1;
	}
	if (file_open(S, &S->all, "all.log") < 0)
		return -1;
	/* A reader killed before its last ack left records the guest sends
	 * again: what .stored says is there is not stored twice. */
	char num[24] = "";
	S->statefd = openat(S->bootfd, ".stored", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (S->statefd >= 0 && pread(S->statefd, num, sizeof(num) - 1, 0) > 0)
		S->highest = strtoull(num, NULL, 10);
	return 0;
}

/* The file of an app's records, opened if it is not. */
static struct storefile *app_file(struct logstore *S, const char *app)
{
	char name[LOGREC_NAME_MAX + 8];
	struct storefile *f = NULL;

	if (S->last_file && strcmp(app, S->last_app) == 0)
		return S->last_file;
	sanitise(app, name);
	if (strcmp(name, "all") == 0) /* would write into all.log */
		strcpy(name, "_all");
	strcat(name, ".log");
	for (int i = 0; i < LOGSTORE_APP_FILES && !f; i++)
		if (S->apps[i].fd >= 0 && strcmp(S->apps[i].name, name) == 0)
			f = &S->apps[i];
	if (!f) {
		f = &S->apps[S->next_app];
		S->next_app = (S->next_app + 1) % LOGSTORE_APP_FILES;
		if (file_close(S, f) < 0 || file_open(S, f, name) < 0)
			return NULL;
	}
	snprintf(S->last_app, sizeof(S->last_app), "%s", app);
	S->last_file = f;
	return f;
}

/* The line is made once, in all.log's buffer, and copied from there. */
int logstore_put(struct logstore *S, const struct logrec_parsed *p)
{
	struct storefile *f = app_file(S, p->app);
	size_t slen = strlen(p->source), alen = strlen(p->app);
	/* escaping makes a byte at most 4 ("\xHH"); a frame is at most
	 * LOGREC_FRAME_MAX, so this is within STOREFILE_LINE_MAX */
	size_t most = 32 + 4 * (slen + alen + p->msglen) + 4;
	_Static_assert(32 + 4 * LOGREC_FRAME_MAX + 4 <= STOREFILE_LINE_MAX, "a stored line fits a file's buffer");

	if (!f)
		return -1;
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
	storefile_commit(&S->all, (size_t)(e - line0));
	if (storefile_write(f, line0, (size_t)(e - line0)) < 0)
		return write_failed(S, f);
	if (p->seq > S->highest)
		S->highest = p->seq;
	return 0;
}

int logstore_commit(struct logstore *S, int sync, int64_t now_ms)
{
	if (flush_all(S, sync) < 0)
		return -1;
	save_stored(S);
	if (!sync && S->all.fd >= 0 && now_ms - S->synced_ms >= SYNC_EVERY_MS) {
		int r = disk_sync_later(S->all.fd);
		if (r < 0)
			return sync_failed(S);  /* as a failed write: the store is not to be trusted */
		if (r > 0)
			S->synced_ms = now_ms;
	}
	return 0;
}
