/* The container's raw path for the log benchmark: stdin to a unix stream
 * socket, 64 KiB at a time, as cat would to a pipe (busybox nc has no -U).
 * Bind-mounted into the flood container by bench/run.py. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	ssize_t n;
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: rawsock SOCKET < DATA\n");
		return 2;
	}
	strcpy(a.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror(argv[1]);
		return 1;
	}
	while ((n = read(0, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w <= 0) {
				perror("write");
				return 1;
			}
			off += w;
		}
	return n < 0;
}
