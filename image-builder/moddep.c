#include "moddep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct module {
	char *path;     /* "kernel/drivers/virtio/virtio.ko" */
	char name[64];  /* "virtio", '-' folded to '_' */
	char **deps;    /* paths, as listed */
	size_t ndeps;
	int state;      /* 0 new, 1 visiting, 2 ordered */
};

struct moddep {
	struct module *mods;
	size_t nmods;
	char (*builtin)[64];
	size_t nbuiltin;
	const char **order;
	size_t norder;
};

/* "kernel/x/virtio-pci.ko.xz" -> "virtio_pci" */
static void module_name(const char *path, size_t len, char out[64])
{
	const char *base = path;
	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			base = path + i + 1;
	size_t n = 0;
	for (const char *p = base; p < path + len && *p != '.' && n < 63; p++)
		out[n++] = *p == '-' ? '_' : *p;
	out[n] = '\0';
}

static char *dup_range(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* One line "path: dep dep". Returns 0 or -1 (out of memory / malformed). */
static int parse_dep_line(struct module *m, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	if (!colon || colon == line)
		return -1;
	m->path = dup_range(line, (size_t)(colon - line));
	module_name(line, (size_t)(colon - line), m->name);
	for (const char *p = colon + 1, *end = line + len; p < end;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *w = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		if (p == w)
			break;
		char **grown = realloc(m->deps, (m->ndeps + 1) * sizeof(*grown));
		if (!grown)
			return -1;
		m->deps = grown;
		m->deps[m->ndeps++] = dup_range(w, (size_t)(p - w));
	}
	return m->path ? 0 : -1;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 1;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

struct moddep *moddep_parse(const char *dep, size_t deplen, const char *builtin,
			    size_t builtinlen, char *err, size_t errlen)
{
	struct moddep *d = calloc(1, sizeof(*d));
	size_t lineno = 0;

	if (!d || !(d->mods = calloc(count_lines(dep, deplen), sizeof(*d->mods))) ||
	    !(d->builtin = calloc(builtin ? count_lines(builtin, builtinlen) : 1, sizeof(*d->builtin)))) {
		snprintf(err, errlen, "out of memory");
		moddep_free(d);
		return NULL;
	}
	for (size_t pos = 0; pos < deplen;) {
		const char *nl = memchr(dep + pos, '\n', deplen - pos);
		size_t n = nl ? (size_t)(nl - dep - pos) : deplen - pos;
		lineno++;
		if (n > 0 && parse_dep_line(&d->mods[d->nmods++], dep + pos, n) < 0) {
			snprintf(err, errlen, "modules.dep:%zu: expected 'path.ko: dependency.ko ...'", lineno);
			moddep_free(d);
			return NULL;
		}
		pos += n + 1;
	}
	for (size_t pos = 0; builtin && pos < builtinlen;) {
		const char *nl = memchr(builtin + pos, '\n', builtinlen - pos);
		size_t n = nl ? (size_t)(nl - builtin - pos) : builtinlen - pos;
		if (n > 0)
			module_name(builtin + pos, n, d->builtin[d->nbuiltin++]);
		pos += n + 1;
	}
	return d;
}

void moddep_free(struct moddep *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nmods; i++) {
		free(d->mods[i].path);
		for (size_t j = 0; j < d->mods[i].ndeps; j++)
			free(d->mods[i].deps[j]);
		free(d->mods[i].deps);
	}
	free(d->mods);
	free(d->builtin);
	free(d->order);
	free(d);
}

static struct module *find(struct moddep *d, const char *name, int by_path)
{
	for (size_t i = 0; i < d->nmods; i++)
		if (strcmp(by_path ? d->mods[i].path : d->mods[i].name, name) == 0)
			return &d->mods[i];
	return NULL;
}

/* Depth first, dependencies before the module. modules.dep lists a
 * module's whole closure with the most basic last (modprobe loads the
 * list from the end), so walk it backwards to load in the same order. */
static int visit(struct moddep *d, struct module *m, char *err, size_t errlen)
{
	if (m->state == 2)
		return 0;
	if (m->state == 1) {
		snprintf(err, errlen, "modules.dep: dependency cycle through %s", m->path);
		return -1;
	}
	m->state = 1;
	for (size_t i = m->ndeps; i-- > 0;) {
		struct module *dep = find(d, m->deps[i], 1);
		if (!dep) {
			snprintf(err, errlen, "modules.dep: %s needs %s, which has no line of its own", m->path, m->deps[i]);
			return -1;
		}
		if (visit(d, dep, err, errlen) < 0)
			return -1;
	}
	const char **grown = realloc(d->order, (d->norder + 1) * sizeof(*grown));
	if (!grown) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->order = grown;
	d->order[d->norder++] = m->path;
	m->state = 2;
	return 0;
}

int moddep_add(struct moddep *d, const char *name, char *err, size_t errlen)
{
	char want[64];
	module_name(name, strlen(name), want);
	for (size_t i = 0; i < d->nbuiltin; i++)
		if (strcmp(d->builtin[i], want) == 0)
			return 0;
	struct module *m = find(d, want, 0);
	if (!m) {
		snprintf(err, errlen, "kernel module '%s' is neither in modules.dep nor built in; "
			 "check the name against the kernel's modules", name);
		return -1;
	}
	size_t before = d->norder;
	if (visit(d, m, err, errlen) == 0)
		return 0;
	/* All or nothing: forget this walk so a later add starts clean. */
	for (size_t i = 0; i < d->nmods; i++)
		if (d->mods[i].state == 1)
			d->mods[i].state = 0;
	while (d->norder > before)
		find(d, d->order[--d->norder], 1)->state = 0;
	return -1;
}

size_t moddep_count(const struct moddep *d)
{
	return d->norder;
}

const char *moddep_path(const struct moddep *d, size_t i)
{
	return i < d->norder ? d->order[i] : NULL;
}
