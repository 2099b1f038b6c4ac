/* A recipe: one appliance in one file. [image] says what goes into the
 * images (read by the builder); [runtime] says how the appliance runs (read
 * by the init from the copy the builder puts at /etc/amphi/recipe.conf).
 * Both sides parse the whole file with the same code, so a recipe the
 * builder accepts is one the init accepts. */
#ifndef AMPHI_RECIPE_H
#define AMPHI_RECIPE_H

#include <stddef.h>

#define RECIPE_WORD_MAX 64
#define RECIPE_LIST_MAX 32
#define RECIPE_ERR_MAX 512
#define RECIPE_UNITS_MAX 24
/* Login prompts a boot runs at most (one per tty the getty list gives). */
#define RECIPE_TTYS_MAX 16
#define RECIPE_EXEC_MAX 512
#define RECIPE_PATH_MAX 256
#define RECIPE_NETS_MAX 8
#define RECIPE_IFNAME_MAX 16  /* IFNAMSIZ */
#define RECIPE_LXC_MAX 32     /* [lxc] lines */
#define RECIPE_FILES_MAX 32   /* [image] files = lines */
#define RECIPE_SETUP_MAX 16   /* [image] setup = lines */
/* Where the builder puts the recipe inside every image. */
#define RECIPE_IMAGE_PATH "/etc/amphi/recipe.conf"
/* In the initramfs of a VM whose tree is on a root image: what the init
 * mounts, in the recipe's grammar (the builder writes it, the init reads it):
 *   [root]
 *   fs = squashfs
 *   overlay = tmpfs | disk */
#define RECIPE_ROOT_MARKER "/etc/amphi/root-image"
/* The serials by which the init finds the root image's disk and the data
 * disk (QEMU's serial=, libvirt's <serial>). */
#define RECIPE_ROOT_SERIAL "amphi-root"
#define RECIPE_DATA_SERIAL "amphi-data"

struct recipe_list {
	int n;
	char item[RECIPE_LIST_MAX][RECIPE_WORD_MAX];
};

enum unit_kind { UNIT_TASK, UNIT_SERVICE, UNIT_STEP };
/* [install] mode: none (no steps); installer: the steps run on every boot,
 * then `then`; first-boot: once, a marker file keeps them from again. */
enum install_mode { INSTALL_NONE, INSTALL_INSTALLER, INSTALL_FIRST_BOOT };
/* After a successful install: power off, reboot, or go on to the tasks and
 * services (first-boot always goes on). */
enum install_then { THEN_POWEROFF, THEN_REBOOT, THEN_CONTINUE };
/* auto: hold sources back while a reader is connected, else drop the oldest
 * (counted); block: always hold them back; drop: never. */
enum log_policy { LOG_POLICY_AUTO, LOG_POLICY_BLOCK, LOG_POLICY_DROP };
enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };
/* [image] root: where a VM's tree is. initramfs: all of it unpacked into
 * RAM; squashfs: a read-only image on virtio-blk, the initramfs only the
 * init and modules that reach it; auto: the builder's choice
 * (recipe_root_image). */
enum image_root { ROOT_AUTO, ROOT_INITRAMFS, ROOT_SQUASHFS };
/* [image] overlay: the writable layer over a root image: RAM (gone at
 * power off) or a data disk (kept). */
enum image_overlay { OVERLAY_TMPFS, OVERLAY_DISK };

/* [step.NAME]: an install step, in file order, before everything else.
 * [task.NAME]: a oneshot run in file order before services.
 * [service.NAME]: kept running, started in `after` order. */
struct recipe_unit {
	enum unit_kind kind;
	char name[RECIPE_WORD_MAX];
	int line;                    /* of its first key: where later errors point */
	char exec[RECIPE_EXEC_MAX];  /* words (argv.h), or a shell command with shell = yes */
	int shell;
	struct recipe_list env;      /* KEY=VALUE words */
	char user[RECIPE_WORD_MAX];  /* name or number; empty = root */
	char group[RECIPE_WORD_MAX]; /* empty = the user's group */
	char workdir[RECIPE_PATH_MAX];
	/* services */
	enum restart_policy restart; /* default on-failure */
	int stop_signal;             /* default SIGTERM */
	int stop_timeout;            /* seconds before KILL; default 5 */
	struct recipe_list after;
	int after_line;
	int needs_network;           /* needs = network: start once it is configured */
	/* tasks and steps */
	int stop_boot_on_failure;    /* tasks: on_failure = stop (default) | continue */
	int timeout;                 /* seconds; default 300 */
};

/* [network.NAME]: the interface NAME, or the one with this mac. */
struct recipe_net {
	char name[RECIPE_IFNAME_MAX];
	int line;
	char mac[18];
	int dhcp;
	struct recipe_list address;  /* ADDRESS/PREFIX, v4 or v6 */
	char gateway[48], gateway6[48];
	int mtu;                     /* 0: leave it */
	struct recipe_list dns;      /* addresses */
	struct recipe_list search;   /* domains */
	char bridge[RECIPE_IFNAME_MAX]; /* LXC: a veth on this host bridge */
};

struct recipe {
	/* [image] */
	char name[RECIPE_WORD_MAX];  /* required */
	struct recipe_list modules;  /* VM kernel modules; the builder adds their dependencies */
	int modules_line;            /* of its modules = line (0: none), for the builder's errors */
	int image_root;              /* enum image_root */
	int image_overlay;           /* enum image_overlay */
	int overlay_line;            /* of its overlay = line */
	/* Debian packages, installed with their dependencies by mmdebstrap;
	 * several lines add up. Each one's line, for apt's errors. */
	struct recipe_list packages;
	int packages_line[RECIPE_LIST_MAX];
	/* files = SRC DEST [USER[:GROUP]]: a host file or directory (SRC
	 * relative to the recipe's folder) copied to DEST in the tree. */
	struct recipe_file {
		char src[RECIPE_PATH_MAX], dest[RECIPE_PATH_MAX];
		char owner[RECIPE_WORD_MAX], group[RECIPE_WORD_MAX]; /* empty: root */
		int line;
	} files[RECIPE_FILES_MAX];
	int nfiles;
	/* setup = COMMAND: run by sh in the Debian tree at build time, in
	 * order, after the packages and before the files. */
	struct recipe_setup {
		char cmd[RECIPE_EXEC_MAX];
		int line;
	} setup[RECIPE_SETUP_MAX];
	int nsetup;
	/* [runtime] */
	char hostname[RECIPE_WORD_MAX];  /* default: from name */
	int ttys;                    /* LXC ttys (lxc.tty.max) */
	/* Where login prompts go: "auto" (VM: the kernel's console; container:
	 * every tty LXC made), "none", or tty names ("console", "ttyS1", "tty2"). */
	struct recipe_list getty;
	int autologin;               /* a root shell instead of getty + login */
	int stop_timeout;            /* seconds between TERM and KILL at stop */
	int agent;                   /* the guest agent (init/agent.c); default yes */
	int network_timeout;         /* seconds services with needs = network wait */
	/* [network] unnamed = dhcp (default) | none: what the init does in a
	 * container on an interface LXC gave, that no [network.NAME] names and
	 * that LXC left without an IPv4 address. */
	int unnamed_dhcp;
	/* [log] */
	int log_ring_kib;            /* the record ring, default 1024 */
	int log_policy;              /* LOG_POLICY_*: what a full ring does */
	struct recipe_list log_files;  /* followed like tail -F */
	int log_console_init_only;   /* console = init: only the init's own lines there */
	/* [install] */
	int install_mode;            /* enum install_mode; steps alone mean installer */
	int install_then;            /* enum install_then, default poweroff */
	int install_shell_on_failure; /* on_failure = shell: stay up with an emergency shell */
	char install_marker[RECIPE_PATH_MAX]; /* first-boot; default /var/lib/amphi/installed */
	int install_line;            /* of the [install] section's first key */
	int nsteps;
	struct recipe_net net[RECIPE_NETS_MAX];
	int nnets;
	/* [lxc]: the appliance's own LXC config lines, "lxc.KEY = VALUE", in
	 * file order, appended to the container's config after amphi's. */
	struct recipe_lxc_line {
		char key[RECIPE_WORD_MAX];
		char value[RECIPE_PATH_MAX];
	} lxc[RECIPE_LXC_MAX];
	int nlxc;
	struct recipe_unit unit[RECIPE_UNITS_MAX];  /* in file order */
	int nunits;
	/* Services in start order (every one after what it names in after). */
	int start_order[RECIPE_UNITS_MAX];
	int nservices;
};

void recipe_defaults(struct recipe *r);

/* Parses text[0..len) named `filename` over the defaults. Returns 0, or -1
 * with err = "FILE:LINE: what was expected". */
int recipe_parse(const char *text, size_t len, const char *filename,
		 struct recipe *r, char *err, size_t errlen);

/* Adds a service the init itself supervises (a DHCP client), started
 * before the recipe's own. 0, or -1 when the unit table is full. */
int recipe_prepend_service(struct recipe *r, const char *name, const char *exec);

/* 1 if the VM's tree goes on a root image (vm/root.img), 0 if it is all
 * in the initramfs. */
int recipe_root_image(const struct recipe *r);

/* [image] packages, files and setup: what the builder alone acts on. 1 if
 * key is none of them; 0 when taken; -1 with err. (lib/recipe_image.c) */
int recipe_image_key(struct recipe *r, const char *key, const char *value, int line, char *err, size_t errlen);

/* "step", "task" or "service". */
const char *recipe_unit_kind(enum unit_kind kind);

/* "auto", "block", "drop" -> enum log_policy; -1 if unknown. */
int recipe_log_policy(const char *name);

/* "TERM", "SIGTERM" or a number -> signal number; -1 if unknown. */
int recipe_signal(const char *name);

/* Reads and parses a file (at most 64 KiB). Same return as recipe_parse. */
int recipe_load(const char *path, struct recipe *r, char *err, size_t errlen);

#endif
