#include "spawn.h"
#include "console.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <unistd.h>

extern char **environ;

/* Only async-signal-safe calls between fork and exec. */
static void __attribute__((noreturn)) child(char *const argv[], const struct spawn_opts *o)
{
	sigset_t all;

	/* PID 1 blocks every signal to read them from a signalfd; a child must
	 * not inherit that, or Ctrl-C and TERM would never reach it. */
	for (int sig = 1; sig < _NSIG; sig++)
		signal(sig, SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if (o->console_tty)
		console_make_controlling();
	else
		setsid();
	int fds[3] = { o->stdin_fd, o->stdout_fd, o->stderr_fd };
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0 && dup2(fds[i], i) < 0)
			_exit(126);
	if (o->set_ids && (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0))
		_exit(126);
	if (o->workdir && o->workdir[0] && chdir(o->workdir) < 0)
		_exit(126);
	execve(argv[0], argv, o->envp ? o->envp : environ);
	_exit(127);
}

pid_t spawn_with(char *const argv[], const struct spawn_opts *o)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		child(argv, o);
	return pid;
}

pid_t spawn(char *const argv[], int with_console_tty)
{
	struct spawn_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
				.console_tty = with_console_tty };
	return spawn_with(argv, &o);
}
