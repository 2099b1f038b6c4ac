/* root= on the kernel command line: from the initramfs, mount that device
 * and hand PID 1 over to the /sbin/init on it (an installed appliance). */
#ifndef AMPHI_ROOT_H
#define AMPHI_ROOT_H

#include <stddef.h>

/* 0: nothing to do (no root=, or / is already a real file system). -1:
 * the switch failed, said why in err. On success it does not return. */
int root_switch(const char *root, char *err, size_t errlen);

/* 1 if MNT/sbin/init is an executable file, following symlinks as they
 * resolve once MNT is / (an absolute target means MNT's, not ours). */
int root_init_runnable(const char *mnt);

#endif
