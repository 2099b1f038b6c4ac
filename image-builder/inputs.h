/* Where the builder finds what goes into an image: next to the amphi binary
 * by default (build/amphi-init, build/kernel/current, ../rootfs), each
 * overridable from the environment. */
#ifndef AMPHI_INPUTS_H
#define AMPHI_INPUTS_H

#include <limits.h>
#include <stddef.h>

struct inputs {
	char init[PATH_MAX];     /* AMPHI_INIT */
	char busybox[PATH_MAX];  /* AMPHI_BUSYBOX */
	char kernel[PATH_MAX];   /* AMPHI_KERNEL: dir with vmlinuz and root/lib/modules/<kver> */
	char kver[128];
	char skeleton[PATH_MAX]; /* AMPHI_ROOTFS */
	char cache[PATH_MAX];    /* AMPHI_CACHE: Debian trees and packages, kept between builds */
};

/* Fills and checks every input. Returns 0, or -1 with err saying what is
 * missing and how to get it. */
int inputs_find(struct inputs *in, char *err, size_t errlen);

#endif
