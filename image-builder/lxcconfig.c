/* The LXC config lines of an appliance: LXC's own confinement, amphi's
 * init, ttys, log directory and networks, the recipe's [lxc] lines; and
 * DIR/lxc/config, which holds them for lxc-start -f. */
#include "lxcconfig.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lxc.net.N: a veth on the recipe's bridge for each [network.NAME] that
 * names one; otherwise no network but loopback. */
static int lxc_net(struct strbuf *b, const struct recipe *r, int standalone)
{
	int n = 0;
	for (int i = 0; i < r->nnets; i++) {
		const struct recipe_net *net = &r->net[i];
		if (!net->bridge[0])
			continue;
		if (strbuf_printf(b, "lxc.net.%d.type = veth\nlxc.net.%d.link = %s\nlxc.net.%d.name = %s\n"
				  "lxc.net.%d.flags = up\n", n, n, net->bridge, n, net->name, n) < 0 ||
		    (net->mac[0] && strbuf_printf(b, "lxc.net.%d.hwaddr = %s\n", n, net->mac) < 0))
			return -1;
		n++;
	}
	/* Under lxc-create the config already has LXC's default network. */
	if (n == 0 && standalone)
		return strbuf_printf(b, "# No [network.NAME] with a bridge: the container gets only its loopback.\n"
				     "lxc.net.0.type = empty\n");
	return 0;
}

/* LXC's own confinement, as its distribution templates (lxc-download,
 * images.linuxcontainers.org) include it: common.conf drops sys_module,
 * sys_rawio, sys_time, mac_admin and mac_override, allows a short list of
 * devices and loads common.seccomp (init_module, finit_module,
 * delete_module, kexec_load, open_by_handle_at and umount -f refused);
 * userns.conf adjusts it for an lxc.idmap container. Included, not
 * copied: LXC keeps them. */
int lxc_confinement_lines(struct strbuf *b, const char *confdir, int userns)
{
	/* common.conf ends with common.conf.d/, where lxcfs's package adds a
	 * post-stop hook that sleeps 0.5 s on every stop (lxcfs PR 53: so a
	 * restarted container sees no stale cgroupfs entries of lxcfs's; its
	 * mount hook gives no cgroupfs view where LXC has cgroup namespaces,
	 * as on any current kernel). On the minimal recipe lxc-stop takes
	 * 524 ms with it, 20 ms without; no other line of common.conf costs
	 * time. It confines nothing. An empty value
	 * clears the hooks set so far; ones set after these lines stay. */
	if (strbuf_printf(b,
		"# LXC's own confinement, as its templates include it: capabilities dropped,\n"
		"# a devices allow-list, the common.seccomp syscall policy.\n"
		"lxc.include = %s/common.conf\n", confdir) < 0 ||
	    (userns && strbuf_printf(b, "lxc.include = %s/userns.conf\n", confdir) < 0))
		return -1;
	return strbuf_printf(b,
		"# lxcfs's post-stop hook (common.conf.d) sleeps 0.5 s on every stop; it confines nothing.\n"
		"lxc.hook.post-stop =\n");
}

int lxc_recipe_userns(const struct recipe *r)
{
	for (int i = 0; i < r->nlxc; i++)
		if (!strcmp(r->lxc[i].key, "lxc.idmap"))
			return 1;
	return 0;
}

int lxc_map_id(const struct recipe *r, char kind, unsigned id, unsigned *host)
{
	for (int i = 0; i < r->nlxc; i++) {
		char k;
		unsigned long ns, at, count;
		if (strcmp(r->lxc[i].key, "lxc.idmap") ||
		    sscanf(r->lxc[i].value, " %c %lu %lu %lu", &k, &ns, &at, &count) != 4 || k != kind)
			continue;
		if (id >= ns && id - ns < count) {
			*host = (unsigned)(at + (id - ns));
			return 0;
		}
	}
	return -1;
}

int lxc_config_lines(struct strbuf *b, const char *base, const struct recipe *r, int standalone)
{
	/* The halt and reboot signals are set, not left to LXC's guess: with
	 * lxc.signal.halt unset and SIGRTMIN+3 blocked (as by any signalfd
	 * init) LXC would assume systemd. common.conf's lxc.tty.dir = lxc
	 * makes the ttys /dev/lxc/ttyN (bound onto /dev/ttyN): the shell's
	 * tty then says lxc/tty1, and busybox login refuses root on a line
	 * /etc/securetty does not name. It confines nothing. */
	if (strbuf_printf(b,
		"lxc.init.cmd = /sbin/init\n"
		"lxc.signal.halt = SIGPWR\n"
		"lxc.signal.reboot = SIGINT\n"
		"lxc.tty.dir =\n"
		"lxc.tty.max = %d\n"
		"lxc.pty.max = 16\n"
		"lxc.console.logfile = %s/console.log\n"
		"lxc.mount.auto = proc:mixed sys:mixed\n"
		"lxc.autodev = 1\n"
		"# The log stream: amphi.sock appears here (read it with amphi logs --connect).\n"
		"# A host directory: nothing in it is run, opened as a device or setuid inside.\n"
		"lxc.mount.entry = %s/host var/lib/amphi/host none bind,create=dir,nosuid,nodev,noexec 0 0\n",
		r->ttys, base, base) < 0 || lxc_net(b, r, standalone) < 0)
		return -1;
	if (r->nlxc && strbuf_printf(b, "# The appliance's own lines ([lxc] in its recipe).\n") < 0)
		return -1;
	for (int i = 0; i < r->nlxc; i++)
		if (strbuf_printf(b, "%s = %s\n", r->lxc[i].key, r->lxc[i].value) < 0)
			return -1;
	return 0;
}

int write_lxc_config(const char *dir, const struct recipe *r, char *err, size_t errlen)
{
	struct strbuf b = { 0 };
	char path[PATH_MAX], base[PATH_MAX];
	int rc;

	snprintf(base, sizeof(base), "%s/lxc", dir);
	rc = strbuf_printf(&b,
		"# amphi appliance '%s', written by amphi build.\n"
		"# Start:   lxc-start -n %s -f %s/lxc/config   (or: amphi run --lxc %s)\n"
		"# Console: lxc-console -n %s   Stop: lxc-stop -n %s   Restart: lxc-stop -r -n %s\n"
		"lxc.uts.name = %s\n"
		"lxc.rootfs.path = dir:%s/lxc/rootfs\n",
		r->name, r->name, dir, dir, r->name, r->name, r->name, r->hostname, dir);
	if (rc == 0)
		rc = lxc_confinement_lines(&b, LXC_TEMPLATE_CONFIG, lxc_recipe_userns(r));
	if (rc == 0)
		rc = lxc_config_lines(&b, base, r, 1);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/lxc/config", dir);
	rc = write_file(path, 0644, b.s, b.len, err, errlen);
	free(b.s);
	return rc;
}
