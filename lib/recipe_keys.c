/* What each key of a recipe means. A row of the keys table names the
 * sections a key may stand in, where its value goes and its type; a type
 * is a function that checks a value and sets the field, one per kind of
 * value (value_types). */
#include "recipe_keys.h"
#include "conf.h"
#include "netaddr.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The types of value, a function each (value_types); a key's row names
 * one, and in arg what that function needs to know of the key. */
enum key_type {
	KEY_WORDS,    /* a list of words; arg: enum word_check */
	KEY_NAMED,    /* one of some names; arg: enum names */
	KEY_WORD,     /* arg: 1 for a host name */
	KEY_INT,      /* arg: enum int_range */
	KEY_GATEWAY,  /* arg: AF_INET or AF_INET6 */
	KEY_EXEC, KEY_PATH, KEY_SIGNAL, KEY_MAC, KEY_IFNAME, KEY_POLICY,
	KEY_BUILDER,  /* [image] packages, files, setup: recipe_image_key's */
	KEY_TYPES
};
enum word_check { WORDS_NAME, WORDS_ENV, WORDS_PREFIX, WORDS_IP, WORDS_PATH };
enum names { NAMES_RESTART, NAMES_ONFAIL, NAMES_MODE, NAMES_THEN, NAMES_IFAIL, NAMES_UNNAMED, NAMES_ROOT,
	     NAMES_OVERLAY, NAMES_BOOL, NAMES_NEEDS, NAMES_CONSOLE };
/* KEY_INT's bounds, named for them. */
enum int_range { INT_0_12, INT_1_300, INT_1_600, INT_1_86400, INT_64_65536, INT_68_65535 };
static const struct {
	int min, max;
} int_ranges[] = {
	[INT_0_12] = { 0, 12 },         [INT_1_300] = { 1, 300 },       [INT_1_600] = { 1, 600 },
	[INT_1_86400] = { 1, 86400 },   [INT_64_65536] = { 64, 65536 }, [INT_68_65535] = { 68, 65535 },
};

/* Packed: the init carries this table (16 bytes a row, not 40). Unit keys
 * are offsets into recipe_unit, [network.NAME] keys into recipe_net. */
struct key_spec {
	const char *key;
	unsigned offset;
	unsigned short where;
	unsigned char type;   /* enum key_type */
	unsigned char arg;
};

#define R(f) offsetof(struct recipe, f)
#define U(f) offsetof(struct recipe_unit, f)
#define N(f) offsetof(struct recipe_net, f)
static const struct key_spec keys[] = {
	{ "name", R(name), IN_IMAGE, KEY_WORD, 0 },
	{ "modules", R(modules), IN_IMAGE, KEY_WORDS, WORDS_NAME },
	{ "root", R(image_root), IN_IMAGE, KEY_NAMED, NAMES_ROOT },
	{ "overlay", R(image_overlay), IN_IMAGE, KEY_NAMED, NAMES_OVERLAY },
	/* read by recipe_image_key; here to be listed in errors */
	{ "packages", 0, IN_IMAGE, KEY_BUILDER, 0 },
	{ "files", 0, IN_IMAGE, KEY_BUILDER, 0 },
	{ "setup", 0, IN_IMAGE, KEY_BUILDER, 0 },
	{ "hostname", R(hostname), IN_RUNTIME, KEY_WORD, 1 },
	{ "ttys", R(ttys), IN_RUNTIME, KEY_INT, INT_0_12 },
	{ "stop_timeout", R(stop_timeout), IN_RUNTIME, KEY_INT, INT_1_300 },
	{ "agent", R(agent), IN_RUNTIME, KEY_NAMED, NAMES_BOOL },
	{ "getty", R(getty), IN_RUNTIME, KEY_WORDS, WORDS_NAME },
	{ "autologin", R(autologin), IN_RUNTIME, KEY_NAMED, NAMES_BOOL },
	{ "network_timeout", R(network_timeout), IN_RUNTIME, KEY_INT, INT_1_600 },
	{ "ring", R(log_ring_kib), IN_LOG, KEY_INT, INT_64_65536 },
	{ "policy", R(log_policy), IN_LOG, KEY_POLICY, 0 },
	{ "files", R(log_files), IN_LOG, KEY_WORDS, WORDS_PATH },
	{ "console", R(log_console_init_only), IN_LOG, KEY_NAMED, NAMES_CONSOLE },
	{ "exec", U(exec), IN_UNIT, KEY_EXEC, 0 },
	{ "shell", U(shell), IN_UNIT, KEY_NAMED, NAMES_BOOL },
	{ "env", U(env), IN_UNIT, KEY_WORDS, WORDS_ENV },
	{ "user", U(user), IN_UNIT, KEY_WORD, 0 },
	{ "group", U(group), IN_UNIT, KEY_WORD, 0 },
	{ "workdir", U(workdir), IN_UNIT, KEY_PATH, 0 },
	{ "restart", U(restart), IN_SERVICE, KEY_NAMED, NAMES_RESTART },
	{ "stop_signal", U(stop_signal), IN_SERVICE, KEY_SIGNAL, 0 },
	{ "stop_timeout", U(stop_timeout), IN_SERVICE, KEY_INT, INT_1_300 },
	{ "after", U(after), IN_SERVICE, KEY_WORDS, WORDS_NAME },
	{ "needs", U(needs_network), IN_SERVICE, KEY_NAMED, NAMES_NEEDS },
	{ "on_failure", U(stop_boot_on_failure), IN_TASK, KEY_NAMED, NAMES_ONFAIL },
	{ "timeout", U(timeout), IN_TASK | IN_STEP, KEY_INT, INT_1_86400 },
	{ "mode", R(install_mode), IN_INSTALL, KEY_NAMED, NAMES_MODE },
	{ "then", R(install_then), IN_INSTALL, KEY_NAMED, NAMES_THEN },
	{ "on_failure", R(install_shell_on_failure), IN_INSTALL, KEY_NAMED, NAMES_IFAIL },
	{ "marker", R(install_marker), IN_INSTALL, KEY_PATH, 0 },
	{ "unnamed", R(unnamed_dhcp), IN_NETWORK, KEY_NAMED, NAMES_UNNAMED },
	{ "mac", N(mac), IN_NET, KEY_MAC, 0 },
	{ "dhcp", N(dhcp), IN_NET, KEY_NAMED, NAMES_BOOL },
	{ "address", N(address), IN_NET, KEY_WORDS, WORDS_PREFIX },
	{ "gateway", N(gateway), IN_NET, KEY_GATEWAY, AF_INET },
	{ "gateway6", N(gateway6), IN_NET, KEY_GATEWAY, AF_INET6 },
	{ "mtu", N(mtu), IN_NET, KEY_INT, INT_68_65535 },
	{ "dns", N(dns), IN_NET, KEY_WORDS, WORDS_IP },
	{ "search", N(search), IN_NET, KEY_WORDS, WORDS_NAME },
	{ "bridge", N(bridge), IN_NET, KEY_IFNAME, 0 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

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
  bool_names[] = { { "yes", 1 }, { "true", 1 }, { "no", 0 }, { "false", 0 } },
  needs_names[] = { { "network", 1 } },
  console_names[] = { { "all", 0 }, { "init", 1 } },
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

void recipe_unit_defaults(struct recipe_unit *u, enum unit_kind kind, const char *name)
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

int recipe_valid_word(const char *s, int hostname)
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
	return recipe_valid_word(w, 0) ? NULL : " is not a valid name (letters, digits, - _ . +; under 64 characters)";
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
static int set_words(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	static const word_check checks[] = { [WORDS_NAME] = check_name, [WORDS_ENV] = check_env,
					     [WORDS_PREFIX] = check_prefix, [WORDS_IP] = check_ip,
					     [WORDS_PATH] = check_path };
	struct recipe_list *list = field;
	char buf[CONF_LINE_MAX];
	const char *seps = k->arg == WORDS_ENV ? " \t" : " \t,";
	const char *why;

	snprintf(buf, sizeof(buf), "%s", value);
	if (k->arg != WORDS_ENV)
		list->n = 0;
	for (char *save = NULL, *w = strtok_r(buf, seps, &save); w; w = strtok_r(NULL, seps, &save)) {
		if ((why = checks[k->arg](w))) {
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

/* One of the names of the key's table, and what to say else. */
static int set_named(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	static const struct named_type {
		const struct named *names;
		int n;
		const char *expected;
	} named_types[] = {
		[NAMES_RESTART] = { restart_names, COUNT(restart_names), "always, on-failure or no" },
		[NAMES_ONFAIL] = { onfail_names, COUNT(onfail_names), "stop or continue" },
		[NAMES_MODE] = { mode_names, COUNT(mode_names), "installer or first-boot" },
		[NAMES_THEN] = { then_names, COUNT(then_names), "poweroff, reboot or continue" },
		[NAMES_IFAIL] = { ifail_names, COUNT(ifail_names), "poweroff or shell" },
		[NAMES_UNNAMED] = { unnamed_names, COUNT(unnamed_names), "dhcp or none" },
		[NAMES_ROOT] = { root_names, COUNT(root_names), "auto, initramfs or squashfs" },
		[NAMES_OVERLAY] = { overlay_names, COUNT(overlay_names), "tmpfs or disk" },
		[NAMES_BOOL] = { bool_names, COUNT(bool_names), "yes or no" },
		[NAMES_NEEDS] = { needs_names, COUNT(needs_names), "network" },
		[NAMES_CONSOLE] = { console_names, COUNT(console_names), "all or init" },
	};
	_Static_assert(COUNT(named_types) == NAMES_CONSOLE + 1, "names for every enum names");
	const struct named_type *t = &named_types[k->arg];

	for (int i = 0; i < t->n; i++)
		if (strcmp(value, t->names[i].name) == 0) {
			*(int *)field = t->names[i].value;
			return 0;
		}
	snprintf(err, errlen, "%s = '%s': expected %s", k->key, value, t->expected);
	return -1;
}

static int set_word(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	if (!recipe_valid_word(value, k->arg)) {
		snprintf(err, errlen, "%s = '%s': expected %s of at most %d characters", k->key, value,
			 k->arg ? "a host name (letters, digits, inner '-')"
						 : "a name (letters, digits, - _ . +)",
			 RECIPE_WORD_MAX - 1);
		return -1;
	}
	strcpy(field, value);
	return 0;
}

static int set_int(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	int min = int_ranges[k->arg].min, max = int_ranges[k->arg].max;
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno || end == value || *end || n < min || n > max) {
		snprintf(err, errlen, "%s = '%s': expected a whole number from %d to %d", k->key, value, min, max);
		return -1;
	}
	*(int *)field = (int)n;
	return 0;
}

static int set_exec(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	if (!*value || strlen(value) >= RECIPE_EXEC_MAX) {
		snprintf(err, errlen, "exec: expected a command of 1 to %d characters", RECIPE_EXEC_MAX - 1);
		return -1;
	}
	strcpy(field, value);  /* split and checked once shell = is known */
	return 0;
}

static int set_path(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	/* with " #", a comment taken into the path (see conf.h) */
	if (value[0] != '/' || strlen(value) >= RECIPE_PATH_MAX || conf_end_comment(value)) {
		snprintf(err, errlen, "%s = '%s': expected an absolute path under %d characters", k->key, value,
			 RECIPE_PATH_MAX);
		return -1;
	}
	strcpy(field, value);
	return 0;
}

/* The number is set even when it is -1 (no such signal): the error stops
 * the parse. */
static int set_signal(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	if ((*(int *)field = recipe_signal(value)) < 0) {
		snprintf(err, errlen, "%s = '%s': expected a signal such as TERM, INT, HUP, QUIT, USR1 or a number",
			 k->key, value);
		return -1;
	}
	return 0;
}

static int set_policy(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	if ((*(int *)field = recipe_log_policy(value)) < 0) {
		snprintf(err, errlen, "%s = '%s': expected auto, block or drop", k->key, value);
		return -1;
	}
	return 0;
}

static int set_mac(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	if (!net_mac_valid(value)) {
		snprintf(err, errlen, "mac = '%s': expected six hex pairs such as 52:54:00:12:34:56", value);
		return -1;
	}
	strcpy(field, value);
	return 0;
}

static int set_ifname(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	if (!recipe_valid_word(value, 0) || strlen(value) >= RECIPE_IFNAME_MAX) {
		snprintf(err, errlen, "%s = '%s': expected an interface name of at most %d characters", k->key, value,
			 RECIPE_IFNAME_MAX - 1);
		return -1;
	}
	strcpy(field, value);
	return 0;
}

/* An address of the key's family, without a prefix. */
static int set_gateway(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	struct net_addr a;
	int want = k->arg;

	if (net_addr_parse(value, &a) < 0 || a.prefix >= 0 || a.family != want) {
		snprintf(err, errlen, "%s = '%s': expected an %s address without a prefix", k->key, value,
			 want == AF_INET ? "IPv4" : "IPv6");
		return -1;
	}
	strcpy(field, value);
	return 0;
}

/* packages, files, setup: recipe_image_key took them. */
static int set_nothing(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen)
{
	return 0;
}

/* Checks value and sets the field of key k: 0, or -1 with err. */
typedef int (*value_type)(void *field, const struct key_spec *k, const char *value, char *err, size_t errlen);
static const value_type value_types[KEY_TYPES] = {
	[KEY_WORDS] = set_words, [KEY_NAMED] = set_named, [KEY_WORD] = set_word, [KEY_INT] = set_int,
	[KEY_GATEWAY] = set_gateway, [KEY_EXEC] = set_exec, [KEY_PATH] = set_path, [KEY_SIGNAL] = set_signal,
	[KEY_MAC] = set_mac, [KEY_IFNAME] = set_ifname, [KEY_POLICY] = set_policy, [KEY_BUILDER] = set_nothing,
};

int recipe_key_set(void *base, int where, const char *key, const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++)
		if ((keys[i].where & where) && strcmp(keys[i].key, key) == 0)
			return value_types[keys[i].type]((char *)base + keys[i].offset, &keys[i], value, err, errlen);
	return 1;
}

void recipe_keys_list(int where, char *out, size_t outlen)
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
