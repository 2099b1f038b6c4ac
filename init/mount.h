/* Early mounts: what the world needs before anything runs. */
#ifndef AMPHI_MOUNT_H
#define AMPHI_MOUNT_H

#include "detect.h"

/* /proc and /sys, wherever they are missing: detection reads them. */
void mount_base(const char *root);
/* The rest for this world: a VM gets everything, a container only what its
 * manager left out. Failures are logged; nothing here stops the boot. */
void mount_world(const char *root, enum world world);
/* Stop: unmount everything but / in reverse order, then / read-only (VM only). */
void mount_unmount_all(const char *root);

#endif
