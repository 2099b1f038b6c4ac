/* Login prompts, zero configuration by default: a getty on the kernel's
 * console in a VM, on every tty LXC made in a container; respawned. */
#ifndef AMPHI_TTY_H
#define AMPHI_TTY_H

#include "detect.h"
#include "recipe.h"

#include <sys/types.h>

#define TTY_MAX RECIPE_TTYS_MAX
#define TTY_NAME_MAX 32

/* Turns the recipe's getty list into device names below /dev ("ttyS0",
 * "hvc0", "tty1"): "auto" is the console in a VM (console= on <root>/proc/cmdline,
 * last wins, else <root>/sys/class/tty/console/active) and every entry of
 * container_ttys ("pts/0 pts/1", LXC's environment) in a container;
 * "console" is the kernel's console; "none" is nothing. Returns the count. */
int tty_resolve(const char *root, enum world world, const struct recipe *r,
		const char *container_ttys, char names[][TTY_NAME_MAX], int max);

/* Starts a getty (or, with autologin, a root shell) on each resolved tty. */
void tty_start(const char *root, enum world world, const struct recipe *r);
/* Stop respawning: the system is going down. */
void tty_stop(void);

#endif
