/* init/netlink.c against the real kernel, in a network namespace of this
 * test process only (unshare(CLONE_NEWNET) in the group setup): the host's
 * links are never touched. Without the privilege for that (EPERM), the
 * kernel tests are skipped; nl_link_by_mac runs on a fixture tree anyway.
 * Results are read back through ioctls, getifaddrs and /proc/net, which all
 * answer for the namespace of the caller (sysfs would show the host's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netaddr.h"
#include "netlink.h"
#include "testutil.h"

static int in_netns;
/* "dummy" or "veth": the first kind of link the kernel let us create. */
static const char *link_kind;
#define TEST_LINK "amtest0"
#define TEST_PEER "amtest1"

static void need_netns(void)
{
	if (!in_netns)
		skip();
}

static struct net_addr addr(const char *text)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(text, &a), 0);
	return a;
}

/* --- a link of our own, made with a request of the test's own --- */
static struct rtattr *put(struct nlmsghdr *h, int type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	rta->rta_type = (unsigned short)type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

static void nest_end(struct nlmsghdr *h, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)nest);
}

/* RTM_NEWLINK of the kind (veth: with its peer); 0 or the kernel's -errno. */
static int create_link(const char *kind)
{
	union {
		struct nlmsghdr h;
		char buf[512];
	} m = { 0 };
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct rtattr *info, *data, *peer;
	char reply[1024];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct timeval tv = { .tv_sec = 1 };
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	m.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifi));
	m.h.nlmsg_type = RTM_NEWLINK;
	m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	memcpy(NLMSG_DATA(&m.h), &ifi, sizeof(ifi));
	put(&m.h, IFLA_IFNAME, TEST_LINK, sizeof(TEST_LINK));
	info = put(&m.h, IFLA_LINKINFO, NULL, 0);
	put(&m.h, IFLA_INFO_KIND, kind, strlen(kind));
	if (strcmp(kind, "veth") == 0) {
		data = put(&m.h, IFLA_INFO_DATA, NULL, 0);
		peer = put(&m.h, VETH_INFO_PEER, &ifi, sizeof(ifi));
		put(&m.h, IFLA_IFNAME, TEST_PEER, sizeof(TEST_PEER));
		nest_end(&m.h, peer);
		nest_end(&m.h, data);
	}
	nest_end(&m.h, info);
	assert_int_equal(sendto(fd, m.buf, m.h.nlmsg_len, 0, (struct sockaddr *)&kernel,
				sizeof(kernel)), (ssize_t)m.h.nlmsg_len);
	n = recv(fd, reply, sizeof(reply), 0);
	close(fd);
	assert_true(n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)));
	assert_int_equal(((struct nlmsghdr *)reply)->nlmsg_type, NLMSG_ERROR);
	return ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)reply))->error;
}

static int group_setup(void **state)
{
	if (unshare(CLONE_NEWNET) < 0) {
		if (errno != EPERM)
			return -1;
		fprintf(stderr, "netlink: no network namespace (EPERM): kernel tests skipped\n");
		return 0;
	}
	in_netns = 1;
	if (nl_open() < 0)
		return -1;
	if (create_link("dummy") == 0)
		link_kind = "dummy";
	else if (create_link("veth") == 0)
		link_kind = "veth";
	fprintf(stderr, "netlink: test link kind: %s\n", link_kind ? link_kind : "none");
	return 0;
}

static int group_teardown(void **state)
{
	nl_close();
	return 0;
}

/* --- reading the namespace back --- */
static int ifreq_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	assert_true(fd >= 0);
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	rc = ioctl(fd, req, ifr) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int is_up(const char *name)
{
	struct ifreq ifr;

	assert_int_equal(ifreq_ioctl(name, SIOCGIFFLAGS, &ifr), 0);
	return !!(ifr.ifr_flags & IFF_UP);
}

static int mtu_of(const char *name)
{
	struct ifreq ifr;

	assert_int_equal(ifreq_ioctl(name, SIOCGIFMTU, &ifr), 0);
	return ifr.ifr_mtu;
}

/* Addresses of the family on the link, any scope. */
static int count_addrs(const char *name, int family)
{
	struct ifaddrs *all, *i;
	int n = 0;

	assert_int_equal(getifaddrs(&all), 0);
	for (i = all; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == family && strcmp(i->ifa_name, name) == 0)
			n++;
	freeifaddrs(all);
	return n;
}

/* Lines of a /proc/net route table that have all the words. */
static int route_lines(const char *table, const char *const words[])
{
	char *text = read_text(table, NULL), *line, *save = NULL;
	int n = 0;

	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int all = 1;

		for (int i = 0; words[i]; i++)
			all &= strstr(line, words[i]) != NULL;
		n += all;
	}
	free(text);
	return n;
}

/* --- tests that need no kernel --- */
static void test_parse_for_netlink(void **state)
{
	struct net_addr a;
	char out[64];
	const char *bad[] = { "10.0.0.1/", "10.0.0.1/33", "fd00::1/129", "abc", "", "/24",
			      "10.0.0.1/-1", "10.0.0.1/ 24", "10.0.0.1/24x", "10.0.0.256" };
	const char *good[] = { "10.0.0.2/24", "fd00::2/64", "10.0.0.1", "0.0.0.0/0", "::/0",
			       "10.0.0.1/32", "fe80::1/128" };

	assert_int_equal(net_addr_parse("10.0.0.2/24", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefix, 24);
	assert_memory_equal(a.bytes, "\x0a\x00\x00\x02", 4);
	assert_int_equal(net_addr_parse("fd00::2", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.prefix, -1);
	assert_int_equal(a.bytes[0], 0xfd);
	assert_int_equal(a.bytes[15], 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (net_addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("\"%s\" parsed", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(net_addr_parse(good[i], &a), 0);
		net_addr_format(&a, out, sizeof(out));
		assert_string_equal(out, good[i]);
	}
	assert_int_equal(net_mask_to_prefix("255.255.255.0"), 24);
	assert_int_equal(net_mask_to_prefix("255.255.255.255"), 32);
	assert_int_equal(net_mask_to_prefix("0.0.0.0"), 0);
	assert_int_equal(net_mask_to_prefix("255.255.128.0"), 17);
	assert_int_equal(net_mask_to_prefix("255.0.255.0"), -EINVAL);
	assert_int_equal(net_mask_to_prefix("0.255.255.255"), -EINVAL);
	assert_int_equal(net_mask_to_prefix("255.255.0"), -EINVAL);
}

static void put_file(const char *root, const char *dir, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/class/net/%s", root, dir);
	assert_int_equal(mkdir(path, 0755), 0);
	strcat(path, "/address");
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_link_by_mac(void **state)
{
	char root[] = "/tmp/amphi-netlink-XXXXXX", path[PATH_MAX], name[16];

	assert_non_null(mkdtemp(root));
	assert_int_equal(nl_link_by_mac(root, "52:54:00:aa:bb:cc", name), -ENODEV);
	snprintf(path, sizeof(path), "%s/sys", root);
	assert_int_equal(mkdir(path, 0755), 0);
	strcat(path, "/class");
	assert_int_equal(mkdir(path, 0755), 0);
	strcat(path, "/net");
	assert_int_equal(mkdir(path, 0755), 0);
	put_file(root, "lo", "00:00:00:00:00:00\n");
	put_file(root, "eth0", "52:54:00:aa:bb:cc\n");
	put_file(root, "eth1", "52:54:00:AA:BB:CD\n");
	put_file(root, "eth2", "");

	memset(name, 0, sizeof(name));
	assert_int_equal(nl_link_by_mac(root, "52:54:00:aa:bb:cc", name), 0);
	assert_string_equal(name, "eth0");
	assert_int_equal(nl_link_by_mac(root, "52:54:00:AA:BB:CC", name), 0);
	assert_string_equal(name, "eth0");
	assert_int_equal(nl_link_by_mac(root, "52:54:00:aa:bb:cd", name), 0);
	assert_string_equal(name, "eth1");
	assert_int_equal(nl_link_by_mac(root, "52:54:00:aa:bb:ce", name), -ENODEV);
	assert_int_equal(nl_link_by_mac(root, "52:54:00:aa:bb", name), -ENODEV);
	assert_int_equal(nl_link_by_mac(root, "", name), -ENODEV);
	assert_int_equal(remove_tree(root), 0);
}

/* Only looks: safe in the host's namespace too. */
static void test_link_index_missing(void **state)
{
	assert_int_equal(nl_link_index("nope0"), -ENODEV);
	assert_int_equal(nl_link_index("a-name-far-too-long-for-ifnamsiz"), -ENODEV);
}

/* --- against the kernel --- */
static void test_lo_up_down(void **state)
{
	int lo;

	need_netns();
	lo = nl_link_index("lo");
	assert_true(lo > 0);
	assert_false(is_up("lo"));          /* a new namespace's lo starts down */
	assert_int_equal(nl_link_up(lo, 0), 0);
	assert_true(is_up("lo"));
	assert_int_equal(nl_link_down(lo), 0);
	assert_false(is_up("lo"));
	assert_int_equal(nl_link_up(lo, 0), 0);
	assert_true(is_up("lo"));
	assert_int_equal(nl_link_up(999999, 0), -ENODEV);
}

/* lo's own 127.0.0.1 and ::1 have host scope: not what has_addr counts. */
static void test_addr_add_flush_lo(void **state)
{
	struct net_addr v4 = addr("10.9.8.7/24"), v6 = addr("fd00:9::7/64");
	struct net_addr none = addr("10.9.8.7");
	struct ifreq ifr;
	int lo;

	need_netns();
	lo = nl_link_index("lo");
	assert_int_equal(nl_link_up(lo, 0), 0);
	assert_int_equal(count_addrs("lo", AF_INET), 1);
	assert_int_equal(nl_link_has_addr(lo, AF_INET), 0);
	assert_int_equal(nl_link_has_addr(lo, AF_INET6), 0);
	assert_int_equal(nl_link_has_addr(lo, 0), 0);

	assert_int_equal(nl_addr_add(lo, &v4), 0);
	assert_int_equal(nl_link_has_addr(lo, AF_INET), 1);
	assert_int_equal(nl_link_has_addr(lo, AF_INET6), 0);
	assert_int_equal(nl_addr_add(lo, &v4), 0);     /* EEXIST */
	assert_int_equal(count_addrs("lo", AF_INET), 2);
	assert_int_equal(nl_addr_add(lo, &none), -EINVAL);
	assert_int_equal(nl_addr_add(0, &v4), -ENODEV);

	assert_int_equal(nl_addr_add(lo, &v6), 0);
	assert_int_equal(nl_addr_add(lo, &v6), 0);
	assert_int_equal(nl_link_has_addr(lo, AF_INET6), 1);
	assert_int_equal(nl_link_has_addr(lo, 0), 1);

	assert_int_equal(nl_addr_flush(lo, AF_INET), 0);
	assert_int_equal(nl_link_has_addr(lo, AF_INET), 0);
	assert_int_equal(count_addrs("lo", AF_INET), 0);  /* 127.0.0.1 too: every one */
	assert_int_equal(nl_link_has_addr(lo, AF_INET6), 1);
	assert_int_equal(nl_addr_flush(lo, 0), 0);
	assert_int_equal(nl_link_has_addr(lo, AF_INET6), 0);
	assert_int_equal(count_addrs("lo", AF_INET6), 0);
	assert_int_equal(nl_addr_flush(lo, 0), 0);      /* nothing left: still fine */
	assert_int_equal(nl_addr_flush(lo, AF_PACKET), -EINVAL);
	assert_int_equal(ifreq_ioctl("lo", SIOCGIFADDR, &ifr), -EADDRNOTAVAIL);
}

static void add_n(int index, const char *fmt, int n)
{
	char text[32];
	struct net_addr a;

	for (int i = 1; i <= n; i++) {
		snprintf(text, sizeof(text), fmt, i);
		a = addr(text);
		assert_int_equal(nl_addr_add(index, &a), 0);
	}
}

/* A /24's first address is the primary, the others its secondaries, which
 * the kernel deletes along with it (promote_secondaries is off): the flush
 * then finds them gone. Then more addresses than one flush pass takes. */
static void test_flush_many(void **state)
{
	int lo;

	need_netns();
	lo = nl_link_index("lo");
	assert_int_equal(nl_addr_flush(lo, 0), 0);
	add_n(lo, "10.60.0.%d/24", 10);
	assert_int_equal(count_addrs("lo", AF_INET), 10);
	assert_int_equal(nl_addr_flush(lo, AF_INET), 0);
	assert_int_equal(count_addrs("lo", AF_INET), 0);

	add_n(lo, "10.50.%d.1/32", 45);
	add_n(lo, "fd00:60::%x/64", 45);
	assert_int_equal(count_addrs("lo", AF_INET), 45);
	assert_int_equal(count_addrs("lo", AF_INET6), 45);
	assert_int_equal(nl_addr_flush(lo, 0), 0);
	assert_int_equal(count_addrs("lo", AF_INET), 0);
	assert_int_equal(count_addrs("lo", AF_INET6), 0);
}

/* The address's broadcast is the one nl_addr_add computed from the prefix. */
static void test_broadcast(void **state)
{
	struct net_addr a = addr("10.9.8.7/22");
	struct ifreq ifr;
	char buf[INET_ADDRSTRLEN];
	int idx;

	need_netns();
	if (!link_kind)
		skip();
	idx = nl_link_index(TEST_LINK);
	assert_int_equal(nl_addr_flush(idx, 0), 0);
	assert_int_equal(nl_addr_add(idx, &a), 0);
	assert_int_equal(ifreq_ioctl(TEST_LINK, SIOCGIFBRDADDR, &ifr), 0);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ifr.ifr_broadaddr)->sin_addr, buf, sizeof(buf));
	assert_string_equal(buf, "10.9.11.255");
	assert_int_equal(ifreq_ioctl(TEST_LINK, SIOCGIFNETMASK, &ifr), 0);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ifr.ifr_netmask)->sin_addr, buf, sizeof(buf));
	assert_string_equal(buf, "255.255.252.0");
	assert_int_equal(nl_addr_flush(idx, 0), 0);
}

static void test_link_mtu(void **state)
{
	int idx;

	need_netns();
	if (!link_kind)
		skip();
	idx = nl_link_index(TEST_LINK);
	assert_true(idx > 0);
	assert_int_equal(nl_link_up(idx, 1400), 0);
	assert_true(is_up(TEST_LINK));
	assert_int_equal(mtu_of(TEST_LINK), 1400);
	assert_int_equal(nl_link_up(idx, 0), 0);        /* 0: the MTU stays */
	assert_int_equal(mtu_of(TEST_LINK), 1400);
	assert_int_equal(nl_link_down(idx), 0);
	assert_false(is_up(TEST_LINK));
	assert_int_equal(mtu_of(TEST_LINK), 1400);
	assert_int_equal(nl_link_up(idx, 1500), 0);
	assert_int_equal(mtu_of(TEST_LINK), 1500);
	assert_true(nl_link_up(idx, 10) < 0);           /* under the minimum (68) */
	assert_int_equal(mtu_of(TEST_LINK), 1500);
}

static void test_default_route(void **state)
{
	struct net_addr v4 = addr("10.20.0.2/24"), gw4 = addr("10.20.0.1");
	struct net_addr v6 = addr("fd00:20::2/64"), gw6 = addr("fd00:20::1");
	struct net_addr other = addr("10.20.0.254"), far = addr("192.168.77.1");
	struct net_addr bad = { .family = AF_PACKET };
	/* /proc/net/route: little-endian hex, flags RTF_UP|RTF_GATEWAY. */
	const char *const want4[] = { TEST_LINK "\t00000000\t0100140A\t0003", NULL };
	const char *const want4_other[] = { TEST_LINK "\t00000000\tFE00140A\t", NULL };
	const char *const want6[] = { "00000000000000000000000000000000 00 "
				      "00000000000000000000000000000000 00 "
				      "fd000020000000000000000000000001 ",
				      TEST_LINK, NULL };
	int idx;

	need_netns();
	if (!link_kind)
		skip();
	idx = nl_link_index(TEST_LINK);
	if (strcmp(link_kind, "veth") == 0)   /* carrier comes with the peer up */
		assert_int_equal(nl_link_up(nl_link_index(TEST_PEER), 0), 0);
	assert_int_equal(nl_link_up(idx, 0), 0);
	assert_int_equal(nl_addr_add(idx, &v4), 0);
	assert_int_equal(nl_addr_add(idx, &v6), 0);

	assert_int_equal(route_lines("/proc/net/route", want4), 0);
	assert_int_equal(nl_route_default(idx, &gw4), 0);
	assert_int_equal(route_lines("/proc/net/route", want4), 1);
	assert_int_equal(nl_route_default(idx, &gw4), 0);   /* EEXIST */
	assert_int_equal(route_lines("/proc/net/route", want4), 1);

	assert_int_equal(route_lines("/proc/net/ipv6_route", want6), 0);
	assert_int_equal(nl_route_default(idx, &gw6), 0);
	assert_int_equal(route_lines("/proc/net/ipv6_route", want6), 1);
	assert_int_equal(nl_route_default(idx, &gw6), 0);
	assert_int_equal(route_lines("/proc/net/ipv6_route", want6), 1);

	/* One is there already (LXC's, say): it stays. The kernel checks the
	 * new gateway first (fib_check_nh), so other must be on the link. */
	assert_int_equal(nl_route_default(idx, &other), 0);
	assert_int_equal(route_lines("/proc/net/route", want4), 1);
	assert_int_equal(route_lines("/proc/net/route", want4_other), 0);
	assert_int_equal(nl_route_default(idx, &bad), -EINVAL);
	/* A gateway not on the link, where no default route is yet. */
	assert_int_equal(nl_addr_flush(idx, 0), 0);         /* takes the routes along */
	assert_int_equal(route_lines("/proc/net/route", want4), 0);
	assert_int_equal(nl_route_default(idx, &far), -ENETUNREACH);
}

static void test_closed_socket(void **state)
{
	need_netns();
	nl_close();
	nl_close();
	assert_int_equal(nl_link_up(nl_link_index("lo"), 0), -EBADF);
	assert_int_equal(nl_link_has_addr(nl_link_index("lo"), AF_INET), -EBADF);
	assert_int_equal(nl_open(), 0);
	assert_int_equal(nl_open(), 0);                     /* already open */
	assert_int_equal(nl_link_has_addr(nl_link_index("lo"), AF_INET), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_for_netlink),
		cmocka_unit_test(test_link_by_mac),
		cmocka_unit_test(test_link_index_missing),
		cmocka_unit_test(test_lo_up_down),
		cmocka_unit_test(test_addr_add_flush_lo),
		cmocka_unit_test(test_flush_many),
		cmocka_unit_test(test_broadcast),
		cmocka_unit_test(test_link_mtu),
		cmocka_unit_test(test_default_route),
		cmocka_unit_test(test_closed_socket),
	};

	return cmocka_run_group_tests_name("netlink", tests, group_setup, group_teardown);
}
