/* The guest agent's commands on file systems and disks: what is mounted
 * and on what, and guest-fsfreeze-*, which quiets the disks for a
 * snapshot. Everything is read below root, so that tests run these on a
 * fixture tree. */
#include "agentfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FROZEN_MAX 16
static char frozen[FROZEN_MAX][256];  /* mountpoints, in the order frozen */
static int nfrozen;

int agentcmd_frozen(void)
{
	return nfrozen > 0;
}

/* The next mount of root's mountinfo on a block device: its mountpoint
 * (escapes undone), device, type and whether it is read-write. 0 at the
 * end. */
struct mount {
	char point[256], dev[64], type[32];
	int rw;
};

static int next_mount(FILE *f, struct mount *m)
{
	char line[1024];

	while (fgets(line, sizeof(line), f)) {
		/* id parent dev root POINT OPTS [tags...] - TYPE SOURCE SUPER */
		char *w[16], *save = NULL, *point, *opts, *type = NULL, *dev = NULL;
		int nw = 0;
		for (char *t = strtok_r(line, " \n", &save); t && nw < 16; t = strtok_r(NULL, " \n", &save))
			w[nw++] = t;
		for (int i = 6; i + 2 < nw; i++)
			if (!strcmp(w[i], "-")) {
				type = w[i + 1];
				dev = w[i + 2];
				break;
			}
		if (!dev || strncmp(dev, "/dev/", 5))
			continue;
		point = w[4];
		opts = w[5];
		size_t n = 0;
		for (char *p = point; *p && n < sizeof(m->point) - 1; p++) {
			/* \040 and the like: octal escapes of mountinfo */
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
			    p[3] <= '7') {
				m->point[n++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else
				m->point[n++] = *p;
		}
		m->point[n] = '\0';
		snprintf(m->type, sizeof(m->type), "%s", type);
		snprintf(m->dev, sizeof(m->dev), "%s", dev + 5);
		m->rw = !strncmp(opts, "rw", 2) && (opts[2] == ',' || !opts[2]);
		return 1;
	}
	return 0;
}

static FILE *mountinfo(const char *root)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
	return fopen(path, "re");
}

/* libvirt needs "disk" in each entry; an empty list says no more. */
int agentfs_fsinfo(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char path[PATH_MAX];
	struct mount m;
	struct statvfs sv;
	FILE *f = mountinfo(root);
	int n = 0;
	(void)r, (void)err;

	jsonw_raw(w, "[");
	while (f && next_mount(f, &m)) {
		jsonw_raw(w, n++ ? ",{\"name\":" : "{\"name\":");
		jsonw_str(w, m.dev);
		jsonw_raw(w, ",\"mountpoint\":");
		jsonw_str(w, m.point);
		jsonw_raw(w, ",\"type\":");
		jsonw_str(w, m.type);
		snprintf(path, sizeof(path), "%s%s", root, m.point);
		if (statvfs(path, &sv) == 0) {
			jsonw_raw(w, ",\"used-bytes\":");
			jsonw_int(w, (long long)((sv.f_blocks - sv.f_bfree) * sv.f_frsize));
			jsonw_raw(w, ",\"total-bytes\":");
			jsonw_int(w, (long long)(sv.f_blocks * sv.f_frsize));
		}
		jsonw_raw(w, ",\"disk\":[]}");
	}
	if (f)
		fclose(f);
	jsonw_raw(w, "]");
	return 0;
}

static void disk_entry(struct jsonw *w, int *n, const char *name, const char *parent)
{
	char dev[300];

	jsonw_raw(w, (*n)++ ? ",{\"name\":" : "{\"name\":");
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	jsonw_str(w, dev);
	jsonw_raw(w, parent ? ",\"partition\":true,\"dependencies\":[" : ",\"partition\":false}");
	if (parent) {
		snprintf(dev, sizeof(dev), "/dev/%s", parent);
		jsonw_str(w, dev);
		jsonw_raw(w, "]}");
	}
}

/* Each disk of /sys/block, then its partitions (loop and ram devices aside). */
int agentfs_disks(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char path[PATH_MAX];
	struct dirent *d, *p;
	int n = 0;
	(void)r, (void)err;

	snprintf(path, sizeof(path), "%s/sys/block", root);
	DIR *dir = opendir(path);
	jsonw_raw(w, "[");
	while (dir && (d = readdir(dir))) {
		size_t len = strlen(d->d_name);
		if (d->d_name[0] == '.' || !strncmp(d->d_name, "loop", 4) || !strncmp(d->d_name, "ram", 3))
			continue;
		disk_entry(w, &n, d->d_name, NULL);
		snprintf(path, sizeof(path), "%s/sys/block/%s", root, d->d_name);
		DIR *parts = opendir(path);
		while (parts && (p = readdir(parts)))
			if (!strncmp(p->d_name, d->d_name, len) && p->d_name[len])
				disk_entry(w, &n, p->d_name, d->d_name);
		if (parts)
			closedir(parts);
	}
	if (dir)
		closedir(dir);
	jsonw_raw(w, "]");
	return 0;
}

/* Thaws what guest-fsfreeze-freeze froze, last frozen first; the count. */
static int thaw_all(const char *root)
{
	char path[PATH_MAX];
	int n = 0;

	while (nfrozen) {
		snprintf(path, sizeof(path), "%s%s", root, frozen[--nfrozen]);
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		n += fd >= 0 && ioctl(fd, FITHAW, 0) == 0;
		if (fd >= 0)
			close(fd);
	}
	return n;
}

/* Writable file systems on block devices, deepest first (reverse mount
 * order), as qemu-ga does: what a snapshot of the disks needs quiet. All
 * or none: a failure thaws what was frozen. */
int agentfs_freeze(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char points[FROZEN_MAX][256], path[PATH_MAX];
	struct mount m;
	FILE *f;
	int n = 0;
	(void)r;

	if (agentcmd_hooks_get()->container) {
		*err = "a container's file systems are the host's: freeze them there";
		return -1;
	}
	f = mountinfo(root);
	while (f && n < FROZEN_MAX && next_mount(f, &m))
		if (m.rw)
			memcpy(points[n++], m.point, sizeof(m.point));
	if (f)
		fclose(f);
	while (n--) {
		snprintf(path, sizeof(path), "%s%s", root, points[n]);
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int rc = fd < 0 ? -1 : ioctl(fd, FIFREEZE, 0), e = errno;
		if (fd >= 0)
			close(fd);
		if (rc == 0)
			memcpy(frozen[nfrozen++], points[n], sizeof(points[n]));
		else if (e != EBUSY && e != EOPNOTSUPP) {  /* already frozen; cannot be */
			*err = strerror(e);
			thaw_all(root);
			return -1;
		}
	}
	jsonw_int(w, nfrozen);
	return 0;
}

int agentfs_thaw(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)r, (void)err;
	jsonw_int(w, thaw_all(root));
	const struct agentcmd_hooks *hooks = agentcmd_hooks_get();
	if (hooks->thawed)
		hooks->thawed();
	return 0;
}

int agentfs_freeze_status(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, nfrozen ? "\"frozen\"" : "\"thawed\"");
	return 0;
}
