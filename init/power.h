/* The ACPI power button of a VM (QEMU's system_powerdown, virsh shutdown):
 * the kernel's button driver reports it as EV_KEY/KEY_POWER on an input
 * device; we watch that device in the loop instead of running acpid. */
#ifndef AMPHI_POWER_H
#define AMPHI_POWER_H

/* Finds every <root>/dev/input/event* that can send KEY_POWER and watches
 * it; a press starts a power-off. Returns how many devices are watched
 * (0 is logged: the VM then stops only by signal), or -errno. */
int power_button_watch(const char *root);

#endif
