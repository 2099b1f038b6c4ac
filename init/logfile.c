#include "logfile.h"
#include "linesplit.h"
#include "log.h"
#include "logflow.h"
#include "loop.h"

#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILES_MAX 8
/* A file read LOOP_READS_PER_TURN times in one turn of the loop goes on
 * in the next one (a timer), so one busy file does not hold up the rest. */
#define MORE_MS 1

struct followed {
	char path[PATH_MAX];
	const char *name;        /* basename, as inotify names it */
	char app[LOGREC_NAME_MAX]; /* the records' app: the name, unless it is PID 1's own */
	int dir_wd, fd;
	dev_t dev;
	ino_t ino;
	off_t off;
	struct linesplit lines;  /* a line not ended yet */
	int more;                /* stopped with more to read (its turn was up, or back-pressure) */
	int refused;             /* said why it is not read; said again only after a good open */
};

static struct followed files[FILES_MAX];
static int nfiles, ifd = -1, more_timer;

static void emit(void *ctx, const char *line, size_t len, int plain)
{
	const struct followed *f = ctx;
	log_file_output(f->app, line, len, plain);
}

static void close_file(struct followed *f)
{
	if (f->fd < 0)
		return;
	linesplit_flush(&f->lines, emit, f);
	close(f->fd);
	f->fd = -1;
}

static void schedule_more(void);

/* The file, never through a symbolic link and only if it is a regular
 * file of one name: a followed log often lives where others may write (a
 * service's own directory), and a link, a hard link (where the kernel's
 * fs.protected_hardlinks is off) or a FIFO swapped in there would have
 * PID 1 read, and send to the host, what it points at (/etc/shadow), or
 * block.
 * openat2's RESOLVE_NO_SYMLINKS refuses a link anywhere on the path; a
 * kernel before 5.6 has only O_NOFOLLOW, for the last part. */
static int open_file(struct followed *f, struct stat *st)
{
	struct open_how how = { .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW,
				.resolve = RESOLVE_NO_SYMLINKS };
	int fd = (int)syscall(__NR_openat2, AT_FDCWD, f->path, &how, sizeof(how));
	const char *why = NULL;

	if (fd < 0 && (errno == ENOSYS || errno == EPERM))  /* no openat2, or a seccomp policy refuses it */
		fd = open(f->path, (int)how.flags);
	if (fd < 0 && errno == ELOOP)
		why = "it is a symbolic link or its path has one";
	else if (fd < 0 && errno != ENOENT)
		why = strerror(errno);
	else if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)))
		why = "it is not a regular file";
	else if (fd >= 0 && st->st_nlink != 1)  /* a hard link to what its maker may not read */
		why = "it has more than one name (a hard link)";
	if (why && !f->refused)
		log_warn("log: %s is not read: %s (a followed log is read only as a regular file at its own path)",
			 f->path, why);
	if (why && fd >= 0)
		close(fd);
	if (why || fd >= 0)
		f->refused = why != NULL;
	return why ? -1 : fd;
}

/* Reads what is new; reopens a file that was replaced or truncated. */
static void follow(struct followed *f)
{
	struct stat st;
	char buf[4096];
	ssize_t n;

	if (lstat(f->path, &st) < 0) {
		close_file(f);  /* gone; the directory watch brings it back */
		return;
	}
	if (f->fd >= 0 && (st.st_ino != f->ino || st.st_dev != f->dev))
		close_file(f);  /* replaced (log rotation, or a link): the new file from its start */
	if (f->fd < 0) {
		if ((f->fd = open_file(f, &st)) < 0)
			return;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->off = 0;
	}
	if (st.st_size < f->off) {
		lseek(f->fd, 0, SEEK_SET);  /* truncated: from the start again */
		f->off = 0;
	}
	f->more = 0;
	for (int turns = 0;; turns++) {
		if (turns == LOOP_READS_PER_TURN || logflow_hold()) {
			f->more = 1;
			schedule_more();
			return;
		}
		if ((n = read(f->fd, buf, sizeof(buf))) <= 0)
			return;
		f->off += n;
		/* Back-pressure mid-read: the rest is read again later. */
		log_clock_hold();  /* the lines of one read share one reading of the clocks */
		const char *left = linesplit_feed(&f->lines, buf, buf + n, logflow_hold, emit, f);
		log_clock_release();
		if (left < buf + n) {
			f->off -= buf + n - left;
			lseek(f->fd, f->off, SEEK_SET);
		}
	}
}

/* The files that stopped with more to read go on, unless the log is
 * still back-pressured (then the resume hook brings them back). */
static long follow_more(void *unused)
{
	(void)unused;
	more_timer = 0;
	for (int i = 0; i < nfiles && !logflow_hold(); i++)
		if (files[i].more)
			follow(&files[i]);
	return -1;
}

static void schedule_more(void)
{
	if (!more_timer && !logflow_hold() && loop_add_timer(MORE_MS, follow_more, NULL) >= 0)
		more_timer = 1;
}

static void resume_files(void)
{
	schedule_more();
}

void logfile_flush(void)
{
	for (int i = 0; i < nfiles; i++) {
		if (files[i].fd >= 0)
			follow(&files[i]);
		linesplit_flush(&files[i].lines, emit, &files[i]);
	}
}

static void on_inotify(int fd, uint32_t events, void *data)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	(void)events;
	(void)data;

	/* One read a turn: each event may follow a file for a turn's reads. */
	if ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)(void *)p;
			for (int i = 0; i < nfiles; i++)
				if (files[i].dir_wd == ev->wd && (!ev->len || !strcmp(ev->name, files[i].name)))
					follow(&files[i]);
			p += sizeof(*ev) + ev->len;
		}
}

void logfile_start(const char *root, const struct recipe_list *paths)
{
	if (!paths->n)
		return;
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0 || loop_add_fd(ifd, EPOLLIN, on_inotify, NULL) < 0) {
		log_warn("log: inotify: %s; log files are not followed", strerror(errno));
		return;
	}
	logflow_on_resume(resume_files);
	for (int i = 0; i < paths->n; i++) {
		if (nfiles == FILES_MAX) {
			log_warn("log: at most %d files are followed; %s is not", FILES_MAX, paths->item[i]);
			continue;
		}
		struct followed *f = &files[nfiles];
		char dir[PATH_MAX];
		snprintf(f->path, sizeof(f->path), "%s%s", root, paths->item[i]);
		f->name = strrchr(f->path, '/') + 1;
		snprintf(f->app, sizeof(f->app), "%s", f->name);
		log_name_other(f->app, "file");
		f->fd = -1;
		snprintf(dir, sizeof(dir), "%.*s", (int)(f->name - f->path - 1), f->path);
		/* The directory must exist to be watched; make it and its parents,
		 * as an installer writing there would. */
		for (char *slash = dir + strlen(root) + 1; (slash = strchr(slash, '/')); *slash++ = '/') {
			*slash = '\0';
			mkdir(dir, 0755);
		}
		mkdir(dir, 0755);
		f->dir_wd = inotify_add_watch(ifd, dir, IN_DONT_FOLLOW | IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_DELETE |
						      IN_MOVED_FROM | IN_CLOSE_WRITE);
		if (f->dir_wd < 0) {
			log_warn("log: cannot watch %s: %s; %s is not followed", dir, strerror(errno), paths->item[i]);
			continue;
		}
		nfiles++;
		log_info("log: following %s", paths->item[i]);
		follow(f);
	}
}
