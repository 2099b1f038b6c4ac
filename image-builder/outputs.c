#include "outputs.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KVM only when /dev/kvm opens read-write AND the CPU has vmx/svm: a
 * /dev/kvm without them gives a guest that spins and prints nothing. sh's
 * <> opens with O_CREAT: only a character device is tried, or a machine
 * without /dev/kvm would get an empty file there (libvirt then refuses
 * every domain).
 * panic=-1 + -no-reboot: a guest that panics ends QEMU instead of hanging.
 * Under TCG the CPU hides ERMS and FSRM: with them the guest kernel copies
 * with rep movsb, which TCG runs a byte at a time (measured: a virtio port
 * took 250 MB/s with them, 520 without). */
static const char launcher_head[] =
	"#!/bin/sh\n"
	"# Boots this amphi build under QEMU; extra arguments go to QEMU.\n"
	"#   AMPHI_ACCEL=kvm|tcg   override the accelerator (default: kvm when usable)\n"
	"#   AMPHI_APPEND=...      more kernel command line (ip=... for instance)\n"
	"#   AMPHI_MEM=MiB         guest memory (default 256)\n"
	"#   AMPHI_NETDEV=...      the first NIC's -netdev backend (default user,restrict=on)\n"
	"#   AMPHI_LOG_DIR=DIR     where the log ports' sockets go: amphi.sock (the amphi\n"
	"#                         stream, read it with amphi logs) and anaconda.sock (default: here)\n"
	"#   AMPHI_LOG_CHARDEV=... QEMU chardev backend for org.amphi.log.0 instead, e.g.\n"
	"#                         socket,host=127.0.0.1,port=514,reconnect=1 (rsyslog's imtcp)\n"
	"#   AMPHI_ANACONDA_CHARDEV=... the same for org.fedoraproject.anaconda.log.0\n"
	"#   AMPHI_AGENT_CHARDEV=... the same for the guest agent, org.qemu.guest_agent.0\n"
	"#                         (default: agent.sock beside the log sockets; amphi ctl speaks it)\n"
	"#   AMPHI_DISK=PATH       a raw disk image (or device) as virtio-blk vda with its own\n"
	"#                         iothread, cache=none; cache=writeback where PATH has no\n"
	"#                         O_DIRECT (ramfs, old tmpfs). Make one: truncate -s 1G PATH\n"
	"#                         (empty), or amphi install RECIPE --disk PATH\n"
	"#   AMPHI_DATA=PATH       with [image] overlay = disk: the data disk that holds what the\n"
	"#                         appliance writes (default: data.img here)\n"
	"#   AMPHI_DRY_RUN=1       print the accelerator (and the disks' arguments), boot nothing\n"
	"here=$(cd \"$(dirname \"$0\")\" && pwd)\n"
	"accel=${AMPHI_ACCEL:-}\n"
	"if [ -z \"$accel\" ]; then\n"
	"\tif [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null && grep -qwE 'vmx|svm' /proc/cpuinfo; then\n"
	"\t\taccel=kvm\n"
	"\telse\n"
	"\t\taccel=tcg\n"
	"\tfi\n"
	"fi\n"
	"case $accel in\n"
	"kvm) cpu=host ;;\n"
	"tcg) cpu=max,-erms,-fsrm ;;\n"
	"*) echo \"launch: AMPHI_ACCEL=$accel: expected kvm or tcg\" >&2; exit 2 ;;\n"
	"esac\n";

/* Disks on virtio-blk, each served by an iothread of its own, so disk I/O
 * is not done in QEMU's main loop under its global lock. cache=none
 * (O_DIRECT: no second copy in the host's page cache) with aio=native,
 * which QEMU allows only with O_DIRECT. A file system without O_DIRECT
 * (ramfs; tmpfs before Linux 6.6) refuses it at open(2) with EINVAL, so a
 * one-block direct read tells. QEMU's option syntax doubles a comma inside
 * a value. disk_opts N ID PATH DRIVE_OPTS DEVICE_OPTS sets $obj, $drv and
 * $dev. Each disk's arguments go before those already in "$@", which come
 * before the caller's: the disks are added last one first, so the user's
 * (AMPHI_DISK) is the first virtio disk the guest finds, vda. */
static const char launcher_disk_fns[] =
	"disk_cache() {\n"
	"\tif dd if=\"$1\" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then\n"
	"\t\techo cache=none,aio=native\n"
	"\telse\n"
	"\t\techo \"launch: $1 is on a file system without O_DIRECT (tmpfs?);\" \\\n"
	"\t\t\t\"using cache=writeback,aio=threads\" >&2\n"
	"\t\techo cache=writeback,aio=threads\n"
	"\tfi\n"
	"}\n"
	"disk_opts() {\n"
	"\tobj=iothread,id=iothread$1\n"
	"\tdrv=\"file=$(printf '%s' \"$3\" | sed 's/,/,,/g'),format=raw,if=none,id=$2$4,$(disk_cache \"$3\")\"\n"
	"\tdev=virtio-blk-pci,drive=$2,iothread=iothread$1$5\n"
	"}\n"
	"diskargs= rootargs= dataargs=\n";

/* overlay = disk: the appliance's writes go to a data disk, found by its
 * serial. */
static const char launcher_data[] =
	"data=${AMPHI_DATA:-$here/data.img}\n"
	"if [ ! -e \"$data\" ]; then\n"
	"\techo \"launch: AMPHI_DATA=$data: no such file; this appliance keeps what it writes on a data disk:\" \\\n"
	"\t\t\"make an empty one with 'truncate -s 1G $data' (its first boot formats it)\" >&2\n"
	"\texit 2\n"
	"fi\n"
	"disk_opts 2 data0 \"$data\" \"\" ,serial=" RECIPE_DATA_SERIAL "\n"
	"set -- -object \"$obj\" -drive \"$drv\" -device \"$dev\" \"$@\"\n"
	"dataargs=\"-object $obj -drive $drv -device $dev\"\n";

/* The root image, read-only, found by its serial. Without it the init says
 * on the console what is missing. */
static const char launcher_root[] =
	"if [ -e \"$here/root.img\" ]; then\n"
	"\tdisk_opts 1 root0 \"$here/root.img\" ,readonly=on ,serial=" RECIPE_ROOT_SERIAL "\n"
	"\tset -- -object \"$obj\" -drive \"$drv\" -device \"$dev\" \"$@\"\n"
	"\trootargs=\"-object $obj -drive $drv -device $dev\"\n"
	"fi\n";

static const char launcher_disk[] =
	"if [ -n \"${AMPHI_DISK:-}\" ]; then\n"
	"\tif [ ! -e \"$AMPHI_DISK\" ]; then\n"
	"\t\techo \"launch: AMPHI_DISK=$AMPHI_DISK: no such file; make an empty disk with\" \\\n"
	"\t\t\t\"'truncate -s 1G $AMPHI_DISK' or install one with 'amphi install RECIPE --disk $AMPHI_DISK'\" >&2\n"
	"\t\texit 2\n"
	"\tfi\n"
	"\tdisk_opts 0 disk0 \"$AMPHI_DISK\"\n"
	"\tset -- -object \"$obj\" -drive \"$drv\" -device \"$dev\" \"$@\"\n"
	"\tdiskargs=\"-object $obj -drive $drv -device $dev\"\n"
	"fi\n"
	"if [ -n \"${AMPHI_DRY_RUN:-}\" ]; then\n"
	"\techo \"accel=$accel\"\n"
	"\tfor a in \"disk=$diskargs\" \"root=$rootargs\" \"data=$dataargs\"; do [ -z \"${a#*=}\" ] || echo \"$a\"; done\n"
	"\texit 0\n"
	"fi\n";

static const char launcher_qemu[] =
	"logs=${AMPHI_LOG_DIR:-$here}\n"
	"exec qemu-system-x86_64 -machine pc,accel=$accel -cpu $cpu -m \"${AMPHI_MEM:-256}\" \\\n"
	"\t-nographic -no-reboot \\\n"
	"\t-device virtio-serial-pci \\\n"
	"\t-chardev \"${AMPHI_LOG_CHARDEV:-socket,path=$logs/amphi.sock,server=on,wait=off},id=amphilog\" \\\n"
	"\t-device virtserialport,chardev=amphilog,name=org.amphi.log.0 \\\n"
	"\t-chardev \"${AMPHI_ANACONDA_CHARDEV:-socket,path=$logs/anaconda.sock,server=on,wait=off},id=anacondalog\" \\\n"
	"\t-device virtserialport,chardev=anacondalog,name=org.fedoraproject.anaconda.log.0 \\\n"
	"\t-chardev \"${AMPHI_AGENT_CHARDEV:-socket,path=$logs/agent.sock,server=on,wait=off},id=agent\" \\\n"
	"\t-device virtserialport,chardev=agent,name=org.qemu.guest_agent.0 \\\n";

static const char launcher_tail[] =
	"\t-kernel \"$here/vmlinuz\" -initrd \"$here/initramfs.img\" \\\n"
	"\t-append \"console=ttyS0 panic=-1 ${AMPHI_APPEND:-}\" \"$@\"\n";

/* One virtio NIC per [network.NAME], in order: the guest names them eth0,
 * eth1, ... QEMU's user networking only with restrict=on (nothing leaves
 * the host); none at all without network sections (QEMU would add one). */
static int launcher_nics(struct strbuf *b, const struct recipe *r)
{
	if (r->nnets == 0)
		return strbuf_printf(b, "\t-nic none \\\n");
	for (int i = 0; i < r->nnets; i++) {
		char mac[32] = "";
		if (r->net[i].mac[0])
			snprintf(mac, sizeof(mac), ",mac=%s", r->net[i].mac);
		if (strbuf_printf(b, "\t-netdev \"%s,id=net%d\" -device virtio-net-pci,netdev=net%d%s \\\n",
				  i == 0 ? "${AMPHI_NETDEV:-user,restrict=on}" : "user,restrict=on", i, i, mac) < 0)
			return -1;
	}
	return 0;
}

int write_vm_launcher(const char *dir, const struct recipe *r, char *err, size_t errlen)
{
	struct strbuf b = { 0 };
	char path[PATH_MAX];
	int rc = -1;

	int image = recipe_root_image(r), data = r->image_overlay == OVERLAY_DISK;

	if (strbuf_printf(&b, "%s%s%s%s%s%s", launcher_head, launcher_disk_fns, data ? launcher_data : "",
			  image ? launcher_root : "", launcher_disk, launcher_qemu) < 0 ||
	    launcher_nics(&b, r) < 0 || strbuf_printf(&b, "%s", launcher_tail) < 0)
		snprintf(err, errlen, "out of memory");
	else {
		snprintf(path, sizeof(path), "%s/vm/launch", dir);
		rc = write_file(path, 0755, b.s, b.len, err, errlen);
	}
	free(b.s);
	return rc;
}

/* DIR/vm/domain.xml: the same machine for libvirt. The comments hold no
 * text of the build's (an XML comment may not contain "--", which a path or
 * a command line may); what names this build goes into <description>.
 * The head's %1$s is the name, %2$s the build directory, both escaped. */
static const char domain_xml[] =
	"<!-- An amphi appliance for libvirt, written by amphi build:\n"
	"       virsh define domain.xml; virsh start NAME; virsh console NAME\n"
	"     virsh shutdown NAME presses the ACPI power button: the init stops its\n"
	"     services and powers off. virsh desc NAME says where the disk and the\n"
	"     log sockets are.\n"
	"     type='qemu' is TCG emulation, which runs anywhere; where KVM works,\n"
	"     type='kvm' is much faster. -->\n"
	"<domain type='qemu'>\n"
	"  <name>%1$s</name>\n"
	"  <description>amphi appliance %1$s. Its disk is %2$s/vm/disk.img: create it before "
	"virsh start, empty with truncate -s 1G %2$s/vm/disk.img, or with amphi install RECIPE "
	"--disk %2$s/vm/disk.img. Read its log stream with amphi logs --connect %2$s/vm/amphi.sock; "
	"%2$s/vm/anaconda.sock carries the same records as Anaconda text lines.</description>\n"
	"  <memory unit='MiB'>256</memory>\n"
	"  <vcpu>1</vcpu>\n";

/* The domain's parts after the head: %s is the build directory, escaped. */
static const char domain_os[] =
	"  <os>\n"
	"    <type arch='x86_64' machine='pc'>hvm</type>\n"
	"    <kernel>%s/vm/vmlinuz</kernel>\n"
	"    <initrd>%s/vm/initramfs.img</initrd>\n"
	"    <!-- To boot the system amphi install put on the disk, add root=/dev/vda1,\n"
	"         as amphi run does when it is given a disk. -->\n"
	"    <cmdline>console=ttyS0 panic=-1</cmdline>\n"
	"  </os>\n"
	"  <features>\n"
	"    <acpi/>\n"
	"  </features>\n"
	"  <!-- TCG runs rep movsb a byte at a time: the kernel copies faster without these. -->\n"
	"  <cpu mode='maximum' check='none'>\n"
	"    <feature policy='disable' name='erms'/>\n"
	"    <feature policy='disable' name='fsrm'/>\n"
	"  </cpu>\n"
	"  <on_poweroff>destroy</on_poweroff>\n"
	"  <on_reboot>restart</on_reboot>\n"
	"  <on_crash>destroy</on_crash>\n"
	"  <devices>\n"
	"    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
	"    <!-- The disk: vm/disk.img of this build (see the description), vda in the\n"
	"         guest, served by the domain's iothread. cache='none' needs O_DIRECT:\n"
	"         where the file system has none (ramfs; tmpfs before Linux 6.6) use\n"
	"         cache='writeback' io='threads'. -->\n"
	"    <disk type='file' device='disk'>\n"
	"      <driver name='qemu' type='raw' cache='none' io='native' iothread='1'/>\n"
	"      <source file='%s/vm/disk.img'/>\n"
	"      <target dev='vda' bus='virtio'/>\n"
	"    </disk>\n";

/* libvirt gives the disks PCI slots in the order of their targets, and the
 * guest names them in that order: the disk above stays vda. */
static const char domain_root_disk[] =
	"    <!-- The root image: this build's tree, read-only; the init finds it by its serial. -->\n"
	"    <disk type='file' device='disk'>\n"
	"      <driver name='qemu' type='raw' cache='none' io='native' iothread='2'/>\n"
	"      <source file='%s/vm/root.img'/>\n"
	"      <target dev='vdb' bus='virtio'/>\n"
	"      <readonly/>\n"
	"      <serial>" RECIPE_ROOT_SERIAL "</serial>\n"
	"    </disk>\n";

static const char domain_data_disk[] =
	"    <!-- The data disk that keeps what the appliance writes ([image] overlay = disk):\n"
	"         amphi build made it empty, the first boot formats it. -->\n"
	"    <disk type='file' device='disk'>\n"
	"      <driver name='qemu' type='raw' cache='none' io='native' iothread='3'/>\n"
	"      <source file='%s/vm/data.img'/>\n"
	"      <target dev='vdc' bus='virtio'/>\n"
	"      <serial>" RECIPE_DATA_SERIAL "</serial>\n"
	"    </disk>\n";

static const char domain_tail[] =
	"    <serial type='pty'>\n"
	"      <target port='0'/>\n"
	"    </serial>\n"
	"    <console type='pty'>\n"
	"      <target type='serial' port='0'/>\n"
	"    </console>\n"
	"    <!-- The init's two log ports; QEMU listens on the sockets, as with vm/launch. -->\n"
	"    <controller type='virtio-serial' index='0'/>\n"
	"    <channel type='unix'>\n"
	"      <source mode='bind' path='%s/vm/amphi.sock'/>\n"
	"      <target type='virtio' name='org.amphi.log.0'/>\n"
	"    </channel>\n"
	"    <channel type='unix'>\n"
	"      <source mode='bind' path='%s/vm/anaconda.sock'/>\n"
	"      <target type='virtio' name='org.fedoraproject.anaconda.log.0'/>\n"
	"    </channel>\n"
	"    <!-- PID 1's guest agent: virsh shutdown, domifaddr, guestinfo, domtime. -->\n"
	"    <channel type='unix'>\n"
	"      <target type='virtio' name='org.qemu.guest_agent.0'/>\n"
	"    </channel>\n"
	"    <!-- No network card. For one, add\n"
	"           <interface type='network'><source network='default'/><model type='virtio'/></interface>\n"
	"         the guest names it eth0 and configures it as the recipe's [network.eth0] says. -->\n"
	"    <controller type='usb' model='none'/>\n"
	"    <memballoon model='none'/>\n"
	"  </devices>\n"
	"</domain>\n";

/* s as XML character data or attribute value: the five predefined entities
 * (XML 1.0 §4.6). Control characters are refused: XML 1.0 has no place
 * for most of them, and an attribute would turn the rest into spaces (§3.3.3). */
static int xml_escape(struct strbuf *b, const char *s, const char *what, char *err, size_t errlen)
{
	static const char *const entity[256] = {
		['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['\''] = "&apos;", ['"'] = "&quot;",
	};

	if (strbuf_printf(b, "%s", "") < 0)
		goto oom;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "%s '%s' has a control character (0x%02x), which domain.xml cannot hold",
				 what, s, c);
			return -1;
		}
		if ((entity[c] ? strbuf_printf(b, "%s", entity[c]) : strbuf_printf(b, "%c", c)) < 0)
			goto oom;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int write_libvirt_domain(const char *dir, const struct recipe *r, char *err, size_t errlen)
{
	struct strbuf name = { 0 }, abs = { 0 }, b = { 0 };
	char path[PATH_MAX];
	int rc = -1;

	if (xml_escape(&name, r->name, "the recipe's name", err, errlen) < 0 ||
	    xml_escape(&abs, dir, "the output directory", err, errlen) < 0)
		goto out;
	int image = recipe_root_image(r), data = r->image_overlay == OVERLAY_DISK;
	if (strbuf_printf(&b, domain_xml, name.s, abs.s) < 0 ||
	    strbuf_printf(&b, "  <iothreads>%d</iothreads>\n", 1 + image + data) < 0 ||
	    strbuf_printf(&b, domain_os, abs.s, abs.s, abs.s) < 0 ||
	    (image && strbuf_printf(&b, domain_root_disk, abs.s) < 0) ||
	    (data && strbuf_printf(&b, domain_data_disk, abs.s) < 0) ||
	    strbuf_printf(&b, domain_tail, abs.s, abs.s) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/vm/domain.xml", dir);
	rc = write_file(path, 0644, b.s, b.len, err, errlen);
out:
	free(name.s);
	free(abs.s);
	free(b.s);
	return rc;
}

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
	 * as on any current kernel). Measured on the minimal recipe: lxc-stop
	 * 524 ms with it, 20 ms without, as before the include; no other line
	 * of common.conf costs time. It confines nothing. An empty value
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
