#include "inputs.h"
#include "util.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void pick(char *out, const char *env, const char *dir, const char *rel)
{
	const char *v = getenv(env);
	if (v && *v)
		snprintf(out, PATH_MAX, "%s", v);
	else if (rel[0] == '/')
		snprintf(out, PATH_MAX, "%s", rel);
	else
		snprintf(out, PATH_MAX, "%s/%s", dir, rel);
}

static int need(const char *path, const char *what, const char *env, char *err, size_t errlen)
{
	if (access(path, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "%s not found at %s (%s); run 'make deps' and 'make', or set %s",
		 what, path, strerror(errno), env);
	return -1;
}

int inputs_find(struct inputs *in, char *err, size_t errlen)
{
	char self[PATH_MAX], link[PATH_MAX], vmlinuz[PATH_MAX];
	char *dir;

	if (self_path(self, sizeof(self)) < 0) {
		snprintf(err, errlen, "/proc/self/exe: %s", strerror(errno));
		return -1;
	}
	dir = dirname(self);
	pick(in->init, "AMPHI_INIT", dir, "amphi-init");
	pick(in->busybox, "AMPHI_BUSYBOX", dir, "/bin/busybox");
	pick(in->kernel, "AMPHI_KERNEL", dir, "kernel/current");
	pick(in->skeleton, "AMPHI_ROOTFS", dir, "../rootfs");
	pick(in->cache, "AMPHI_CACHE", dir, "cache");

	if (need(in->init, "the init (amphi-init)", "AMPHI_INIT", err, errlen) < 0 ||
	    need(in->busybox, "busybox (package busybox-static)", "AMPHI_BUSYBOX", err, errlen) < 0 ||
	    need(in->skeleton, "the rootfs skeleton", "AMPHI_ROOTFS", err, errlen) < 0)
		return -1;
	snprintf(vmlinuz, sizeof(vmlinuz), "%s/vmlinuz", in->kernel);
	if (need(vmlinuz, "the kernel", "AMPHI_KERNEL", err, errlen) < 0)
		return -1;
	/* build/kernel/current -> 6.1.0-56-amd64: the link names the version. */
	char real[PATH_MAX];
	if (!realpath(in->kernel, real)) {
		snprintf(err, errlen, "%s: %s", in->kernel, strerror(errno));
		return -1;
	}
	snprintf(link, sizeof(link), "%s", real);
	snprintf(in->kver, sizeof(in->kver), "%s", basename(link));
	return 0;
}
