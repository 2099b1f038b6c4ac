#include "kernel_ip.h"
#include "cmdline.h"
#include "netaddr.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int is_dynamic(const char *s)
{
	static const char *const dynamic[] = { "dhcp", "on", "any", "both", "bootp", "rarp" };
	for (size_t i = 0; i < sizeof(dynamic) / sizeof(dynamic[0]); i++)
		if (strcmp(s, dynamic[i]) == 0)
			return 1;
	return 0;
}

int kernel_ip_find(const char *root, char *buf, size_t len)
{
	return cmdline_get(root, "ip", buf, len);
}

static int check_addr(const char *what, const char *text, int want_prefix, char *why, size_t whylen)
{
	struct net_addr a;
	if (net_addr_parse(text, &a) == 0 && a.family == AF_INET && (a.prefix >= 0) == want_prefix)
		return 0;
	snprintf(why, whylen, "ip=: %s '%s' is not an IPv4 address", what, text);
	return -1;
}

int kernel_ip_parse(const char *value, struct recipe_net *out, char *hostname, size_t hostlen,
		    char *why, size_t whylen)
{
	char buf[512], *rest = buf, *f[10] = { 0 };

	memset(out, 0, sizeof(*out));
	hostname[0] = '\0';
	if (!strcmp(value, "off") || !strcmp(value, "none") || !*value)
		return 0;
	if (!strchr(value, ':')) {
		if (!is_dynamic(value)) {
			snprintf(why, whylen, "ip=%s: expected dhcp, on, any, off or client:server:gw:netmask:host:dev:autoconf", value);
			return -1;
		}
		out->dhcp = 1;
		return 1;
	}
	snprintf(buf, sizeof(buf), "%s", value);
	for (int i = 0; i < 10 && rest; i++)
		f[i] = strsep(&rest, ":");  /* keeps empty fields */
	if (f[5] && *f[5])
		snprintf(out->name, sizeof(out->name), "%s", f[5]);
	out->dhcp = f[6] && is_dynamic(f[6]);
	if (f[0] && *f[0] && !out->dhcp) {
		int prefix = 24;
		if (check_addr("client", f[0], 0, why, whylen) < 0)
			return -1;
		if (f[3] && *f[3] && (prefix = net_mask_to_prefix(f[3])) < 0) {
			snprintf(why, whylen, "ip=: netmask '%s' is not a netmask", f[3]);
			return -1;
		}
		snprintf(out->address.item[0], RECIPE_WORD_MAX, "%s/%d", f[0], prefix);
		out->address.n = 1;
	}
	if (f[2] && *f[2]) {
		if (check_addr("gateway", f[2], 0, why, whylen) < 0)
			return -1;
		snprintf(out->gateway, sizeof(out->gateway), "%s", f[2]);
	}
	for (int i = 7; i <= 8; i++)
		if (f[i] && *f[i]) {
			if (check_addr("dns", f[i], 0, why, whylen) < 0)
				return -1;
			snprintf(out->dns.item[out->dns.n++], RECIPE_WORD_MAX, "%s", f[i]);
		}
	if (f[4] && *f[4])
		snprintf(hostname, hostlen, "%s", f[4]);
	if (!out->dhcp && !out->address.n) {
		snprintf(why, whylen, "ip=%s: neither a client address nor DHCP", value);
		return -1;
	}
	return 1;
}
