#include "root.h"
#include "cmdline.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* A disk's node appears a little after its driver loads. */
#define DEVICE_WAIT_MS 10000
#define RAMFS_MAGIC 0x858458f6
#define TMPFS_MAGIC 0x01021994

/* The kernel's mounts go with PID 1 into the new root (the init that runs
 * on finds them mounted); what cannot move is let go. */
static void move_mounts(const char *root, const char *newroot)
{
	static const char *const mounts[] = { "/dev", "/proc", "/sys", "/run", "/tmp" };
	char from[PATH_MAX], to[PATH_MAX];

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", root, mounts[i]);
		snprintf(to, sizeof(to), "%s%s", newroot, mounts[i]);
		if (mount(from, to, NULL, MS_MOVE, NULL) < 0)
			umount2(from, MNT_DETACH);
	}
}

/* Deletes what is below dirfd on the device dev, leaving other file
 * systems' mount points; closes dirfd. */
static void delete_below(int dirfd, dev_t dev)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	struct stat st;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				delete_below(sub, dev);
		}
		unlinkat(dirfd, e->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
	}
	closedir(d);
}

int root_is_initramfs(const char *root)
{
	char path[PATH_MAX];
	struct statfs fs;

	snprintf(path, sizeof(path), "%s/", root);
	return statfs(path, &fs) == 0 && (fs.f_type == RAMFS_MAGIC || fs.f_type == TMPFS_MAGIC);
}

int root_move_to(const char *root, const char *newroot, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/", root);
	int initramfs = root_is_initramfs(root), old = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (old < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	move_mounts(root, newroot);
	if (chdir(newroot) < 0 || mount(".", path, NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0) {
		snprintf(err, errlen, "making %s the root: %s", newroot, strerror(errno));
		close(old);
		return -1;
	}
	/* The initramfs is rootfs, which is never unmounted: its files would
	 * hold their RAM for good. Only what is on its own device goes. */
	if (initramfs && fstat(old, &st) == 0)
		delete_below(old, st.st_dev);
	else
		close(old);
	return 0;
}

/* Whether the new root's /sbin/init can be run, following symlinks as they
 * will resolve once it is / (Debian's /sbin/init -> /lib/systemd/systemd
 * is absolute, and means the new root's, not the initramfs's). */
int root_init_runnable(const char *mnt)
{
	char rel[PATH_MAX] = "/sbin/init", path[PATH_MAX * 2], target[PATH_MAX];
	struct stat st;

	for (int hops = 0; hops < 16; hops++) {
		snprintf(path, sizeof(path), "%s%s", mnt, rel);
		if (lstat(path, &st) < 0)
			return 0;
		if (!S_ISLNK(st.st_mode))
			return S_ISREG(st.st_mode) && (st.st_mode & 0111);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			return 0;
		target[n] = '\0';
		if (target[0] == '/') {
			snprintf(rel, sizeof(rel), "%s", target);
		} else {
			char *slash = strrchr(rel, '/');
			slash[1] = '\0';  /* rel always starts with '/' */
			size_t used = strlen(rel);
			snprintf(rel + used, sizeof(rel) - used, "%s", target);
		}
	}
	return 0;
}

int root_switch(const char *root, char *err, size_t errlen)
{
	char dev[128], want[32], path[PATH_MAX], mnt[PATH_MAX];
	static const char *const guesses[] = { "ext4", "ext2", "xfs", "btrfs" };
	const char *type = NULL;

	if (!cmdline_get(root, "root", dev, sizeof(dev)))
		return 0;
	if (!root_is_initramfs(root))
		return 0;  /* already on it: this is the init the switch started */
	if (strncmp(dev, "/dev/", 5) != 0) {
		snprintf(err, errlen, "root=%s: expected a device path such as /dev/vda1", dev);
		return -1;
	}
	snprintf(path, sizeof(path), "%s%s", root, dev);
	for (int waited = 0; access(path, F_OK) < 0 && waited < DEVICE_WAIT_MS; waited += 50)
		usleep(50 * 1000);
	if (access(path, F_OK) < 0) {
		snprintf(err, errlen, "root=%s: no such device after %d s; is its driver in the recipe's [image] modules "
			 "(virtio_blk and ext4 for an amphi install disk)?", dev, DEVICE_WAIT_MS / 1000);
		return -1;
	}
	snprintf(mnt, sizeof(mnt), "%s%s", root, ROOT_NEWROOT);
	mkdir(mnt, 0755);
	int given = cmdline_get(root, "rootfstype", want, sizeof(want));
	for (size_t i = 0; !type && i < (given ? 1 : sizeof(guesses) / sizeof(guesses[0])); i++)
		if (mount(path, mnt, given ? want : guesses[i], 0, NULL) == 0)
			type = given ? want : guesses[i];
	if (!type) {
		snprintf(err, errlen, "root=%s: cannot mount it as %s: %s", dev, given ? want : "ext4, ext2, xfs or btrfs",
			 strerror(errno));
		return -1;
	}
	if (!root_init_runnable(mnt)) {
		umount(mnt);
		snprintf(err, errlen, "root=%s: no /sbin/init on it; is it a disk amphi install wrote?", dev);
		return -1;
	}
	log_info("root=%s (%s): switching to its /sbin/init", dev, type);
	if (root_move_to(root, mnt, err, errlen) < 0)
		return -1;
	execl("/sbin/init", "/sbin/init", (char *)NULL);
	snprintf(err, errlen, "root=%s: exec /sbin/init: %s", dev, strerror(errno));
	return -1;
}
