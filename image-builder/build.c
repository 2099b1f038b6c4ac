/* amphi build RECIPE -o DIR: one staged tree, two images.
 *   DIR/vm/   vmlinuz, initramfs.img (and root.img), launch (QEMU), domain.xml
 *   DIR/lxc/  rootfs/, config (lxc-start -f) */
#include "build.h"
#include "accounts.h"
#include "debian.h"
#include "files.h"
#include "commands.h"
#include "inputs.h"
#include "manifest.h"
#include "moddep.h"
#include "outputs.h"
#include "recipe.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every VM needs these: the console and log ports, network and disks, and
 * the ACPI power button with its input device (button, evdev).
 * A recipe's [image] modules come on top. */
static const char *const base_modules[] = {
	"virtio_pci", "virtio_console", "virtio_net", "virtio_blk", "button", "evdev",
};
/* A root image's file system, and the overlay that puts a writable layer
 * over it. */
static const char *const root_image_modules[] = { "squashfs", "overlay" };
/* overlay = disk: the data disk's file system. ext4 checksums with crc32c
 * even on the ext2 that busybox's mke2fs makes; only a softdep says so,
 * which modules.dep leaves out. */
static const char *const data_disk_modules[] = { "ext4", "crc32c_generic" };

/* What the initramfs of a root-image build keeps of the tree, by the
 * paths the kernel and the init look up: the init, the console the kernel
 * opens before anything is mounted, the mount points, the modules and
 * their load list. A path ending in '/' keeps everything below it. No
 * busybox, no recipe: they are on the root image. */
static const char *const initramfs_keeps[] = {
	"init", "sbin/init", "dev/console", "proc", "sys", "run", "tmp", "lib/modules/", "etc/amphi/modules.load",
};

/* overlay = disk: the data disk amphi build makes beside the images when
 * there is none (sparse; the appliance formats it on its first boot). */
#define DATA_DISK_SIZE (1LL << 30)

static const char *const skeleton_dirs[] = {
	"bin", "sbin", "usr/bin", "usr/sbin", "etc/amphi", "dev", "proc", "sys",
	"run", "tmp", "root", "var/log", "lib/modules",
};

int build_mtime(time_t *out, char *err, size_t errlen)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;

	*out = 0;
	if (!s || !*s)
		return 0;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0) {
		snprintf(err, errlen, "SOURCE_DATE_EPOCH='%s': expected seconds since 1970 as a whole number", s);
		return -1;
	}
	*out = (time_t)v;
	return 0;
}

/* busybox --list-full prints "usr/bin/env" etc.: one symlink per applet.
 * The binary itself first and always: the list names it too, and over a
 * Debian tree (m->keep) a link in its place would point at itself. */
static int add_busybox(struct manifest *m, const struct inputs *in, char *err, size_t errlen)
{
	char cmd[PATH_MAX + 32], line[256];
	int keep = m->keep, n = 0;
	FILE *p;

	m->keep = 0;
	int r = manifest_file(m, "bin/busybox", 0755, in->busybox);
	m->keep = keep;
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "'%s' --list-full", in->busybox);
	if (!(p = popen(cmd, "re"))) {
		snprintf(err, errlen, "%s --list-full: %s", in->busybox, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] && strcmp(line, "bin/busybox") && manifest_symlink(m, line, "/bin/busybox") == 0)
			n++;
	}
	if (pclose(p) != 0 || n == 0) {
		snprintf(err, errlen, "%s --list-full gave no applets; is it Debian's busybox-static?", in->busybox);
		return -1;
	}
	return 0;
}

/* What both worlds share. Over a Debian tree, the skeleton and busybox
 * fill in only what the packages left out (Debian's sh, login and su
 * stay); users and groups are merged. The init, its links and the
 * recipe always go in, then the recipe's own files over everything. */
static int stage_common(struct manifest *m, const struct build_src *b, char *err, size_t errlen)
{
	const struct inputs *in = b->in;

	if (b->debian_tar) {
		if (manifest_add_tar(m, b->debian_tar, err, errlen) < 0)
			return -1;
		m->keep = 1;
	}
	for (size_t i = 0; i < sizeof(skeleton_dirs) / sizeof(skeleton_dirs[0]); i++)
		if (manifest_dir(m, skeleton_dirs[i], 0755) < 0)
			goto oom;
	if (manifest_dir(m, "tmp", 01777) < 0 || manifest_dir(m, "root", 0700) < 0)
		goto oom;
	if (manifest_tree(m, "", in->skeleton, err, errlen) < 0 || add_busybox(m, in, err, errlen) < 0 ||
	    (b->debian_tar && accounts_merge(m, in->skeleton, err, errlen) < 0))
		return -1;
	m->keep = 0;
	/* git keeps no modes but 0644/0755: secrets get theirs here. */
	manifest_chmod(m, "etc/shadow", 0600);
	/* After busybox: its own init and linuxrc links are replaced. */
	/* The DHCP client's event script is the init under another name. */
	if (manifest_file(m, "sbin/init", 0755, in->init) < 0 || manifest_symlink(m, "init", "/sbin/init") < 0 ||
	    manifest_symlink(m, "usr/libexec/amphi/dhcp-event", "/sbin/init") < 0)
		goto oom;
	if (manifest_data(m, RECIPE_IMAGE_PATH, 0644, b->text, b->len) < 0)
		goto oom;
	return files_stage(m, b->r, b->recipe_path, err, errlen);
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int build_stage(const struct build_src *b, struct manifest *m, char *err, size_t errlen)
{
	return stage_common(m, b, err, errlen);
}

static struct moddep *load_moddep(const struct inputs *in, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char *dep, *builtin = NULL;
	size_t deplen, builtinlen = 0;
	struct moddep *d;

	snprintf(path, sizeof(path), "%s/root/lib/modules/%s/modules.dep", in->kernel, in->kver);
	if (read_file(path, &dep, &deplen, err, errlen) < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/root/lib/modules/%s/modules.builtin", in->kernel, in->kver);
	if (read_file(path, &builtin, &builtinlen, err, errlen) < 0)
		builtin = NULL;  /* optional */
	d = moddep_parse(dep, deplen, builtin, builtinlen, err, errlen);
	free(dep);
	free(builtin);
	return d;
}

static int add_modules(struct moddep *d, const char *const *names, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (moddep_add(d, names[i], err, errlen) < 0)
			return -1;
	return 0;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The modules, in load order, and the list the init follows. */
static int stage_modules(struct manifest *m, const struct inputs *in, const struct recipe *r,
			 const char *recipe_path, char *err, size_t errlen)
{
	struct moddep *d = load_moddep(in, err, errlen);
	struct strbuf list = { 0 };
	int rc = -1;

	if (!d)
		return -1;
	if (add_modules(d, base_modules, COUNT(base_modules), err, errlen) < 0 ||
	    (recipe_root_image(r) && add_modules(d, root_image_modules, COUNT(root_image_modules), err, errlen) < 0) ||
	    (r->image_overlay == OVERLAY_DISK && add_modules(d, data_disk_modules, COUNT(data_disk_modules), err, errlen) < 0))
		goto out;
	for (int i = 0; i < r->modules.n; i++)
		if (moddep_add(d, r->modules.item[i], err, errlen) < 0) {
			char why[512];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s:%d: [image] modules: %s", recipe_path, r->modules_line, why);
			goto out;
		}
	for (size_t i = 0; i < moddep_count(d); i++) {
		char host[PATH_MAX], image[PATH_MAX];
		snprintf(host, sizeof(host), "%s/root/lib/modules/%s/%s", in->kernel, in->kver, moddep_path(d, i));
		snprintf(image, sizeof(image), "/lib/modules/%s/%s", in->kver, moddep_path(d, i));
		if (manifest_file(m, image, 0644, host) < 0 || strbuf_printf(&list, "%s\n", image) < 0)
			goto oom;
	}
	if (manifest_data(m, "etc/amphi/modules.load", 0644, list.s ? list.s : "", list.len) < 0)
		goto oom;
	printf("build: %zu kernel modules for %s\n", moddep_count(d), in->kver);
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(list.s);
	moddep_free(d);
	return rc;
}

/* DIR/vm/NAME, written beside it and renamed into place (a launch
 * meanwhile never reads half an image), unless its entries are unchanged. */
static int write_vm_image(struct manifest *m, manifest_writer write, const char *dir, const char *name,
			  char *err, size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/vm/%s", dir, name);
	return manifest_write_fresh(m, path, write, err, errlen) < 0 ? -1 : 0;
}

/* Whether the initramfs keeps path: an entry on the way to a kept path (a
 * directory, or a link such as Debian's lib -> usr/lib), or where a kept
 * path resolves to in the tree (usr/lib/modules/...), or below it. */
static int initramfs_keeps_path(const char *path, char canon[][PATH_MAX])
{
	size_t n = strlen(path);

	for (size_t i = 0; i < COUNT(initramfs_keeps); i++) {
		const char *k = initramfs_keeps[i];
		size_t c = strlen(canon[i]);
		if ((strncmp(k, path, n) == 0 && (k[n] == '/' || k[n] == '\0')) || strcmp(path, canon[i]) == 0 ||
		    (k[strlen(k) - 1] == '/' && strncmp(path, canon[i], c) == 0 && path[c] == '/'))
			return 1;
	}
	return 0;
}

/* The tree as DIR/vm/root.img, and an initramfs of what it takes to mount
 * it, with the marker that tells the init to. */
static int write_root_image(struct manifest *tree, const struct build_src *b, const char *dir,
			    char *err, size_t errlen)
{
	struct manifest small;
	char marker[256];
	int rc = 0;

	if (write_vm_image(tree, manifest_write_squashfs, dir, "root.img", err, errlen) < 0)
		return -1;
	static char canon[COUNT(initramfs_keeps)][PATH_MAX];
	for (size_t i = 0; i < COUNT(initramfs_keeps); i++) {
		char k[PATH_MAX];
		size_t len = strlen(initramfs_keeps[i]);
		snprintf(k, sizeof(k), "%.*s", (int)(len - (initramfs_keeps[i][len - 1] == '/')), initramfs_keeps[i]);
		if (manifest_resolve(tree, k, canon[i]) < 0) {
			snprintf(err, errlen, "%s: a symbolic link loop in the tree", k);
			return -1;
		}
	}
	manifest_init(&small, b->mtime);
	for (size_t i = 0; i < tree->n && rc == 0; i++)
		if (initramfs_keeps_path(tree->e[i].path, canon))
			rc = manifest_copy(&small, &tree->e[i]);
	int len = snprintf(marker, sizeof(marker), "# amphi build: the root is this build's vm/root.img\n"
			   "[root]\nfs = squashfs\noverlay = %s\n",
			   b->r->image_overlay == OVERLAY_DISK ? "disk" : "tmpfs");
	if (rc == 0)
		rc = manifest_data(&small, RECIPE_ROOT_MARKER, 0644, marker, (size_t)len);
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	else
		rc = write_vm_image(&small, manifest_write_cpio, dir, "initramfs.img", err, errlen);
	manifest_free(&small);
	return rc;
}

/* overlay = disk: DIR/vm/data.img, empty, unless there is one: it holds
 * what the appliance wrote, which a rebuild keeps. */
static int make_data_disk(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/vm/data.img", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0 || ftruncate(fd, DATA_DISK_SIZE) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	printf("build: %s: an empty data disk of %lld MiB (the first boot formats it; later builds keep it)\n", path,
	       DATA_DISK_SIZE >> 20);
	return 0;
}

static int build_vm(const struct build_src *b, const char *dir, char *err, size_t errlen)
{
	const struct inputs *in = b->in;
	const struct recipe *r = b->r;
	struct manifest m;
	char path[PATH_MAX], vmlinuz[PATH_MAX];
	int rc;

	manifest_init(&m, b->mtime);
	/* The kernel opens /dev/console for the init before anything is
	 * mounted: the node must be in the archive (devtmpfs comes later). */
	rc = stage_common(&m, b, err, errlen);
	if (rc == 0 && manifest_chardev(&m, "dev/console", 0600, 5, 1) < 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0)
		rc = stage_modules(&m, in, r, b->recipe_path, err, errlen);
	snprintf(path, sizeof(path), "%s/vm/root.img", dir);
	if (rc == 0 && recipe_root_image(r))
		rc = write_root_image(&m, b, dir, err, errlen);
	else if (rc == 0 && (rc = write_vm_image(&m, manifest_write_cpio, dir, "initramfs.img", err, errlen)) == 0 &&
		 unlink(path) < 0 && errno != ENOENT) {
		/* an earlier build's: the launcher would attach it */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	manifest_free(&m);
	if (rc < 0 || (r->image_overlay == OVERLAY_DISK && make_data_disk(dir, err, errlen) < 0))
		return -1;
	snprintf(vmlinuz, sizeof(vmlinuz), "%s/vmlinuz", in->kernel);
	snprintf(path, sizeof(path), "%s/vm/vmlinuz", dir);
	if (copy_file(vmlinuz, path, 0644, err, errlen) < 0)
		return -1;
	if (write_vm_launcher(dir, r, err, errlen) < 0)
		return -1;
	return write_libvirt_domain(dir, r, err, errlen);
}

/* An lxc.idmap container sees host id H as H minus the map's start: its
 * tree is written with every owner moved into the map, as lxc-create does
 * for an unprivileged container, so its root owns what root should (only
 * root on the host can write other owners; others leave the tree as is). */
static void shift_ids(struct manifest *m, const struct recipe *r)
{
	unsigned nobody;

	if (geteuid() != 0 || !lxc_recipe_userns(r))
		return;
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

/* shift: for the build's own config (lxc-create's template runs inside
 * the container's user namespace already). */
static int write_lxc_tree(const struct build_src *b, const char *out_dir, int shift, char *err, size_t errlen)
{
	struct manifest m;
	int rc;

	manifest_init(&m, b->mtime);
	rc = stage_common(&m, b, err, errlen);
	if (shift)
		shift_ids(&m, b->r);
	if (rc == 0)
		rc = manifest_write_dir(&m, out_dir, err, errlen);
	manifest_free(&m);
	/* The top too: the container's root owns its /. */
	if (rc == 0 && shift)
		rc = chown_to_mapped_root(b->r, out_dir, err, errlen);
	return rc;
}

int build_lxc_tree(const struct build_src *b, const char *out_dir, char *err, size_t errlen)
{
	return write_lxc_tree(b, out_dir, 0, err, errlen);
}

static int build_lxc(const struct build_src *b, const char *dir, char *err, size_t errlen)
{
	char rootfs[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX], host[PATH_MAX];

	snprintf(rootfs, sizeof(rootfs), "%s/lxc/rootfs", dir);
	snprintf(tmp, sizeof(tmp), "%s/lxc/.rootfs.new", dir);
	snprintf(old, sizeof(old), "%s/lxc/.rootfs.old", dir);
	if (remove_tree(tmp) < 0 || remove_tree(old) < 0) {
		snprintf(err, errlen, "cannot clear %s/lxc: %s", dir, strerror(errno));
		return -1;
	}
	if (write_lxc_tree(b, tmp, 1, err, errlen) < 0)
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
	if (chown_to_mapped_root(b->r, host, err, errlen) < 0)
		return -1;
	if (chmod(tmp, lxc_recipe_userns(b->r) ? 0755 : 0700) < 0) {
		snprintf(err, errlen, "%s: %s; amphi build keeps other users out of it: build where you own -o",
			 tmp, strerror(errno));
		return -1;
	}
	return write_lxc_config(dir, b->r, err, errlen);
}

static int usage_build(FILE *out, int status)
{
	fprintf(out, "usage: amphi build RECIPE -o DIR [--refresh]\n"
		     "  writes DIR/vm (vmlinuz, initramfs.img, root.img with [image] root = squashfs, launch, domain.xml)\n"
		     "  and DIR/lxc (rootfs/, config, tarballs)\n"
		     "  --refresh: make the Debian tree of the recipe's packages anew (newer packages) rather than\n"
		     "             take it from the cache\n");
	return status;
}

int cmd_build(int argc, char **argv)
{
	const char *recipe_path = NULL, *out = NULL;
	char err[1024], dir[PATH_MAX], *text = NULL;
	size_t len = 0;
	struct recipe r;
	struct inputs in;
	time_t mtime;
	int made = 0, refresh = 0;

	if (wants_help(argc, argv, "-o"))
		return usage_build(stdout, 0);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--refresh") == 0)
			refresh = 1;
		else if (argv[i][0] != '-' && !recipe_path)
			recipe_path = argv[i];
		else {
			fprintf(stderr, "amphi build: %s '%s'\n",
				strcmp(argv[i], "-o") ? "unexpected argument" : "a directory is missing after", argv[i]);
			return usage_build(stderr, 2);
		}
	}
	if (!recipe_path || !out) {
		fprintf(stderr, "amphi build: %s\n", !recipe_path ? "which recipe? give its file, such as recipes/minimal.conf"
								   : "where to? add -o DIR, such as -o out/minimal");
		return usage_build(stderr, 2);
	}

	recipe_defaults(&r);
	if (read_file(recipe_path, &text, &len, err, sizeof(err)) < 0 ||
	    recipe_parse(text, len, recipe_path, &r, err, sizeof(err)) < 0 || build_mtime(&mtime, err, sizeof(err)) < 0 ||
	    inputs_find(&in, err, sizeof(err)) < 0 || prepare_out_dir(out, dir, &made, err, sizeof(err)) < 0) {
		fprintf(stderr, "amphi build: %s\n", err);
		free(text);
		return 1;
	}
	struct build_src b = { &in, &r, recipe_path, text, len, mtime, NULL };
	char debian[PATH_MAX];

	printf("build: appliance '%s' from %s into %s\n", r.name, recipe_path, dir);
	fflush(stdout);
	int rc = 0;
	if (r.packages.n) {
		rc = debian_tree(&b, refresh, debian, err, sizeof(err)) < 0;
		b.debian_tar = debian;
	}
	rc = rc || build_vm(&b, dir, err, sizeof(err)) < 0 || build_lxc(&b, dir, err, sizeof(err)) < 0 ||
	     build_lxc_tarballs(&b, dir, err, sizeof(err)) < 0;
	free(text);
	if (rc) {
		fprintf(stderr, "amphi build: %s\n", err);
		if (made)  /* nothing of it is usable; an earlier build is left as it is */
			remove_tree(dir);
		return 1;
	}
	printf("build: done.\n"
	       "  boot it under QEMU:  amphi run %s\n"
	       "  start it in LXC:     amphi run --lxc %s\n", dir, dir);
	return 0;
}
