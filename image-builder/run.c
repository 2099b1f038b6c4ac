/* amphi run DIR / amphi run --lxc DIR: boot a build, console on this terminal. */
#include "commands.h"
#include "logs.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* What DIR/logs may hold: a guest that logs without end fills it, not the
 * host's disk (past it the oldest boots go, then the guest keeps what is
 * not acknowledged). */
#define RUN_LOGS_MAX "1G"

/* Runs argv in the foreground with the log reader beside it; returns the
 * system's exit status. */
static int run_with_logs(char *const argv[], int search_path, const char *sock, const char *store)
{
	int status = 0;
	pid_t sys = fork();

	if (sys < 0) {
		fprintf(stderr, "amphi run: fork: %s\n", strerror(errno));
		return 1;
	}
	if (sys == 0) {
		/* If amphi run is killed, the system goes too (QEMU quits on
		 * TERM; lxc-start passes it on to the container as a reboot... so
		 * KILL would be wrong for LXC: TERM it is). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (search_path)
			execvp(argv[0], argv);
		else
			execv(argv[0], argv);
		fprintf(stderr, "amphi run: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	/* beside the system, amphi logs stores the log stream under DIR/logs
	 * until the system is gone; DIR/logs keeps the newest boots (amphi
	 * logs' --max-boots default) in RUN_LOGS_MAX */
	pid_t logs = logs_spawn(sock, -1, (const char *const[]){ "--follow", "--quiet", "--out", store, "--max-size",
								  RUN_LOGS_MAX, NULL });
	/* Ctrl-C belongs to the console of the system, not to us. */
	signal(SIGINT, SIG_IGN);
	while (waitpid(sys, &status, 0) < 0 && errno == EINTR)
		;
	if (logs > 0) {
		kill(logs, SIGTERM);
		waitpid(logs, NULL, 0);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int usage_run(FILE *out, int status)
{
	fprintf(out, "usage: amphi run [--lxc] DIR [--disk DISK [--root DEV]] [-- EXTRA ARGS]\n"
		     "  boots DIR (from amphi build) under QEMU, or with --lxc under lxc-start;\n"
		     "  --disk: the system amphi install put on DISK (root=DEV, default /dev/vda1)\n");
	return status;
}

static int run_qemu(const char *dir, const char *disk, const char *rootdev, char **extra)
{
	char launch[PATH_MAX];
	char *argv[64];
	int n = 0;

	snprintf(launch, sizeof(launch), "%s/vm/launch", dir);
	if (access(launch, X_OK) < 0) {
		fprintf(stderr, "amphi run: %s: %s; build it first: amphi build RECIPE -o %s\n",
			launch, strerror(errno), dir);
		return 1;
	}
	if (disk) {
		/* The initramfs mounts root= and hands over to the init on it. */
		char append[1024];
		if (access(disk, R_OK | W_OK) < 0) {
			fprintf(stderr, "amphi run: %s: %s; make one with amphi install RECIPE --disk %s\n", disk,
				strerror(errno), disk);
			return 1;
		}
		snprintf(append, sizeof(append), "root=%s %s", rootdev, getenv("AMPHI_APPEND") ? getenv("AMPHI_APPEND") : "");
		setenv("AMPHI_APPEND", append, 1);
		setenv("AMPHI_DISK", disk, 1);
	}
	argv[n++] = launch;
	for (; *extra && n < 63; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	char rundir[PATH_MAX], sock[PATH_MAX + 16], store[PATH_MAX];
	snprintf(rundir, sizeof(rundir), "%s/vm/run", dir);
	snprintf(sock, sizeof(sock), "%s/amphi.sock", rundir);
	snprintf(store, sizeof(store), "%s/logs", dir);
	if (mkdir(rundir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "amphi run: %s: %s\n", rundir, strerror(errno));
		return 1;
	}
	unlink(sock);
	setenv("AMPHI_LOG_DIR", rundir, 0);
	printf("amphi: booting %s under QEMU; the console is this terminal.\n"
	       "amphi: the log stream is stored in %s (amphi logs --connect %s to watch it)\n"
	       "amphi: to leave, press Ctrl-A then X\n", dir, store, sock);
	fflush(stdout);
	return run_with_logs(argv, 0, sock, store);
}

static int run_lxc(const char *dir, char **extra)
{
	char config[PATH_MAX], lxcpath[PATH_MAX], name[64];
	char *argv[64];
	int n = 0;

	snprintf(config, sizeof(config), "%s/lxc/config", dir);
	snprintf(lxcpath, sizeof(lxcpath), "%s/lxc/state", dir);
	if (access(config, R_OK) < 0) {
		fprintf(stderr, "amphi run: %s: %s; build it first: amphi build RECIPE -o %s\n",
			config, strerror(errno), dir);
		return 1;
	}
	if (mkdir(lxcpath, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "amphi run: %s: %s\n", lxcpath, strerror(errno));
		return 1;
	}
	snprintf(name, sizeof(name), "amphi-%ld", (long)getpid());
	char *base[] = { "lxc-start", "-F", "-n", name, "-P", lxcpath, "-f", config };
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		argv[n++] = base[i];
	for (; *extra && n < 63; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	char sock[PATH_MAX + 32], store[PATH_MAX];
	snprintf(sock, sizeof(sock), "%s/lxc/host/amphi.sock", dir);
	snprintf(store, sizeof(store), "%s/logs", dir);
	unlink(sock);  /* an earlier run's; the init makes a new one */
	printf("amphi: starting %s as LXC container %s; the console is this terminal.\n"
	       "amphi: the log stream is stored in %s (amphi logs --connect %s to watch it)\n"
	       "amphi: to stop it, from another terminal: lxc-stop -n %s -P %s\n",
	       dir, name, store, sock, name, lxcpath);
	fflush(stdout);
	return run_with_logs(argv, 1, sock, store);
}

int cmd_run(int argc, char **argv)
{
	int lxc = 0;
	const char *dir = NULL, *disk = NULL, *rootdev = "/dev/vda1";
	int i;

	if (wants_help(argc, argv, "--disk --root"))
		return usage_run(stdout, 0);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--lxc") == 0)
			lxc = 1;
		else if (strcmp(argv[i], "--disk") == 0 && i + 1 < argc)
			disk = argv[++i];
		else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			rootdev = argv[++i];
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			fprintf(stderr, "amphi run: unexpected argument '%s'\n", argv[i]);
			return usage_run(stderr, 2);
		}
	}
	if (!dir) {
		fprintf(stderr, "amphi run: which build? give the DIR amphi build wrote, such as out/minimal\n");
		return usage_run(stderr, 2);
	}
	if (lxc && disk) {
		fprintf(stderr, "amphi run: --disk is for QEMU; a container's install lives in its rootfs\n");
		return 2;
	}
	return lxc ? run_lxc(dir, argv + i) : run_qemu(dir, disk, rootdev, argv + i);
}
