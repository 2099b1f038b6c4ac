/* The ACPI power button of a VM (QEMU's system_powerdown, virsh shutdown):
 * the kernel's button driver reports it as EV_KEY/KEY_POWER on an input
 * device; we watch that device in the loop instead of running acpid. */
#ifndef AMPHI_POWER_H
#define AMPHI_POWER_H

/* Can the input device open on fd send KEY_POWER? 1 yes, 0 no, or -errno
 * (ENOTTY: not an evdev node). */
typedef int (*power_probe_fn)(int fd);

/* Tests replace the EVIOCGBIT probe; NULL restores the real ioctl. */
void power_set_probe(power_probe_fn fn);

/* Finds every <root>/dev/input/event* that can send KEY_POWER and watches
 * it; a press starts a power-off. Returns how many devices are watched
 * (0 is logged: the VM then stops only by signal), or -errno. */
int power_button_watch(const char *root);

#endif
