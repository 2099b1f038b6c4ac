/* amphi-init: PID 1 of an appliance that boots as an LXC container or a
 * KVM/QEMU guest. main() reads top to bottom as the boot sequence. */
#include "agent.h"
#include "console.h"
#include "control.h"
#include "detect.h"
#include "emergency.h"
#include "install.h"
#include "log.h"
#include "logsetup.h"
#include "loop.h"
#include "modules.h"
#include "mount.h"
#include "net.h"
#include "power.h"
#include "recipe.h"
#include "root.h"
#include "rootimage.h"
#include "shutdown.h"
#include "signals.h"
#include "svc.h"
#include "tty.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AMPHI_VERSION
#define AMPHI_VERSION "0.1"
#endif

static int boot_recipe(enum world world, struct recipe *r)
{
	char err[RECIPE_ERR_MAX];

	recipe_defaults(r);
	if (recipe_load(RECIPE_IMAGE_PATH, r, err, sizeof(err)) < 0) {
		emergency_start(err);
		return -1;
	}
	shutdown_init(world, r->stop_timeout);
	return 0;
}

/* A VM's root, before anything is read from it: the modules first (the
 * log ports need virtio_console, the disks virtio_blk and their file
 * systems); then an installed system (root=), whose own init takes over,
 * or the root image, which becomes / under this same PID 1. If the root
 * cannot be had, never go on to this image's steps (an installer's would
 * wipe a disk): an emergency shell instead. */
static int boot_vm_root(void)
{
	char err[1024];

	/* Ctrl-Alt-Del becomes SIGINT (reboot through our stop sequence)
	 * instead of the kernel's immediate reset. */
	if (reboot(RB_DISABLE_CAD) < 0)
		log_warn("reboot(RB_DISABLE_CAD): %s", strerror(errno));
	modules_load("");
	if (root_switch("", err, sizeof(err)) < 0 || rootimage_switch("", err, sizeof(err)) < 0) {
		emergency_start(err);
		return -1;
	}
	return 0;
}

static void boot_vm_extras(const struct recipe *r)
{
	if (r->hostname[0] && sethostname(r->hostname, strlen(r->hostname)) < 0)
		log_warn("sethostname %s: %s", r->hostname, strerror(errno));
	power_button_watch("");
}

static struct detect_result env;
static int64_t started_ms;

static void on_ready(void)
{
	log_info("ready env=%s in %lld ms", env.id, (long long)(loop_now_ms() - started_ms));
}

static void on_network_ready(void)
{
	svc_network_ready();
}

static void on_boot_failed(const char *why)
{
	emergency_start(why);
}

static void __attribute__((noreturn)) boot(void)
{
	static struct recipe recipe;  /* lives as long as PID 1: services point into it */
	static struct svc_hooks hooks = { .ready = on_ready, .boot_failed = on_boot_failed };
	int r;

	umask(022);
	/* Signals first: whatever arrives during boot waits in the signalfd. */
	if ((r = loop_init()) < 0 || (r = signals_init()) < 0)
		log_error("event loop: %s; signals will not be handled", strerror(-r));
	logsetup_begin();
	mount_base("");
	env = detect_virt("");
	mount_world("", env.world);
	if ((r = console_open()) < 0) {
		log_set_fd(2);
		log_warn("cannot open /dev/console: %s", strerror(-r));
	}
	log_info("amphi-init %s starting in env=%s", AMPHI_VERSION, env.id);
	shutdown_init(env.world, 5);

	/* The recipe is read from the root, which in a VM may be yet to mount. */
	recipe_defaults(&recipe);
	int recipe_ok = (env.world == WORLD_CONTAINER || boot_vm_root() == 0) && boot_recipe(env.world, &recipe) == 0;
	if (env.world != WORLD_CONTAINER)
		boot_vm_extras(&recipe);
	logsetup_start("", env.world, &recipe);
	if (recipe.agent)
		agent_start("", env.world);
	if (recipe_ok) {
		tty_start("", env.world, &recipe);
		if ((r = control_listen("")) < 0)
			log_warn("control FIFO %s: %s; DHCP leases will not be applied", CONTROL_FIFO, strerror(-r));
		int net_ready = net_start("", env.world, &recipe, on_network_ready);
		install_hooks("", &recipe, &hooks);
		svc_start(&recipe, &hooks, net_ready, install_wanted("", &recipe));
	}
	loop_run();
}

static int cmd_detect(int argc, char **argv)
{
	const char *root = "";

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			log_set_verbose(1);
		else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			root = argv[++i];
		else {
			fprintf(stderr, "amphi-init --detect: unknown argument '%s'; usage: amphi-init --detect [--root DIR] [-v]\n", argv[i]);
			return 2;
		}
	}
	/* A fixture tree that is not there would read as a machine with no
	 * signs at all: say so rather than answer for nothing. */
	if (*root && access(root, F_OK) < 0) {
		fprintf(stderr, "amphi-init --detect: --root %s: %s; give the directory that stands for /\n", root,
			strerror(errno));
		return 1;
	}
	puts(detect_virt(root).id);
	return 0;
}

static int usage(FILE *out, int status)
{
	fprintf(out,
		"amphi-init %s: PID 1 for appliances in LXC containers and KVM/QEMU guests.\n"
		"As a command:\n"
		"  amphi-init --detect [--root DIR] [-v]   print the environment ID (systemd-detect-virt's names)\n"
		"  amphi-init --version\n",
		AMPHI_VERSION);
	return status;
}

int main(int argc, char **argv)
{
	started_ms = loop_now_ms();

	/* The DHCP client's event script is this binary under another name. */
	const char *base = strrchr(argv[0], '/');
	if (strcmp(base ? base + 1 : argv[0], "dhcp-event") == 0)
		return net_dhcp_event_main(argc, argv);

	/* As PID 1, argv holds whatever the kernel or manager passed on: never
	 * read it as a command. */
	if (getpid() == 1)
		boot();

	log_set_fd(2);
	if (argc > 1 && strcmp(argv[1], "--detect") == 0)
		return cmd_detect(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("amphi-init %s\n", AMPHI_VERSION);
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout, 0);
	if (argc > 1) {
		fprintf(stderr, "amphi-init: unknown option '%s'\n", argv[1]);
		return usage(stderr, 2);
	}
	fprintf(stderr, "amphi-init: not process 1, so not starting a system; "
			"boot it as a VM's /init or a container's init, or try 'amphi-init --detect'\n");
	return 2;
}
