#include "console.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

int console_open(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);  /* dup2 clears O_CLOEXEC: children inherit 0-2 */
	if (fd > 2)
		close(fd);

	/* Our own lines use a separate, nonblocking open: O_NONBLOCK belongs to
	 * the open file, so the children's blocking 0-2 are unaffected. */
	int logfd = open("/dev/console", O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	log_set_fd(logfd >= 0 ? logfd : 2);
	return 0;
}

void console_make_controlling(void)
{
	setsid();
	ioctl(0, TIOCSCTTY, 1);
}
