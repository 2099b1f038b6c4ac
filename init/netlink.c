#include "netlink.h"
#include "log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The kernel sizes a dump's datagrams by the largest buffer recv offered
 * (nlk->max_recvmsg_len); 8 KiB is libmnl's choice too. A reply stream is
 * bounded to NL_MAX_READS of them however chatty the kernel gets. */
#define NL_RECV_SIZE 8192
#define NL_MAX_READS 256
/* nl_addr_flush deletes this many per dump; more take another pass. */
#define NL_FLUSH_BATCH 32
#define NL_FLUSH_PASSES 8

/* Our largest request: ifaddrmsg and three 16-byte attributes. */
union nl_req {
	struct nlmsghdr h;
	char buf[NLMSG_SPACE(sizeof(struct ifaddrmsg)) + 3 * RTA_SPACE(16)];
};

/* Called for each reply of ours that is neither ACK nor DONE. */
typedef int (*nl_reply_fn)(const struct nlmsghdr *h, void *data);

static int nl_fd = -1;
static uint32_t nl_seq;

static int addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

int nl_open(void)
{
	struct timeval tv = { .tv_sec = 1 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };   /* nl_pid 0: the kernel picks */
	int fd;

	if (nl_fd >= 0)
		return 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* A lost reply must not hang PID 1: recv gives up with EAGAIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	nl_fd = fd;
	return 0;
}

void nl_close(void)
{
	if (nl_fd >= 0)
		close(nl_fd);
	nl_fd = -1;
}

static void *req_init(union nl_req *r, uint16_t type, uint16_t flags, size_t fixed)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(fixed);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | flags;
	return NLMSG_DATA(&r->h);
}

/* Callers stay within union nl_req by construction; this only makes sure. */
static void req_attr(union nl_req *r, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->h.nlmsg_len);
	struct rtattr *rta = (struct rtattr *)(r->buf + off);

	if (off + RTA_SPACE(len) > sizeof(r->buf))
		return;
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->h.nlmsg_len = off + RTA_SPACE(len);
}

/* One reply datagram: the verdict (0 or -errno) once our ACK, error or
 * DONE is in it, 1 while more is to come. Others' seqs are stale replies
 * to requests that timed out: skipped. */
static int read_batch(const struct nlmsghdr *h, size_t n, uint32_t seq,
		      nl_reply_fn fn, void *data, int *fn_err)
{
	for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EPROTO;
			return e->error;   /* 0 is the ACK; else already -errno */
		}
		if (h->nlmsg_type == NLMSG_DONE) {
			/* Since Linux 4.x DONE carries the dump's error, if any. */
			if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
				return *(const int *)NLMSG_DATA(h);
			return 0;
		}
		if (fn && !*fn_err)
			*fn_err = fn(h, data);
	}
	return 1;
}

/* Sends r and reads to its end: the ACK (NLM_F_ACK) or, for a dump, the
 * NLMSG_DONE. A dump is read to its end even after fn failed, so it does
 * not linger in the socket. */
static int nl_talk(union nl_req *r, nl_reply_fn fn, void *data)
{
	union {
		struct nlmsghdr h;
		char buf[NL_RECV_SIZE];
	} rx;
	struct sockaddr_nl peer = { .nl_family = AF_NETLINK };
	socklen_t plen;
	int fn_err = 0, rc = 1;
	ssize_t n;

	if (nl_fd < 0)
		return -EBADF;
	r->h.nlmsg_seq = ++nl_seq;
	if (sendto(nl_fd, r->buf, r->h.nlmsg_len, 0, (struct sockaddr *)&peer, sizeof(peer)) < 0)
		rc = -errno;
	for (int i = 0; rc > 0 && i < NL_MAX_READS; i++) {
		plen = sizeof(peer);
		/* With MSG_TRUNC, n is the datagram's full length: a cut one shows. */
		n = recvfrom(nl_fd, rx.buf, sizeof(rx.buf), MSG_TRUNC, (struct sockaddr *)&peer, &plen);
		if (n < 0)   /* EAGAIN: SO_RCVTIMEO ran out */
			rc = errno == EINTR ? 1 : errno == EAGAIN ? -ETIMEDOUT : -errno;
		else if (n > (ssize_t)sizeof(rx.buf))
			rc = -EMSGSIZE;
		else if (peer.nl_pid == 0)   /* only the kernel speaks for itself */
			rc = read_batch(&rx.h, (size_t)n, r->h.nlmsg_seq, fn, data, &fn_err);
	}
	rc = rc > 0 ? -ETIMEDOUT : rc ? rc : fn_err;
	if (rc < 0)
		log_debug("netlink: request type %d: %s", r->h.nlmsg_type, strerror(-rc));
	return rc;
}

int nl_link_index(const char *name)
{
	unsigned idx = if_nametoindex(name);

	return idx > 0 && idx <= INT_MAX ? (int)idx : -ENODEV;
}

/* The address file holds "52:54:00:12:34:56\n"; sysfs is case-stable but
 * the caller's text need not be. */
static int mac_matches(const char *path, const char *mac)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return strcasecmp(buf, mac) == 0;
}

int nl_link_by_mac(const char *root, const char *mac, char name[16])
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = -ENODEV;

	if (snprintf(dir, sizeof(dir), "%s/sys/class/net", root) >= (int)sizeof(dir))
		return -ENODEV;
	d = opendir(dir);
	if (!d)
		return -ENODEV;
	while (rc < 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= IFNAMSIZ)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/address", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (mac_matches(path, mac)) {
			strcpy(name, e->d_name);
			rc = 0;
		}
	}
	closedir(d);
	return rc;
}

/* ifi_change masks which ifi_flags bits the kernel applies; IFLA_MTU is
 * applied before the flags in do_setlink(), so the link comes up with it. */
static int link_set(int index, unsigned flags, int mtu)
{
	union nl_req r;
	struct ifinfomsg *ifi = req_init(&r, RTM_NEWLINK, NLM_F_ACK, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_flags = flags;
	ifi->ifi_change = IFF_UP;
	if (mtu > 0) {
		uint32_t m = (uint32_t)mtu;

		req_attr(&r, IFLA_MTU, &m, sizeof(m));
	}
	return nl_talk(&r, NULL, NULL);
}

int nl_link_up(int index, int mtu)
{
	return link_set(index, IFF_UP, mtu);
}

int nl_link_down(int index)
{
	return link_set(index, 0, 0);
}

int nl_addr_add(int index, const struct net_addr *a)
{
	union nl_req r;
	struct ifaddrmsg *ifa;
	int len = addr_len(a->family), rc;

	if (!len || a->prefix < 0 || a->prefix > 8 * len)
		return -EINVAL;
	ifa = req_init(&r, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)a->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)index;
	/* IFA_LOCAL is the address itself, IFA_ADDRESS the peer, which is the
	 * same on a broadcast or point-to-point-less link (if_addr.h). */
	req_attr(&r, IFA_LOCAL, a->bytes, (size_t)len);
	req_attr(&r, IFA_ADDRESS, a->bytes, (size_t)len);
	/* IPv4 does not derive the broadcast itself; /31 and /32 have none
	 * (RFC 3021). */
	if (a->family == AF_INET && a->prefix < 31) {
		uint32_t ip, host = 0xffffffffu >> a->prefix;

		memcpy(&ip, a->bytes, 4);
		ip |= htonl(host);
		req_attr(&r, IFA_BROADCAST, &ip, 4);
	}
	rc = nl_talk(&r, NULL, NULL);
	return rc == -EEXIST ? 0 : rc;
}

/* The addresses of one link that a dump showed: scope universe ones are
 * counted, and up to NL_FLUSH_BATCH kept for deletion. */
struct addr_scan {
	int index, family;
	int global, n, more;
	struct net_addr seen[NL_FLUSH_BATCH];
};

/* The address of a dump's RTM_NEWADDR reply of link index in family (0:
 * either) into a; 0, or -1 for any other reply. */
static int addr_of(const struct nlmsghdr *h, int index, int family, struct net_addr *a)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	const struct rtattr *rta = IFA_RTA(ifa);
	int len = IFA_PAYLOAD(h), alen = addr_len(ifa->ifa_family), local = 0;

	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    (int)ifa->ifa_index != index || !alen || (family && ifa->ifa_family != family))
		return -1;
	*a = (struct net_addr){ .family = ifa->ifa_family, .prefix = ifa->ifa_prefixlen };
	/* IFA_LOCAL is our side; IPv6 sends only IFA_ADDRESS unless there is a
	 * peer (if_addr.h). Deleting by it alone matches in both families. */
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if ((int)RTA_PAYLOAD(rta) == alen &&
		    (rta->rta_type == IFA_LOCAL || (rta->rta_type == IFA_ADDRESS && !local))) {
			memcpy(a->bytes, RTA_DATA(rta), (size_t)alen);
			local |= rta->rta_type == IFA_LOCAL;
		}
	return ifa->ifa_scope == RT_SCOPE_UNIVERSE;
}

static int scan_addr(const struct nlmsghdr *h, void *data)
{
	struct addr_scan *s = data;
	struct net_addr a;
	int global = addr_of(h, s->index, s->family, &a);

	if (global < 0)
		return 0;
	s->global += global;
	if (s->n == NL_FLUSH_BATCH)
		s->more = 1;
	else
		s->seen[s->n++] = a;
	return 0;
}

static int addr_dump(int index, int family, struct addr_scan *s)
{
	union nl_req r;
	struct ifaddrmsg *ifa = req_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));

	/* No NLM_F_ACK: a dump ends with NLMSG_DONE (an error before it starts
	 * is an NLMSG_ERROR). The kernel filters by family, by index only under
	 * NETLINK_GET_STRICT_CHK: scan_addr does. */
	ifa->ifa_family = (uint8_t)family;
	*s = (struct addr_scan){ .index = index, .family = family };
	return nl_talk(&r, scan_addr, s);
}

struct addr_each {
	int index;
	void (*fn)(const struct net_addr *a, void *data);
	void *data;
};

static int each_addr(const struct nlmsghdr *h, void *data)
{
	struct addr_each *e = data;
	struct net_addr a;

	if (addr_of(h, e->index, 0, &a) >= 0)
		e->fn(&a, e->data);
	return 0;
}

int nl_addr_each(int index, void (*fn)(const struct net_addr *a, void *data), void *data)
{
	union nl_req r;
	struct addr_each e = { index, fn, data };

	req_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
	return nl_talk(&r, each_addr, &e);
}

int nl_link_has_addr(int index, int family)
{
	struct addr_scan s;
	int rc = addr_dump(index, family, &s);

	return rc < 0 ? rc : s.global > 0;
}

static int addr_del(int index, const struct net_addr *a)
{
	union nl_req r;
	struct ifaddrmsg *ifa = req_init(&r, RTM_DELADDR, NLM_F_ACK, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)a->prefix;
	ifa->ifa_index = (uint32_t)index;
	req_attr(&r, IFA_LOCAL, a->bytes, (size_t)addr_len(a->family));
	return nl_talk(&r, NULL, NULL);
}

int nl_addr_flush(int index, int family)
{
	struct addr_scan s;
	int rc;

	if (family && !addr_len(family))
		return -EINVAL;
	for (int pass = 0; pass < NL_FLUSH_PASSES; pass++) {
		rc = addr_dump(index, family, &s);
		for (int i = 0; rc == 0 && i < s.n; i++) {
			rc = addr_del(index, &s.seen[i]);
			/* Deleting an IPv4 primary takes its secondaries along
			 * (unless promote_secondaries): those are gone already. */
			if (rc == -EADDRNOTAVAIL || rc == -ENOENT)
				rc = 0;
		}
		if (rc < 0 || !s.more)
			return rc;
	}
	return -EAGAIN;
}

int nl_route_default(int index, const struct net_addr *gw)
{
	union nl_req r;
	struct rtmsg *rtm;
	uint32_t oif = (uint32_t)index;
	int len = addr_len(gw->family), rc;

	if (!len)
		return -EINVAL;
	/* EXCL: a default route already there (LXC's, say) is kept; both
	 * fib_table_insert() and fib6_add_rt2node() answer EEXIST then. */
	rtm = req_init(&r, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)gw->family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	req_attr(&r, RTA_GATEWAY, gw->bytes, (size_t)len);
	req_attr(&r, RTA_OIF, &oif, sizeof(oif));
	rc = nl_talk(&r, NULL, NULL);
	return rc == -EEXIST ? 0 : rc;
}
