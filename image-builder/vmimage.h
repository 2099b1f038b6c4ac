/* DIR/vm's images, from a build's staged tree. */
#ifndef AMPHI_VMIMAGE_H
#define AMPHI_VMIMAGE_H

#include "build.h"
#include "manifest.h"

#include <stddef.h>

/* DIR/vm/initramfs.img: the tree, /dev/console and the kernel modules the
 * VM needs with their load list; with [image] root = squashfs, that tree
 * as DIR/vm/root.img and an initramfs of what mounts it. DIR/vm/data.img
 * with overlay = disk (when there is none), DIR/vm/vmlinuz. The tree is
 * left as it was (sorted). */
int vm_images(struct manifest *tree, const struct build_src *b, const char *dir, char *err, size_t errlen);

#endif
