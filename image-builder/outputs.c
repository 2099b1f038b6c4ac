#include "outputs.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* KVM only when /dev/kvm opens read-write AND the CPU has vmx/svm: a
 * /dev/kvm without them gives a guest that spins and prints nothing.
 * No network device yet (-nic none): QEMU's default NIC would be user
 * networking without restrict=on. panic=-1 + -no-reboot: a guest that
 * panics ends QEMU instead of hanging. */
static const char launcher[] =
	"#!/bin/sh\n"
	"# Boots this amphi build under QEMU; extra arguments go to QEMU.\n"
	"#   AMPHI_ACCEL=kvm|tcg   override the accelerator (default: kvm when usable)\n"
	"#   AMPHI_APPEND=...      more kernel command line\n"
	"#   AMPHI_MEM=MiB         guest memory (default 256)\n"
	"here=$(cd \"$(dirname \"$0\")\" && pwd)\n"
	"accel=${AMPHI_ACCEL:-}\n"
	"if [ -z \"$accel\" ]; then\n"
	"\tif (exec 3<>/dev/kvm) 2>/dev/null && grep -qwE 'vmx|svm' /proc/cpuinfo; then\n"
	"\t\taccel=kvm\n"
	"\telse\n"
	"\t\taccel=tcg\n"
	"\tfi\n"
	"fi\n"
	"case $accel in\n"
	"kvm) cpu=host ;;\n"
	"tcg) cpu=max ;;\n"
	"*) echo \"launch: AMPHI_ACCEL=$accel: expected kvm or tcg\" >&2; exit 2 ;;\n"
	"esac\n"
	"[ -n \"${AMPHI_DRY_RUN:-}\" ] && { echo \"accel=$accel\"; exit 0; }\n"
	"exec qemu-system-x86_64 -machine pc,accel=$accel -cpu $cpu -m \"${AMPHI_MEM:-256}\" \\\n"
	"\t-nographic -no-reboot -nic none \\\n"
	"\t-kernel \"$here/vmlinuz\" -initrd \"$here/initramfs.img\" \\\n"
	"\t-append \"console=ttyS0 panic=-1 ${AMPHI_APPEND:-}\" \"$@\"\n";

int write_vm_launcher(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/vm/launch", dir);
	return write_file(path, 0755, launcher, sizeof(launcher) - 1, err, errlen);
}

int write_lxc_config(const char *dir, const struct recipe *r, char *err, size_t errlen)
{
	struct strbuf b = { 0 };
	char path[PATH_MAX];
	int rc;

	/* The halt and reboot signals are set, not left to LXC's guess: with
	 * lxc.signal.halt unset and SIGRTMIN+3 blocked (as by any signalfd
	 * init) LXC would assume systemd. */
	rc = strbuf_printf(&b,
		"# amphi appliance '%s', written by amphi build.\n"
		"# Start:   lxc-start -n %s -f %s/lxc/config   (or: amphi run --lxc %s)\n"
		"# Console: lxc-console -n %s   Stop: lxc-stop -n %s   Restart: lxc-stop -r -n %s\n"
		"lxc.uts.name = %s\n"
		"lxc.rootfs.path = dir:%s/lxc/rootfs\n"
		"lxc.init.cmd = /sbin/init\n"
		"lxc.signal.halt = SIGPWR\n"
		"lxc.signal.reboot = SIGINT\n"
		"lxc.tty.max = %d\n"
		"lxc.pty.max = 16\n"
		"lxc.console.logfile = %s/lxc/console.log\n"
		"lxc.mount.auto = proc:mixed sys:mixed\n"
		"lxc.autodev = 1\n"
		"# No network yet: the container gets only its loopback.\n"
		"lxc.net.0.type = empty\n",
		r->name, r->name, dir, dir, r->name, r->name, r->name,
		r->hostname, dir, r->ttys, dir);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/lxc/config", dir);
	rc = write_file(path, 0644, b.s, b.len, err, errlen);
	free(b.s);
	return rc;
}
