#include "recipe.h"
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECIPE_FILE_MAX (64 * 1024)

enum key_type { KEY_WORD, KEY_HOSTNAME, KEY_INT, KEY_LIST, KEY_BOOL };

struct key_spec {
	const char *section;
	const char *key;
	enum key_type type;
	size_t offset;
	int min, max;  /* KEY_INT only */
};

static const struct key_spec keys[] = {
	{ "image", "name", KEY_WORD, offsetof(struct recipe, name), 0, 0 },
	{ "image", "modules", KEY_LIST, offsetof(struct recipe, modules), 0, 0 },
	{ "runtime", "hostname", KEY_HOSTNAME, offsetof(struct recipe, hostname), 0, 0 },
	{ "runtime", "ttys", KEY_INT, offsetof(struct recipe, ttys), 0, 12 },
	{ "runtime", "stop_timeout", KEY_INT, offsetof(struct recipe, stop_timeout), 1, 300 },
	{ "runtime", "getty", KEY_LIST, offsetof(struct recipe, getty), 0, 0 },
	{ "runtime", "autologin", KEY_BOOL, offsetof(struct recipe, autologin), 0, 0 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void recipe_defaults(struct recipe *r)
{
	memset(r, 0, sizeof(*r));
	r->ttys = 1;
	r->stop_timeout = 5;
	r->getty.n = 1;
	strcpy(r->getty.item[0], "auto");
}

/* A word: letters, digits and -_.+ (module names, appliance names). */
static int valid_word(const char *s, int hostname)
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

static int set_list(struct recipe_list *list, const char *key, const char *value,
		    char *err, size_t errlen)
{
	char buf[CONF_LINE_MAX];
	snprintf(buf, sizeof(buf), "%s", value);
	list->n = 0;
	for (char *save = NULL, *w = strtok_r(buf, " \t,", &save); w;
	     w = strtok_r(NULL, " \t,", &save)) {
		if (!valid_word(w, 0)) {
			snprintf(err, errlen, "%s: '%s' is not a valid name (letters, digits, - _ . +; under %d characters)",
				 key, w, RECIPE_WORD_MAX);
			return -1;
		}
		if (list->n == RECIPE_LIST_MAX) {
			snprintf(err, errlen, "%s: more than %d entries", key, RECIPE_LIST_MAX);
			return -1;
		}
		strcpy(list->item[list->n++], w);
	}
	return 0;
}

static int set_value(struct recipe *r, const struct key_spec *k, const char *value,
		     char *err, size_t errlen)
{
	char *field = (char *)r + k->offset;
	char *end;
	long n;

	switch (k->type) {
	case KEY_WORD:
	case KEY_HOSTNAME:
		if (!valid_word(value, k->type == KEY_HOSTNAME)) {
			snprintf(err, errlen, "%s = '%s': expected %s of at most %d characters", k->key, value,
				 k->type == KEY_HOSTNAME ? "a host name (letters, digits, inner '-')"
							 : "a name (letters, digits, - _ . +)",
				 RECIPE_WORD_MAX - 1);
			return -1;
		}
		strcpy(field, value);
		return 0;
	case KEY_INT:
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end || n < k->min || n > k->max) {
			snprintf(err, errlen, "%s = '%s': expected a whole number from %d to %d",
				 k->key, value, k->min, k->max);
			return -1;
		}
		*(int *)(void *)field = (int)n;
		return 0;
	case KEY_LIST:
		return set_list((struct recipe_list *)(void *)field, k->key, value, err, errlen);
	case KEY_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			*(int *)(void *)field = 1;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
			*(int *)(void *)field = 0;
		else {
			snprintf(err, errlen, "%s = '%s': expected yes or no", k->key, value);
			return -1;
		}
		return 0;
	}
	return 0;
}

/* The default host name: the appliance name with what RFC 1123 does not
 * allow ('_', '.', '+') turned into '-', and no '-' at either end. */
static void hostname_from_name(const char *name, char out[RECIPE_WORD_MAX])
{
	size_t n = 0;
	for (const char *p = name; *p; p++) {
		char c = (*p == '_' || *p == '.' || *p == '+') ? '-' : *p;
		if (c != '-' || n > 0)
			out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0)
		strcpy(out, "amphi");
}

static void expected_keys(const char *section, char *out, size_t outlen)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		int w = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", keys[i].key);
		if (w < 0 || (size_t)w >= outlen - used)
			return;
		used += (size_t)w;
	}
}

static int on_key(void *ctx, const char *section, const char *key, const char *value,
		  char *err, size_t errlen)
{
	int known_section = 0;
	char names[256];

	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		known_section = 1;
		if (strcmp(keys[i].key, key) == 0)
			return set_value(ctx, &keys[i], value, err, errlen);
	}
	if (!known_section) {
		snprintf(err, errlen, "unknown section [%s]: expected [image] or [runtime]", section);
		return -1;
	}
	expected_keys(section, names, sizeof(names));
	snprintf(err, errlen, "unknown key '%s' in [%s]: expected one of %s", key, section, names);
	return -1;
}

int recipe_parse(const char *text, size_t len, const char *filename,
		 struct recipe *r, char *err, size_t errlen)
{
	char why[RECIPE_ERR_MAX];
	int line = conf_parse(text, len, on_key, r, why, sizeof(why));
	if (line) {
		snprintf(err, errlen, "%s:%d: %s", filename, line, why);
		return -1;
	}
	if (!r->name[0]) {
		snprintf(err, errlen, "%s: [image] has no name; every recipe names its appliance (name = web)", filename);
		return -1;
	}
	if (!r->hostname[0])
		hostname_from_name(r->name, r->hostname);
	return 0;
}

int recipe_load(const char *path, struct recipe *r, char *err, size_t errlen)
{
	static char text[RECIPE_FILE_MAX + 1];
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, text + len, sizeof(text) - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (len > RECIPE_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes; a recipe is a short text file",
			 path, RECIPE_FILE_MAX);
		return -1;
	}
	return recipe_parse(text, len, path, r, err, errlen);
}
