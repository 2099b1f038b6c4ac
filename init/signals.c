#include "signals.h"
#include "agent.h"
#include "child.h"
#include "log.h"
#include "logsink.h"
#include "loop.h"
#include "shutdown.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* systemd's halt signal, SIGRTMIN+3 in glibc's numbering (its SIGRTMIN is
 * 34). LXC 5.0 sends it instead of lxc.signal.halt whenever PID 1 blocks
 * it, as a signalfd init does (seen here: lxc-stop with lxc.signal.halt =
 * SIGPWR still sends 37). musl's SIGRTMIN differs: the number is spelled out. */
#define SIG_SYSTEMD_HALT 37
/* A lost SIGCHLD (coalesced, or a child reparented to us) is caught here. */
#define REAP_SAFETY_MS 10000

static void on_chld(int sig);
static void on_stop(int sig);
static void on_io(int sig);

static const struct {
	int sig;
	const char *name;
	void (*fn)(int sig);
	enum stop_action action;
} sigmap[] = {
	{ SIGCHLD, "SIGCHLD", on_chld, 0 },
	{ SIGPWR, "SIGPWR", on_stop, STOP_POWEROFF },     /* lxc-stop */
	{ SIGUSR2, "SIGUSR2", on_stop, STOP_POWEROFF },
	{ SIGUSR1, "SIGUSR1", on_stop, STOP_HALT },
	{ SIG_SYSTEMD_HALT, "SIGRTMIN+3", on_stop, STOP_HALT }, /* lxc-stop, see above */
	{ SIGINT, "SIGINT", on_stop, STOP_REBOOT },       /* lxc-stop -r; Ctrl-Alt-Del */
	{ SIGTERM, "SIGTERM", on_stop, STOP_REBOOT },
	{ SIGIO, "SIGIO", on_io, 0 },                     /* a host came to or left a log port */
};
#define NSIGMAP (sizeof(sigmap) / sizeof(sigmap[0]))

static void on_chld(int sig)
{
	(void)sig;
	child_reap();
}

static void on_stop(int sig)
{
	for (size_t i = 0; i < NSIGMAP; i++)
		if (sigmap[i].sig == sig)
			shutdown_begin(sigmap[i].action, sigmap[i].name);
}

static void on_io(int sig)
{
	(void)sig;
	logsink_ports_changed();
	agent_ports_changed();
}

static void on_signalfd(int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;
	(void)events;
	(void)data;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		size_t i;
		for (i = 0; i < NSIGMAP; i++)
			if (sigmap[i].sig == (int)si.ssi_signo) {
				sigmap[i].fn((int)si.ssi_signo);
				break;
			}
		if (i == NSIGMAP)
			log_debug("signal %u ignored", si.ssi_signo);
	}
}

static long reap_safety_net(void *unused)
{
	(void)unused;
	child_reap();
	return REAP_SAFETY_MS;
}

int signals_init(void)
{
	sigset_t all;
	int fd;

	sigfillset(&all);
	/* musl's sigfillset leaves out its own internal signals; add the one
	 * LXC may send. */
	sigaddset(&all, SIG_SYSTEMD_HALT);
	if (sigprocmask(SIG_BLOCK, &all, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	loop_add_timer(REAP_SAFETY_MS, reap_safety_net, NULL);
	return loop_add_fd(fd, EPOLLIN, on_signalfd, NULL);
}
