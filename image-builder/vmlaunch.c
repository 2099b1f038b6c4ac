/* DIR/vm/launch: the QEMU command line, as a shell script. */
#include "vmlaunch.h"
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
 * with rep movsb, which TCG runs a byte at a time (a virtio port takes
 * 250 MB/s with them, 520 without). */
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
