#include "recipe.h"
#include "argv.h"
#include "conf.h"
#include "logrec.h"
#include "netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECIPE_FILE_MAX (64 * 1024)

enum key_type { KEY_WORD, KEY_HOSTNAME, KEY_INT, KEY_LIST, KEY_BOOL, KEY_EXEC, KEY_PATH,
		KEY_ENV, KEY_RESTART, KEY_SIGNAL, KEY_ONFAIL, KEY_NEEDS, KEY_MAC, KEY_IFNAME,
		KEY_PREFIXES, KEY_IPS, KEY_GW4, KEY_GW6, KEY_POLICY, KEY_PATHS, KEY_CONSOLE,
		KEY_MODE, KEY_THEN, KEY_IFAIL, KEY_UNNAMED, KEY_ROOT, KEY_OVERLAY, KEY_BUILDER };

/* Which sections a key belongs to; unit keys are offsets into recipe_unit. */
enum { IN_IMAGE = 1, IN_RUNTIME = 2, IN_TASK = 4, IN_SERVICE = 8, IN_NET = 16, IN_LOG = 32,
       IN_STEP = 64, IN_INSTALL = 128, IN_LXC = 256, IN_NETWORK = 512, IN_UNIT = IN_TASK | IN_SERVICE | IN_STEP };

/* Packed: the init carries this table (24 bytes a row, not 40). */
struct key_spec {
	const char *key;
	unsigned offset;
	unsigned short where;
	unsigned char type;   /* enum key_type */
	int min, max;  /* KEY_INT only */
};

#define R(f) offsetof(struct recipe, f)
#define U(f) offsetof(struct recipe_unit, f)
#define N(f) offsetof(struct recipe_net, f)
static const struct key_spec keys[] = {
	{ "name", R(name), IN_IMAGE, KEY_WORD, 0, 0 },
	{ "modules", R(modules), IN_IMAGE, KEY_LIST, 0, 0 },
	{ "root", R(image_root), IN_IMAGE, KEY_ROOT, 0, 0 },
	{ "overlay", R(image_overlay), IN_IMAGE, KEY_OVERLAY, 0, 0 },
	/* read by recipe_image_key; here to be listed in errors */
	{ "packages", 0, IN_IMAGE, KEY_BUILDER, 0, 0 },
	{ "files", 0, IN_IMAGE, KEY_BUILDER, 0, 0 },
	{ "setup", 0, IN_IMAGE, KEY_BUILDER, 0, 0 },
	{ "hostname", R(hostname), IN_RUNTIME, KEY_HOSTNAME, 0, 0 },
	{ "ttys", R(ttys), IN_RUNTIME, KEY_INT, 0, 12 },
	{ "stop_timeout", R(stop_timeout), IN_RUNTIME, KEY_INT, 1, 300 },
	{ "agent", R(agent), IN_RUNTIME, KEY_BOOL, 0, 0 },
	{ "getty", R(getty), IN_RUNTIME, KEY_LIST, 0, 0 },
	{ "autologin", R(autologin), IN_RUNTIME, KEY_BOOL, 0, 0 },
	{ "network_timeout", R(network_timeout), IN_RUNTIME, KEY_INT, 1, 600 },
	{ "ring", R(log_ring_kib), IN_LOG, KEY_INT, 64, 65536 },
	{ "policy", R(log_policy), IN_LOG, KEY_POLICY, 0, 0 },
	{ "files", R(log_files), IN_LOG, KEY_PATHS, 0, 0 },
	{ "console", R(log_console_init_only), IN_LOG, KEY_CONSOLE, 0, 0 },
	{ "exec", U(exec), IN_UNIT, KEY_EXEC, 0, 0 },
	{ "shell", U(shell), IN_UNIT, KEY_BOOL, 0, 0 },
	{ "env", U(env), IN_UNIT, KEY_ENV, 0, 0 },
	{ "user", U(user), IN_UNIT, KEY_WORD, 0, 0 },
	{ "group", U(group), IN_UNIT, KEY_WORD, 0, 0 },
	{ "workdir", U(workdir), IN_UNIT, KEY_PATH, 0, 0 },
	{ "restart", U(restart), IN_SERVICE, KEY_RESTART, 0, 0 },
	{ "stop_signal", U(stop_signal), IN_SERVICE, KEY_SIGNAL, 0, 0 },
	{ "stop_timeout", U(stop_timeout), IN_SERVICE, KEY_INT, 1, 300 },
	{ "after", U(after), IN_SERVICE, KEY_LIST, 0, 0 },
	{ "needs", U(needs_network), IN_SERVICE, KEY_NEEDS, 0, 0 },
	{ "on_failure", U(stop_boot_on_failure), IN_TASK, KEY_ONFAIL, 0, 0 },
	{ "timeout", U(timeout), IN_TASK | IN_STEP, KEY_INT, 1, 86400 },
	{ "mode", R(install_mode), IN_INSTALL, KEY_MODE, 0, 0 },
	{ "then", R(install_then), IN_INSTALL, KEY_THEN, 0, 0 },
	{ "on_failure", R(install_shell_on_failure), IN_INSTALL, KEY_IFAIL, 0, 0 },
	{ "marker", R(install_marker), IN_INSTALL, KEY_PATH, 0, 0 },
	{ "unnamed", R(unnamed_dhcp), IN_NETWORK, KEY_UNNAMED, 0, 0 },
	{ "mac", N(mac), IN_NET, KEY_MAC, 0, 0 },
	{ "dhcp", N(dhcp), IN_NET, KEY_BOOL, 0, 0 },
	{ "address", N(address), IN_NET, KEY_PREFIXES, 0, 0 },
	{ "gateway", N(gateway), IN_NET, KEY_GW4, 0, 0 },
	{ "gateway6", N(gateway6), IN_NET, KEY_GW6, 0, 0 },
	{ "mtu", N(mtu), IN_NET, KEY_INT, 68, 65535 },
	{ "dns", N(dns), IN_NET, KEY_IPS, 0, 0 },
	{ "search", N(search), IN_NET, KEY_LIST, 0, 0 },
	{ "bridge", N(bridge), IN_NET, KEY_IFNAME, 0, 0 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct {
	const char *name;
	int where;
} sections[] = {
	{ "image", IN_IMAGE }, { "runtime", IN_RUNTIME }, { "log", IN_LOG }, { "install", IN_INSTALL },
	{ "step.", IN_STEP }, { "task.", IN_TASK }, { "service.", IN_SERVICE },  /* a prefix: [service.web] */
	{ "network.", IN_NET }, { "network", IN_NETWORK }, { "lxc", IN_LXC },
};

static const struct named {
	const char *name;
	int value;
} restart_names[] = { { "no", RESTART_NO }, { "on-failure", RESTART_ON_FAILURE }, { "always", RESTART_ALWAYS } },
  onfail_names[] = { { "continue", 0 }, { "stop", 1 } },
  mode_names[] = { { "installer", INSTALL_INSTALLER }, { "first-boot", INSTALL_FIRST_BOOT } },
  then_names[] = { { "poweroff", THEN_POWEROFF }, { "reboot", THEN_REBOOT }, { "continue", THEN_CONTINUE } },
  ifail_names[] = { { "poweroff", 0 }, { "shell", 1 } },
  unnamed_names[] = { { "none", 0 }, { "dhcp", 1 } },
  root_names[] = { { "auto", ROOT_AUTO }, { "initramfs", ROOT_INITRAMFS }, { "squashfs", ROOT_SQUASHFS } },
  overlay_names[] = { { "tmpfs", OVERLAY_TMPFS }, { "disk", OVERLAY_DISK } },
  signal_names[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "PWR", SIGPWR },
	{ "CONT", SIGCONT }, { "STOP", SIGSTOP },
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void recipe_defaults(struct recipe *r)
{
	memset(r, 0, sizeof(*r));
	r->ttys = 1;
	r->stop_timeout = 5;
	r->agent = 1;
	r->getty.n = 1;
	strcpy(r->getty.item[0], "auto");
	r->network_timeout = 30;
	r->unnamed_dhcp = 1;  /* as every distribution's container on lxc-net's lxcbr0 */
	r->log_ring_kib = 1024;
	strcpy(r->install_marker, "/var/lib/amphi/installed");
	r->install_then = -1;  /* by mode: installer powers off, first-boot goes on */
}

static void unit_defaults(struct recipe_unit *u, enum unit_kind kind, const char *name)
{
	memset(u, 0, sizeof(*u));
	u->kind = kind;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->restart = RESTART_ON_FAILURE;
	u->stop_signal = SIGTERM;
	u->stop_timeout = 5;
	u->stop_boot_on_failure = 1;
	u->timeout = 300;
}

int recipe_prepend_service(struct recipe *r, const char *name, const char *exec)
{
	if (r->nunits == RECIPE_UNITS_MAX)
		return -1;
	struct recipe_unit *u = &r->unit[r->nunits];
	unit_defaults(u, UNIT_SERVICE, name);
	snprintf(u->exec, sizeof(u->exec), "%s", exec);
	u->restart = RESTART_ALWAYS;
	memmove(&r->start_order[1], &r->start_order[0], (size_t)r->nservices * sizeof(r->start_order[0]));
	r->start_order[0] = r->nunits++;
	r->nservices++;
	return 0;
}

int recipe_log_policy(const char *name)
{
	static const char *const names[] = { [LOG_POLICY_AUTO] = "auto", [LOG_POLICY_BLOCK] = "block",
					     [LOG_POLICY_DROP] = "drop" };
	for (int i = 0; i < (int)COUNT(names); i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

int recipe_signal(const char *name)
{
	char *end;
	long n = strtol(name, &end, 10);

	if (*name && !*end)
		return n > 0 && n < 65 ? (int)n : -1;
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < COUNT(signal_names); i++)
		if (strcmp(name, signal_names[i].name) == 0)
			return signal_names[i].value;
	return -1;
}

/* A word: letters, digits and -_.+ (module names, appliance names). */
static int valid_word(const char *s, int hostname)
{
	if (!*s || strlen(s) >= RECIPE_WORD_MAX)
		return 0;
	for (const char *p = s; *p; p++) {
		int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9') || *p == '-' ||
			 (!hostname && (*p == '_' || *p == '.' || *p == '+'));
		if (!ok)
			return 0;
	}
	/* RFC 1123: a label neither starts nor ends with a hyphen. */
	return !hostname || (s[0] != '-' && s[strlen(s) - 1] != '-');
}

/* env words are KEY=VALUE with a shell-style name. */
static int valid_env(const char *s)
{
	const char *eq = strchr(s, '=');
	if (!eq || eq == s)
		return 0;
	for (const char *p = s; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		      (p > s && *p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

/* One word of a list value: NULL if fine, else how it is wrong (printed
 * after "key: 'word'"). The numbers say RECIPE_WORD_MAX. */
typedef const char *(*word_check)(const char *w);
_Static_assert(RECIPE_WORD_MAX == 64, "the messages below say 64");

static const char *check_name(const char *w)
{
	return valid_word(w, 0) ? NULL : " is not a valid name (letters, digits, - _ . +; under 64 characters)";
}

static const char *check_env(const char *w)
{
	return valid_env(w) && strlen(w) < RECIPE_WORD_MAX
		? NULL : " is not NAME=VALUE (a shell variable name, under 64 characters in all)";
}

static const char *check_prefix(const char *w)
{
	struct net_addr a;
	return net_addr_parse(w, &a) == 0 && a.prefix >= 0
		? NULL : ": expected ADDRESS/PREFIX such as 10.0.0.2/24 or fd00::2/64";
}

static const char *check_ip(const char *w)
{
	struct net_addr a;
	return net_addr_parse(w, &a) == 0 && a.prefix < 0
		? NULL : ": expected an IPv4 or IPv6 address such as 10.0.0.1";
}

static const char *check_path(const char *w)
{
	return w[0] == '/' && strlen(w) < RECIPE_WORD_MAX && !strstr(w, "/../") && w[strlen(w) - 1] != '/'
		? NULL : ": expected an absolute file path under 64 characters";
}

/* Splits a list value into words, each checked. env lists append (several
 * env = lines add up) and split on blanks only; the others replace and
 * take commas too. */
static int set_words(struct recipe_list *list, const struct key_spec *k, const char *value,
		     word_check check, char *err, size_t errlen)
{
	char buf[CONF_LINE_MAX];
	const char *seps = k->type == KEY_ENV ? " \t" : " \t,";
	const char *why;

	snprintf(buf, sizeof(buf), "%s", value);
	if (k->type != KEY_ENV)
		list->n = 0;
	for (char *save = NULL, *w = strtok_r(buf, seps, &save); w; w = strtok_r(NULL, seps, &save)) {
		if ((why = check(w))) {
			snprintf(err, errlen, "%s: '%s'%s", k->key, w, why);
			return -1;
		}
		if (list->n == RECIPE_LIST_MAX) {
			snprintf(err, errlen, "%s: more than %d entries", k->key, RECIPE_LIST_MAX);
			return -1;
		}
		strcpy(list->item[list->n++], w);
	}
	return 0;
}

static int set_named(int *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	static const struct {
		enum key_type type;
		const struct named *names;
		int n;
		const char *expected;
	} tables[] = {
		{ KEY_RESTART, restart_names, COUNT(restart_names), "always, on-failure or no" },
		{ KEY_ONFAIL, onfail_names, COUNT(onfail_names), "stop or continue" },
		{ KEY_MODE, mode_names, COUNT(mode_names), "installer or first-boot" },
		{ KEY_THEN, then_names, COUNT(then_names), "poweroff, reboot or continue" },
		{ KEY_IFAIL, ifail_names, COUNT(ifail_names), "poweroff or shell" },
		{ KEY_UNNAMED, unnamed_names, COUNT(unnamed_names), "dhcp or none" },
		{ KEY_ROOT, root_names, COUNT(root_names), "auto, initramfs or squashfs" },
		{ KEY_OVERLAY, overlay_names, COUNT(overlay_names), "tmpfs or disk" },
	};
	for (size_t t = 0; t < COUNT(tables); t++) {
		if (tables[t].type != k->type)
			continue;
		const struct named *names = tables[t].names;
		for (int i = 0; i < tables[t].n; i++)
			if (strcmp(value, names[i].name) == 0) {
				*field = names[i].value;
				return 0;
			}
		snprintf(err, errlen, "%s = '%s': expected %s", k->key, value, tables[t].expected);
		return -1;
	}
	return -1;
}

static int set_value(char *base, const struct key_spec *k, const char *value,
		     char *err, size_t errlen)
{
	char *field = base + k->offset;
	int *ifield = (int *)(void *)field;
	char *end;
	long n;

	switch (k->type) {
	case KEY_WORD:
	case KEY_HOSTNAME:
		if (!valid_word(value, k->type == KEY_HOSTNAME)) {
			snprintf(err, errlen, "%s = '%s': expected %s of at most %d characters", k->key, value,
				 k->type == KEY_HOSTNAME ? "a host name (letters, digits, inner '-')"
							 : "a name (letters, digits, - _ . +)",
				 RECIPE_WORD_MAX - 1);
			return -1;
		}
		strcpy(field, value);
		return 0;
	case KEY_INT:
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end || n < k->min || n > k->max) {
			snprintf(err, errlen, "%s = '%s': expected a whole number from %d to %d",
				 k->key, value, k->min, k->max);
			return -1;
		}
		*ifield = (int)n;
		return 0;
	case KEY_LIST:
		return set_words((struct recipe_list *)(void *)field, k, value, check_name, err, errlen);
	case KEY_ENV:
		return set_words((struct recipe_list *)(void *)field, k, value, check_env, err, errlen);
	case KEY_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			*ifield = 1;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
			*ifield = 0;
		else {
			snprintf(err, errlen, "%s = '%s': expected yes or no", k->key, value);
			return -1;
		}
		return 0;
	case KEY_EXEC:
		if (!*value || strlen(value) >= RECIPE_EXEC_MAX) {
			snprintf(err, errlen, "exec: expected a command of 1 to %d characters", RECIPE_EXEC_MAX - 1);
			return -1;
		}
		strcpy(field, value);  /* split and checked once shell = is known */
		return 0;
	case KEY_PATH:
		/* with " #", a comment taken into the path (see conf.h) */
		if (value[0] != '/' || strlen(value) >= RECIPE_PATH_MAX || conf_end_comment(value)) {
			snprintf(err, errlen, "%s = '%s': expected an absolute path under %d characters",
				 k->key, value, RECIPE_PATH_MAX);
			return -1;
		}
		strcpy(field, value);
		return 0;
	case KEY_RESTART:
	case KEY_ONFAIL:
	case KEY_MODE:
	case KEY_THEN:
	case KEY_IFAIL:
	case KEY_UNNAMED:
	case KEY_ROOT:
	case KEY_OVERLAY:
		return set_named(ifield, k, value, err, errlen);
	case KEY_NEEDS:
		if (strcmp(value, "network") != 0) {
			snprintf(err, errlen, "needs = '%s': expected network", value);
			return -1;
		}
		*ifield = 1;
		return 0;
	case KEY_MAC:
		if (!net_mac_valid(value)) {
			snprintf(err, errlen, "mac = '%s': expected six hex pairs such as 52:54:00:12:34:56", value);
			return -1;
		}
		strcpy(field, value);
		return 0;
	case KEY_IFNAME:
		if (!valid_word(value, 0) || strlen(value) >= RECIPE_IFNAME_MAX) {
			snprintf(err, errlen, "%s = '%s': expected an interface name of at most %d characters",
				 k->key, value, RECIPE_IFNAME_MAX - 1);
			return -1;
		}
		strcpy(field, value);
		return 0;
	case KEY_PREFIXES:
		return set_words((struct recipe_list *)(void *)field, k, value, check_prefix, err, errlen);
	case KEY_IPS:
		return set_words((struct recipe_list *)(void *)field, k, value, check_ip, err, errlen);
	case KEY_GW4:
	case KEY_GW6: {
		struct net_addr a;
		int want = k->type == KEY_GW4 ? AF_INET : AF_INET6;
		if (net_addr_parse(value, &a) < 0 || a.prefix >= 0 || a.family != want) {
			snprintf(err, errlen, "%s = '%s': expected an %s address without a prefix", k->key, value,
				 want == AF_INET ? "IPv4" : "IPv6");
			return -1;
		}
		strcpy(field, value);
		return 0;
	}
	case KEY_POLICY:
		if ((*ifield = recipe_log_policy(value)) < 0) {
			snprintf(err, errlen, "%s = '%s': expected auto, block or drop", k->key, value);
			return -1;
		}
		return 0;
	case KEY_CONSOLE:
		if (strcmp(value, "all") && strcmp(value, "init")) {
			snprintf(err, errlen, "%s = '%s': expected all or init", k->key, value);
			return -1;
		}
		*ifield = strcmp(value, "init") == 0;
		return 0;
	case KEY_PATHS:
		return set_words((struct recipe_list *)(void *)field, k, value, check_path, err, errlen);
	case KEY_BUILDER:
		return 0;
	case KEY_SIGNAL:
		if ((*ifield = recipe_signal(value)) < 0) {
			snprintf(err, errlen, "%s = '%s': expected a signal such as TERM, INT, HUP, QUIT, USR1 or a number",
				 k->key, value);
			return -1;
		}
		return 0;
	}
	return 0;
}

static void expected_keys(int where, char *out, size_t outlen)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		if (!(keys[i].where & where))
			continue;
		int w = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", keys[i].key);
		if (w < 0 || (size_t)w >= outlen - used)
			return;
		used += (size_t)w;
	}
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

	if (!valid_word(name, 0) || strchr(name, '.')) {
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
	unit_defaults(u, kind, name);
	u->line = line;
	return u;
}

/* The interface a [network.NAME] section names, made on first use. */
static struct recipe_net *net_for(struct recipe *r, const char *section, int line, char *err, size_t errlen)
{
	const char *name = section + strlen("network.");

	if (!valid_word(name, 0) || strlen(name) >= RECIPE_IFNAME_MAX) {
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
	for (size_t i = 0; i < NKEYS; i++)
		if ((keys[i].where & where) && strcmp(keys[i].key, key) == 0)
			return set_value(base, &keys[i], value, err, errlen);
	expected_keys(where, names, sizeof(names));
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
