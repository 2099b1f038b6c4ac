#include "rootimage.h"
#include "conf.h"
#include "log.h"
#include "recipe.h"
#include "root.h"
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* virtio-blk probes its disks a little after the module loads, and
 * devtmpfs makes their nodes a little after that. */
#define DISK_WAIT_MS 10000
#define BLANK_BYTES (64 * 1024)
/* busybox mke2fs on a blank disk under TCG: seconds for a GiB. */
#define MKFS_WAIT_MS (300 * 1000)

static int on_marker_key(void *ctx, const char *section, const char *key, const char *value, int line,
			 char *err, size_t errlen)
{
	struct rootimage_marker *m = ctx;
	int root = strcmp(section, "root") == 0;

	(void)line;
	if (root && strcmp(key, "fs") == 0 && strcmp(value, "squashfs") == 0)
		return 0;
	if (root && strcmp(key, "overlay") == 0 && (strcmp(value, "tmpfs") == 0 || strcmp(value, "disk") == 0)) {
		m->overlay_disk = value[0] == 'd';
		return 0;
	}
	snprintf(err, errlen, "[%s] %s = '%s': expected [root] fs = squashfs, overlay = tmpfs or disk", section, key,
		 value);
	return -1;
}

int rootimage_read_marker(const char *root, struct rootimage_marker *m, char *err, size_t errlen)
{
	char path[PATH_MAX], text[1024], why[256];
	ssize_t n;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s%s", root, RECIPE_ROOT_MARKER);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || (n = read(fd, text, sizeof(text))) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	int line = conf_parse(text, (size_t)n, on_marker_key, m, why, sizeof(why));
	if (line) {
		snprintf(err, errlen, "%s:%d: %s; amphi build writes this file: build the appliance again", path, line,
			 why);
		return -1;
	}
	return 1;
}

/* The first line of a small file, without its newline; 0 if unreadable. */
static int read_line(const char *path, char *out, size_t outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, out, outlen - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return 0;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 1;
}

/* The kernel names disks vda..vdz, then vdaa: the shorter name came first. */
static int named_before(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return la != lb ? la < lb : strcmp(a, b) < 0;
}

int rootimage_find_disk(const char *root, const char *serial, char *name, size_t namelen)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 16], got[64];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/sys/block", root);
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/serial", dir, e->d_name);
		if (!read_line(path, got, sizeof(got)) || !got[0] || strcmp(got, serial) != 0)
			continue;
		if (!found || named_before(e->d_name, name)) {
			snprintf(name, namelen, "%s", e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

int rootimage_blank(const char *path)
{
	char buf[4096];
	size_t got = 0;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), blank = 1;

	if (fd < 0)
		return -errno;
	while (got < BLANK_BYTES && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			blank &= buf[i] == 0;
		got += (size_t)n;
	}
	int saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	return got < BLANK_BYTES ? -ENOSPC : blank;
}

/* The disk with this serial, as root/dev/NAME, once both are there. */
static int wait_disk(const char *root, const char *serial, char *dev, size_t devlen)
{
	char name[NAME_MAX + 1];

	for (int waited = 0;; waited += 50) {
		if (rootimage_find_disk(root, serial, name, sizeof(name))) {
			snprintf(dev, devlen, "%s/dev/%s", root, name);
			if (access(dev, F_OK) == 0)
				return 0;
		}
		if (waited >= DISK_WAIT_MS)
			return -1;
		usleep(50 * 1000);
	}
}

/* busybox mke2fs, from the image: the initramfs has no busybox. It makes
 * an ext2 layout, which the ext4 driver mounts; 256-byte inodes hold
 * times past 2038. */
static int make_fs(const char *root, const char *dev, char *err, size_t errlen)
{
	char busybox[PATH_MAX], null[PATH_MAX];
	char *argv[] = { busybox, "mke2fs", "-I", "256", "-L", RECIPE_DATA_SERIAL, (char *)dev, NULL };
	int status = 0;

	snprintf(busybox, sizeof(busybox), "%s%s/bin/busybox", root, ROOTIMAGE_LOWER);
	snprintf(null, sizeof(null), "%s/dev/null", root);
	int fd = open(null, O_RDWR | O_CLOEXEC);
	struct spawn_opts o = { .stdin_fd = fd, .stdout_fd = fd, .stderr_fd = -1 };
	pid_t pid = spawn_with(argv, &o);
	if (fd >= 0)
		close(fd);
	if (pid < 0) {
		snprintf(err, errlen, "%s mke2fs: %s", busybox, strerror((int)-pid));
		return -1;
	}
	/* Before the loop runs: PID 1 waits here, bounded. */
	int waited = 0;
	while (waitpid(pid, &status, WNOHANG) == 0 && waited < MKFS_WAIT_MS) {
		usleep(50 * 1000);
		waited += 50;
	}
	if (waited >= MKFS_WAIT_MS) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(err, errlen, "mke2fs %s did not finish in %d s", dev, MKFS_WAIT_MS / 1000);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "mke2fs %s failed (%s %d; its words are above)", dev,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return 0;
}

/* overlay = disk: the data disk on rw, formatted first if blank. A disk
 * with anything on it is never formatted. */
static int data_layer(const char *root, const char *rw, char *err, size_t errlen)
{
	char dev[PATH_MAX];

	if (wait_disk(root, RECIPE_DATA_SERIAL, dev, sizeof(dev)) < 0) {
		snprintf(err, errlen, "root image: no disk with serial " RECIPE_DATA_SERIAL " after %d s; this appliance "
			 "keeps what it writes on a data disk ([image] overlay = disk), which vm/launch attaches "
			 "(vm/data.img, or AMPHI_DATA) as vm/domain.xml does: boot it with one of them",
			 DISK_WAIT_MS / 1000);
		return -1;
	}
	int blank = rootimage_blank(dev);
	if (blank < 0) {
		snprintf(err, errlen, "root image: data disk %s: cannot read its first 64 KiB: %s", dev,
			 blank == -ENOSPC ? "it is smaller than that" : strerror(-blank));
		return -1;
	}
	if (blank) {
		log_info("root image: data disk %s is blank (its first 64 KiB all zero): making a file system on it", dev);
		if (make_fs(root, dev, err, errlen) < 0)
			return -1;
	}
	if (mount(dev, rw, "ext4", 0, NULL) < 0) {
		int e = errno;
		if (blank)
			snprintf(err, errlen, "root image: data disk %s: cannot mount the file system just made on it: %s",
				 dev, strerror(e));
		else
			snprintf(err, errlen, "root image: data disk %s (serial " RECIPE_DATA_SERIAL ") holds data but no "
				 "file system it can mount as ext4 (%s); it is left as it is: only a blank disk (its "
				 "first 64 KiB all zero) is formatted. Look at it from the shell, or boot with a blank "
				 "one (truncate -s 1G FILE; AMPHI_DATA=FILE)", dev, strerror(e));
		return -1;
	}
	return 0;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "root image: mkdir %s: %s", path, strerror(errno));
	return -1;
}

int rootimage_switch(const char *root, char *err, size_t errlen)
{
	char dev[PATH_MAX], lower[PATH_MAX], rw[PATH_MAX], dir[PATH_MAX + 8], newroot[PATH_MAX];
	char opts[3 * PATH_MAX + 64];
	struct rootimage_marker m;
	int r = rootimage_read_marker(root, &m, err, errlen);

	if (r <= 0)
		return r;
	if (wait_disk(root, RECIPE_ROOT_SERIAL, dev, sizeof(dev)) < 0) {
		snprintf(err, errlen, "root image: no disk with serial " RECIPE_ROOT_SERIAL " after %d s; this initramfs "
			 "holds only what it takes to mount the build's vm/root.img, which vm/launch attaches "
			 "(read-only virtio-blk) as vm/domain.xml does: boot it with one of them, and if vm/root.img "
			 "is gone, amphi build the appliance again", DISK_WAIT_MS / 1000);
		return -1;
	}
	snprintf(lower, sizeof(lower), "%s%s", root, ROOTIMAGE_LOWER);
	snprintf(rw, sizeof(rw), "%s%s", root, ROOTIMAGE_RW);
	snprintf(dir, sizeof(dir), "%s/run/amphi", root);
	if (make_dir(dir, err, errlen) < 0 || make_dir(lower, err, errlen) < 0 || make_dir(rw, err, errlen) < 0)
		return -1;
	if (mount(dev, lower, "squashfs", MS_RDONLY, NULL) < 0) {
		snprintf(err, errlen, "root image: cannot mount %s (serial " RECIPE_ROOT_SERIAL ") as squashfs: %s; "
			 "is it this build's vm/root.img? amphi build writes both", dev, strerror(errno));
		return -1;
	}
	if (m.overlay_disk)
		r = data_layer(root, rw, err, errlen);
	else if ((r = mount("tmpfs", rw, "tmpfs", 0, "mode=0755")) < 0)
		snprintf(err, errlen, "root image: tmpfs on %s: %s", rw, strerror(errno));
	if (r < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", rw, i ? "work" : "upper");
		if (make_dir(dir, err, errlen) < 0)
			return -1;
	}
	snprintf(newroot, sizeof(newroot), "%s%s", root, ROOT_NEWROOT);
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, rw, rw);
	if (make_dir(newroot, err, errlen) < 0)
		return -1;
	if (mount("overlay", newroot, "overlay", 0, opts) < 0) {
		snprintf(err, errlen, "root image: overlay %s: %s", opts, strerror(errno));
		return -1;
	}
	log_info("root image: %s read-only on %s, writes on %s (%s); / is their overlay", dev, ROOTIMAGE_LOWER,
		 ROOTIMAGE_RW, m.overlay_disk ? "the data disk" : "tmpfs");
	return root_move_to(root, newroot, err, errlen) < 0 ? -1 : 1;
}
