/* amphi build RECIPE -o DIR: one staged tree, written as every output.
 *   DIR/vm/   vmlinuz, initramfs.img (and root.img), launch (QEMU), domain.xml
 *   DIR/lxc/  rootfs/, config (lxc-start -f), rootfs.tar.xz + meta.tar.xz
 *   DIR/lxd/  lxd.tar.xz + rootfs.squashfs */
#include "build.h"
#include "commands.h"
#include "debian.h"
#include "inputs.h"
#include "libvirt.h"
#include "lxcconfig.h"
#include "lxcrootfs.h"
#include "manifest.h"
#include "recipe.h"
#include "tarballs.h"
#include "util.h"
#include "vmimage.h"
#include "vmlaunch.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each output, in the order they are written, from the staged tree. */
static int write_outputs(struct manifest *tree, const struct build_src *b, const char *dir, char *err, size_t errlen)
{
	if (vm_images(tree, b, dir, err, errlen) < 0 || write_vm_launcher(dir, b->r, err, errlen) < 0 ||
	    write_libvirt_domain(dir, b->r, err, errlen) < 0)
		return -1;
	if (lxc_rootfs(tree, b->r, dir, err, errlen) < 0 || write_lxc_config(dir, b->r, err, errlen) < 0)
		return -1;
	return lxc_tarballs(tree, b->r, dir, err, errlen);
}

static int usage_build(FILE *out, int status)
{
	fprintf(out, "usage: amphi build RECIPE -o DIR [--refresh]\n"
		     "  writes DIR/vm (vmlinuz, initramfs.img, root.img with [image] root = squashfs, launch, domain.xml)\n"
		     "  and DIR/lxc (rootfs/, config, tarballs)\n"
		     "  --refresh: make the Debian tree of the recipe's packages anew (newer packages) rather than\n"
		     "             take it from the cache\n");
	return status;
}

int cmd_build(int argc, char **argv)
{
	const char *recipe_path = NULL, *out = NULL;
	char err[1024], dir[PATH_MAX], *text = NULL;
	size_t len = 0;
	struct recipe r;
	struct inputs in;
	time_t mtime;
	int made = 0, refresh = 0;

	if (wants_help(argc, argv, "-o"))
		return usage_build(stdout, 0);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--refresh") == 0)
			refresh = 1;
		else if (argv[i][0] != '-' && !recipe_path)
			recipe_path = argv[i];
		else {
			fprintf(stderr, "amphi build: %s '%s'\n",
				strcmp(argv[i], "-o") ? "unexpected argument" : "a directory is missing after", argv[i]);
			return usage_build(stderr, 2);
		}
	}
	if (!recipe_path || !out) {
		fprintf(stderr, "amphi build: %s\n", !recipe_path ? "which recipe? give its file, such as recipes/minimal.conf"
								   : "where to? add -o DIR, such as -o out/minimal");
		return usage_build(stderr, 2);
	}

	recipe_defaults(&r);
	if (read_file(recipe_path, &text, &len, err, sizeof(err)) < 0 ||
	    recipe_parse(text, len, recipe_path, &r, err, sizeof(err)) < 0 || build_mtime(&mtime, err, sizeof(err)) < 0 ||
	    inputs_find(&in, err, sizeof(err)) < 0 || prepare_out_dir(out, dir, &made, err, sizeof(err)) < 0) {
		fprintf(stderr, "amphi build: %s\n", err);
		free(text);
		return 1;
	}
	struct build_src b = { &in, &r, recipe_path, text, len, mtime, NULL };
	char debian[PATH_MAX];

	printf("build: appliance '%s' from %s into %s\n", r.name, recipe_path, dir);
	fflush(stdout);
	int rc = 0;
	if (r.packages.n) {
		rc = debian_tree(&b, refresh, debian, err, sizeof(err)) < 0;
		b.debian_tar = debian;
	}
	if (rc == 0) {
		struct manifest tree;
		rc = build_stage(&b, &tree, err, sizeof(err)) < 0 || write_outputs(&tree, &b, dir, err, sizeof(err)) < 0;
		manifest_free(&tree);
	}
	free(text);
	if (rc) {
		fprintf(stderr, "amphi build: %s\n", err);
		if (made)  /* nothing of it is usable; an earlier build is left as it is */
			remove_tree(dir);
		return 1;
	}
	printf("build: done.\n"
	       "  boot it under QEMU:  amphi run %s\n"
	       "  start it in LXC:     amphi run --lxc %s\n", dir, dir);
	return 0;
}
