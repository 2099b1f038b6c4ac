/* root= on the kernel command line: from the initramfs, mount that device
 * and hand PID 1 over to the /sbin/init on it (an installed appliance);
 * and the switch itself, which the root image uses too. */
#ifndef AMPHI_ROOT_H
#define AMPHI_ROOT_H

#include <stddef.h>

/* Where a new root is mounted before it becomes /. */
#define ROOT_NEWROOT "/newroot"

/* 0: nothing to do (no root=, or / is already a real file system). -1:
 * the switch failed, said why in err. On success it does not return. */
int root_switch(const char *root, char *err, size_t errlen);

/* 1 if MNT/sbin/init is an executable file, following symlinks as they
 * resolve once MNT is / (an absolute target means MNT's, not ours). */
int root_init_runnable(const char *mnt);

/* 1 if root/ is the initramfs (ramfs or tmpfs), not yet a real root. */
int root_is_initramfs(const char *root);

/* Makes newroot (a mount point below root) the root of this process, as
 * switch_root(8) does, without an exec: /dev, /proc, /sys, /run and /tmp
 * move into it, it moves over / and is chrooted into, and the files of
 * the initramfs are deleted (its mounts left). 0, or -1 with err. */
int root_move_to(const char *root, const char *newroot, char *err, size_t errlen);

#endif
