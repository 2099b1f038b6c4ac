#include "emergency.h"
#include "child.h"
#include "log.h"
#include "loop.h"
#include "rootimage.h"
#include "spawn.h"

#include <string.h>
#include <unistd.h>

/* The first that is there: the image's own shell; or, in an initramfs
 * that only mounts a root image and could not make it / (its /bin/sh would
 * link to a /bin/busybox it does not hold), the image's busybox once the
 * image is mounted. */
static const struct {
	const char *path, *applet;
} shells[] = {
	{ "/bin/sh", NULL },
	{ ROOTIMAGE_LOWER "/bin/busybox", "sh" },
};
static int active, shell = -1;

/* Its start function. A shell that cannot start, or dies at once (broken),
 * is tried again a second later (child.c's CHILD_SHELL), not in a tight
 * loop. */
static pid_t shell_start(struct child *c)
{
	char *argv[] = { (char *)shells[shell].path, (char *)shells[shell].applet, NULL };

	pid_t pid = spawn(argv, 1);
	if (pid > 0)
		return pid;
	log_error("emergency shell: cannot start %s: %s; retrying", argv[0], strerror((int)-pid));
	child_respawn(c);
	return -1;
}

static void shell_ended(struct child *c, int status)
{
	(void)status;
	if (!active)
		return;
	log_info("emergency shell exited; starting another");
	child_respawn(c);
}

static struct child shell_child = CHILD_INIT("emergency shell", CHILD_SHELL, shell_start, shell_ended);

void emergency_start(const char *reason)
{
	log_error("%s", reason);
	shell = -1;
	for (size_t i = 0; shell < 0 && i < sizeof(shells) / sizeof(shells[0]); i++)
		if (access(shells[i].path, X_OK) == 0)
			shell = (int)i;
	if (shell < 0) {
		log_error("no emergency shell: there is no /bin/sh here (an initramfs that only mounts a root image "
			  "holds none) and no root image is mounted; PID 1 stays up: stop the machine (the power "
			  "button: virsh shutdown, QEMU's system_powerdown) and fix what is said above");
		return;
	}
	log_error("starting an emergency shell on the console; fix the problem and reboot (or stop the container)");
	active = 1;
	if (!shell_child.pid && shell_child.timer < 0)  /* not running, not about to */
		child_start(&shell_child);
}

void emergency_stop(void)
{
	active = 0;
	child_cancel_timer(&shell_child);  /* a respawn that was due */
}
