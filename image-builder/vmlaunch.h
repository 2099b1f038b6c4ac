/* DIR/vm/launch: how to boot a build under QEMU without amphi. */
#ifndef AMPHI_VMLAUNCH_H
#define AMPHI_VMLAUNCH_H

#include "recipe.h"

#include <stddef.h>

/* DIR/vm/launch: a shell script that runs QEMU on DIR/vm's kernel and
 * initramfs, so the output works without amphi installed. */
int write_vm_launcher(const char *dir, const struct recipe *r, char *err, size_t errlen);

#endif
