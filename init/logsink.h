/* Where records go besides the console: the amphi stream (acknowledged)
 * and Anaconda text, on virtio-serial ports in a VM, on a socket and a
 * FIFO in the host directory LXC bind-mounts in a container. Each sink has
 * its own cursor in the ring; none ever blocks PID 1. */
#ifndef AMPHI_LOGSINK_H
#define AMPHI_LOGSINK_H

#include "detect.h"
#include "jsonw.h"

#define LOGSINK_PORT_STREAM "org.amphi.log.0"
#define LOGSINK_PORT_TEXT "org.fedoraproject.anaconda.log.0"
/* In a container: the host directory, bind-mounted by the builder's config. */
#define LOGSINK_HOST_DIR "/var/lib/amphi/host"
#define LOGSINK_SOCKET "amphi.sock"
#define LOGSINK_FIFO "anaconda.fifo"

/* LOG_POLICY_* from the recipe: whom the ring keeps records for. */
void logsink_set_policy(int policy);
void logsink_start(const char *root, enum world world, const char *hostname, const char *boot_id);
/* Once per turn of the loop: records new in the ring go to every
 * connected reader that has taken the last batch, in as few writes as
 * they fit in. */
void logsink_send(void);
/* SIGIO: a host connected to or left a port. */
void logsink_ports_changed(void);
/* The machine is going down: every connected reader gets all the ring
 * holds, and a reader that acknowledges gets the time to say it stored it.
 * The one place PID 1 waits on a reader, for at most timeout_ms. */
void logsink_flush(int timeout_ms);
/* amphi-status's ,"log":{records, oldest, ring-bytes, owed-bytes (held for
 * a reader), readers:[{name, connected, sent, acked, lost}]} member. */
void logsink_status(struct jsonw *w);

#endif
