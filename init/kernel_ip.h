/* The kernel's ip= parameter (Documentation/admin-guide/nfs/nfsroot.rst):
 *   ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>:<ntp0>
 *   ip=dhcp | on | any | both | bootp | rarp | off | none
 * Debian's kernel has no CONFIG_IP_PNP, so the init honours it. */
#ifndef AMPHI_KERNEL_IP_H
#define AMPHI_KERNEL_IP_H

#include "recipe.h"

#include <stddef.h>

/* The value of the last ip= in <root>/proc/cmdline into buf; 0 if none. */
int kernel_ip_find(const char *root, char *buf, size_t len);

/* Parses the value into an interface configuration: out->name is empty
 * when no device was named (the caller picks the first ethernet), and the
 * host name lands in hostname (empty if none). Returns 1 when there is
 * something to configure, 0 for off/none, -1 with why set for a value
 * that cannot be used. */
int kernel_ip_parse(const char *value, struct recipe_net *out, char *hostname, size_t hostlen,
		    char *why, size_t whylen);

#endif
