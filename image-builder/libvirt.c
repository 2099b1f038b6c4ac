/* DIR/vm/domain.xml: the same guest as DIR/vm/launch, for libvirt. */
#include "libvirt.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
