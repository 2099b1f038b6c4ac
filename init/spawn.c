#include "spawn.h"
#include "console.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

pid_t spawn(char *const argv[], int with_console_tty)
{
	sigset_t all;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid > 0)
		return pid;

	/* PID 1 blocks every signal to read them from a signalfd; a child must
	 * not inherit that, or Ctrl-C and TERM would never reach it. */
	for (int sig = 1; sig < _NSIG; sig++)
		signal(sig, SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if (with_console_tty)
		console_make_controlling();
	else
		setsid();
	execv(argv[0], argv);
	_exit(127);
}
