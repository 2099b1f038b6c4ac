#include "vport.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

int vport_find(const char *root, const char *name, char *dev, size_t devlen)
{
	char dir[PATH_MAX], file[PATH_MAX + 300], have[128];
	struct dirent *de;
	int found = -1;

	snprintf(dir, sizeof(dir), "%s/sys/class/virtio-ports", root);
	DIR *d = opendir(dir);
	while (d && found < 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/name", dir, de->d_name);
		FILE *f = fopen(file, "re");
		if (f && fgets(have, sizeof(have), f)) {
			have[strcspn(have, "\n")] = '\0';
			if (!strcmp(have, name)) {
				snprintf(dev, devlen, "%s", de->d_name);
				found = 0;
			}
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}
