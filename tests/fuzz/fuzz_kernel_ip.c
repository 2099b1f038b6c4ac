/* libFuzzer: the value of the kernel's ip= into the parser PID 1 runs on
 * /proc/cmdline (init/kernel_ip.c, nfsroot.rst's ten fields). Whatever it
 * accepts is written back in the same syntax and parsed again: the same
 * configuration must come out. Built by `make fuzz` (Makefile:
 * fuzz_src_kernel_ip). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel_ip.h"
#include "netaddr.h"

#define HOST_MAX 64 /* as init/net.c gives it */

static void check_string(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		__builtin_trap();
}

static void check_ipv4(const char *s, size_t cap, int with_prefix)
{
	struct net_addr a;

	check_string(s, cap);
	if (net_addr_parse(s, &a) < 0 || a.family != AF_INET || (a.prefix >= 0) != with_prefix)
		__builtin_trap();
}

/* The parsed configuration as an ip= value again. */
static void unparse(const struct recipe_net *n, const char *host, char *out, size_t cap)
{
	char client[64] = "", mask[16] = "";

	if (n->address.n) {
		struct net_addr a;
		uint32_t m;
		if (net_addr_parse(n->address.item[0], &a) < 0)
			__builtin_trap();
		m = a.prefix ? 0xffffffffu << (32 - a.prefix) : 0;
		snprintf(mask, sizeof(mask), "%u.%u.%u.%u", m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
		snprintf(client, sizeof(client), "%.*s", (int)strcspn(n->address.item[0], "/"), n->address.item[0]);
	}
	snprintf(out, cap, "%s::%s:%s:%s:%s:%s:%s:%s", client, n->gateway, mask, host, n->name,
		 n->dhcp ? "dhcp" : "off", n->dns.n > 0 ? n->dns.item[0] : "", n->dns.n > 1 ? n->dns.item[1] : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct recipe_net n, again;
	char host[HOST_MAX], host2[HOST_MAX], why[256], value[1024];
	char *s;
	int r;

	if (size > 4096) /* COMMAND_LINE_SIZE is 2048 on x86 */
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	why[0] = '\0';
	r = kernel_ip_parse(s, &n, host, sizeof(host), why, sizeof(why));
	free(s);
	if (r < 0) {
		/* An error says what was wrong with ip=. */
		if (!memchr(why, '\0', sizeof(why)) || strncmp(why, "ip=", 3) != 0)
			__builtin_trap();
		return 0;
	}
	check_string(host, sizeof(host));
	if (r == 0) {
		static const struct recipe_net zero;
		if (memcmp(&n, &zero, sizeof(n)) != 0 || host[0])
			__builtin_trap();
		return 0;
	}
	if (r != 1 || (!n.dhcp && n.address.n != 1) || n.address.n > 1 || n.dns.n > 2)
		__builtin_trap();
	check_string(n.name, sizeof(n.name));
	if (n.address.n)
		check_ipv4(n.address.item[0], sizeof(n.address.item[0]), 1);
	if (n.gateway[0])
		check_ipv4(n.gateway, sizeof(n.gateway), 0);
	for (int i = 0; i < n.dns.n; i++)
		check_ipv4(n.dns.item[i], sizeof(n.dns.item[i]), 0);
	/* Fields are split at ':': none holds one. */
	if (strchr(n.name, ':') || strchr(host, ':'))
		__builtin_trap();

	unparse(&n, host, value, sizeof(value));
	if (kernel_ip_parse(value, &again, host2, sizeof(host2), why, sizeof(why)) != 1 ||
	    memcmp(&n, &again, sizeof(n)) != 0 || strcmp(host, host2) != 0)
		__builtin_trap();
	return 0;
}
