/* The network: loopback, the recipe's [network.NAME] interfaces and, in a
 * VM, the kernel's ip= parameter; static addresses set at once through
 * rtnetlink, DHCP through a supervised busybox udhcpc whose event script
 * (this binary, as dhcp-event) reports back over the control FIFO. In a
 * container, an interface LXC gave that the recipe does not name is left
 * as LXC configured it, or, without an IPv4 address, takes DHCP unless the
 * recipe says [network] unnamed = none. */
#ifndef AMPHI_NET_H
#define AMPHI_NET_H

#include "detect.h"
#include "recipe.h"

/* Configures what can be at once; adds a DHCP client service to r for
 * each DHCP interface (the recipe's and, in a container, unnamed ones). Calls ready() when every interface is configured,
 * or after r->network_timeout seconds; returns 1 if that already happened. */
int net_start(const char *root, enum world world, struct recipe *r, void (*ready)(void));
/* A control message "IFACE EVENT key=value ..." from dhcp-event. */
void net_dhcp_message(char *msg);
/* The udhcpc event script: argv[1] is the event, the lease is in the
 * environment (busybox udhcpc's names). Returns the exit status. */
int net_dhcp_event_main(int argc, char **argv);
/* The host's guest agent thawed the file systems: what waited is written. */
void net_thawed(void);

#endif
