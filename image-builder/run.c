/* amphi run DIR / amphi run --lxc DIR: boot a build, console on this terminal. */
#include "commands.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int usage_run(void)
{
	fprintf(stderr, "usage: amphi run [--lxc] DIR [-- EXTRA ARGS]\n"
			"  boots DIR (from amphi build) under QEMU, or with --lxc under lxc-start\n");
	return 2;
}

static int run_qemu(const char *dir, char **extra)
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
	argv[n++] = launch;
	for (; *extra && n < 63; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	printf("amphi: booting %s under QEMU; the console is this terminal.\n"
	       "amphi: to leave, press Ctrl-A then X\n", dir);
	fflush(stdout);
	execv(launch, argv);
	fprintf(stderr, "amphi run: %s: %s\n", launch, strerror(errno));
	return 1;
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
	printf("amphi: starting %s as LXC container %s; the console is this terminal.\n"
	       "amphi: to stop it, from another terminal: lxc-stop -n %s -P %s\n",
	       dir, name, name, lxcpath);
	fflush(stdout);
	execvp("lxc-start", argv);
	fprintf(stderr, "amphi run: lxc-start: %s; install LXC (make deps)\n", strerror(errno));
	return 1;
}

int cmd_run(int argc, char **argv)
{
	int lxc = 0;
	const char *dir = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--lxc") == 0)
			lxc = 1;
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			fprintf(stderr, "amphi run: unexpected argument '%s'\n", argv[i]);
			return usage_run();
		}
	}
	if (!dir)
		return usage_run();
	return lxc ? run_lxc(dir, argv + i) : run_qemu(dir, argv + i);
}
