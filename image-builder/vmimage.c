/* DIR/vm's images from the staged tree: the initramfs with the kernel
 * modules the VM needs (or, with [image] root = squashfs, the tree as
 * root.img and a small initramfs that mounts it), the data disk, the
 * kernel. */
#include "vmimage.h"
#include "manifest.h"
#include "moddep.h"
#include "recipe.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int vm_images(struct manifest *tree, const struct build_src *b, const char *dir, char *err, size_t errlen)
{
	const struct inputs *in = b->in;
	const struct recipe *r = b->r;
	struct manifest m;
	char path[PATH_MAX], vmlinuz[PATH_MAX];
	int rc = 0;

	/* The kernel opens /dev/console for the init before anything is
	 * mounted: the node must be in the archive (devtmpfs comes later). */
	if (manifest_over(&m, tree) < 0 || manifest_chardev(&m, "dev/console", 0600, 5, 1) < 0) {
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
	return copy_file(vmlinuz, path, 0644, err, errlen);
}
