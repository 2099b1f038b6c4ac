/* virtio-serial ports by the name the host gave them (QEMU's
 * virtserialport name=, libvirt's <target type='virtio' name=>): the log
 * ports and the guest agent's. */
#ifndef AMPHI_VPORT_H
#define AMPHI_VPORT_H

#include <stddef.h>

/* The device (vport0p1) of the port named name under root's
 * /sys/class/virtio-ports, into dev: 0, or -1 while there is none. */
int vport_find(const char *root, const char *name, char *dev, size_t devlen);
/* Opens root's /dev/DEV for reading and writing, never blocking, with
 * SIGIO to PID 1 when a host connects or leaves: the fd, or -errno. */
int vport_open(const char *root, const char *dev);
/* Has a host the port open? virtio_console polls HUP while none has. */
int vport_host_connected(int fd);

#endif
