/* rtnetlink, just what an appliance needs: links up with an MTU, addresses,
 * default routes. No ip(8) binary involved. Every call is one request and
 * its ACK on a socket of our own, bounded by a receive timeout. */
#ifndef AMPHI_NETLINK_H
#define AMPHI_NETLINK_H

/* Addresses come parsed by lib/netaddr (net_addr_parse), shared with the
 * recipe parser. */
#include "netaddr.h"

/* The socket; 0 or -errno. Opened once by PID 1. */
int nl_open(void);
void nl_close(void);

/* Interface index by name, or -ENODEV. */
int nl_link_index(const char *name);
/* Interface name by MAC "52:54:00:12:34:56" (any case), read from
 * <root>/sys/class/net/NAME/address; 0 with name set, or -ENODEV. */
int nl_link_by_mac(const char *root, const char *mac, char name[16]);
/* Sets IFF_UP and, when mtu > 0, the MTU. */
int nl_link_up(int index, int mtu);
int nl_link_down(int index);
/* Adds an address (prefix must be >= 0); EEXIST counts as success. */
int nl_addr_add(int index, const struct net_addr *a);
/* Removes every address of the family (AF_INET/AF_INET6; 0 = both) from the link. */
int nl_addr_flush(int index, int family);
/* 1 if the link has a global (scope universe) address of the family, 0 if
 * not, -errno on failure: how we see what LXC configured already. */
int nl_link_has_addr(int index, int family);
/* Each address of link index, either family, through fn; 0 or -errno. */
int nl_addr_each(int index, void (*fn)(const struct net_addr *a, void *data), void *data);
/* Default route via gw (same family) out of index; EEXIST counts as success. */
int nl_route_default(int index, const struct net_addr *gw);

#endif
