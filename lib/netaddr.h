/* IP addresses as recipes and the kernel's ip= write them, parsed once for
 * the builder (errors at file:line) and the init (netlink). */
#ifndef AMPHI_NETADDR_H
#define AMPHI_NETADDR_H

#include <stdint.h>

struct net_addr {
	int family;          /* AF_INET (4 bytes used) or AF_INET6 (16) */
	uint8_t bytes[16];
	int prefix;          /* 0..32 or 0..128; -1 when the text had none */
};

/* "10.0.0.2/24", "fd00::2/64", "10.0.0.1" (prefix -1). 0 or -EINVAL. */
int net_addr_parse(const char *text, struct net_addr *out);
/* "255.255.255.0" -> 24; -EINVAL if not a contiguous IPv4 mask. */
int net_mask_to_prefix(const char *mask);
/* "10.0.0.2/24" (or without "/N" when prefix is -1). */
void net_addr_format(const struct net_addr *a, char *out, int outlen);
/* "52:54:00:12:34:56": six hex pairs. 1 if valid. */
int net_mac_valid(const char *mac);

#endif
