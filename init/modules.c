#include "modules.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int load_one(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	/* EEXIST: built in or already loaded, which is what we wanted. */
	if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
		r = -errno;
	close(fd);
	return r;
}

int modules_load(const char *root)
{
	char list[PATH_MAX], line[PATH_MAX], path[PATH_MAX];
	int total = 0, failed = 0;
	FILE *f;

	snprintf(list, sizeof(list), "%s%s", root, MODULES_LOAD_LIST);
	f = fopen(list, "re");
	if (!f) {
		if (errno != ENOENT)
			log_warn("modules: cannot read %s: %s", list, strerror(errno));
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		total++;
		snprintf(path, sizeof(path), "%s%s", root, line);
		int r = load_one(path);
		if (r < 0) {
			failed++;
			log_warn("modules: %s: %s; going on without it", path, strerror(-r));
		}
	}
	fclose(f);
	log_info("modules: loaded %d of %d", total - failed, total);
	return failed;
}
