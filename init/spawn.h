/* Starting a child the way PID 1 must: signals back to default, a clean
 * mask, its own session, and exactly the fds it should have. */
#ifndef AMPHI_SPAWN_H
#define AMPHI_SPAWN_H

#include <sys/types.h>

struct spawn_opts {
	char *const *envp;  /* NULL: inherit ours */
	int stdin_fd;       /* -1: keep ours (the console) */
	int stdout_fd;      /* -1: keep ours */
	int stderr_fd;      /* -1: keep ours */
	uid_t uid;          /* applied when set_ids */
	gid_t gid;
	int set_ids;
	const char *workdir; /* NULL or "": leave as is */
	int console_tty;    /* make the console the controlling terminal */
};

/* Returns the child's pid, or -errno. The child exits 127 if exec fails,
 * 126 if it cannot take on its user, group or directory. */
pid_t spawn_with(char *const argv[], const struct spawn_opts *o);

/* spawn_with defaults: our env and fds, root, the console as controlling
 * terminal when asked. */
pid_t spawn(char *const argv[], int with_console_tty);

#endif
