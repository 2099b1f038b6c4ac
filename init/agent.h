/* The guest agent's connections: in a VM the virtio-serial port libvirt
 * and QEMU call org.qemu.guest_agent.0, in a container a socket in the
 * host directory LXC bind-mounts (root's only). Requests are read as they
 * come, never more than a reply's room allows; replies are written
 * without ever blocking PID 1. What the commands are: agentcmd.h. */
#ifndef AMPHI_AGENT_H
#define AMPHI_AGENT_H

#include "detect.h"

#define AGENT_PORT "org.qemu.guest_agent.0"
#define AGENT_SOCKET "agent.sock"

void agent_start(const char *root, enum world world);
/* SIGIO: the host opened or closed the port. */
void agent_ports_changed(void);

#endif
