/* The recipe's grammar over conf.c's lines: which sections there are and
 * what each one makes (the recipe, a unit, an interface, [lxc] lines),
 * every error as FILE:LINE, and what is checked once the whole file is
 * read (exec words, service order, the install's steps). What each key
 * means is lib/recipe_keys.c. */
#include "recipe.h"
#include "argv.h"
#include "conf.h"
#include "logrec.h"
#include "recipe_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RECIPE_FILE_MAX (64 * 1024)

/* A name ending in '.' is a prefix: [service.web]. */
static const struct {
	const char *name;
	int where;
} sections[] = {
	{ "image", IN_IMAGE }, { "runtime", IN_RUNTIME }, { "log", IN_LOG }, { "install", IN_INSTALL },
	{ "step.", IN_STEP }, { "task.", IN_TASK }, { "service.", IN_SERVICE },
	{ "network.", IN_NET }, { "network", IN_NETWORK }, { "lxc", IN_LXC },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int recipe_prepend_service(struct recipe *r, const char *name, const char *exec)
{
	if (r->nunits == RECIPE_UNITS_MAX)
		return -1;
	struct recipe_unit *u = &r->unit[r->nunits];
	recipe_unit_defaults(u, UNIT_SERVICE, name);
	snprintf(u->exec, sizeof(u->exec), "%s", exec);
	u->restart = RESTART_ALWAYS;
	memmove(&r->start_order[1], &r->start_order[0], (size_t)r->nservices * sizeof(r->start_order[0]));
	r->start_order[0] = r->nunits++;
	r->nservices++;
	return 0;
}

int recipe_root_image(const struct recipe *r)
{
	return r->image_root == ROOT_SQUASHFS || (r->image_root == ROOT_AUTO && r->packages.n > 0);
}

const char *recipe_unit_kind(enum unit_kind kind)
{
	return kind == UNIT_TASK ? "task" : kind == UNIT_STEP ? "step" : "service";
}

/* The unit a [step.NAME] / [task.NAME] / [service.NAME] section names, made
 * on first use. */
static struct recipe_unit *unit_for(struct recipe *r, int where, const char *section, int line,
				    char *err, size_t errlen)
{
	enum unit_kind kind = where == IN_TASK ? UNIT_TASK : where == IN_STEP ? UNIT_STEP : UNIT_SERVICE;
	const char *name = strchr(section, '.') + 1;

	if (!recipe_valid_word(name, 0) || strchr(name, '.')) {
		snprintf(err, errlen, "[%s]: expected a name after '%s.' (letters, digits, - _ +)",
			 section, recipe_unit_kind(kind));
		return NULL;
	}
	/* A unit's output carries its name: under one of the init's own, it
	 * would read as the init's records (docs/PROTOCOL.md). */
	if (logrec_name_is_init(name)) {
		snprintf(err, errlen, "[%s]: '%s' is the init's own name in the log; give the %s another name",
			 section, name, recipe_unit_kind(kind));
		return NULL;
	}
	for (int i = 0; i < r->nunits; i++)
		if (strcmp(r->unit[i].name, name) == 0) {
			if (r->unit[i].kind == kind)
				return &r->unit[i];
			snprintf(err, errlen, "[%s]: '%s' is already a %s (line %d); names are shared by steps, tasks and services",
				 section, name, recipe_unit_kind(r->unit[i].kind), r->unit[i].line);
			return NULL;
		}
	if (r->nunits == RECIPE_UNITS_MAX) {
		snprintf(err, errlen, "[%s]: more than %d steps, tasks and services", section, RECIPE_UNITS_MAX);
		return NULL;
	}
	struct recipe_unit *u = &r->unit[r->nunits++];
	recipe_unit_defaults(u, kind, name);
	u->line = line;
	return u;
}

/* The interface a [network.NAME] section names, made on first use. */
static struct recipe_net *net_for(struct recipe *r, const char *section, int line, char *err, size_t errlen)
{
	const char *name = section + strlen("network.");

	if (!recipe_valid_word(name, 0) || strlen(name) >= RECIPE_IFNAME_MAX) {
		snprintf(err, errlen, "[%s]: expected an interface name of at most %d characters after 'network.'",
			 section, RECIPE_IFNAME_MAX - 1);
		return NULL;
	}
	for (int i = 0; i < r->nnets; i++)
		if (strcmp(r->net[i].name, name) == 0)
			return &r->net[i];
	if (r->nnets == RECIPE_NETS_MAX) {
		snprintf(err, errlen, "[%s]: more than %d network interfaces", section, RECIPE_NETS_MAX);
		return NULL;
	}
	struct recipe_net *n = &r->net[r->nnets++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->line = line;
	return n;
}

/* LXC keys amphi writes itself, and the recipe key that says it instead. */
static const struct {
	const char *lxc_key, *instead;
} lxc_owned[] = {
	{ "lxc.init.cmd", "nothing: the init is amphi-init" },
	{ "lxc.signal.halt", "nothing: amphi-init powers off on SIGPWR" },
	{ "lxc.signal.reboot", "nothing: amphi-init reboots on SIGINT" },
	{ "lxc.tty.max", "ttys = N in [runtime]" },
	{ "lxc.console.logfile", "nothing: the console log goes beside the config" },
	{ "lxc.uts.name", "hostname = in [runtime] (or lxc-create -n)" },
	{ "lxc.rootfs.path", "nothing: lxc-create or amphi build chooses the rootfs" },
};

/* A line of [lxc], kept as it is for the container's config. LXC's own
 * parser judges the value; here only that it is an lxc. key amphi does not
 * set itself and that it fits. */
static int lxc_line(struct recipe *r, const char *key, const char *value, char *err, size_t errlen)
{
	if (strncmp(key, "lxc.", 4) != 0 || strlen(key) >= RECIPE_WORD_MAX) {
		snprintf(err, errlen, "[lxc]: '%s': expected an LXC config key such as lxc.environment or "
			 "lxc.cgroup2.memory.max (lxc.container.conf(5))", key);
		return -1;
	}
	for (size_t i = 0; i < COUNT(lxc_owned); i++)
		if (strcmp(key, lxc_owned[i].lxc_key) == 0) {
			snprintf(err, errlen, "[lxc]: %s is written by amphi; set %s", key, lxc_owned[i].instead);
			return -1;
		}
	if (!*value || strlen(value) >= RECIPE_PATH_MAX) {
		snprintf(err, errlen, "[lxc]: %s: expected a value of 1 to %d characters", key, RECIPE_PATH_MAX - 1);
		return -1;
	}
	if (r->nlxc == RECIPE_LXC_MAX) {
		snprintf(err, errlen, "[lxc]: more than %d lines", RECIPE_LXC_MAX);
		return -1;
	}
	snprintf(r->lxc[r->nlxc].key, sizeof(r->lxc[0].key), "%s", key);
	snprintf(r->lxc[r->nlxc].value, sizeof(r->lxc[0].value), "%s", value);
	r->nlxc++;
	return 0;
}

static int on_key(void *ctx, const char *section, const char *key, const char *value,
		  int line, char *err, size_t errlen)
{
	struct recipe *r = ctx;
	char names[256];
	int where = 0;
	char *base = (char *)r;

	for (size_t i = 0; i < COUNT(sections) && !where; i++) {
		size_t n = strlen(sections[i].name);
		if (sections[i].name[n - 1] == '.' ? strncmp(section, sections[i].name, n) == 0
						   : strcmp(section, sections[i].name) == 0)
			where = sections[i].where;
	}
	if (!where) {
		snprintf(err, errlen, "unknown section [%s]: expected [image], [runtime], [log], [install], [step.NAME], [task.NAME], [service.NAME], [network], [network.NAME] or [lxc]",
			 section);
		return -1;
	}
	if (where == IN_LXC)
		return lxc_line(r, key, value, err, errlen);
	if (where == IN_INSTALL && !r->install_line)
		r->install_line = line;
	if (where == IN_IMAGE && strcmp(key, "modules") == 0)
		r->modules_line = line;
	if (where == IN_IMAGE && strcmp(key, "overlay") == 0)
		r->overlay_line = line;
	int taken = where == IN_IMAGE ? recipe_image_key(r, key, value, line, err, errlen) : 1;
	if (taken <= 0)
		return taken;
	if (where == IN_NET) {
		struct recipe_net *n = net_for(r, section, line, err, errlen);
		if (!n)
			return -1;
		base = (char *)n;
	}
	if (where & IN_UNIT) {
		struct recipe_unit *u = unit_for(r, where, section, line, err, errlen);
		if (!u)
			return -1;
		base = (char *)u;
		if (strcmp(key, "after") == 0)
			u->after_line = line;
	}
	if ((taken = recipe_key_set(base, where, key, value, err, errlen)) <= 0)
		return taken;
	recipe_keys_list(where, names, sizeof(names));
	snprintf(err, errlen, "unknown key '%s' in [%s]: expected one of %s", key, section, names);
	return -1;
}

/* The default host name: the appliance name with what RFC 1123 does not
 * allow ('_', '.', '+') turned into '-', and no '-' at either end. */
static void hostname_from_name(const char *name, char out[RECIPE_WORD_MAX])
{
	size_t n = 0;
	for (const char *p = name; *p; p++) {
		char c = (*p == '_' || *p == '.' || *p == '+') ? '-' : *p;
		if (c != '-' || n > 0)
			out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0)
		strcpy(out, "amphi");
}

static int find_service(const struct recipe *r, const char *name)
{
	for (int i = 0; i < r->nunits; i++)
		if (r->unit[i].kind == UNIT_SERVICE && strcmp(r->unit[i].name, name) == 0)
			return i;
	return -1;
}

/* Depth first over after =; state 1 = on the path (a cycle), 2 = placed. */
static int order_service(struct recipe *r, int i, char state[], const char *filename,
			 char *err, size_t errlen)
{
	struct recipe_unit *u = &r->unit[i];

	if (state[i] == 2)
		return 0;
	if (state[i] == 1) {
		snprintf(err, errlen, "%s:%d: [service.%s] after: a cycle leads back to '%s'",
			 filename, u->after_line, u->name, u->name);
		return -1;
	}
	state[i] = 1;
	for (int a = 0; a < u->after.n; a++) {
		int j = find_service(r, u->after.item[a]);
		if (j < 0) {
			snprintf(err, errlen, "%s:%d: [service.%s] after: no service named '%s'",
				 filename, u->after_line, u->name, u->after.item[a]);
			return -1;
		}
		if (order_service(r, j, state, filename, err, errlen) < 0)
			return -1;
	}
	state[i] = 2;
	r->start_order[r->nservices++] = i;
	return 0;
}

/* What can only be checked once the whole file is read. */
static int check_units(struct recipe *r, const char *filename, char *err, size_t errlen)
{
	char state[RECIPE_UNITS_MAX] = { 0 };
	char words[RECIPE_EXEC_MAX], why[128];
	char *argv[ARGV_MAX];

	for (int i = 0; i < r->nunits; i++) {
		struct recipe_unit *u = &r->unit[i];
		const char *kind = recipe_unit_kind(u->kind);
		if (!u->exec[0]) {
			snprintf(err, errlen, "%s:%d: [%s.%s] has no exec = (the command to run)",
				 filename, u->line, kind, u->name);
			return -1;
		}
		if (!u->shell && argv_split(u->exec, words, sizeof(words), argv, ARGV_MAX, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: [%s.%s] exec: %s (or set shell = yes)",
				 filename, u->line, kind, u->name, why);
			return -1;
		}
	}
	r->nsteps = 0;
	for (int i = 0; i < r->nunits; i++)
		r->nsteps += r->unit[i].kind == UNIT_STEP;
	if (r->nsteps && r->install_mode == INSTALL_NONE)
		r->install_mode = INSTALL_INSTALLER;  /* steps alone: an installer */
	if (!r->nsteps && r->install_line) {
		snprintf(err, errlen, "%s:%d: [install] has no steps; add [step.NAME] sections, in the order they run",
			 filename, r->install_line);
		return -1;
	}
	if (r->install_then < 0)
		r->install_then = r->install_mode == INSTALL_FIRST_BOOT ? THEN_CONTINUE : THEN_POWEROFF;
	r->nservices = 0;
	for (int i = 0; i < r->nunits; i++)
		if (r->unit[i].kind == UNIT_SERVICE && order_service(r, i, state, filename, err, errlen) < 0)
			return -1;
	return 0;
}

int recipe_parse(const char *text, size_t len, const char *filename,
		 struct recipe *r, char *err, size_t errlen)
{
	char why[RECIPE_ERR_MAX];
	int line = conf_parse(text, len, on_key, r, why, sizeof(why));
	if (line) {
		snprintf(err, errlen, "%s:%d: %s", filename, line, why);
		return -1;
	}
	if (!r->name[0]) {
		snprintf(err, errlen, "%s: [image] has no name; every recipe names its appliance (name = web)", filename);
		return -1;
	}
	if (!r->hostname[0])
		hostname_from_name(r->name, r->hostname);
	if (r->image_overlay == OVERLAY_DISK && !recipe_root_image(r)) {
		snprintf(err, errlen, "%s:%d: overlay = disk: the data disk holds the writable layer over a root image, "
			 "and this recipe's tree is all in the initramfs; add root = squashfs to [image]",
			 filename, r->overlay_line);
		return -1;
	}
	if (r->nsetup && !r->packages.n) {
		snprintf(err, errlen, "%s:%d: setup runs in the Debian tree that packages = makes; add packages = "
			 "(a busybox appliance does such things in a [task.NAME] at boot)", filename, r->setup[0].line);
		return -1;
	}
	return check_units(r, filename, err, errlen);
}

int recipe_load(const char *path, struct recipe *r, char *err, size_t errlen)
{
	static char text[RECIPE_FILE_MAX + 1];
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, text + len, sizeof(text) - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (len > RECIPE_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes; a recipe is a short text file",
			 path, RECIPE_FILE_MAX);
		return -1;
	}
	return recipe_parse(text, len, path, r, err, errlen);
}
