#include "netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int net_addr_parse(const char *text, struct net_addr *out)
{
	char host[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);

	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->bytes) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->bytes) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	out->prefix = -1;
	if (slash) {
		char *end;
		long p = strtol(slash + 1, &end, 10);
		int max = out->family == AF_INET ? 32 : 128;
		if (!isdigit((unsigned char)slash[1]) || *end || p < 0 || p > max)
			return -EINVAL;
		out->prefix = (int)p;
	}
	return 0;
}

int net_mask_to_prefix(const char *mask)
{
	struct in_addr a;
	if (inet_pton(AF_INET, mask, &a) != 1)
		return -EINVAL;
	uint32_t m = ntohl(a.s_addr);
	int prefix = 0;
	while (prefix < 32 && (m & (0x80000000u >> prefix)))
		prefix++;
	/* Contiguous: nothing set after the first zero bit. */
	if (prefix < 32 && (m << prefix) != 0)
		return -EINVAL;
	return prefix;
}

void net_addr_format(const struct net_addr *a, char *out, int outlen)
{
	char host[INET6_ADDRSTRLEN];
	if (!inet_ntop(a->family, a->bytes, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	if (a->prefix >= 0)
		snprintf(out, (size_t)outlen, "%s/%d", host, a->prefix);
	else
		snprintf(out, (size_t)outlen, "%s", host);
}

int net_mac_valid(const char *mac)
{
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)mac[0]) || !isxdigit((unsigned char)mac[1]))
			return 0;
		mac += 2;
		if (*mac != (i < 5 ? ':' : '\0'))
			return 0;
		mac++;
	}
	return 1;
}
