/* The LXC rootfs from the staged tree: DIR/lxc/rootfs of a build (its
 * owners moved into the recipe's lxc.idmap), or the rootfs lxc-create
 * made for the LXC template. */
#include "lxcrootfs.h"
#include "lxcconfig.h"
#include "manifest.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An lxc.idmap container sees host id H as H minus the map's start: its
 * tree is written with every owner moved into the map, as lxc-create does
 * for an unprivileged container, so its root owns what root should (only
 * root on the host can write other owners; others leave the tree as is). */
static void shift_ids(struct manifest *m, const struct recipe *r)
{
	unsigned nobody;

	if (lxc_map_id(r, 'u', 65534, &nobody) < 0)
		nobody = 65534;
	for (size_t i = 0; i < m->n; i++) {
		struct manifest_entry *e = &m->e[i];
		if (lxc_map_id(r, 'u', e->uid, &e->uid) < 0)
			e->uid = nobody;
		if (lxc_map_id(r, 'g', e->gid, &e->gid) < 0)
			e->gid = nobody;
	}
}

/* Gives path to the container's mapped root, when there is one and only
 * root on this host could give it away. */
static int chown_to_mapped_root(const struct recipe *r, const char *path, char *err, size_t errlen)
{
	unsigned uid, gid;

	if (geteuid() != 0 || !lxc_recipe_userns(r) || lxc_map_id(r, 'u', 0, &uid) < 0 || lxc_map_id(r, 'g', 0, &gid) < 0)
		return 0;
	if (chown(path, uid, gid) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int lxc_rootfs_write(struct manifest *tree, const struct recipe *r, const char *out_dir, int shift,
		     char *err, size_t errlen)
{
	struct manifest mapped;
	int rc;

	if (!shift || geteuid() != 0 || !lxc_recipe_userns(r))
		return manifest_write_dir(tree, out_dir, err, errlen);
	if (manifest_over(&mapped, tree) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	shift_ids(&mapped, r);
	rc = manifest_write_dir(&mapped, out_dir, err, errlen);
	manifest_free(&mapped);
	/* The top too: the container's root owns its /. */
	return rc == 0 ? chown_to_mapped_root(r, out_dir, err, errlen) : rc;
}

int lxc_rootfs(struct manifest *tree, const struct recipe *r, const char *dir, char *err, size_t errlen)
{
	char rootfs[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX], host[PATH_MAX];

	snprintf(rootfs, sizeof(rootfs), "%s/lxc/rootfs", dir);
	snprintf(tmp, sizeof(tmp), "%s/lxc/.rootfs.new", dir);
	snprintf(old, sizeof(old), "%s/lxc/.rootfs.old", dir);
	if (remove_tree(tmp) < 0 || remove_tree(old) < 0) {
		snprintf(err, errlen, "cannot clear %s/lxc: %s", dir, strerror(errno));
		return -1;
	}
	if (lxc_rootfs_write(tree, r, tmp, 1, err, errlen) < 0)
		return -1;
	/* Swap in the new tree whole, so a failed build leaves the old one. */
	if ((rename(rootfs, old) < 0 && errno != ENOENT) || rename(tmp, rootfs) < 0 || remove_tree(old) < 0) {
		snprintf(err, errlen, "%s: %s", rootfs, strerror(errno));
		return -1;
	}
	/* The host side of the container's log directory. Root in a privileged
	 * container is root on this host for what it makes there and in its
	 * rootfs: a setuid copy of a shell, a device node. The mount's nosuid
	 * and nodev hold only inside; here, only the directory keeps other
	 * users out, as lxc-create's 0770 does for its containers. An lxc.idmap
	 * container's mapped root must reach its rootfs: it keeps 0755 (what it
	 * makes is its own uid's, not root's). */
	snprintf(host, sizeof(host), "%s/lxc/host", dir);
	snprintf(tmp, sizeof(tmp), "%s/lxc", dir);
	if (mkdir(host, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", host, strerror(errno));
		return -1;
	}
	if (chown_to_mapped_root(r, host, err, errlen) < 0)
		return -1;
	if (chmod(tmp, lxc_recipe_userns(r) ? 0755 : 0700) < 0) {
		snprintf(err, errlen, "%s: %s; amphi build keeps other users out of it: build where you own -o",
			 tmp, strerror(errno));
		return -1;
	}
	return 0;
}
