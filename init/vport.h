/* virtio-serial ports by the name the host gave them (QEMU's
 * virtserialport name=, libvirt's <target type='virtio' name=>): the log
 * ports and the guest agent's. */
#ifndef AMPHI_VPORT_H
#define AMPHI_VPORT_H

#include <stddef.h>

/* The device (vport0p1) of the port named name under root's
 * /sys/class/virtio-ports, into dev: 0, or -1 while there is none. */
int vport_find(const char *root, const char *name, char *dev, size_t devlen);

#endif
