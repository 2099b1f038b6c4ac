#include "emergency.h"
#include "log.h"
#include "loop.h"
#include "spawn.h"

#include <string.h>

#define SHELL_PATH "/bin/sh"
/* A shell that dies at once (missing, broken) is retried this often, not in
 * a tight loop. */
#define RESPAWN_DELAY_MS 1000

static pid_t shell_pid;
static int active;

static long start_shell(void *unused)
{
	char *argv[] = { SHELL_PATH, NULL };
	(void)unused;

	if (!active)
		return -1;
	pid_t pid = spawn(argv, 1);
	if (pid < 0) {
		log_error("emergency shell: cannot start %s: %s; retrying", SHELL_PATH, strerror((int)-pid));
		return RESPAWN_DELAY_MS;
	}
	shell_pid = pid;
	return -1;
}

void emergency_start(const char *reason)
{
	log_error("%s", reason);
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
