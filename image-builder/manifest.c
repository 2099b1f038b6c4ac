/* The staged tree's entries: added, resolved through the tree's own
 * links, found by path, sorted. Its readers and writers are beside it
 * (manifest_load.c, manifest_archive.c, manifest_fresh.c). */
#include "manifest.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void manifest_init(struct manifest *m, time_t mtime)
{
	memset(m, 0, sizeof(*m));
	m->mtime = mtime;
}

static void entry_free(struct manifest_entry *e)
{
	free(e->path);
	free(e->source);
	if (!e->borrowed)
		free(e->data);
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		entry_free(&m->e[i]);
	free(m->e);
	free(m->index);
	m->e = NULL;
	m->index = NULL;
	m->n = m->cap = m->index_cap = 0;
}

/* A Debian tree has tens of thousands of paths, each added once and looked
 * up for every child: a linear search would be quadratic. */
static size_t path_hash(const char *s)
{
	return (size_t)hash64(HASH64_START, s, strlen(s));
}

static void index_put(struct manifest *m, size_t i)
{
	size_t mask = m->index_cap - 1, slot = path_hash(m->e[i].path) & mask;
	while (m->index[slot])
		slot = (slot + 1) & mask;
	m->index[slot] = i + 1;
}

/* Sized for n entries at most half full; also after a sort moved them. */
static int index_rebuild(struct manifest *m, size_t n)
{
	size_t cap = 1024;
	while (cap < 2 * n)
		cap *= 2;
	size_t *index = calloc(cap, sizeof(*index));
	if (!index)
		return -1;
	free(m->index);
	m->index = index;
	m->index_cap = cap;
	for (size_t i = 0; i < m->n; i++)
		index_put(m, i);
	return 0;
}

struct manifest_entry *manifest_find(struct manifest *m, const char *path)
{
	if (!m->index_cap)
		return NULL;
	size_t mask = m->index_cap - 1;
	for (size_t slot = path_hash(path) & mask; m->index[slot]; slot = (slot + 1) & mask)
		if (strcmp(m->e[m->index[slot] - 1].path, path) == 0)
			return &m->e[m->index[slot] - 1];
	return NULL;
}

static int add_parents(struct manifest *m, const char *path);

void manifest_normalize(char *path)
{
	char *part[PATH_MAX / 2], *save = NULL, buf[PATH_MAX];
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *w = strtok_r(buf, "/", &save); w; w = strtok_r(NULL, "/", &save)) {
		if (!strcmp(w, "."))
			continue;
		if (!strcmp(w, ".."))
			n -= n > 0;
		else
			part[n++] = w;
	}
	size_t used = 0;
	path[0] = '\0';
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(path + used, PATH_MAX - used, "%s%s", i ? "/" : "", part[i]);
}

/* path with every directory that is a symlink in the tree replaced by
 * where it points (the last part too when follow_last), as the kernel
 * will resolve it in the image. -1 on a loop. */
static int resolve(struct manifest *m, const char *path, char out[PATH_MAX], int follow_last)
{
	char cur[PATH_MAX];

	snprintf(cur, sizeof(cur), "%s", path);
	manifest_normalize(cur);
	for (int hops = 0; hops < 32; hops++) {
		size_t len = strlen(cur), i;
		struct manifest_entry *e = NULL;
		for (i = 0; i <= len; i++) {
			if ((cur[i] != '/' && cur[i]) || (!cur[i] && !follow_last))
				continue;
			char save = cur[i];
			cur[i] = '\0';
			e = manifest_find(m, cur);
			cur[i] = save;
			if (e && e->kind == MF_SYMLINK)
				break;
			e = NULL;
		}
		if (!e) {
			snprintf(out, PATH_MAX, "%s", cur);
			return 0;
		}
		char next[PATH_MAX * 2], *slash;
		const char *rest = cur[i] ? cur + i + 1 : "";
		cur[i] = '\0';
		slash = strrchr(cur, '/');
		if (e->source[0] == '/')
			snprintf(next, sizeof(next), "%s/%s", e->source, rest);
		else
			snprintf(next, sizeof(next), "%.*s/%s/%s", slash ? (int)(slash - cur) : 0, cur, e->source, rest);
		snprintf(cur, sizeof(cur), "%s", next);
		manifest_normalize(cur);
	}
	return -1;
}

int manifest_resolve(struct manifest *m, const char *path, char out[PATH_MAX])
{
	return resolve(m, path, out, 1);
}

/* Takes ownership of nothing: copies path, source and data. */
static int add(struct manifest *m, const struct manifest_entry *tmpl)
{
	struct manifest_entry e = *tmpl, *old;
	char canon[PATH_MAX];

	if (resolve(m, e.path, canon, e.kind == MF_DIR) < 0 || !canon[0])
		return -1;
	if (m->keep && manifest_find(m, canon))
		return 0;
	if (add_parents(m, canon) < 0)
		return -1;
	e.path = strdup(canon);
	e.borrowed = 0;
	e.source = tmpl->source ? strdup(tmpl->source) : NULL;
	e.data = tmpl->data ? malloc(tmpl->len ? tmpl->len : 1) : NULL;
	if (!e.path || (tmpl->source && !e.source) || (tmpl->data && !e.data)) {
		entry_free(&e);
		return -1;
	}
	if (e.data)
		memcpy(e.data, tmpl->data, tmpl->len);
	if ((old = manifest_find(m, e.path))) {
		entry_free(old);
		*old = e;
		return 0;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct manifest_entry *grown = realloc(m->e, cap * sizeof(*grown));
		if (!grown) {
			entry_free(&e);
			return -1;
		}
		m->e = grown;
		m->cap = cap;
	}
	if (2 * (m->n + 1) > m->index_cap && index_rebuild(m, m->n + 1) < 0) {
		entry_free(&e);
		return -1;
	}
	m->e[m->n++] = e;
	index_put(m, m->n - 1);
	return 0;
}

int manifest_over(struct manifest *m, const struct manifest *base)
{
	manifest_init(m, base->mtime);
	if (!base->n)
		return 0;
	if (!(m->e = calloc(base->n, sizeof(*m->e))))
		return -1;
	m->cap = base->n;
	for (size_t i = 0; i < base->n; i++) {
		const struct manifest_entry *b = &base->e[i];
		struct manifest_entry *e = &m->e[m->n++];
		*e = *b;
		e->borrowed = b->data != NULL;
		e->path = strdup(b->path);
		e->source = b->source ? strdup(b->source) : NULL;
		if (!e->path || (b->source && !e->source)) {
			manifest_free(m);
			return -1;
		}
	}
	if (index_rebuild(m, m->n) < 0) {
		manifest_free(m);
		return -1;
	}
	return 0;
}

static int add_parents(struct manifest *m, const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *slash = strchr(buf, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (!manifest_find(m, buf)) {
			struct manifest_entry d = { .path = buf, .kind = MF_DIR, .mode = 0755 };
			if (add(m, &d) < 0)
				return -1;
		}
		*slash = '/';
	}
	return 0;
}

int manifest_dir(struct manifest *m, const char *path, unsigned mode)
{
	struct manifest_entry e = { .path = (char *)path, .kind = MF_DIR, .mode = mode };
	return add(m, &e);
}

int manifest_file(struct manifest *m, const char *path, unsigned mode, const char *host_path)
{
	struct manifest_entry e = { .path = (char *)path, .kind = MF_FILE, .mode = mode,
				    .source = (char *)host_path };
	return add(m, &e);
}

int manifest_data(struct manifest *m, const char *path, unsigned mode, const char *data, size_t len)
{
	struct manifest_entry e = { .path = (char *)path, .kind = MF_DATA, .mode = mode,
				    .data = (char *)data, .len = len };
	return add(m, &e);
}

int manifest_symlink(struct manifest *m, const char *path, const char *target)
{
	struct manifest_entry e = { .path = (char *)path, .kind = MF_SYMLINK, .mode = 0777,
				    .source = (char *)target };
	return add(m, &e);
}

int manifest_chardev(struct manifest *m, const char *path, unsigned mode, unsigned major, unsigned minor)
{
	struct manifest_entry e = { .path = (char *)path, .kind = MF_CHARDEV, .mode = mode,
				    .rmajor = major, .rminor = minor };
	return add(m, &e);
}

int manifest_copy(struct manifest *m, const struct manifest_entry *e)
{
	return add(m, e);
}

int manifest_chmod(struct manifest *m, const char *path, unsigned mode)
{
	struct manifest_entry *e = manifest_find(m, path);
	if (!e)
		return -1;
	e->mode = mode;
	return 0;
}

int manifest_chown(struct manifest *m, const char *path, unsigned uid, unsigned gid)
{
	struct manifest_entry *e = manifest_find(m, path);
	if (!e)
		return -1;
	e->uid = uid;
	e->gid = gid;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct manifest_entry *)a)->path, ((const struct manifest_entry *)b)->path);
}

int manifest_sort(struct manifest *m)
{
	qsort(m->e, m->n, sizeof(*m->e), by_path);
	return index_rebuild(m, m->n);
}
