#include "shutdown.h"
#include "child.h"
#include "emergency.h"
#include "log.h"
#include "logsetup.h"
#include "loop.h"
#include "mount.h"
#include "svc.h"
#include "tty.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

/* After KILL, how long we wait for the last reaps before going down anyway. */
#define KILL_GRACE_MS 2000

static const struct {
	const char *name;
	int cmd;
} actions[] = {
	[STOP_POWEROFF] = { "power off", RB_POWER_OFF },
	[STOP_HALT] = { "halt", RB_HALT_SYSTEM },
	[STOP_REBOOT] = { "reboot", RB_AUTOBOOT },
};

static enum world shutdown_world;
static int stop_timeout_ms = 5000;
static int stopping;
static enum stop_action pending;
static int timer_id = -1;
static int term_sent;
static int64_t began_ms;

static void finish(void)
{
	loop_del_timer(timer_id);
	log_info("all processes stopped in %lld ms; %s", (long long)(loop_now_ms() - began_ms),
		 actions[pending].name);
	logsetup_flush();
	sync();
	if (shutdown_world != WORLD_CONTAINER)
		mount_unmount_all("");
	reboot(actions[pending].cmd);

	/* Still here: reboot(2) was refused. A container may simply end (its
	 * manager sees PID 1 exit); a VM must not, exiting PID 1 panics it. */
	log_error("reboot(%s): %s", actions[pending].name, strerror(errno));
	if (shutdown_world == WORLD_CONTAINER)
		_exit(0);
	stopping = term_sent = 0;
	emergency_start("could not stop the machine");
}

static long after_kill(void *unused)
{
	(void)unused;
	log_warn("processes remain after KILL; going on with the stop");
	finish();
	return -1;
}

static long after_term(void *unused)
{
	(void)unused;
	log_warn("processes still running %d ms after TERM; sending KILL", stop_timeout_ms);
	kill(-1, SIGKILL);
	timer_id = loop_add_timer(KILL_GRACE_MS, after_kill, NULL);
	return -1;
}

/* Services are down: everything else gets TERM, then KILL. */
static void term_everyone(void)
{
	/* kill(-1) reaches every process but PID 1 itself. An interactive
	 * shell ignores TERM but not HUP, as when its terminal goes away. */
	kill(-1, SIGTERM);
	kill(-1, SIGHUP);
	kill(-1, SIGCONT);
	timer_id = loop_add_timer(stop_timeout_ms, after_term, NULL);
	term_sent = 1;
	child_reap();  /* with no children left, this finishes at once */
}

void shutdown_begin(enum stop_action action, const char *why)
{
	if (stopping) {
		log_info("%s: already stopping", why);
		return;
	}
	stopping = 1;
	pending = action;
	began_ms = loop_now_ms();
	emergency_stop();
	tty_stop();
	log_info("%s: stopping to %s", why, actions[action].name);
	svc_stop_all(term_everyone);
}

static void no_children(void)
{
	if (term_sent)
		finish();
}

void shutdown_init(enum world world, int timeout_s)
{
	shutdown_world = world;
	stop_timeout_ms = timeout_s * 1000;
	child_on_none_left(no_children);
}
