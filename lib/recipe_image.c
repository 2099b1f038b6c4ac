/* The [image] keys only the builder acts on: the Debian packages, the
 * appliance's own files and the build-time setup commands. The init parses
 * them too (one grammar for both), and leaves them be. */
#include "recipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Debian policy: lower case letters, digits, + - . ; two characters at
 * least, starting alphanumeric. apt's NAME=VERSION pins a version. */
static int valid_package(const char *s)
{
	const char *eq = strchr(s, '=');
	size_t n = eq ? (size_t)(eq - s) : strlen(s);

	if (n < 2 || strlen(s) >= RECIPE_WORD_MAX || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || strchr("+-.", s[i])))
			return 0;
	if (eq && !eq[1])
		return 0;
	for (const char *p = eq ? eq + 1 : ""; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("+-.~:", *p)))
			return 0;
	return 1;
}

static int add_packages(struct recipe *r, const char *value, int line, char *err, size_t errlen)
{
	char buf[RECIPE_EXEC_MAX * 2];

	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, errlen, "packages: a line of over %zu characters; split it over several packages = lines",
			 sizeof(buf) - 1);
		return -1;
	}
	strcpy(buf, value);
	for (char *save = NULL, *w = strtok_r(buf, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		if (!valid_package(w)) {
			snprintf(err, errlen, "packages: '%s' is not a Debian package name (lower case letters, digits, "
				 "+ - .; NAME=VERSION pins one)", w);
			return -1;
		}
		if (r->packages.n == RECIPE_LIST_MAX) {
			snprintf(err, errlen, "packages: more than %d; their dependencies come by themselves", RECIPE_LIST_MAX);
			return -1;
		}
		r->packages_line[r->packages.n] = line;
		strcpy(r->packages.item[r->packages.n++], w);
	}
	if (!r->packages.n) {
		snprintf(err, errlen, "packages: expected Debian package names such as nginx-light");
		return -1;
	}
	return 0;
}

/* An absolute path in the tree: no '.' or '..' part, nothing empty. */
static int valid_dest(const char *s)
{
	if (s[0] != '/' || strlen(s) >= RECIPE_PATH_MAX)
		return 0;
	for (const char *p = s; *p;) {
		const char *part = p + 1, *end = strchr(part, '/');
		size_t n = end ? (size_t)(end - part) : strlen(part);
		if ((n == 0 && end) || (n == 1 && part[0] == '.') || (n == 2 && part[0] == '.' && part[1] == '.'))
			return 0;
		p = part + n;
	}
	return 1;
}

/* USER or USER:GROUP, each a name or a number. */
static int set_owner(struct recipe_file *f, const char *w)
{
	const char *colon = strchr(w, ':');
	size_t n = colon ? (size_t)(colon - w) : strlen(w);

	if (n == 0 || n >= RECIPE_WORD_MAX || (colon && (!colon[1] || strlen(colon + 1) >= RECIPE_WORD_MAX)))
		return -1;
	memcpy(f->owner, w, n);
	f->owner[n] = '\0';
	snprintf(f->group, sizeof(f->group), "%s", colon ? colon + 1 : "");
	for (const char *p = w; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("_-.:", *p)))
			return -1;
	return strchr(f->group, ':') ? -1 : 0;
}

static int add_file(struct recipe *r, const char *value, int line, char *err, size_t errlen)
{
	char buf[RECIPE_PATH_MAX * 3], *save = NULL, *w[4];
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, " \t", &save); t && n < 4; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	if (n < 2 || n > 3) {
		snprintf(err, errlen, "files = '%s': expected SRC DEST [USER[:GROUP]] (SRC in the recipe's folder, "
			 "DEST an absolute path in the appliance)", value);
		return -1;
	}
	if (r->nfiles == RECIPE_FILES_MAX) {
		snprintf(err, errlen, "files: more than %d lines; ship a directory instead", RECIPE_FILES_MAX);
		return -1;
	}
	struct recipe_file *f = &r->files[r->nfiles];
	memset(f, 0, sizeof(*f));
	if (w[0][0] == '/' || strlen(w[0]) >= RECIPE_PATH_MAX) {
		snprintf(err, errlen, "files: SRC '%s': expected a path relative to the recipe's folder", w[0]);
		return -1;
	}
	if (!valid_dest(w[1])) {
		snprintf(err, errlen, "files: DEST '%s': expected an absolute path in the appliance without . or .. "
			 "parts (it must not leave the tree)", w[1]);
		return -1;
	}
	if (n == 3 && set_owner(f, w[2]) < 0) {
		snprintf(err, errlen, "files: owner '%s': expected USER or USER:GROUP, names or numbers", w[2]);
		return -1;
	}
	strcpy(f->src, w[0]);
	strcpy(f->dest, w[1]);
	f->line = line;
	r->nfiles++;
	return 0;
}

int recipe_image_key(struct recipe *r, const char *key, const char *value, int line, char *err, size_t errlen)
{
	if (strcmp(key, "packages") == 0)
		return add_packages(r, value, line, err, errlen);
	if (strcmp(key, "files") == 0)
		return add_file(r, value, line, err, errlen);
	if (strcmp(key, "setup") != 0)
		return 1;
	if (!*value || strlen(value) >= RECIPE_EXEC_MAX) {
		snprintf(err, errlen, "setup: expected a shell command of 1 to %d characters", RECIPE_EXEC_MAX - 1);
		return -1;
	}
	if (r->nsetup == RECIPE_SETUP_MAX) {
		snprintf(err, errlen, "setup: more than %d lines; join commands with &&", RECIPE_SETUP_MAX);
		return -1;
	}
	snprintf(r->setup[r->nsetup].cmd, sizeof(r->setup[0].cmd), "%s", value);
	r->setup[r->nsetup++].line = line;
	return 0;
}
