#include "logsrc.h"
#include "log.h"
#include "logflow.h"
#include "loginput.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/klog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A syslog datagram up to this long is taken whole (then split into
 * records); the kernel cuts a longer one. */
#define SYSLOG_MAX 8192
#define SYSLOG_ACTION_CONSOLE_LEVEL 8 /* syslog(2): only messages below it */

static int kmsg_fd = -1, syslog_fd = -1;
static uint64_t kseq_next;  /* the kernel's next sequence number; 0: none read yet */
static int64_t kernel_quiet_us = INT64_MAX; /* from then on PID 1 shows the kernel's errors */

/* Under back-pressure a source is left unread: the kernel keeps kmsg
 * records (until its own ring wraps: counted below), and a syslog(3)
 * writer waits in send(2) once the socket's queue is full. */
static int hold_back(int fd)
{
	if (!logflow_hold())
		return 0;
	loop_mod_fd(fd, 0);
	return 1;
}

static void resume_sources(void)
{
	if (kmsg_fd >= 0)
		loop_mod_fd(kmsg_fd, EPOLLIN);
	if (syslog_fd >= 0)
		loop_mod_fd(syslog_fd, EPOLLIN);
}

/* /dev/kmsg hands out one record per read (Documentation/ABI/testing/dev-kmsg),
 * from the first of this boot, the ones from before PID 1 included. EPIPE:
 * the kernel overwrote records we had not read; the next record's sequence
 * number says how many. */
static void on_kmsg(int fd, uint32_t events, void *data)
{
	char buf[8192];
	(void)events;
	(void)data;

	for (int i = 0; i < LOOP_READS_PER_TURN && !hold_back(fd); i++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			return;
		int pri;
		uint64_t kseq;
		int64_t uptime;
		const char *text;
		size_t len;
		if (logrec_parse_kmsg(buf, (size_t)n, &pri, &kseq, &uptime, &text, &len) < 0)
			continue;
		if (kseq_next && kseq > kseq_next)
			log_warn("kernel: %llu records (kernel seq %llu-%llu) were overwritten before they could be read",
				 (unsigned long long)(kseq - kseq_next), (unsigned long long)kseq_next,
				 (unsigned long long)(kseq - 1));
		kseq_next = kseq + 1;
		log_kernel(pri, uptime, text, len, uptime >= kernel_quiet_us);
	}
}

static void on_syslog(int fd, uint32_t events, void *data)
{
	char buf[SYSLOG_MAX + 1];
	(void)events;
	(void)data;

	for (int i = 0; i < LOOP_READS_PER_TURN && !hold_back(fd); i++) {
		ssize_t n = recv(fd, buf, SYSLOG_MAX, 0);
		if (n <= 0)
			return;
		int pri;
		char app[LOGREC_NAME_MAX];
		const char *msg;
		size_t len;
		if (logrec_parse_syslog(buf, (size_t)n, &pri, app, &msg, &len) == 0) {
			while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\0'))
				len--;
			log_syslog(pri, app, msg, len);
		}
	}
}

static void open_kmsg(const char *root)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/dev/kmsg", root);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || loop_add_fd(fd, EPOLLIN, on_kmsg, NULL) < 0) {
		log_warn("log: %s: %s; kernel messages stay on the console", path, strerror(errno));
		return;
	}
	kmsg_fd = fd;
	/* From here the kernel writes only its emergencies to the console
	 * itself (a panic raises the level again), and PID 1 shows its errors
	 * in lines of its own: the kernel's writes went to the UART in the
	 * middle of a line PID 1 was writing, and so could give a line that
	 * reads as PID 1's (a segfault printk on another CPU, seen). Every
	 * record still reaches the stream. Those it printed before are not
	 * shown again. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	kernel_quiet_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	if (klogctl(SYSLOG_ACTION_CONSOLE_LEVEL, NULL, 1) < 0)
		kernel_quiet_us = INT64_MAX;  /* it still prints them itself */
}

static void open_dev_log(const char *root)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s/dev/log", root);
	unlink(a.sun_path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		log_warn("log: %s: %s; syslog(3) messages are lost", a.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	chmod(a.sun_path, 0666);  /* every program may log */
	if (loop_add_fd(fd, EPOLLIN, on_syslog, NULL) == 0)
		syslog_fd = fd;
}

void logsrc_start(const char *root, enum world world)
{
	logflow_on_resume(resume_sources);
	if (world != WORLD_CONTAINER)
		open_kmsg(root);
	open_dev_log(root);
}
