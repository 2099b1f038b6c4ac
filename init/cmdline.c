#include "cmdline.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

int cmdline_get(const char *root, const char *key, char *out, size_t outlen)
{
	char path[PATH_MAX], line[4096], *save = NULL;
	size_t klen = strlen(key);
	int found = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/proc/cmdline", root);
	if (!(f = fopen(path, "re")))
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	for (char *w = strtok_r(line, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		if (strncmp(w, key, klen) == 0 && w[klen] == '=') {
			snprintf(out, outlen, "%s", w + klen + 1);  /* the last one wins */
			found = 1;
		}
	return found;
}
