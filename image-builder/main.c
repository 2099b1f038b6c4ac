/* amphi: the host side. Subcommand -> function, as in git's command table. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#ifndef AMPHI_VERSION
#define AMPHI_VERSION "0.1"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "build", cmd_build, "build RECIPE -o DIR   make DIR/vm (QEMU) and DIR/lxc (LXC) from a recipe" },
	{ "run", cmd_run, "run [--lxc] DIR [--disk DISK]  boot a build under QEMU (with an installed disk), or LXC" },
	{ "install", cmd_install, "install RECIPE --disk DISK  run an installer recipe onto a new raw disk under QEMU" },
	{ "lxc-template", cmd_lxc_template, "lxc-template ...       the LXC template (lxc-create -t build/lxc-amphi)" },
	{ "logs", cmd_logs, "logs --connect SOCK   read, store and acknowledge a running appliance's logs" },
	{ "ctl", cmd_ctl, "ctl DIR status|watch|ping|shutdown|reboot|restart SERVICE  drive a running appliance" },
};

static int usage(FILE *out, int status)
{
	fprintf(out, "amphi %s: build and boot amphi appliances\n\nusage:\n", AMPHI_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  amphi %s\n", commands[i].help);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)
		return usage(stdout, 0);
	if (strcmp(argv[1], "--version") == 0) {
		printf("amphi %s\n", AMPHI_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "amphi: unknown command '%s'\n\n", argv[1]);
	return usage(stderr, 2);
}
