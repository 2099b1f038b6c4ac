/* DIR/vm/domain.xml: a build as a libvirt domain. */
#ifndef AMPHI_LIBVIRT_H
#define AMPHI_LIBVIRT_H

#include "recipe.h"

#include <stddef.h>

/* DIR/vm/domain.xml: the same machine for virsh define (TCG, direct kernel
 * boot, both log ports, DIR/vm/disk.img on virtio-blk with an iothread). */
int write_libvirt_domain(const char *dir, const struct recipe *r, char *err, size_t errlen);

#endif
