#include "vport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

int vport_find(const char *root, const char *name, char *dev, size_t devlen)
{
	char dir[PATH_MAX], file[PATH_MAX + 300], have[128];
	struct dirent *de;
	int found = -1;

	snprintf(dir, sizeof(dir), "%s/sys/class/virtio-ports", root);
	DIR *d = opendir(dir);
	while (d && found < 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/name", dir, de->d_name);
		FILE *f = fopen(file, "re");
		if (f && fgets(have, sizeof(have), f)) {
			have[strcspn(have, "\n")] = '\0';
			if (!strcmp(have, name)) {
				snprintf(dev, devlen, "%s", de->d_name);
				found = 0;
			}
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

int vport_open(const char *root, const char *dev)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/dev/%s", root, dev);
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	fcntl(fd, F_SETOWN, getpid());
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
	return fd;
}

int vport_host_connected(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	return poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP);
}
