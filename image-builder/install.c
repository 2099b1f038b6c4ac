/* amphi install RECIPE --disk DISK: build what is missing, make the raw
 * disk, boot the installer under QEMU with the disk on virtio-blk, follow
 * its install records (docs/PROTOCOL.md, source "install") with a progress
 * line, and exit with its verdict. The stream is read and stored by an
 * `amphi logs --events` child; this side reads the events it passes on. */
#include "commands.h"
#include "logs.h"
#include "recipe.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SIZE (256LL << 20)
#define MIN_SIZE (16LL << 20)
#define TAIL 8

struct install {
	const char *recipe, *disk, *dir;
	char dirbuf[PATH_MAX];
	long long size;
	int overwrite, tty;
	/* what the records said */
	int step, steps;
	char name[RECIPE_WORD_MAX], verdict[4096], last[TAIL][256];
	int nlast, ok, failed;
	struct timespec t0, step_t0;
};

static int usage_install(FILE *out, int status)
{
	fprintf(out,
		"usage: amphi install RECIPE --disk DISK [--size SIZE] [-o DIR] [--overwrite]\n"
		"  builds RECIPE into DIR (default out/NAME) if needed, makes DISK (a raw image of SIZE,\n"
		"  default 256M; K, M, G suffixes), boots the installer under QEMU with DISK on virtio-blk\n"
		"  and follows its steps; exits 0 when the install succeeded, 1 with the failing step if not.\n"
		"  Then: amphi run DIR --disk DISK boots the installed system.\n");
	return status;
}

static double since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static int parse_args(struct install *in, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--disk") == 0 && i + 1 < argc)
			in->disk = argv[++i];
		else if (strcmp(a, "--size") == 0 && i + 1 < argc) {
			if ((in->size = parse_size(argv[++i])) < MIN_SIZE) {
				fprintf(stderr, "amphi install: --size %s: expected a size of at least 16M, such as 256M or 2G\n",
					argv[i]);
				return 2;
			}
		} else if (strcmp(a, "-o") == 0 && i + 1 < argc)
			in->dir = argv[++i];
		else if (strcmp(a, "--overwrite") == 0)
			in->overwrite = 1;
		else if (a[0] != '-' && !in->recipe)
			in->recipe = a;
		else {
			fprintf(stderr, "amphi install: unexpected argument '%s'\n", a);
			return usage_install(stderr, 2);
		}
	}
	if (!in->recipe || !in->disk) {
		fprintf(stderr, "amphi install: %s\n", !in->recipe ? "which installer? give its recipe, such as recipes/installer.conf"
								 : "onto what? add --disk DISK, the raw image to make");
		return usage_install(stderr, 2);
	}
	return 0;
}

static int mtime_of(const char *path, struct timespec *t)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	*t = st.st_mtim;
	return 0;
}

static int older(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* amphi build, unless DIR already holds a build newer than the recipe and
 * than this amphi. */
static int build_if_needed(const struct install *in, const char *self)
{
	char img[PATH_MAX + 32];
	struct timespec built, t;

	snprintf(img, sizeof(img), "%s/vm/initramfs.img", in->dir);
	if (mtime_of(img, &built) == 0 && mtime_of(in->recipe, &t) == 0 && !older(&built, &t) &&
	    mtime_of(self, &t) == 0 && !older(&built, &t))
		return 0;
	printf("amphi install: building %s into %s\n", in->recipe, in->dir);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, "amphi", "build", in->recipe, "-o", in->dir, (char *)NULL);
		_exit(127);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "amphi install: the build failed (see above); fix the recipe and run again\n");
		return -1;
	}
	return 0;
}

static void say_disk_exists(const struct install *in)
{
	fprintf(stderr, "amphi install: %s exists; an install writes a whole new disk: remove it first, or add --overwrite\n",
		in->disk);
}

static int make_disk(const struct install *in)
{
	int fd = open(in->disk, O_WRONLY | O_CREAT | O_CLOEXEC | (in->overwrite ? O_TRUNC : O_EXCL), 0644);
	if (fd < 0 && errno == EEXIST) {
		say_disk_exists(in);
		return -1;
	}
	if (fd < 0 || ftruncate(fd, in->size) < 0) {
		fprintf(stderr, "amphi install: %s: %s\n", in->disk, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static pid_t spawn_qemu(const struct install *in, const char *rundir, const char *console)
{
	char launch[PATH_MAX + 16];
	snprintf(launch, sizeof(launch), "%s/vm/launch", in->dir);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGTERM);  /* never outlive amphi install */
	int fd = open(console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), null = open("/dev/null", O_RDONLY);
	if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
	setenv("AMPHI_DISK", in->disk, 1);
	setenv("AMPHI_LOG_DIR", rundir, 1);
	execl(launch, launch, (char *)NULL);
	_exit(127);
}

/* The progress line on a terminal: bar, step n/m, name, elapsed. */
static void draw(const struct install *in)
{
	char bar[21];
	int fill = in->steps ? 20 * (in->step - 1) / in->steps : 0;

	if (!in->tty)
		return;
	if (!in->step) {
		fprintf(stderr, "\r\033[Kbooting the installer  %.0f s", since(&in->t0));
		return;
	}
	for (int i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[20] = '\0';
	fprintf(stderr, "\r\033[K[%s] step %d/%d %s  %.0f s", bar, in->step, in->steps, in->name, since(&in->step_t0));
}

/* An event of the install phase: fields of amphi logs --events, which
 * took them from [install@32473] (docs/PROTOCOL.md), never from prose. */
struct event {
	const char *event, *state, *name, *how, *msg;
	int step, steps;
	long long ms;
};

static void on_event(struct install *in, const struct event *e)
{
	if (strcmp(e->event, "step") == 0 && strcmp(e->state, "started") == 0) {
		in->step = e->step, in->steps = e->steps, in->nlast = 0;
		snprintf(in->name, sizeof(in->name), "%s", e->name);
		clock_gettime(CLOCK_MONOTONIC, &in->step_t0);
		if (!in->tty)
			printf("amphi install: step %d/%d %s\n", e->step, e->steps, e->name);
	} else if (strcmp(e->event, "step") == 0) {
		if (in->tty)
			fprintf(stderr, "\r\033[K");
		printf("amphi install: step %d/%d %s: %s in %lld ms%s%s\n", e->step, e->steps, e->name, e->state, e->ms,
		       *e->how ? ": " : "", e->how);
	} else if (strcmp(e->event, "verdict") == 0) {
		if (in->ok || in->failed)
			return;  /* the first verdict is final */
		in->ok = strcmp(e->state, "success") == 0;
		in->failed = !in->ok;
		if (in->ok)
			snprintf(in->verdict, sizeof(in->verdict), "%d step%s in %lld ms", e->steps,
				 e->steps == 1 ? "" : "s", e->ms);
		else
			snprintf(in->verdict, sizeof(in->verdict), "step %d/%d %s: %s", e->step, e->steps, e->name,
				 e->how);
	} else if (!in->tty) {
		printf("amphi install: %s\n", e->msg);
	}
}

/* One line of amphi logs --events: "install" and 8 fields, or "out",
 * the program and its line. Guest text is escaped there: no field holds a
 * tab. */
static void on_line(struct install *in, char *line)
{
	char *f[9];
	int n = 0;

	for (char *p = line; p && n < 9; n++) {
		f[n] = p;
		if ((p = strchr(p, '\t')))
			*p++ = '\0';
	}
	if (n == 3 && strcmp(f[0], "out") == 0 && in->step && strcmp(f[1], in->name) == 0) {
		/* The running step's own output: kept for a failure, shown when piped. */
		snprintf(in->last[in->nlast++ % TAIL], sizeof(in->last[0]), "%s", f[2]);
		if (!in->tty)
			printf("  %s: %s\n", f[1], f[2]);
	} else if (n == 9 && strcmp(f[0], "install") == 0) {
		struct event e = { .event = f[1], .state = f[2], .step = (int)strtol(f[3], NULL, 10),
				   .steps = (int)strtol(f[4], NULL, 10), .ms = strtoll(f[5], NULL, 10), .name = f[6],
				   .how = f[7], .msg = f[8] };
		on_event(in, &e);
	}
	fflush(stdout);
}

/* Reads the reader's lines until it ends (QEMU is gone). */
static void follow(struct install *in, int fd)
{
	char buf[8192];
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, 1000);
		draw(in);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		char *start = buf, *nl;
		buf[len] = '\0';
		while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
			*nl = '\0';
			on_line(in, start);
			start = nl + 1;
		}
		len -= (size_t)(start - buf);
		memmove(buf, start, len);
		if (len == sizeof(buf) - 1)
			len = 0;  /* a line longer than the buffer: dropped from the display only */
	}
	if (in->tty)
		fprintf(stderr, "\r\033[K");
}

static int report(const struct install *in, int qemu_status, const char *console, const char *store)
{
	if (in->ok) {
		printf("amphi install: %s is installed (%s, %.0f s in all).\n"
		       "amphi install: boot it with: amphi run %s --disk %s\n",
		       in->disk, in->verdict, since(&in->t0), in->dir, in->disk);
		return 0;
	}
	if (in->failed) {
		fprintf(stderr, "amphi install: the install failed at %s\n", in->verdict);
		if (in->nlast) {
			fprintf(stderr, "amphi install: its last lines:\n");
			int first = in->nlast > TAIL ? in->nlast - TAIL : 0;
			for (int i = first; i < in->nlast; i++)
				fprintf(stderr, "  | %s\n", in->last[i % TAIL]);
		}
	} else {
		fprintf(stderr, "amphi install: the installer stopped without a verdict (QEMU %s %d)\n",
			WIFEXITED(qemu_status) ? "exited with status" : "was killed by signal",
			WIFEXITED(qemu_status) ? WEXITSTATUS(qemu_status) : WTERMSIG(qemu_status));
	}
	fprintf(stderr, "amphi install: the whole log is in %s, the console in %s\n", store, console);
	return 1;
}

int cmd_install(int argc, char **argv)
{
	static struct install in = { .size = DEFAULT_SIZE };
	char self[PATH_MAX], err[RECIPE_ERR_MAX], rundir[PATH_MAX + 16], sock[PATH_MAX + 32], console[PATH_MAX + 32],
		store[PATH_MAX + 32];
	static struct recipe r;
	int rc, pipefd[2], status = 0;

	if (wants_help(argc, argv, "--disk --size -o"))
		return usage_install(stdout, 0);
	if ((rc = parse_args(&in, argc, argv)))
		return rc;
	recipe_defaults(&r);
	if (recipe_load(in.recipe, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "amphi install: %s\n", err);
		return 1;
	}
	if (r.install_mode != INSTALL_INSTALLER) {
		fprintf(stderr, "amphi install: %s is not an installer: it needs [step.NAME] sections (and no "
				"mode = first-boot); see recipes/installer.conf\n", in.recipe);
		return 1;
	}
	if (!in.dir) {
		snprintf(in.dirbuf, sizeof(in.dirbuf), "out/%s", r.name);
		in.dir = in.dirbuf;
	}
	/* Said before the build, which takes a while; make_disk still refuses
	 * with O_EXCL should one appear meanwhile. */
	struct stat st;
	if (!in.overwrite && lstat(in.disk, &st) == 0) {  /* a dangling link too: O_EXCL refuses it */
		say_disk_exists(&in);
		return 1;
	}
	if (self_path(self, sizeof(self)) < 0 || build_if_needed(&in, self) < 0 || make_disk(&in) < 0)
		return 1;
	snprintf(rundir, sizeof(rundir), "%s/install", in.dir);
	snprintf(sock, sizeof(sock), "%s/amphi.sock", rundir);
	snprintf(console, sizeof(console), "%s/console.log", rundir);
	snprintf(store, sizeof(store), "%s/logs", rundir);
	if (mkdir(rundir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "amphi install: %s: %s\n", rundir, strerror(errno));
		return 1;
	}
	unlink(sock);  /* an earlier install's: wait for QEMU's own */
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		fprintf(stderr, "amphi install: pipe: %s\n", strerror(errno));
		return 1;
	}
	in.tty = isatty(2);
	clock_gettime(CLOCK_MONOTONIC, &in.t0);
	printf("amphi install: installing %s onto %s under QEMU (console: %s)\n", r.name, in.disk, console);
	fflush(stdout);
	/* Ctrl-C ends the install: QEMU and the reader follow us (PDEATHSIG). */
	pid_t qemu = spawn_qemu(&in, rundir, console);
	/* amphi logs on the stream socket, its plain lines into the pipe */
	pid_t reader = qemu > 0 ? logs_spawn(sock, pipefd[1], (const char *const[]){ "--out", store, "--events", NULL })
				: -1;
	close(pipefd[1]);
	if (qemu < 0 || reader < 0) {
		fprintf(stderr, "amphi install: fork: %s\n", strerror(errno));
		return 1;
	}
	follow(&in, pipefd[0]);
	close(pipefd[0]);
	waitpid(reader, NULL, 0);
	if (in.failed && r.install_shell_on_failure)
		fprintf(stderr, "amphi install: the guest stays up for inspection (on_failure = shell): "
				"Ctrl-C stops it\n");
	while (waitpid(qemu, &status, 0) < 0 && errno == EINTR)
		;
	return report(&in, status, console, store);
}
