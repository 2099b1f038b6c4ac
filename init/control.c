#include "control.h"
#include "ctlmsg.h"
#include "log.h"
#include "loop.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

/* First word -> handler, which gets the rest of the line. */
static const struct {
	const char *word;
	void (*fn)(char *rest);
} handlers[] = {
	{ "dhcp", net_dhcp_message },
};

static struct ctlmsg_reader pending;

static void dispatch(char *line)
{
	char *rest = ctlmsg_first_word(line);
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(line, handlers[i].word) == 0) {
			handlers[i].fn(rest);
			return;
		}
	log_warn("control: unknown message '%s'", line);
}

static void on_readable(int fd, uint32_t events, void *data)
{
	char buf[4096];
	ssize_t n;
	(void)events;
	(void)data;

	for (int turns = 0; turns < LOOP_READS_PER_TURN && (n = read(fd, buf, sizeof(buf))) > 0; turns++)
		ctlmsg_feed(&pending, buf, (size_t)n, dispatch);
}

int control_listen(const char *root)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%s%s", root, CONTROL_DIR);
	snprintf(path, sizeof(path), "%s%s", root, CONTROL_FIFO);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkfifo(path, 0600) < 0 && errno != EEXIST)
		return -errno;
	/* Read-write: with a writer of our own the FIFO never reports EOF
	 * between messages, so the fd stays quiet until there is data. */
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return loop_add_fd(fd, EPOLLIN, on_readable, NULL);
}

int control_send(const char *root, const char *line)
{
	char path[PATH_MAX], msg[CONTROL_LINE_MAX + 1];
	int n = snprintf(msg, sizeof(msg), "%s\n", line);
	int fd, r = 0;

	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EMSGSIZE;
	snprintf(path, sizeof(path), "%s%s", root, CONTROL_FIFO);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, msg, (size_t)n) != n)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}
