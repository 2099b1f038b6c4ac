/* Login prompts: which ttys get one, and a busybox getty on each, respawned
 * with a growing delay when it keeps dying. */
#include "tty.h"
#include "child.h"
#include "cmdline.h"
#include "log.h"
#include "loop.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* busybox's getty by name: a Debian tree's /sbin/getty is util-linux's
 * agetty, which takes other arguments. */
#define GETTY_PATH "/bin/busybox"
/* A skeleton script that runs `login -f root`: getty -n -l hands the tty
 * over without asking a name, and login makes it a proper login session
 * (HOME, utmp, a login shell that reads /etc/profile). */
#define AUTOLOGIN_PATH "/usr/libexec/amphi/autologin"
/* Busybox getty: speed 0 leaves the line as it is, so a serial console
 * keeps the rate the kernel set from console=ttyS0,<rate>. */
#define GETTY_SPEED "0"

/* A respawn this long after a fast death is said as a warning: the getty
 * keeps dying (child.c's CHILD_GETTY policy: 1 s growing to 30 s, at once
 * after a session of 10 s or more). */
#define FIRST_RESPAWN_MS 1000

/* x86 COMMAND_LINE_SIZE is 2048; other architectures go up to 4096. */
#define CMDLINE_MAX 4096
/* Major of real VTs and serial ports (Documentation/admin-guide/devices.txt).
 * LXC's ttys are ptys (136-143): a major-4 /dev/ttyN in a container is a
 * host terminal, never ours to take. */
#define TTY_MAJOR_HOST 4

/* ---- resolving the recipe's list into device names ---- */

struct resolve {
	const char *root;
	enum world world;
	const char *container_ttys;
	char (*names)[TTY_NAME_MAX];
	int max, n;
};

static void add_name(struct resolve *rs, const char *name)
{
	if (!name[0])
		return;
	if (strlen(name) >= TTY_NAME_MAX) {
		log_warn("getty: tty name '%s' is longer than %d characters; skipped", name, TTY_NAME_MAX - 1);
		return;
	}
	for (int i = 0; i < rs->n; i++)
		if (strcmp(rs->names[i], name) == 0)
			return;
	if (rs->n == rs->max) {
		log_warn("getty: more than %d ttys; '%s' skipped", rs->max, name);
		return;
	}
	strcpy(rs->names[rs->n++], name);
}

static int stat_dev(const char *root, const char *name, struct stat *st)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/dev/%s", root, name);
	return stat(path, st);
}

/* The same terminal: one device number, or (fixture trees, bind mounts of
 * plain files) one inode. */
static int is_console(const char *root, const char *name)
{
	struct stat a, b;
	if (stat_dev(root, name, &a) < 0 || stat_dev(root, "console", &b) < 0)
		return 0;
	if (S_ISCHR(a.st_mode) && S_ISCHR(b.st_mode))
		return a.st_rdev == b.st_rdev;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int container_tty_present(const char *root, const char *name)
{
	struct stat st;
	if (stat_dev(root, name, &st) < 0 || S_ISDIR(st.st_mode))
		return 0;
	return !(S_ISCHR(st.st_mode) && major(st.st_rdev) == TTY_MAJOR_HOST);
}

/* A console= value or an entry of console/active as a name below /dev:
 * options cut ("ttyS0,115200n8"), "/dev/" dropped. tty0 is "whichever VT
 * is in front", not a line a getty can own: the first VT stands for it. */
static void console_name(const char *value, size_t len, char out[TTY_NAME_MAX])
{
	size_t n = strcspn(value, ",");
	if (n > len)
		n = len;
	if (n >= 5 && strncmp(value, "/dev/", 5) == 0) {
		value += 5;
		n -= 5;
	}
	if (n >= TTY_NAME_MAX)
		n = 0;  /* too long to be a tty: ignored */
	memcpy(out, value, n);
	out[n] = '\0';
	if (strcmp(out, "tty0") == 0)
		strcpy(out, "tty1");
}

static ssize_t read_small(const char *root, const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* The tty behind /dev/console. Documentation/admin-guide/serial-console.rst:
 * with several console= options the kernel writes to all, and /dev/console
 * is the last one. Without console=, sysfs lists the enabled consoles, and
 * Documentation/ABI/testing/sysfs-tty: "The last entry in the file is the
 * active device connected to /dev/console" (seen under QEMU: "console=ttyS0
 * console=tty0" lists "ttyS0 tty0" and the init's lines go to the VT;
 * "console=tty0 console=ttyS0" lists "tty0 ttyS0"). So: the last, in both. */
static void kernel_console(const char *root, char out[TTY_NAME_MAX])
{
	char buf[CMDLINE_MAX];
	const char *p;

	out[0] = '\0';
	if (cmdline_get(root, "console", buf, sizeof(buf))) {
		console_name(buf, strlen(buf), out);
		return;
	}
	if (read_small(root, "/sys/class/tty/console/active", buf, sizeof(buf)) > 0)
		for (p = buf; *(p += strspn(p, " \t\n")); p += strcspn(p, " \t\n"))
			console_name(p, strcspn(p, " \t\n"), out);
}

static void add_kernel_console(struct resolve *rs)
{
	char name[TTY_NAME_MAX];
	kernel_console(rs->root, name);
	if (!name[0])
		log_warn("getty: no console= on %s/proc/cmdline and no %s/sys/class/tty/console/active; "
			 "no login prompt on the console", rs->root, rs->root);
	add_name(rs, name);
}

/* Every tty LXC made, never /dev/console (the init's own log). LXC binds
 * the Nth entry of container_ttys ("pts/1 pts/2") onto /dev/ttyN, which is
 * what lxc-console -t N reaches; without a /dev/ttyN (libvirt) the entry
 * itself is the tty. LXC 5.0.0-5.0.2 never set container_ttys (lxc/lxc
 * issue 4198, seen here on 5.0.2): then /dev/tty1, tty2, ... as far as
 * they exist. */
static void add_container_ttys(struct resolve *rs)
{
	char name[TTY_NAME_MAX];
	const char *p = rs->container_ttys;
	int i = 0;

	if (p && p[strspn(p, " \t")]) {
		for (; *(p += strspn(p, " \t")); p += strcspn(p, " \t")) {
			size_t len = strcspn(p, " \t");
			snprintf(name, sizeof(name), "tty%d", ++i);
			if (!container_tty_present(rs->root, name))
				console_name(p, len, name);
			if (name[0] && container_tty_present(rs->root, name) && !is_console(rs->root, name))
				add_name(rs, name);
			else
				log_warn("getty: container_ttys entry %d ('%.*s') has no tty in %s/dev; skipped",
					 i, (int)len, p, rs->root);
		}
		return;
	}
	for (i = 1; i <= TTY_MAX; i++) {
		snprintf(name, sizeof(name), "tty%d", i);
		if (!container_tty_present(rs->root, name))
			break;
		add_name(rs, name);
	}
}

static void resolve_none(struct resolve *rs, const char *item)
{
	(void)rs;
	(void)item;
}

static void resolve_auto(struct resolve *rs, const char *item)
{
	(void)item;
	if (rs->world == WORLD_CONTAINER)
		add_container_ttys(rs);
	else
		add_kernel_console(rs);
}

/* In a container /dev/console is itself a tty (LXC's console pty); in a VM
 * it is an alias that can never be a controlling terminal (tty_open treats
 * 5:1 as O_NOCTTY), so the getty goes on the device behind it. */
static void resolve_console(struct resolve *rs, const char *item)
{
	if (rs->world == WORLD_CONTAINER)
		add_name(rs, item);
	else
		add_kernel_console(rs);
}

static const struct {
	const char *word;
	void (*fn)(struct resolve *rs, const char *item);
} keywords[] = {
	{ "none", resolve_none },
	{ "auto", resolve_auto },
	{ "console", resolve_console },
};

int tty_resolve(const char *root, enum world world, const struct recipe *r,
		const char *container_ttys, char names[][TTY_NAME_MAX], int max)
{
	struct resolve rs = { root, world, container_ttys, names, max, 0 };

	for (int i = 0; i < r->getty.n; i++) {
		const char *item = r->getty.item[i];
		size_t k;
		for (k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++)
			if (strcmp(item, keywords[k].word) == 0)
				break;
		if (k < sizeof(keywords) / sizeof(keywords[0]))
			keywords[k].fn(&rs, item);
		else
			add_name(&rs, item);  /* a tty name, used as given */
	}
	return rs.n;
}

/* ---- running the gettys ---- */

struct getty {
	struct child c;      /* first: the child's callbacks find the getty from it */
	char name[TTY_NAME_MAX];
	const char *term;
};

static struct getty gettys[TTY_MAX];
static int ngettys;
static int autologin;
static int stopping;

/* TERM for the getty and what login starts: the Linux VT driver in a VM's
 * ttyN; a serial line, hvc or (every tty in a container) a pty is read by
 * some terminal emulator, and vt100 is what they all speak. */
static const char *term_for(enum world world, const char *name)
{
	int vt = strncmp(name, "tty", 3) == 0 && name[3] >= '0' && name[3] <= '9';
	return world != WORLD_CONTAINER && vt ? "linux" : "vt100";
}

/* The getty's start function. One that cannot start is tried again with
 * a growing delay, so a broken tty or a missing busybox costs a fork per
 * 30 s, not a loop. */
static pid_t getty_start(struct child *c)
{
	struct getty *g = (struct getty *)c;
	char *argv[12];
	int i = 0;

	argv[i++] = GETTY_PATH;
	argv[i++] = "getty";
	argv[i++] = "-L";  /* CLOCAL: no modem lines on a virtual serial port */
	if (autologin) {
		argv[i++] = "-n";
		argv[i++] = "-l";
		argv[i++] = AUTOLOGIN_PATH;
	}
	argv[i++] = GETTY_SPEED;
	argv[i++] = g->name;
	argv[i++] = (char *)g->term;
	argv[i] = NULL;

	/* Not the console's session: getty opens its own tty in the new
	 * session spawn makes, and the tty becomes its controlling terminal,
	 * so login's shell has job control and Ctrl-C. */
	pid_t pid = spawn(argv, 0);
	if (pid > 0)
		return pid;
	log_error("getty on %s: cannot start %s getty: %s; retrying in %ld s", g->name, GETTY_PATH,
		  strerror((int)-pid), child_respawn(c) / 1000);
	return -1;
}

static void getty_ended(struct child *c, int status)
{
	struct getty *g = (struct getty *)c;
	long long ran = (long long)(loop_now_ms() - c->started_ms);
	(void)status;

	if (stopping)
		return;
	long delay = child_respawn(c);
	if (delay == 0)  /* a session ended: a new prompt at once */
		log_debug("getty on %s exited after %lld s; started another", g->name, ran / 1000);
	else  /* one short session is a user logging out; dying fast again and again, a broken tty */
		log_msg(delay > FIRST_RESPAWN_MS ? LOG_LVL_WARN : LOG_LVL_INFO,
			"getty on %s exited after %lld ms; starting another in %ld s", g->name, ran, delay / 1000);
}

static int tty_usable(const char *root, const char *name)
{
	struct stat st;
	if (stat_dev(root, name, &st) < 0) {
		log_warn("getty: %s/dev/%s: %s; no login prompt there", root, name, strerror(errno));
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		log_warn("getty: %s/dev/%s is a directory, not a tty; no login prompt there", root, name);
		return 0;
	}
	return 1;
}

void tty_start(const char *root, enum world world, const struct recipe *r)
{
	char names[TTY_MAX][TTY_NAME_MAX];
	char list[TTY_MAX * (TTY_NAME_MAX + 1)] = "";
	int n = tty_resolve(root, world, r, getenv("container_ttys"), names, TTY_MAX);

	ngettys = 0;
	stopping = 0;
	autologin = r->autologin;
	for (int i = 0; i < n; i++) {
		if (!tty_usable(root, names[i]))
			continue;
		struct getty *g = &gettys[ngettys++];
		*g = (struct getty){ .c = CHILD_INIT(g->name, CHILD_GETTY, getty_start, getty_ended) };
		strcpy(g->name, names[i]);
		g->term = term_for(world, g->name);
		child_start(&g->c);
		strcat(strcat(list, " "), g->name);
	}
	if (ngettys)
		log_info("%s on%s", autologin ? "root shells (autologin)" : "login prompts", list);
	else
		log_info("no login prompts (recipe getty list gave no usable tty)");
}

void tty_stop(void)
{
	stopping = 1;
	for (int i = 0; i < ngettys; i++)
		child_cancel_timer(&gettys[i].c);
}
