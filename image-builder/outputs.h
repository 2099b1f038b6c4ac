/* The small text files next to the images: how to boot each one. */
#ifndef AMPHI_OUTPUTS_H
#define AMPHI_OUTPUTS_H

#include "recipe.h"

/* DIR/vm/launch: a shell script that runs QEMU on DIR/vm's kernel and
 * initramfs, so the output works without amphi installed. */
int write_vm_launcher(const char *dir, const struct recipe *r, char *err, size_t errlen);
/* DIR/lxc/config, for lxc-start -f. */
int write_lxc_config(const char *dir, const struct recipe *r, char *err, size_t errlen);

#endif
