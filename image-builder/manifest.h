/* The staged tree of an image, as a list of entries in memory, written out
 * through libarchive as a newc cpio (the initramfs), a tar, a SquashFS
 * image or a directory (the LXC rootfs). One list, every sink: the images
 * hold the same files. Reproducible: owners 0:0 (or as a tar had them), one
 * fixed mtime, entries sorted by path. */
#ifndef AMPHI_MANIFEST_H
#define AMPHI_MANIFEST_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

enum manifest_kind { MF_DIR, MF_FILE, MF_DATA, MF_SYMLINK, MF_CHARDEV };

struct manifest_entry {
	char *path;             /* relative, no leading '/' */
	enum manifest_kind kind;
	unsigned mode;          /* permission bits */
	char *source;           /* MF_FILE: host path; MF_SYMLINK: target */
	char *data;             /* MF_DATA */
	size_t len;
	unsigned rmajor, rminor; /* MF_CHARDEV */
	unsigned uid, gid;      /* 0 unless set */
	int borrowed;           /* data is the base's (manifest_over) */
};

struct manifest {
	struct manifest_entry *e;
	size_t n, cap;
	size_t *index;          /* open addressing by path: entry number + 1, 0 = free */
	size_t index_cap;
	time_t mtime;
	int keep;               /* adding a path that is there leaves it */
};

void manifest_init(struct manifest *m, time_t mtime);
void manifest_free(struct manifest *m);
/* m starts as base's entries, for an output that adds to the tree or
 * changes owners without the others seeing it. Their contents are
 * borrowed: base must outlive m, and its entries must stay as they are
 * meanwhile (sorting moves them, which is fine). 0 or -1 (out of memory,
 * m left empty). */
int manifest_over(struct manifest *m, const struct manifest *base);

/* Each returns 0 or -1 (out of memory). Missing parent directories are
 * added (0755); adding a path again replaces the earlier entry, unless
 * keep is set. A path's directories resolve through the tree's own
 * symlinks (Debian's bin -> usr/bin): bin/busybox lands in usr/bin. */
int manifest_dir(struct manifest *m, const char *path, unsigned mode);
int manifest_file(struct manifest *m, const char *path, unsigned mode, const char *host_path);
int manifest_data(struct manifest *m, const char *path, unsigned mode, const char *data, size_t len);
int manifest_symlink(struct manifest *m, const char *path, const char *target);
int manifest_chardev(struct manifest *m, const char *path, unsigned mode, unsigned major, unsigned minor);
/* Adds a copy of e, an entry of another manifest: path, kind, mode, owner
 * and contents. */
int manifest_copy(struct manifest *m, const struct manifest_entry *e);
/* Sets the permission bits of an entry already added; -1 if there is none. */
int manifest_chmod(struct manifest *m, const char *path, unsigned mode);
/* Sets an entry's owner; -1 if there is none. */
int manifest_chown(struct manifest *m, const char *path, unsigned uid, unsigned gid);
/* path as it resolves in the tree (see above), the last part followed
 * too; -1 on a symlink loop. */
int manifest_resolve(struct manifest *m, const char *path, char out[PATH_MAX]);
/* The entry at path, or NULL. */
struct manifest_entry *manifest_find(struct manifest *m, const char *path);
/* "a/./b/../c" -> "a/c", in place; no leading or trailing '/'. */
void manifest_normalize(char *path);
/* Entries by path, the order every writer gives them in; -1 out of memory. */
int manifest_sort(struct manifest *m);
/* Adds every entry of a tar (owners, modes, links; a hard link becomes a
 * copy). Device nodes and FIFOs are left out: /dev is the kernel's. */
int manifest_add_tar(struct manifest *m, const char *tar_path, char *err, size_t errlen);
/* Adds a host directory's contents below `path` ("" for the top). */
int manifest_tree(struct manifest *m, const char *path, const char *host_dir, char *err, size_t errlen);

/* Sorts; then writes a gzip-compressed newc cpio to out_path. */
int manifest_write_cpio(struct manifest *m, const char *out_path, char *err, size_t errlen);
/* Sorts; then writes an xz-compressed pax tar to out_path (lxc-local's
 * rootfs.tar.xz and meta.tar.xz, LXD's unified image). */
int manifest_write_tar_xz(struct manifest *m, const char *out_path, char *err, size_t errlen);
/* Sorts; then writes a SquashFS image (zstd) to out_path with mksquashfs,
 * fed a plain tar: owners and modes come from the manifest, so no root is
 * needed, and the same manifest gives the same bytes. */
int manifest_write_squashfs(struct manifest *m, const char *out_path, char *err, size_t errlen);
/* One of the writers above. */
typedef int (*manifest_writer)(struct manifest *m, const char *out_path, char *err, size_t errlen);
/* Writes m to out_path with write, through out_path.tmp renamed into
 * place (a failure leaves what was there), unless out_path is what the
 * same entries made before: a digest of them (every byte of every file)
 * is kept in .NAME.digest beside it, with the output's size and mtime. A
 * warm build of an unchanged recipe so compresses nothing again. Returns 1
 * when out_path was left as it was, 0 when written, -1 with err. */
int manifest_write_fresh(struct manifest *m, const char *out_path, manifest_writer write, char *err, size_t errlen);
/* Sorts; then writes the tree into out_dir (created; must not exist).
 * Device nodes are skipped unless we are root. */
int manifest_write_dir(struct manifest *m, const char *out_dir, char *err, size_t errlen);

#endif
