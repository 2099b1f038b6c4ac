/* Kernel modules for a VM: the builder resolved modules.dep and wrote the
 * load order into the image; the init just follows it. */
#ifndef AMPHI_MODULES_H
#define AMPHI_MODULES_H

/* The list, one absolute path per line, dependencies first. */
#define MODULES_LOAD_LIST "/etc/amphi/modules.load"

/* Loads every module listed under root with finit_module. A missing or
 * failing module is one log line; returns how many failed. */
int modules_load(const char *root);

#endif
