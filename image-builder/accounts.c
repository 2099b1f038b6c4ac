#include "accounts.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const account_files[] = { "etc/passwd", "etc/group", "etc/shadow" };

/* The entry's bytes, NUL-terminated, in *out (free it). */
static int entry_text(struct manifest *m, const char *path, char **out, size_t *len)
{
	struct manifest_entry *e = manifest_find(m, path);
	char err[256];

	*out = NULL;
	if (!e)
		return -1;
	if (e->kind == MF_FILE)
		return read_file(e->source, out, len, err, sizeof(err));
	if (e->kind != MF_DATA || !(*out = malloc(e->len + 1)))
		return -1;
	memcpy(*out, e->data, e->len);
	(*out)[e->len] = '\0';
	*len = e->len;
	return 0;
}

/* The line of text whose first field is name (length n), or NULL. */
static const char *line_named(const char *text, const char *name, size_t n)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == ':')
			return p;
	return NULL;
}

static int merge_one(struct manifest *m, const char *path, const char *skel_path, char *err, size_t errlen)
{
	char *tree, *skel;
	size_t tlen, slen;
	struct strbuf out = { 0 };
	int rc = 0;

	if (read_file(skel_path, &skel, &slen, err, errlen) < 0)
		return -1;
	if (entry_text(m, path, &tree, &tlen) < 0) {
		free(skel);
		return manifest_file(m, path, strcmp(path, "etc/shadow") ? 0644 : 0600, skel_path) < 0 ? -1 : 0;
	}
	for (const char *p = tree; rc == 0 && *p;) {
		size_t len = strcspn(p, "\n"), name = strcspn(p, ":\n");
		const char *mine = name < len ? line_named(skel, p, name) : NULL;
		rc = strbuf_printf(&out, "%.*s\n", (int)(mine ? strcspn(mine, "\n") : len), mine ? mine : p);
		p += len + (p[len] == '\n');
	}
	for (const char *p = skel; rc == 0 && *p;) {
		size_t len = strcspn(p, "\n"), name = strcspn(p, ":\n");
		if (name < len && !line_named(tree, p, name))
			rc = strbuf_printf(&out, "%.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
	struct manifest_entry *e = manifest_find(m, path);
	unsigned mode = e->mode, uid = e->uid, gid = e->gid;
	int keep = m->keep;
	m->keep = 0;
	if (rc == 0 && (rc = manifest_data(m, path, mode, out.s ? out.s : "", out.len)) == 0)
		rc = manifest_chown(m, path, uid, gid);
	m->keep = keep;
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	free(out.s);
	free(tree);
	free(skel);
	return rc;
}

int accounts_merge(struct manifest *m, const char *skeleton, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(account_files) / sizeof(account_files[0]); i++) {
		char skel[PATH_MAX];
		snprintf(skel, sizeof(skel), "%s/%s", skeleton, account_files[i]);
		if (access(skel, F_OK) == 0 && merge_one(m, account_files[i], skel, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* The number in field (2: the id, 3: passwd's group) of name's line. */
static int field_of(struct manifest *m, const char *file, const char *name, int field, unsigned *id)
{
	char *text, *end;
	size_t len;
	int rc = -1;

	if (entry_text(m, file, &text, &len) < 0)
		return -1;
	const char *p = line_named(text, name, strlen(name));
	for (int i = 0; p && i < field; i++)
		if ((p = strchr(p, ':')))
			p++;
	if (p) {
		unsigned long v = strtoul(p, &end, 10);
		if (end > p && (*end == ':' || *end == '\n' || !*end) && v < 0xffffffffu) {
			*id = (unsigned)v;
			rc = 0;
		}
	}
	free(text);
	return rc;
}

int accounts_user(struct manifest *m, const char *name, unsigned *uid, unsigned *gid)
{
	if (accounts_id(m, "etc/passwd", name, uid) < 0)
		return -1;
	if (field_of(m, "etc/passwd", name, 3, gid) < 0)
		*gid = *uid;  /* a number the tree does not know */
	return 0;
}

int accounts_id(struct manifest *m, const char *file, const char *name, unsigned *id)
{
	char *end;
	unsigned long v = strtoul(name, &end, 10);

	if (*name && !*end && v < 0xffffffffu) {
		*id = (unsigned)v;
		return 0;
	}
	return field_of(m, file, name, 2, id);
}
