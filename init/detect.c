/* Which world are we in: systemd-detect-virt's checks, in its order, with its
 * IDs (systemd src/basic/virt.c), every path read below a root prefix.
 * Containers first (a container inside a VM is a container), then VMs. */
#include "detect.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__i386__) || defined(__x86_64__)
#include <cpuid.h>
#endif

#define LINE_MAX_DETECT 256

/* ---- reading below the root ---- */

static int path_at(char *buf, size_t n, const char *root, const char *rel)
{
	int len = snprintf(buf, n, "%s%s", root, rel);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

static int exists(const char *root, const char *rel)
{
	char p[PATH_MAX];

	return path_at(p, sizeof(p), root, rel) == 0 && access(p, F_OK) == 0;
}

/* First line of <root><rel> into buf; a NUL ends it too, as device-tree
 * strings are NUL-terminated. Returns its length, or -errno. */
static int read_line_at(const char *root, const char *rel, char *buf, size_t n)
{
	char p[PATH_MAX];
	FILE *f;
	int err = 0;

	if (path_at(p, sizeof(p), root, rel) < 0)
		return -ENAMETOOLONG;
	f = fopen(p, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)n, f)) {
		err = ferror(f) ? -EIO : 0;
		buf[0] = '\0';
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return err < 0 ? err : (int)strlen(buf);
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- containers ---- */

static const char *const container_names[] = {
	"lxc", "lxc-libvirt", "systemd-nspawn", "docker", "podman",
	"rkt", "wsl", "proot", "pouch",
};

/* Checked in order; docker last, because /.dockerenv can end up in any
 * image by accident (moby/moby#18355). */
static const struct {
	const char *path;
	const char *id;
} container_files[] = {
	{ "/run/.containerenv", "podman" },
	{ "/.dockerenv", "docker" },
};

static const char *container_by_file(const char *root)
{
	for (size_t i = 0; i < sizeof(container_files) / sizeof(container_files[0]); i++)
		if (exists(root, container_files[i].path)) {
			log_debug("detect: %s exists: %s", container_files[i].path,
				  container_files[i].id);
			return container_files[i].id;
		}
	return NULL;
}

static const char *container_by_name(const char *root, const char *name)
{
	const char *id;

	/* "oci" names a format, not a manager: look for a manager's files. */
	if (strcmp(name, "oci") == 0) {
		id = container_by_file(root);
		return id ? id : "container-other";
	}
	for (size_t i = 0; i < sizeof(container_names) / sizeof(container_names[0]); i++)
		if (strcmp(name, container_names[i]) == 0)
			return container_names[i];
	log_debug("detect: unknown container manager \"%s\": container-other", name);
	return "container-other";
}

/* $container of <root>/proc/1/environ, streamed so any size is fine.
 * Returns 1 and the value, or 0 when absent or unreadable. */
static int environ_container(const char *root, char *val, size_t n)
{
	static const char key[] = "container=";
	char p[PATH_MAX];
	size_t matched = 0, len = 0;
	int c, in_value = 0, at_start = 1;
	FILE *f;

	if (path_at(p, sizeof(p), root, "/proc/1/environ") < 0 || !(f = fopen(p, "re")))
		return 0;
	while ((c = getc(f)) != EOF) {
		if (in_value) {
			if (c == '\0')
				break;
			if (len < n - 1)
				val[len++] = (char)c;
		} else if (c == '\0') {
			at_start = 1;
			matched = 0;
		} else if (at_start && c == key[matched]) {
			if (++matched == sizeof(key) - 1)
				in_value = 1;
		} else {
			at_start = 0;
		}
	}
	fclose(f);
	val[len] = '\0';
	return in_value;
}

/* What PID 1 was told in $container. Returns 1 with val set, 0 when it is
 * set but empty (authoritatively no container), -1 when nobody said. */
static int container_variable(const char *root, char *val, size_t n)
{
	const char *e;

	if (root[0] == '\0' && getpid() == 1) {
		e = getenv("container");
		if (!e)
			return -1;
		log_debug("detect: $container=\"%s\"", e);
		snprintf(val, n, "%s", e);
		return e[0] != '\0';
	}
	if (read_line_at(root, "/run/systemd/container", val, n) > 0) {
		log_debug("detect: /run/systemd/container: \"%s\"", val);
		return 1;
	}
	if (!environ_container(root, val, n))
		return -1;
	log_debug("detect: /proc/1/environ: container=\"%s\"", val);
	return val[0] != '\0';
}

/* proot ptraces its guest and does not use a PID namespace, so our tracer's
 * comm tells. */
static int traced_by_proot(const char *root)
{
	char line[LINE_MAX_DETECT], p[PATH_MAX], rel[64];
	long pid = 0;
	FILE *f;

	if (path_at(p, sizeof(p), root, "/proc/self/status") < 0 || !(f = fopen(p, "re")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "TracerPid:", 10) == 0) {
			pid = strtol(line + 10, NULL, 10);
			break;
		}
	fclose(f);
	if (pid <= 0)
		return 0;
	snprintf(rel, sizeof(rel), "/proc/%ld/comm", pid);
	if (read_line_at(root, rel, line, sizeof(line)) < 0)
		return 0;
	log_debug("detect: traced by pid %ld, %s: \"%s\"", pid, rel, line);
	return starts_with(line, "proot");
}

/* A cgroup namespace root looks like a nested cgroup from inside. The
 * hierarchy is unified (v2) when the root has cgroup.controllers. */
static int in_cgroupns(const char *root)
{
	if (!exists(root, "/proc/self/ns/cgroup"))
		return 0;
	if (exists(root, "/sys/fs/cgroup/cgroup.controllers")) {
		/* Every kernel has cgroup.events in nested cgroups only... */
		if (!exists(root, "/sys/fs/cgroup/cgroup.events"))
			return 0;
		/* ...and cgroup.type too, where the kernel knows it at all. */
		if (exists(root, "/sys/fs/cgroup/cgroup.type"))
			return 1;
		return !exists(root, "/sys/kernel/cgroup/features");
	}
	/* v1: release_agent exists only in the root of the hierarchy. */
	if (!exists(root, "/sys/fs/cgroup/systemd"))
		return 0;
	return !exists(root, "/sys/fs/cgroup/systemd/release_agent");
}

/* Returns a container ID, or NULL for no container. */
static const char *detect_container(const char *root)
{
	char val[LINE_MAX_DETECT];
	const char *id;
	int r;

	/* /proc/vz is on both sides of OpenVZ, /proc/bc only on the host. */
	if (exists(root, "/proc/vz") && !exists(root, "/proc/bc")) {
		log_debug("detect: /proc/vz without /proc/bc: openvz");
		return "openvz";
	}
	/* Microsoft's documented test (Microsoft/WSL#423). */
	if (read_line_at(root, "/proc/sys/kernel/osrelease", val, sizeof(val)) > 0 &&
	    (strstr(val, "Microsoft") || strstr(val, "WSL"))) {
		log_debug("detect: /proc/sys/kernel/osrelease \"%s\": wsl", val);
		return "wsl";
	}
	if (traced_by_proot(root))
		return "proot";
	if (read_line_at(root, "/run/host/container-manager", val, sizeof(val)) > 0) {
		log_debug("detect: /run/host/container-manager: \"%s\"", val);
		return container_by_name(root, val);
	}
	r = container_variable(root, val, sizeof(val));
	if (r > 0)
		return container_by_name(root, val);
	if (r == 0) {
		log_debug("detect: container variable empty: no container");
		return NULL;
	}
	id = container_by_file(root);
	if (id)
		return id;
	if (in_cgroupns(root)) {
		log_debug("detect: in a cgroup namespace: container-other");
		return "container-other";
	}
	return NULL;
}

/* ---- virtual machines ---- */

static int cpuid_real(uint32_t leaf, uint32_t regs[4])
{
#if defined(__i386__) || defined(__x86_64__)
	unsigned int a, b, c, d;

	/* __get_cpuid checks the basic range only; the hypervisor range
	 * (0x40000000..) is meaningful once leaf 1 said a hypervisor is there. */
	if ((leaf & 0xf0000000U) == 0x40000000U)
		__cpuid(leaf, a, b, c, d);
	else if (!__get_cpuid(leaf, &a, &b, &c, &d))
		return -1;
	regs[0] = a;
	regs[1] = b;
	regs[2] = c;
	regs[3] = d;
	return 0;
#else
	(void)leaf;
	(void)regs;
	return -1;
#endif
}

static detect_cpuid_fn cpuid_probe = cpuid_real;

void detect_set_cpuid(detect_cpuid_fn fn)
{
	cpuid_probe = fn ? fn : cpuid_real;
}

/* Leaf 0x40000000's ebx, ecx, edx; short signatures are NUL-padded. */
static const struct {
	char sig[13];
	const char *id;
} cpuid_vendors[] = {
	{ "XenVMMXenVMM", "xen" },
	{ "KVMKVMKVM", "kvm" },
	{ "Linux KVM Hv", "kvm" },    /* KVM with Hyper-V enlightenments */
	{ "TCGTCGTCGTCG", "qemu" },   /* QEMU without KVM */
	{ "VMwareVMware", "vmware" },
	{ "Microsoft Hv", "microsoft" },
	{ "bhyve bhyve ", "bhyve" },
	{ "QNXQVMBSQG", "qnx" },
	{ "ACRNACRNACRN", "acrn" },
	{ "SRESRESRESRE", "sre" },
	{ "Apple VZ", "apple" },
};

static const char *vm_by_cpuid(void)
{
	uint32_t regs[4];
	char sig[12], shown[13];

	if (cpuid_probe(1, regs) < 0 || !(regs[2] & 0x80000000U)) {
		log_debug("detect: cpuid: no hypervisor bit");
		return NULL;
	}
	if (cpuid_probe(0x40000000U, regs) < 0) {
		log_debug("detect: cpuid: hypervisor bit, no leaf 0x40000000: vm-other");
		return "vm-other";
	}
	memcpy(sig, &regs[1], 4);
	memcpy(sig + 4, &regs[2], 4);
	memcpy(sig + 8, &regs[3], 4);
	for (size_t i = 0; i < sizeof(sig); i++)
		shown[i] = sig[i] >= 0x20 && sig[i] < 0x7f ? sig[i] : '.';
	shown[sizeof(sig)] = '\0';
	for (size_t i = 0; i < sizeof(cpuid_vendors) / sizeof(cpuid_vendors[0]); i++)
		if (memcmp(sig, cpuid_vendors[i].sig, sizeof(sig)) == 0) {
			log_debug("detect: cpuid \"%s\": %s", shown, cpuid_vendors[i].id);
			return cpuid_vendors[i].id;
		}
	log_debug("detect: cpuid \"%s\" unknown: vm-other", shown);
	return "vm-other";
}

/* product_name first, so KVM's "KVM" wins over the "QEMU" in sys_vendor. */
static const char *const dmi_files[] = {
	"/sys/class/dmi/id/product_name",
	"/sys/class/dmi/id/sys_vendor",
	"/sys/class/dmi/id/board_vendor",
	"/sys/class/dmi/id/bios_vendor",
	"/sys/class/dmi/id/product_version", /* Hyper-V */
};

static const struct {
	const char *prefix;
	const char *id;
} dmi_vendors[] = {
	{ "KVM", "kvm" },               { "OpenStack", "kvm" },
	{ "KubeVirt", "kvm" },          { "Amazon EC2", "amazon" },
	{ "QEMU", "qemu" },             { "VMware", "vmware" },
	{ "VMW", "vmware" },            { "innotek GmbH", "oracle" },
	{ "VirtualBox", "oracle" },     { "Oracle Corporation", "oracle" },
	{ "Xen", "xen" },               { "Bochs", "bochs" },
	{ "Parallels", "parallels" },   { "BHYVE", "bhyve" },
	{ "Hyper-V", "microsoft" },     { "Apple Virtualization", "apple" },
	{ "Google Compute Engine", "google" },
};

static const char *vm_by_dmi(const char *root)
{
	char line[LINE_MAX_DETECT];

	for (size_t f = 0; f < sizeof(dmi_files) / sizeof(dmi_files[0]); f++) {
		if (read_line_at(root, dmi_files[f], line, sizeof(line)) < 0)
			continue;
		for (size_t i = 0; i < sizeof(dmi_vendors) / sizeof(dmi_vendors[0]); i++)
			if (starts_with(line, dmi_vendors[i].prefix)) {
				log_debug("detect: %s \"%s\": %s", dmi_files[f], line,
					  dmi_vendors[i].id);
				return dmi_vendors[i].id;
			}
	}
	log_debug("detect: DMI: no known vendor");
	return NULL;
}

/* User Mode Linux runs as a process, possibly inside another VM. */
static const char *vm_by_uml(const char *root)
{
	char line[LINE_MAX_DETECT], p[PATH_MAX];
	const char *id = NULL;
	int line_start = 1;
	FILE *f;

	if (path_at(p, sizeof(p), root, "/proc/cpuinfo") < 0 || !(f = fopen(p, "re")))
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		/* A long line comes in pieces; only a line's start counts. */
		int start = line_start;

		line_start = strchr(line, '\n') != NULL;
		if (!start || !starts_with(line, "vendor_id\t: "))
			continue;
		if (starts_with(line + strlen("vendor_id\t: "), "User Mode Linux")) {
			log_debug("detect: /proc/cpuinfo vendor_id User Mode Linux: uml");
			id = "uml";
		}
		break;
	}
	fclose(f);
	return id;
}

/* Xen's hardware domain (dom0) is the host, not a guest. */
static int xen_is_dom0(const char *root)
{
	char line[LINE_MAX_DETECT], *tok, *save, *end;
	unsigned long features;

	if (read_line_at(root, "/sys/hypervisor/properties/features", line, sizeof(line)) > 0 &&
	    (features = strtoul(line, &end, 16), end != line)) {
		/* XENFEAT_dom0 = 11, xen/include/public/features.h */
		log_debug("detect: /sys/hypervisor/properties/features %08lx: dom0 bit %s",
			  features, features & (1UL << 11) ? "set" : "clear");
		return !!(features & (1UL << 11));
	}
	if (read_line_at(root, "/proc/xen/capabilities", line, sizeof(line)) < 0)
		return 0;
	for (tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, "control_d") == 0) {
			log_debug("detect: /proc/xen/capabilities has control_d: dom0");
			return 1;
		}
	return 0;
}

static const char *vm_by_sys_hypervisor(const char *root)
{
	char line[LINE_MAX_DETECT];

	if (read_line_at(root, "/sys/hypervisor/type", line, sizeof(line)) < 0)
		return NULL;
	log_debug("detect: /sys/hypervisor/type \"%s\"", line);
	return strcmp(line, "xen") == 0 ? "xen" : "vm-other";
}

/* Absent on x86, so reading it everywhere is harmless. */
static const char *vm_by_device_tree(const char *root)
{
	char line[LINE_MAX_DETECT];

	if (read_line_at(root, "/proc/device-tree/hypervisor/compatible", line, sizeof(line)) < 0)
		return NULL;
	log_debug("detect: /proc/device-tree/hypervisor/compatible \"%s\"", line);
	if (strcmp(line, "linux,kvm") == 0)
		return "kvm";
	if (strstr(line, "xen"))
		return "xen";
	if (strstr(line, "vmware"))
		return "vmware";
	return "vm-other";
}

static int is(const char *id, const char *name)
{
	return id && strcmp(id, name) == 0;
}

/* systemd's order: DMI names that hide behind another hypervisor's CPUID
 * (VirtualBox and Amazon on KVM, Xen cloaked as Hyper-V) first, then UML
 * and Xen PV (no CPUID of their own), then CPUID, then the rest. A Hyper-V
 * signature may be QEMU's enlightenments, so it only counts at the end. */
static const char *detect_vm(const char *root)
{
	const char *dmi, *id;
	int hyperv = 0, other = 0, dom0 = 0;

	dmi = vm_by_dmi(root);
	if (is(dmi, "oracle") || is(dmi, "xen") || is(dmi, "amazon") ||
	    is(dmi, "parallels") || is(dmi, "google"))
		return dmi;
	if ((id = vm_by_uml(root)))
		return id;
	if (exists(root, "/proc/xen")) {
		log_debug("detect: /proc/xen exists");
		dom0 = xen_is_dom0(root);
		if (!dom0)
			return "xen";
	}
	id = vm_by_cpuid();
	if (is(id, "microsoft"))
		hyperv = 1;
	else if (is(id, "vm-other"))
		other = 1;
	else if (id)
		return id;
	if (!dom0) {
		if (dmi)
			return dmi;
		id = vm_by_sys_hypervisor(root);
		if (id && !is(id, "vm-other"))
			return id;
		other |= id != NULL;
		id = vm_by_device_tree(root);
		if (id && !is(id, "vm-other"))
			return id;
		other |= id != NULL;
	}
	return hyperv ? "microsoft" : other ? "vm-other" : NULL;
}

struct detect_result detect_virt(const char *root)
{
	struct detect_result res = { "none", WORLD_NONE };
	const char *id;

	if (!root)
		root = "";
	if ((id = detect_container(root))) {
		res.id = id;
		res.world = WORLD_CONTAINER;
	} else if ((id = detect_vm(root))) {
		res.id = id;
		res.world = WORLD_VM;
	}
	log_debug("detect: %s (%s)", res.id,
		  res.world == WORLD_CONTAINER ? "container" :
		  res.world == WORLD_VM ? "vm" : "no virtualization");
	return res;
}
