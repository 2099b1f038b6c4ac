/* amphi lxc-template: what build/lxc-amphi runs for lxc-create -t.
 *
 * lxc-create calls a template with --path=DIR --name=NAME --rootfs=DIR
 * (and --mapped-uid/--mapped-gid in a user namespace) and then the user's
 * arguments after "--". We build the recipe's LXC tree into the rootfs
 * lxc-create made, append our lines to the config it wrote (its network
 * section from default.conf stays), and say what to do next.
 *
 * Unprivileged containers (lxc.idmap in the config): lxc-create runs the
 * template in a user namespace as the container's root, so what we write
 * is owned by the mapped root on the host without a chown. --mapped-uid
 * and --mapped-gid name the caller's own ids in that namespace, for
 * templates that hand files back to the caller; we have none, but their
 * presence says the container is unprivileged, so the config includes
 * LXC's userns.conf too. */
#include "build.h"
#include "debian.h"
#include "commands.h"
#include "lxcconfig.h"
#include "lxcrootfs.h"
#include "manifest.h"
#include "netrule.h"
#include "nextsteps.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEXT_STEPS "amphi-next-steps.txt"

struct targs {
	const char *path, *name, *rootfs, *recipe, *hostname, *net, *ttys;
	int autologin, userns;
};

/* bad: the option that was not understood; NULL: --help, on stdout. */
static int usage_template(const char *bad)
{
	if (bad)
		fprintf(stderr, "lxc-amphi: unknown option '%s'\n", bad);
	fprintf(bad ? stderr : stdout,
		"usage: lxc-create -t amphi -n NAME -- --recipe FILE [--hostname NAME] [--ttys N]\n"
		"                                     [--net dhcp|ADDRESS/PREFIX] [--autologin]\n"
		"  builds the recipe's appliance into the container; nothing is left behind on an error\n");
	return bad ? 1 : 0;
}

/* "--key=value" or "--key value". */
static const char *opt_value(int argc, char **argv, int *i, const char *key)
{
	size_t n = strlen(key);
	if (strncmp(argv[*i], key, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int parse_args(int argc, char **argv, struct targs *t)
{
	static const char *const mapped[] = { "--mapped-uid", "--mapped-gid" };
	const char *v;

	for (int i = 1; i < argc; i++) {
		int known = 0;
		for (size_t k = 0; k < sizeof(mapped) / sizeof(mapped[0]); k++)
			if (opt_value(argc, argv, &i, mapped[k]))
				known = 1;
		t->userns |= known;
		if (known)
			continue;
		if ((v = opt_value(argc, argv, &i, "--path")))
			t->path = v;
		else if ((v = opt_value(argc, argv, &i, "--name")))
			t->name = v;
		else if ((v = opt_value(argc, argv, &i, "--rootfs")))
			t->rootfs = v;
		else if ((v = opt_value(argc, argv, &i, "--recipe")))
			t->recipe = v;
		else if ((v = opt_value(argc, argv, &i, "--hostname")))
			t->hostname = v;
		else if ((v = opt_value(argc, argv, &i, "--net")))
			t->net = v;
		else if ((v = opt_value(argc, argv, &i, "--ttys")))
			t->ttys = v;  /* checked as the recipe's ttys = */
		else if (!strcmp(argv[i], "--autologin"))
			t->autologin = 1;
		else if (!strcmp(argv[i], "--"))
			continue;
		else
			return usage_template(argv[i]);
	}
	if (!t->path || !t->name || !t->rootfs) {
		fprintf(stderr, "lxc-amphi: run by lxc-create, which passes --path, --name and --rootfs\n");
		return 1;
	}
	if (!t->recipe) {
		fprintf(stderr, "lxc-amphi: which appliance? add -- --recipe FILE (for example recipes/minimal.conf)\n");
		return 1;
	}
	/* Each becomes one recipe line: a line break would add others. */
	const char *const one_line[][2] = { { "--hostname", t->hostname }, { "--ttys", t->ttys }, { "--net", t->net } };
	for (size_t k = 0; k < sizeof(one_line) / sizeof(one_line[0]); k++)
		if (one_line[k][1] && strpbrk(one_line[k][1], "\r\n")) {
			fprintf(stderr, "lxc-amphi: %s: expected one line, without line breaks\n", one_line[k][0]);
			return 1;
		}
	if (t->net && !*t->net) {
		fprintf(stderr, "lxc-amphi: --net '': expected dhcp or ADDRESS/PREFIX, such as 10.0.3.2/24\n");
		return 1;
	}
	return 0;
}

/* Which option each appended recipe line came from, for errors. */
struct opt_lines {
	int line[4];             /* where each option's lines start */
	const char *opt[4], *value[4];
	int n;
};

static int lines_in(const struct strbuf *b)
{
	int n = 0;
	for (size_t i = 0; i < b->len; i++)
		n += b->s[i] == '\n';
	return n;
}

/* The next lines of b come from option opt (value: what it was given). */
static void from_option(struct opt_lines *o, const struct strbuf *b, const char *opt, const char *value)
{
	o->line[o->n] = lines_in(b) + 1;
	o->opt[o->n] = opt;
	o->value[o->n++] = value;
}

/* The recipe as given, then the command line's choices as recipe lines:
 * later keys win, and the same parser checks them. */
static int recipe_text(const struct targs *t, struct strbuf *b, struct opt_lines *o, char *err, size_t errlen)
{
	char *file;
	size_t len;

	if (read_file(t->recipe, &file, &len, err, errlen) < 0)
		return -1;
	/* as they are, NULs too: the parser says where one is */
	int rc = strbuf_add(b, file, len) < 0 ? -1 : strbuf_printf(b, "\n# lxc-create options\n[runtime]\n");
	free(file);
	if (rc == 0 && t->hostname) {
		from_option(o, b, "--hostname", t->hostname);
		rc = strbuf_printf(b, "hostname = %s\n", t->hostname);
	}
	if (rc == 0 && t->ttys) {
		from_option(o, b, "--ttys", t->ttys);
		rc = strbuf_printf(b, "ttys = %s\n", t->ttys);
	}
	if (rc == 0 && t->autologin) {
		from_option(o, b, "--autologin", NULL);
		rc = strbuf_printf(b, "autologin = yes\n");
	}
	if (rc == 0 && t->net) {
		from_option(o, b, "--net", t->net);
		rc = strbuf_printf(b, strcmp(t->net, "dhcp") == 0 ? "[network.eth0]\ndhcp = yes\n"
								  : "[network.eth0]\naddress = %s\n", t->net);
	}
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* An error "RECIPE:LINE: why" on a line the options added names the option
 * instead: the recipe file has no such line. */
static void blame_option(const struct targs *t, const struct opt_lines *o, char *err, size_t errlen)
{
	size_t n = strlen(t->recipe);
	char *end, why[1024];

	if (strncmp(err, t->recipe, n) || err[n] != ':')
		return;
	long line = strtol(err + n + 1, &end, 10);
	if (o->n == 0 || line < o->line[0] || strncmp(end, ": ", 2))
		return;
	int k = 0;
	while (k + 1 < o->n && o->line[k + 1] <= line)
		k++;
	snprintf(why, sizeof(why), "%s", end + 2);
	if (o->value[k])
		snprintf(err, errlen, "%s %s: %s", o->opt[k], o->value[k], why);
	else
		snprintf(err, errlen, "%s: %s", o->opt[k], why);
}

/* A rootfs that is not empty (lxc-create -B dir --dir DIR) is not ours to
 * fill. Refusing is not enough: lxc-create removes the rootfs of a create
 * whose template failed, contents and all. So the contents move aside to a
 * sibling first (a rename: nothing is copied or lost), and the error says
 * where. */
static void keep_aside(const char *rootfs, char *err, size_t errlen)
{
	char kept[PATH_MAX];
	int n = 0;

	do
		snprintf(kept, sizeof(kept), n ? "%s.amphi-kept.%d" : "%s.amphi-kept", rootfs, n);
	while (access(kept, F_OK) == 0 && ++n < 100);
	if (access(kept, F_OK) < 0 && rename(rootfs, kept) == 0) {
		mkdir(rootfs, 0755);  /* an empty one for lxc-create to remove */
		snprintf(err, errlen,
			 "%s exists and is not empty; lxc-amphi only fills a new rootfs. Because lxc-create deletes "
			 "the rootfs of a failed create, its contents were moved to %s (mv %s %s puts them back); "
			 "give lxc-create an empty or new --dir",
			 rootfs, kept, kept, rootfs);
	} else {
		snprintf(err, errlen,
			 "%s exists and is not empty; lxc-amphi only fills a new rootfs. It could not be moved "
			 "aside (%s), and lxc-create deletes the rootfs of a failed create; give it an empty or new --dir",
			 rootfs, strerror(errno));
	}
}

/* The first interface of the config lxc-create wrote (LXC's default.conf,
 * or what -f gave): "lxc.net.0.KEY = VALUE" lines; the last one wins, as in
 * LXC. Empty values for keys it lacks. */
struct lxc_net0 {
	char type[32], link[64], address[64];
};

static void read_net0(const char *config, struct lxc_net0 *n)
{
	char line[512];
	FILE *f = fopen(config, "re");

	memset(n, 0, sizeof(*n));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char key[64], *eq = strchr(line, '=');
		if (!eq || sscanf(line, " lxc.net.0.%63[a-z0-9.]", key) != 1)
			continue;
		char *v = eq + 1;
		v += strspn(v, " \t");
		v[strcspn(v, " \t\r\n")] = '\0';
		if (!strcmp(key, "type"))
			snprintf(n->type, sizeof(n->type), "%s", v);
		else if (!strcmp(key, "link"))
			snprintf(n->link, sizeof(n->link), "%s", v);
		else if (!strcmp(key, "ipv4.address"))
			snprintf(n->address, sizeof(n->address), "%s", v);
	}
	fclose(f);
}

/* The network this container will have: LXC's interface and what the
 * init does on it: the recipe's [network.eth0] (with --net), else what
 * LXC's config gives, else DHCP unless the recipe says [network]
 * unnamed = none (netrule.h). */
static int network_line(struct strbuf *b, const struct targs *t, const struct recipe *r)
{
	const char *lxcpath = t->path, *rootfs = t->rootfs;
	char config[PATH_MAX], nic[160], sys[PATH_MAX];
	struct lxc_net0 n;

	snprintf(config, sizeof(config), "%s/config", lxcpath);
	read_net0(config, &n);
	if (!n.type[0] || !strcmp(n.type, "empty") || !strcmp(n.type, "none"))
		return strbuf_printf(b, "loopback only (%s); for a network set lxc.net.0.type = veth and\n"
				     "                     lxc.net.0.link = BRIDGE in %s, and --net dhcp|ADDRESS/PREFIX\n",
				     n.type[0] ? "lxc.net.0.type = empty" : "the config has no lxc.net.0", config);
	if (n.link[0])
		snprintf(nic, sizeof(nic), "eth0, a %s on bridge %s,", n.type, n.link);
	else
		snprintf(nic, sizeof(nic), "eth0 (lxc.net.0.type = %s)", n.type);
	const struct recipe_net *eth0 = netrule_recipe_eth0(r);
	int unnamed = !eth0 && !n.address[0];
	int rc = strbuf_printf(b, "%s ", nic) < 0 || netrule_say(b, r, n.address) < 0 ? -1 : 0;
	if (rc == 0 && eth0)
		rc = strbuf_printf(b, ";\n                     change it in %s%s ([network.eth0])\n"
				   "                     or %s (lxc.net.0.*)\n", rootfs, RECIPE_IMAGE_PATH, config);
	else if (rc == 0 && unnamed)
		rc = strbuf_printf(b, ";\n                     change it in %s%s ([network.eth0], or unnamed = %s in [network])\n"
				   "                     or %s (lxc.net.0.*)\n", rootfs, RECIPE_IMAGE_PATH,
				   r->unnamed_dhcp ? "none" : "dhcp", config);
	else if (rc == 0)
		rc = strbuf_printf(b, ";\n                     change it in %s (lxc.net.0.*)\n", config);
	/* lxc-start fails on a bridge that is not there; lxc-net, when it
	 * runs (a service on most hosts), makes lxcbr0. */
	snprintf(sys, sizeof(sys), "/sys/class/net/%s", n.link);
	if (rc == 0 && n.link[0] && access(sys, F_OK) < 0)
		rc = strbuf_printf(b, "  note:              bridge %s is not up on this host, and lxc-start fails until it is;\n"
				   "                     %s\n", n.link,
				   strcmp(n.link, "lxcbr0") == 0 ? "LXC's lxc-net makes it, with DHCP: /usr/libexec/lxc/lxc-net start"
								 : "make it (ip link add NAME type bridge) or name another in lxc.net.0.link");
	return rc;
}

/* What is true for this container, printed and kept beside its config. */
static int next_steps(const struct targs *t, const struct recipe *r, struct strbuf *b)
{
	const char *lxcpath = t->path;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", lxcpath);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	/* The amphi that made it, by its full path: the hint must work as printed. */
	char self[PATH_MAX];
	if (self_path(self, sizeof(self)) < 0)
		snprintf(self, sizeof(self), "amphi");
	char at[PATH_MAX + 4];
	snprintf(at, sizeof(at), " -P %s", parent);
	const struct next_steps s = { t->name, at, "", lxcpath, self, 0 };
	if (strbuf_printf(b, "amphi appliance '%s' is created as container %s.\n\n", r->name, t->name) < 0 ||
	    next_steps_commands(b, &s) < 0 || next_steps_stop(b, &s) < 0 ||
	    strbuf_printf(b, "  network:           ") < 0)
		return -1;
	return network_line(b, t, r);
}

/* The config lxc-create wrote, between LXC's confinement before it (so
 * that its lines, as the user's, may change what common.conf set, as
 * with LXC's own templates) and amphi's lines after it. Rewritten in
 * place: the file keeps its owner. */
static int write_config(const char *path, const struct targs *t, const struct recipe *r,
			const struct strbuf *amphi, char *err, size_t errlen)
{
	struct strbuf b = { 0 };
	char *given;
	size_t len;

	if (read_file(path, &given, &len, err, errlen) < 0)
		return -1;
	int rc = lxc_confinement_lines(&b, LXC_TEMPLATE_CONFIG, t->userns || lxc_recipe_userns(r));
	if (rc == 0)
		rc = strbuf_printf(&b, "\n# lxc-create's config\n");
	if (rc == 0)
		rc = strbuf_add(&b, given, len);
	if (rc == 0)
		rc = strbuf_printf(&b, "\n# amphi appliance '%s' (lxc-amphi)\n%s", r->name, amphi->s);
	free(given);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		free(b.s);
		return -1;
	}
	FILE *f = fopen(path, "we");
	rc = f && fwrite(b.s, 1, b.len, f) == b.len ? 0 : -1;
	if ((f && fclose(f) != 0) || rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(b.s);
	return rc;
}

int cmd_lxc_template(int argc, char **argv)
{
	struct targs t = { 0 };
	struct opt_lines opts = { 0 };
	struct strbuf text = { 0 }, conf = { 0 }, hint = { 0 };
	struct recipe r;
	struct inputs in;
	char err[1024], tmp[PATH_MAX], path[PATH_MAX];
	time_t mtime;
	int rc = 1;

	/* Help from lxc-create (lxc-create -t amphi -n X -- --help) must still
	 * fail the create, or lxc-create keeps a container with an empty
	 * rootfs: 0 only when run by hand, without --rootfs. */
	int by_lxc_create = 0, help = 0;
	for (int i = 1; i < argc; i++) {
		by_lxc_create |= !strncmp(argv[i], "--rootfs", 8);
		help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
	}
	if (help) {
		usage_template(NULL);
		return by_lxc_create;
	}
	if (parse_args(argc, argv, &t))
		return 1;
	snprintf(tmp, sizeof(tmp), "%s.amphi-new", t.rootfs);
	recipe_defaults(&r);
	if (recipe_text(&t, &text, &opts, err, sizeof(err)) < 0)
		goto fail;
	if (recipe_parse(text.s, text.len, t.recipe, &r, err, sizeof(err)) < 0) {
		blame_option(&t, &opts, err, sizeof(err));
		goto fail;
	}
	if (build_mtime(&mtime, err, sizeof(err)) < 0 || inputs_find(&in, err, sizeof(err)) < 0)
		goto fail;
	if (dir_is_empty(t.rootfs) != 1) { /* one that cannot be read is not known to be empty */
		keep_aside(t.rootfs, err, sizeof(err));
		goto fail;
	}
	/* Built aside, then moved in: an error leaves the rootfs as it was. */
	struct build_src b = { &in, &r, t.recipe, text.s, text.len, mtime, NULL };
	char debian[PATH_MAX];
	if (r.packages.n) {
		if (debian_tree(&b, 0, debian, err, sizeof(err)) < 0)
			goto fail;
		b.debian_tar = debian;
	}
	remove_tree(tmp);
	struct manifest tree;
	int staged = build_stage(&b, &tree, err, sizeof(err)) == 0 && lxc_rootfs_write(&tree, &r, tmp, 0, err, sizeof(err)) == 0;
	manifest_free(&tree);
	if (!staged)
		goto fail;
	if ((rmdir(t.rootfs) < 0 && errno != ENOENT) || rename(tmp, t.rootfs) < 0) {
		snprintf(err, sizeof(err), "%s: %s", t.rootfs, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/host", t.path);
	mkdir(path, 0755);
	/* lxc-create named the host after the container; --hostname says
	 * otherwise (LXC takes the last lxc.uts.name). */
	if ((t.hostname && strbuf_printf(&conf, "lxc.uts.name = %s\n", r.hostname) < 0) ||
	    lxc_config_lines(&conf, t.path, &r, 0) < 0) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/config", t.path);
	if (write_config(path, &t, &r, &conf, err, sizeof(err)) < 0)
		goto fail;
	if (next_steps(&t, &r, &hint) < 0) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s", t.path, NEXT_STEPS);
	if (write_file(path, 0644, hint.s, hint.len, err, sizeof(err)) < 0)
		goto fail;
	fputs(hint.s, stdout);
	rc = 0;
	goto out;
fail:
	remove_tree(tmp);
	fprintf(stderr, "lxc-amphi: %s\n", err);
out:
	free(text.s);
	free(conf.s);
	free(hint.s);
	return rc;
}
