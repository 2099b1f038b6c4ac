#include "net.h"
#include "agentcmd.h"
#include "control.h"
#include "ctlmsg.h"
#include "kernel_ip.h"
#include "log.h"
#include "loop.h"
#include "netaddr.h"
#include "netlink.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/socket.h>
#include <unistd.h>

#define DHCP_SCRIPT "/usr/libexec/amphi/dhcp-event"
#define DNS_MAX 8

struct net_if {
	const struct recipe_net *cfg;
	char name[RECIPE_IFNAME_MAX];
	int index;
	int waiting;                   /* for a DHCP lease */
	char dhcp_dns[DNS_MAX][48];
	int ndhcp_dns;
	char dhcp_domain[128];
};

static const char *net_root = "";
static struct recipe *net_recipe;
static struct recipe_net kernel_ip;   /* from ip= */
/* The recipe's interfaces, ip='s, and as many again that LXC gave unnamed. */
#define NET_IFS_MAX (2 * RECIPE_NETS_MAX + 1)
static struct net_if ifs[NET_IFS_MAX];
static int nifs, waiting;
static void (*ready_cb)(void);
static int ready_timer = -1;

/* LXC and QEMU name their interfaces ethN; this many are looked for. */
#define ETH_SCAN_MAX 64

/* The next ethN link there is from *pos on: 1 with name and *index set,
 * 0 after the last. */
static int next_eth(int *pos, char name[RECIPE_IFNAME_MAX], int *index)
{
	while (*pos < ETH_SCAN_MAX) {
		snprintf(name, RECIPE_IFNAME_MAX, "eth%d", (*pos)++);
		if ((*index = nl_link_index(name)) > 0)
			return 1;
	}
	return 0;
}

/* The first interface that is not loopback, for ip= without a device. */
static void first_ethernet(char out[RECIPE_IFNAME_MAX])
{
	int pos = 0, index;
	if (!next_eth(&pos, out, &index))
		strcpy(out, "eth0");
}

/* Returns 1 when ip= asks for something, with kernel_ip filled. */
static int use_kernel_ip(const char *root)
{
	char value[512], host[RECIPE_WORD_MAX], why[256];
	int r;

	if (!kernel_ip_find(root, value, sizeof(value)))
		return 0;
	r = kernel_ip_parse(value, &kernel_ip, host, sizeof(host), why, sizeof(why));
	if (r < 0)
		log_warn("net: %s; ignoring it", why);
	if (r <= 0)
		return 0;
	if (!kernel_ip.name[0])
		first_ethernet(kernel_ip.name);
	if (host[0] && sethostname(host, strlen(host)) < 0)
		log_warn("net: ip=: sethostname %s: %s", host, strerror(errno));
	return 1;
}

/* ---- resolv.conf: static dns/search first, then what DHCP said ---- */

static void add_unique(char list[][128], int *n, int max, const char *v)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(list[i], v) == 0)
			return;
	if (*n < max)
		snprintf(list[(*n)++], 128, "%s", v);
}

static int resolv_pending;  /* the file systems were frozen when it changed */

static void write_resolv_conf(void)
{
	char servers[DNS_MAX][128], search[DNS_MAX][128], path[PATH_MAX], tmp[PATH_MAX];
	int ns = 0, nsearch = 0;
	FILE *f;

	for (int i = 0; i < nifs; i++) {
		const struct recipe_net *c = ifs[i].cfg;
		for (int j = 0; j < c->dns.n; j++)
			add_unique(servers, &ns, DNS_MAX, c->dns.item[j]);
		for (int j = 0; j < c->search.n; j++)
			add_unique(search, &nsearch, DNS_MAX, c->search.item[j]);
		for (int j = 0; j < ifs[i].ndhcp_dns; j++)
			add_unique(servers, &ns, DNS_MAX, ifs[i].dhcp_dns[j]);
		if (ifs[i].dhcp_domain[0])
			add_unique(search, &nsearch, DNS_MAX, ifs[i].dhcp_domain);
	}
	if (!ns && !nsearch)
		return;
	/* A write to a frozen file system would hold PID 1 until the thaw. */
	if (agentcmd_frozen()) {
		resolv_pending = 1;
		log_info("net: the host froze the file systems; /etc/resolv.conf is written when it thaws them");
		return;
	}
	resolv_pending = 0;
	snprintf(path, sizeof(path), "%s/etc/resolv.conf", net_root);
	snprintf(tmp, sizeof(tmp), "%s.amphi", path);
	if (!(f = fopen(tmp, "we"))) {
		log_warn("net: %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "# written by amphi-init from the recipe and DHCP\n");
	if (nsearch) {
		fprintf(f, "search");
		for (int i = 0; i < nsearch; i++)
			fprintf(f, " %s", search[i]);
		fprintf(f, "\n");
	}
	for (int i = 0; i < ns && i < 3; i++)  /* the resolver reads three (resolv.conf(5)) */
		fprintf(f, "nameserver %s\n", servers[i]);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		log_warn("net: %s: %s", path, strerror(errno));
}

/* ---- configuring ---- */

static void add_address(struct net_if *n, const char *text)
{
	struct net_addr a;
	int r = net_addr_parse(text, &a);
	if (r == 0)
		r = nl_addr_add(n->index, &a);
	if (r < 0)
		log_warn("net: %s: address %s: %s", n->name, text, strerror(-r));
}

static void add_route(struct net_if *n, const char *gw)
{
	struct net_addr a;
	int r;
	if (!gw[0])
		return;
	r = net_addr_parse(gw, &a);
	if (r == 0)
		r = nl_route_default(n->index, &a);
	if (r < 0)
		log_warn("net: %s: default route via %s: %s", n->name, gw, strerror(-r));
}

static void became_ready(void)
{
	loop_del_timer(ready_timer);
	ready_timer = -1;
	if (ready_cb) {
		void (*cb)(void) = ready_cb;
		ready_cb = NULL;
		cb();
	}
}

static long ready_timed_out(void *unused)
{
	(void)unused;
	ready_timer = -1;
	for (int i = 0; i < nifs; i++)
		if (ifs[i].waiting)
			log_warn("net: %s has no DHCP lease after %d s; starting services that need the network anyway",
				 ifs[i].name, net_recipe->network_timeout);
	became_ready();
	return -1;
}

static void start_dhcp(struct net_if *n)
{
	char name[RECIPE_WORD_MAX], exec[RECIPE_EXEC_MAX];
	struct utsname u;

	/* The name the server records: the machine's own (the recipe's, set at
	 * boot, or what LXC set from lxc.uts.name); none rather than an empty
	 * one. */
	if (uname(&u) < 0 || !u.nodename[0] || strcmp(u.nodename, "(none)") == 0)
		u.nodename[0] = '\0';
	/* busybox's, by name, as the getty: whatever else the tree has there.
	 * -f: stay in the foreground, supervised like any service; -R: release
	 * the lease when stopped at shutdown; it retries for ever by itself. */
	snprintf(name, sizeof(name), "dhcp-%s", n->name);
	snprintf(exec, sizeof(exec), "/bin/busybox udhcpc -f -R -i %s -s %s%s%s", n->name, DHCP_SCRIPT,
		 u.nodename[0] ? " -x hostname:" : "", u.nodename);
	if (recipe_prepend_service(net_recipe, name, exec) < 0) {
		log_error("net: %s: no room for a DHCP client (over %d services)", n->name, RECIPE_UNITS_MAX);
		return;
	}
	n->waiting = 1;
	waiting++;
}

static void configure(struct net_if *n)
{
	int r;
	char mtu[16] = "";

	if ((r = nl_link_up(n->index, n->cfg->mtu)) < 0)
		log_warn("net: %s: up: %s", n->name, strerror(-r));
	for (int i = 0; i < n->cfg->address.n; i++)
		add_address(n, n->cfg->address.item[i]);
	add_route(n, n->cfg->gateway);
	add_route(n, n->cfg->gateway6);
	if (n->cfg->mtu)
		snprintf(mtu, sizeof(mtu), " mtu %d", n->cfg->mtu);
	log_info("net: %s up%s%s%s%s%s", n->name, mtu, n->cfg->address.n ? " " : "",
		 n->cfg->address.n ? n->cfg->address.item[0] : "",
		 n->cfg->gateway[0] ? " via " : "", n->cfg->gateway);
	if (n->cfg->dhcp)
		start_dhcp(n);
}

/* Links LXC made that the recipe does not name. One LXC configured (an
 * IPv4 address) is left as it is; one it did not takes DHCP, as every
 * distribution's container does on LXC's default veth on lxcbr0 (lxc-net's
 * dnsmasq answers), however the container was created; [network]
 * unnamed = none keeps them as they are. */
static void adopt_foreign_links(void)
{
	/* No keys of its own (no dns, search); in bss: the struct is 6 KiB. */
	static struct recipe_net unnamed;
	char name[RECIPE_IFNAME_MAX];

	for (int pos = 0, idx, rc; next_eth(&pos, name, &idx);) {
		int known = 0;
		for (int j = 0; j < nifs; j++)
			known |= ifs[j].index == idx;
		if (known)
			continue;
		if ((rc = nl_link_has_addr(idx, AF_INET)) != 0) {
			if (rc > 0)
				log_info("net: %s was configured by the container manager; left as it is", name);
			else
				log_warn("net: %s: reading its addresses: %s; left as it is", name, strerror(-rc));
			continue;
		}
		if (!net_recipe->unnamed_dhcp || nifs == NET_IFS_MAX) {
			log_info("net: %s: no address from the container manager and no [network.%s]; left without one (%s)",
				 name, name, nifs == NET_IFS_MAX ? "no room for more interfaces" : "[network] unnamed = none");
			continue;
		}
		log_info("net: %s: no address from the container manager and no [network.%s]; asking DHCP "
			 "(a [network.%s] section or [network] unnamed = none changes this)", name, name, name);
		struct net_if *n = &ifs[nifs++];
		n->cfg = &unnamed;
		n->index = idx;
		snprintf(n->name, sizeof(n->name), "%s", name);
		if ((rc = nl_link_up(idx, 0)) < 0)
			log_warn("net: %s: up: %s", name, strerror(-rc));
		start_dhcp(n);
	}
}

int net_start(const char *root, enum world world, struct recipe *r, void (*ready)(void))
{
	const struct recipe_net *cfgs[RECIPE_NETS_MAX + 1];
	int ncfg = 0, lo, rc;

	net_root = root;
	net_recipe = r;
	ready_cb = ready;
	if ((rc = nl_open()) < 0) {
		log_error("net: rtnetlink: %s; no network configured", strerror(-rc));
		became_ready();
		return 1;
	}
	if ((lo = nl_link_index("lo")) > 0 && (rc = nl_link_up(lo, 0)) < 0)
		log_warn("net: lo: %s", strerror(-rc));

	int from_kernel = world != WORLD_CONTAINER && use_kernel_ip(root);
	for (int i = 0; i < r->nnets; i++)
		if (!from_kernel || strcmp(r->net[i].name, kernel_ip.name) != 0)
			cfgs[ncfg++] = &r->net[i];
	if (from_kernel)
		cfgs[ncfg++] = &kernel_ip;  /* ip= wins over the recipe for its device */

	for (int i = 0; i < ncfg; i++) {
		struct net_if *n = &ifs[nifs];
		n->cfg = cfgs[i];
		snprintf(n->name, sizeof(n->name), "%s", cfgs[i]->name);
		if (cfgs[i]->mac[0] && nl_link_by_mac(root, cfgs[i]->mac, n->name) < 0) {
			log_warn("net: no interface has mac %s ([network.%s]); going on without it",
				 cfgs[i]->mac, cfgs[i]->name);
			continue;
		}
		if ((n->index = nl_link_index(n->name)) < 0) {
			log_warn("net: no interface %s; going on without it", n->name);
			continue;
		}
		nifs++;
		configure(n);
	}
	if (world == WORLD_CONTAINER)
		adopt_foreign_links();
	write_resolv_conf();
	if (!waiting) {
		became_ready();
		return 1;
	}
	ready_timer = loop_add_timer((long)r->network_timeout * 1000, ready_timed_out, NULL);
	return 0;
}

/* ---- DHCP events, in PID 1 ---- */

static void dhcp_bound(struct net_if *n, const struct ctlmsg_dhcp *m, int renew)
{
	const char *ip = ctlmsg_dhcp_field(m, "ip"), *mask = ctlmsg_dhcp_field(m, "mask");
	char addr[64], routers[128], dns[256];

	if (!renew)
		nl_addr_flush(n->index, AF_INET);
	snprintf(addr, sizeof(addr), "%s/%s", ip, *mask ? mask : "24");
	if (*ctlmsg_dhcp_field(m, "mtu"))
		nl_link_up(n->index, atoi(ctlmsg_dhcp_field(m, "mtu")));
	add_address(n, addr);
	snprintf(routers, sizeof(routers), "%s", ctlmsg_dhcp_field(m, "router"));
	char *rsave = NULL, *first = strtok_r(routers, ",", &rsave);
	if (first)
		add_route(n, first);
	snprintf(dns, sizeof(dns), "%s", ctlmsg_dhcp_field(m, "dns"));
	n->ndhcp_dns = 0;
	for (char *save = NULL, *d = strtok_r(dns, ",", &save); d && n->ndhcp_dns < DNS_MAX;
	     d = strtok_r(NULL, ",", &save))
		snprintf(n->dhcp_dns[n->ndhcp_dns++], sizeof(n->dhcp_dns[0]), "%s", d);
	snprintf(n->dhcp_domain, sizeof(n->dhcp_domain), "%s", ctlmsg_dhcp_field(m, "domain"));
	write_resolv_conf();
	log_info("net: %s %s by DHCP%s%s, lease %s s", n->name, addr, first ? " via " : "",
		 first ? first : "", ctlmsg_dhcp_field(m, "lease"));
	if (n->waiting) {
		n->waiting = 0;
		if (--waiting == 0)
			became_ready();
	}
}

void net_dhcp_message(char *msg)
{
	struct ctlmsg_dhcp m;
	const char *iface, *event;

	ctlmsg_dhcp_parse(msg, &m);
	iface = m.iface, event = m.event;
	for (int i = 0; iface && event && i < nifs; i++) {
		struct net_if *n = &ifs[i];
		if (strcmp(n->name, iface) != 0)
			continue;
		if (!strcmp(event, "bound") || !strcmp(event, "renew"))
			dhcp_bound(n, &m, !strcmp(event, "renew"));
		else if (!strcmp(event, "deconfig"))
			nl_addr_flush(n->index, AF_INET);
		else
			log_info("net: %s: DHCP %s", n->name, event);  /* leasefail, nak */
		return;
	}
	log_warn("net: DHCP message for unknown interface: %s %s", iface ? iface : "?", event ? event : "?");
}

/* ---- the event script side: runs as udhcpc's child, not as PID 1 ---- */

/* udhcpc's lists are space-separated; ours are commas inside one word. */
static void add_env(char *msg, size_t len, const char *key)
{
	const char *v = getenv(key);
	size_t used = strlen(msg);
	if (!v || !*v || used + strlen(key) + strlen(v) + 3 >= len)
		return;
	snprintf(msg + used, len - used, " %s=", key);
	used = strlen(msg);
	for (; *v && used < len - 1; v++)
		msg[used++] = (*v == ' ') ? ',' : *v;
	msg[used] = '\0';
}

int net_dhcp_event_main(int argc, char **argv)
{
	static const char *const keys[] = { "ip", "mask", "router", "dns", "domain", "mtu", "lease" };
	char msg[CONTROL_LINE_MAX];
	const char *iface = getenv("interface");
	int r;

	if (argc < 2 || !iface) {
		fprintf(stderr, "dhcp-event: run by udhcpc with an event and $interface\n");
		return 2;
	}
	snprintf(msg, sizeof(msg), "dhcp %s %s", iface, argv[1]);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		add_env(msg, sizeof(msg), keys[i]);
	if ((r = control_send("", msg)) < 0) {
		fprintf(stderr, "dhcp-event: %s: %s\n", CONTROL_FIFO, strerror(-r));
		return 1;
	}
	return 0;
}

void net_thawed(void)
{
	if (resolv_pending)
		write_resolv_conf();
}
