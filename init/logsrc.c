#include "logsrc.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* /dev/kmsg hands out one record per read (Documentation/ABI/testing/dev-kmsg),
 * from the first of this boot, the ones from before PID 1 included. */
static void on_kmsg(int fd, uint32_t events, void *data)
{
	char buf[8192];
	(void)events;
	(void)data;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EPIPE) {
			/* The kernel overwrote records we had not read: say so, go on. */
			log_warn("kernel: records were overwritten before they could be read");
			continue;
		}
		if (n <= 0)
			return;
		int pri;
		uint64_t kseq;
		int64_t uptime;
		const char *text;
		size_t len;
		if (logrec_parse_kmsg(buf, (size_t)n, &pri, &kseq, &uptime, &text, &len) == 0)
			log_kernel(pri, uptime, text, len);
	}
}

static void on_syslog(int fd, uint32_t events, void *data)
{
	char buf[LOGREC_MSG_MAX + 256];
	(void)events;
	(void)data;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
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
	if (fd < 0 || loop_add_fd(fd, EPOLLIN, on_kmsg, NULL) < 0)
		log_warn("log: %s: %s; kernel messages stay on the console", path, strerror(errno));
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
	loop_add_fd(fd, EPOLLIN, on_syslog, NULL);
}

void logsrc_start(const char *root, enum world world)
{
	if (world != WORLD_CONTAINER)
		open_kmsg(root);
	open_dev_log(root);
}
