/* The LXC tree as tarballs, for hosts that do not run amphi:
 *   DIR/lxc/rootfs.tar.xz + DIR/lxc/meta.tar.xz
 *       lxc-create -t local -- --metadata meta.tar.xz --fstree rootfs.tar.xz
 *   DIR/lxd/lxd.tar.xz + DIR/lxd/rootfs.squashfs   (a split image, as
 *       distrobuilder makes them: metadata.yaml, and the tree as SquashFS)
 *       lxc image import lxd.tar.xz rootfs.squashfs --alias NAME
 * All from one staged tree, one mtime, sorted: reproducible. The tree is
 * compressed once with xz (lxc-local takes only a tarball); LXD's is
 * SquashFS, which mksquashfs makes in a fraction of xz's time. */
#include "tarballs.h"
#include "lxcconfig.h"
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

/* In the rootfs tarball only, and named in `templates`: lxc-local fills in
 * LXC_NAME, LXC_PATH (the container's directory) and LXC_ROOTFS there, so the next
 * steps are written out true for the container it made. */
#define NEXT_STEPS_FILE "etc/amphi/next-steps.txt"

/* The network lines of both messages: LXC's config makes eth0, and the
 * recipe says what the init does on it (init/net.c); config and recipe
 * are where they are, in the message's own placeholders. */
static int network_hint(struct strbuf *b, const struct recipe *r, const char *config, const char *recipe)
{
	const struct recipe_net *eth0 = netrule_recipe_eth0(r);
	int rc = strbuf_printf(b, "  network:           eth0, as %s makes it (lxc.net.0.*; lxc-create's\n"
			       "                     default: a veth on lxcbr0), ", config);

	if (rc == 0)
		rc = netrule_say(b, r, NULL);
	return rc < 0 ? -1 : strbuf_printf(b, ";\n"
		"                     change it there or in %s\n"
		"                     ([network.eth0]%s%s)\n"
		"  note:              lxc-start fails while that bridge is not up; LXC's lxc-net makes lxcbr0:\n"
		"                     /usr/libexec/lxc/lxc-net start\n",
		recipe, eth0 ? "" : ", or in [network] unnamed = ", eth0 ? "" : r->unnamed_dhcp ? "none" : "dhcp");
}

/* lxc-local's two texts of the next steps: the same lines, each naming
 * the container as it can. */
struct local_steps {
	const char *head;           /* after "amphi appliance 'NAME'" */
	struct next_steps s;
	const char *config, *recipe; /* where its config and its recipe are */
};

/* NEXT_STEPS_FILE in the rootfs, which lxc-local fills in. */
static const struct local_steps in_rootfs = {
	", created by lxc-create -t local as container LXC_NAME in LXC_PATH.\n"
	"Add -P DIR to each lxc- command below when DIR, the directory LXC_PATH is in, is not\n"
	"LXC's default (lxc-config lxc.lxcpath).\n"
	"\n",
	{ "LXC_NAME", "", "", "LXC_PATH", "amphi", 1 },
	"LXC_PATH/config", "LXC_ROOTFS" RECIPE_IMAGE_PATH,
};

/* lxc-local cats create-message as it is (it substitutes LXC_NAME and
 * LXC_PATH only in the config and the files named in `templates`), so
 * the message speaks of NAME and LXCPATH as the user chose them, and
 * says where the filled-in copy is. */
static const struct local_steps in_message = {
	" is created (NAME and LXCPATH below: the -n and -P you gave).\n"
	"The same, with the container's name and directory filled in, is in\n"
	"LXCPATH/NAME/rootfs/" NEXT_STEPS_FILE " (/" NEXT_STEPS_FILE " inside it).\n"
	"\n",
	{ "NAME", "", " [-P LXCPATH]", "LXCPATH/NAME", "amphi", 1 },
	"LXCPATH/NAME/config", "LXCPATH/NAME/rootfs" RECIPE_IMAGE_PATH,
};

static int local_steps(struct strbuf *b, const struct recipe *r, const struct local_steps *l)
{
	if (strbuf_printf(b, "amphi appliance '%s'%s", r->name, l->head) < 0 || next_steps_commands(b, &l->s) < 0 ||
	    network_hint(b, r, l->config, l->recipe) < 0)
		return -1;
	return next_steps_stop(b, &l->s);
}

/* lxc-local puts `config` (`config-user` in a user namespace, i.e. with
 * lxc.idmap) before the lines of the container's own config, and replaces
 * LXC_PATH there with the container's directory (the console log and the
 * host log directory land beside its config) and LXC_TEMPLATE_CONFIG with
 * where LXC keeps common.conf. The bind mount needs its source to exist;
 * LXC runs hooks through sh -c with the container name and hook type after
 * the command, which $0.. swallow. */
static int meta_config(struct strbuf *b, const struct recipe *r, int userns)
{
	if (strbuf_printf(b, "# amphi appliance '%s' (lxc-create -t local)\n", r->name) < 0 ||
	    lxc_confinement_lines(b, "LXC_TEMPLATE_CONFIG", userns || lxc_recipe_userns(r)) < 0 ||
	    strbuf_printf(b, "lxc.hook.pre-start = /bin/sh -c 'mkdir -p \"LXC_PATH/host\"'\n") < 0)
		return -1;
	return lxc_config_lines(b, "LXC_PATH", r, 0);
}

static int write_meta(const struct recipe *r, time_t mtime, const char *path, char *err, size_t errlen)
{
	struct strbuf conf = { 0 }, user = { 0 }, msg = { 0 };
	struct manifest m;
	int rc = -1;

	manifest_init(&m, mtime);
	if (meta_config(&conf, r, 0) < 0 || meta_config(&user, r, 1) < 0 || local_steps(&msg, r, &in_message) < 0 ||
	    manifest_data(&m, "config", 0644, conf.s, conf.len) < 0 ||
	    manifest_data(&m, "config-user", 0644, user.s, user.len) < 0 ||
	    manifest_data(&m, "create-message", 0644, msg.s, msg.len) < 0 ||
	    manifest_data(&m, "templates", 0644, NEXT_STEPS_FILE "\n", strlen(NEXT_STEPS_FILE) + 1) < 0)
		snprintf(err, errlen, "out of memory");
	else
		rc = manifest_write_fresh(&m, path, manifest_write_tar_xz, err, errlen) < 0 ? -1 : 0;
	manifest_free(&m);
	free(conf.s);
	free(user.s);
	free(msg.s);
	return rc;
}

/* LXD's image metadata (documentation/image-handling: "metadata.yaml").
 * No templates: LXD containers take their hostname from LXD. The creation
 * date is the build's fixed time (SOURCE_DATE_EPOCH), but never 0: LXD
 * refuses an image whose date is 0 as "Missing creation date". */
static int write_lxd_meta(const struct recipe *r, time_t mtime, const char *path, char *err, size_t errlen)
{
	struct strbuf meta = { 0 };
	struct manifest m;
	int rc = -1;

	manifest_init(&m, mtime);
	if (strbuf_printf(&meta,
		"architecture: x86_64\n"
		"creation_date: %lld\n"
		"properties:\n"
		"  description: amphi appliance %s\n"
		"  os: amphi\n"
		"  release: \"%s\"\n"
		"  name: %s\n",
		(long long)(mtime > 0 ? mtime : 1), r->name, r->name, r->name) < 0 ||
	    manifest_data(&m, "metadata.yaml", 0644, meta.s, meta.len) < 0)
		snprintf(err, errlen, "out of memory");
	else
		rc = manifest_write_fresh(&m, path, manifest_write_tar_xz, err, errlen) < 0 ? -1 : 0;
	manifest_free(&m);
	free(meta.s);
	return rc;
}

int lxc_tarballs(struct manifest *tree, const struct recipe *r, const char *dir, char *err, size_t errlen)
{
	struct manifest local;
	struct strbuf steps = { 0 };
	char path[PATH_MAX];
	int rc = 0;

	err[0] = '\0';
	snprintf(path, sizeof(path), "%s/lxd", dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/lxd/lxd.tar.xz", dir);
		rc = write_lxd_meta(r, tree->mtime, path, err, errlen);
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/lxd/rootfs.squashfs", dir);
		rc = manifest_write_fresh(tree, path, manifest_write_squashfs, err, errlen) < 0 ? -1 : 0;
	}
	/* The unified image earlier builds wrote there. */
	snprintf(path, sizeof(path), "%s/lxd/%s.tar.xz", dir, r->name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lxd/.%s.tar.xz.digest", dir, r->name);
	unlink(path);
	/* The next-steps template is lxc-local's only: not in LXD's image. */
	manifest_init(&local, tree->mtime);
	if (rc == 0 && (manifest_over(&local, tree) < 0 || local_steps(&steps, r, &in_rootfs) < 0 ||
			manifest_data(&local, NEXT_STEPS_FILE, 0644, steps.s, steps.len) < 0)) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/lxc/rootfs.tar.xz", dir);
		rc = manifest_write_fresh(&local, path, manifest_write_tar_xz, err, errlen) < 0 ? -1 : 0;
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/lxc/meta.tar.xz", dir);
		rc = write_meta(r, tree->mtime, path, err, errlen);
	}
	manifest_free(&local);
	free(steps.s);
	if (rc == 0)
		printf("build: %s/lxc/rootfs.tar.xz, meta.tar.xz (lxc-create -t local); "
		       "%s/lxd/lxd.tar.xz, rootfs.squashfs (lxc image import)\n", dir, dir);
	return rc;
}
