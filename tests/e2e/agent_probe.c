/* An unprivileged process in a container tries the guest agent's socket:
 * prints the errno connect(2) gets (0 if it got through). Built static by
 * test_agent.py and run inside the container as nobody. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (argc != 2 || fd < 0)
		return 2;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[1]);
	printf("connect errno=%d\n", connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0);
	return 0;
}
