#include "users.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole decimal number, or -1. */
static long number(const char *s)
{
	char *end;
	long n;
	if (!*s)
		return -1;
	n = strtol(s, &end, 10);
	return *end || n < 0 ? -1 : n;
}

/* Finds the line of `file` whose first field is `name`; splits it into
 * fields (':' separated). Returns the field count, or 0. */
static int find_entry(const char *root, const char *file, const char *name, char *line, size_t len,
		      char *fields[], int max)
{
	char path[PATH_MAX];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s%s", root, file);
	if (!(f = fopen(path, "re")))
		return 0;
	while (!n && fgets(line, (int)len, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *p = line;
		n = 0;
		while (n < max) {
			fields[n++] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (strcmp(fields[0], name) != 0)
			n = 0;
	}
	fclose(f);
	return n;
}

int users_user(const char *root, const char *user, uid_t *uid, gid_t *gid, char *home, size_t homelen)
{
	char line[512], *f[7];
	long n = number(user);

	/* passwd(5): name:password:UID:GID:GECOS:directory:shell */
	if (find_entry(root, "/etc/passwd", user, line, sizeof(line), f, 7) >= 6 &&
	    number(f[2]) >= 0 && number(f[3]) >= 0) {
		*uid = (uid_t)number(f[2]);
		*gid = (gid_t)number(f[3]);
		snprintf(home, homelen, "%s", f[5]);
		return 0;
	}
	if (n < 0)
		return -ENOENT;
	*uid = (uid_t)n;
	*gid = (gid_t)n;
	snprintf(home, homelen, "/");
	return 0;
}

int users_group(const char *root, const char *group, gid_t *gid)
{
	char line[512], *f[4];
	long n;

	/* group(5): name:password:GID:members */
	if (find_entry(root, "/etc/group", group, line, sizeof(line), f, 4) >= 3 && (n = number(f[2])) >= 0) {
		*gid = (gid_t)n;
		return 0;
	}
	if ((n = number(group)) < 0)
		return -ENOENT;
	*gid = (gid_t)n;
	return 0;
}
