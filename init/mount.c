#include "mount.h"
#include "log.h"
#include "logsink.h"
#include "rootimage.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

enum { IN_VM = 1, IN_CT = 2, BASE = 4 };

struct mount_row {
	const char *source, *target, *type;
	unsigned long flags;
	const char *data;
	int where;
};

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* In order: later rows mount below earlier ones. LXC mounts proc, sys,
 * /dev (autodev) and /dev/pts itself; the mount-point test below skips them.
 * MS_REMOUNT rows act only on what is mounted: the host directory that
 * the manager bind-mounted gets nosuid,nodev,noexec, which LXC 5.0 leaves
 * out of a bind mount whose source has none of them, though its config
 * asks (conf.c, mount_entry: it remounts only for ro), and LXD's disk
 * devices cannot ask. */
static const struct mount_row rows[] = {
	{ "proc", "/proc", "proc", NOSUID_NODEV_NOEXEC, NULL, BASE | IN_VM | IN_CT },
	{ "sysfs", "/sys", "sysfs", NOSUID_NODEV_NOEXEC, NULL, BASE | IN_VM | IN_CT },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", IN_VM },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666", IN_VM | IN_CT },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", IN_VM | IN_CT },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", IN_VM | IN_CT },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", IN_VM | IN_CT },
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2", NOSUID_NODEV_NOEXEC, NULL, IN_VM | IN_CT },
	{ NULL, LOGSINK_HOST_DIR, "bind", MS_REMOUNT | MS_BIND | NOSUID_NODEV_NOEXEC, NULL, IN_CT },
};

/* A mount point sits on another device than its parent (or is /). */
static int is_mount_point(const char *path)
{
	char parent[PATH_MAX];
	struct stat st, pst;

	if (stat(path, &st) < 0)
		return 0;
	snprintf(parent, sizeof(parent), "%s/..", path);
	if (stat(parent, &pst) < 0)
		return 0;
	return st.st_dev != pst.st_dev || st.st_ino == pst.st_ino;
}

static void mount_row(const char *root, const struct mount_row *m)
{
	char target[PATH_MAX];
	unsigned long flags = m->flags;
	struct statvfs sv;

	snprintf(target, sizeof(target), "%s%s", root, m->target);
	int remount = (m->flags & MS_REMOUNT) != 0;
	if (!remount && is_mount_point(target)) {
		log_debug("mount: %s is already mounted", target);
		return;
	}
	/* A bind remount sets every per-mount flag: the ones the mount has
	 * (read-only, say) are kept (statvfs's ST_ flags are MS_ flags).
	 * Whether it is a mount at all only mount(2) can tell (a bind mount
	 * from the rootfs's own file system has its st_dev): EINVAL if not. */
	if (remount && statvfs(target, &sv) < 0)
		return;  /* nothing there */
	if (remount)
		flags |= sv.f_flag & (ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
	if (!remount && mkdir(target, 0755) < 0 && errno != EEXIST)
		log_debug("mount: mkdir %s: %s", target, strerror(errno));
	if (mount(m->source, target, m->type, flags, m->data) < 0 && errno != (remount ? EINVAL : EBUSY))
		log_warn("mount %s on %s: %s; going on without it", m->type, target, strerror(errno));
}

void mount_base(const char *root)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].where & BASE)
			mount_row(root, &rows[i]);
}

/* What udev or LXC's autodev would add to a devtmpfs: programs open
 * /dev/stdout by name (nginx's access_log /dev/stdout would otherwise
 * create a plain file there and log into it). */
static void dev_links(const char *root)
{
	static const char *const links[][2] = {
		{ "/dev/fd", "/proc/self/fd" }, { "/dev/stdin", "/proc/self/fd/0" },
		{ "/dev/stdout", "/proc/self/fd/1" }, { "/dev/stderr", "/proc/self/fd/2" },
	};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", root, links[i][0]);
		if (symlink(links[i][1], path) < 0 && errno != EEXIST)
			log_debug("mount: %s: %s", path, strerror(errno));
	}
}

void mount_world(const char *root, enum world world)
{
	int want = world == WORLD_CONTAINER ? IN_CT : IN_VM;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if ((rows[i].where & want) && !(rows[i].where & BASE))
			mount_row(root, &rows[i]);
	dev_links(root);
}

void mount_unmount_all(const char *root)
{
	char path[PATH_MAX], line[1024];
	/* mountinfo lists parents before children: unmount from the end. */
	char targets[64][256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
	f = fopen(path, "re");
	if (!f)
		return;
	while (n < 64 && fgets(line, sizeof(line), f)) {
		/* The fifth field is the mount point (proc(5)); no scanf: it
		 * would pull musl's float parser into PID 1. */
		char *save = NULL, *target = strtok_r(line, " ", &save);
		for (int field = 1; target && field < 5; field++)
			target = strtok_r(NULL, " ", &save);
		if (target && strcmp(target, "/") != 0)
			snprintf(targets[n++], sizeof(targets[0]), "%s", target);
	}
	fclose(f);
	/* A root image's writable layer goes read-only first, while its path
	 * is there: / is an overlay on it and keeps it mounted past the
	 * unmounts below, and a data disk's file system is marked clean for
	 * the next boot only when it goes read-only. */
	snprintf(path, sizeof(path), "%s%s", root, ROOTIMAGE_RW);
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0 && errno != ENOENT && errno != EINVAL)
		log_warn("remount %s read-only: %s", path, strerror(errno));
	while (n-- > 0)
		if (umount2(targets[n], 0) < 0 && umount2(targets[n], MNT_DETACH) < 0)
			log_debug("umount %s: %s", targets[n], strerror(errno));
	/* / itself cannot go: read-only leaves its file system clean. */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		log_debug("remount / read-only: %s", strerror(errno));
}
