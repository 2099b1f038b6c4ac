/* Which world are we in? The same checks, order and IDs as systemd-detect-virt
 * (src/basic/virt.c), but every file is read below a root prefix so the real
 * code runs in unit tests against fixture trees. */
#ifndef AMPHI_DETECT_H
#define AMPHI_DETECT_H

#include <stdint.h>

enum world { WORLD_NONE, WORLD_VM, WORLD_CONTAINER };

struct detect_result {
	const char *id;    /* systemd-detect-virt's name: "kvm", "qemu", "lxc", "none", ... */
	enum world world;
};

/* regs[0..3] = eax, ebx, ecx, edx for CPUID leaf `leaf` (subleaf 0).
 * Returns 0, or -1 when the CPU has no such leaf / no CPUID at all. */
typedef int (*detect_cpuid_fn)(uint32_t leaf, uint32_t regs[4]);

/* Tests replace the CPUID probe; NULL restores the real instruction. */
void detect_set_cpuid(detect_cpuid_fn fn);

/* root: "" for the live system, else a fixture directory (no trailing slash).
 * Containers first, then VMs, like systemd. Never fails: unreadable files
 * count as absent, and the answer is at worst "none". */
struct detect_result detect_virt(const char *root);

#endif
