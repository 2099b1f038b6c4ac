#include "emergency.h"
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
/* A shell that dies at once (broken) is retried this often, not in a
 * tight loop. */
#define RESPAWN_DELAY_MS 1000

static pid_t shell_pid;
static int active, shell = -1;

static long start_shell(void *unused)
{
	char *argv[] = { (char *)shells[shell].path, (char *)shells[shell].applet, NULL };
	(void)unused;

	if (!active)
		return -1;
	pid_t pid = spawn(argv, 1);
	if (pid < 0) {
		log_error("emergency shell: cannot start %s: %s; retrying", argv[0], strerror((int)-pid));
		return RESPAWN_DELAY_MS;
	}
	shell_pid = pid;
	return -1;
}

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
	start_shell(NULL);
	if (!shell_pid)
		loop_add_timer(RESPAWN_DELAY_MS, start_shell, NULL);
}

int emergency_reaped(pid_t pid)
{
	if (!shell_pid || pid != shell_pid)
		return 0;
	shell_pid = 0;
	if (active) {
		log_info("emergency shell exited; starting another");
		loop_add_timer(RESPAWN_DELAY_MS, start_shell, NULL);
	}
	return 1;
}

void emergency_stop(void)
{
	active = 0;
}
