/* A VM's root from a read-only image: amphi build's vm/root.img on
 * virtio-blk. The initramfs holds only what it takes to get there, and a
 * marker (RECIPE_ROOT_MARKER) that says so. PID 1 mounts the image, puts a
 * writable layer over it (tmpfs, or a data disk), makes the overlay / and
 * carries on as itself. */
#ifndef AMPHI_ROOTIMAGE_H
#define AMPHI_ROOTIMAGE_H

#include <stddef.h>

/* Where the layers stay visible once the overlay is /: the image
 * (read-only) and the writable layer (upper/ and work/ of the overlay). */
#define ROOTIMAGE_LOWER "/run/amphi/root"
#define ROOTIMAGE_RW "/run/amphi/rw"

struct rootimage_marker {
	int overlay_disk;  /* the writable layer on the data disk, not tmpfs */
};

/* The marker under root: 1 read into m, 0 none (the root is this
 * initramfs), -1 unreadable or not understood (err says where). */
int rootimage_read_marker(const char *root, struct rootimage_marker *m, char *err, size_t errlen);

/* The block device whose root/sys/block/NAME/serial (virtio-blk's, as
 * QEMU's serial= gives it) is serial; of several, the first the kernel
 * named (vda before vdb before vdaa). 1 with its NAME, or 0. */
int rootimage_find_disk(const char *root, const char *serial, char *name, size_t namelen);

/* Whether the disk (or file) at path is blank: its first 64 KiB all zero.
 * 1 blank, 0 not, -errno if it cannot be read (-ENOSPC: it is smaller). */
int rootimage_blank(const char *path);

/* With the marker: waits for the image's disk, mounts it, the writable
 * layer and the overlay, and makes the overlay / (root_move_to). 1 done, 0
 * no marker, -1 with err saying what failed and what to do. */
int rootimage_switch(const char *root, char *err, size_t errlen);

#endif
