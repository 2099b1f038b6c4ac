/* Opens what a guest may have planted (guestpath.h). The inode is pinned
 * first with O_PATH | O_NOFOLLOW (no open of the file itself: opening a
 * device can act on it, a tty's open can make it a controlling terminal)
 * and its type checked with fstat on that fd; only then is it opened or
 * connected to, through /proc/self/fd/N, which names exactly that inode
 * (proc(5): the magic link resolves to the open file, not to a path that
 * could be renamed meanwhile). So there is no window between the check and
 * the use. What is left: the guest picks the socket it makes us connect
 * to, but only among inodes in its directory (its own, or a hard link to
 * one it can reach; mounts it makes stay in its own mount namespace). */
#include "guestpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const struct {
	mode_t type;
	const char *kind;
} kinds[] = {
	{ S_IFLNK, "a symbolic link" }, { S_IFREG, "a regular file" },     { S_IFDIR, "a directory" },
	{ S_IFIFO, "a FIFO" },          { S_IFSOCK, "a socket" },         { S_IFCHR, "a character device" },
	{ S_IFBLK, "a block device" },
};

const char *guestpath_kind(mode_t mode)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((mode & S_IFMT) == kinds[i].type)
			return kinds[i].kind;
	return "of an unknown type";
}

/* An O_PATH fd on the inode at path if it is of type; -errno. */
static int pin(const char *path, mode_t type, mode_t *found)
{
	struct stat st;
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (found)
		*found = st.st_mode & S_IFMT;
	if ((st.st_mode & S_IFMT) != type) {
		close(fd);
		return -EMEDIUMTYPE;
	}
	return fd;
}

int guestpath_open(const char *path, mode_t type, int flags, mode_t *found)
{
	char self[32];
	int pinned = pin(path, type, found);

	if (pinned < 0)
		return pinned;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pinned);
	int fd = open(self, flags | O_NOCTTY | O_CLOEXEC);
	int e = errno;
	close(pinned);
	return fd < 0 ? -e : fd;
}

int guestpath_connect(const char *path, mode_t *found)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int pinned = pin(path, S_IFSOCK, found);

	if (pinned < 0)
		return pinned;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", pinned);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int e = fd < 0 ? errno : 0;
	if (fd >= 0 && connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(fd);
	}
	close(pinned);
	return e ? -e : fd;
}
