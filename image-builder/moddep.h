/* Kernel module dependencies from depmod's modules.dep, resolved into a
 * load order: every module after everything it needs. */
#ifndef AMPHI_MODDEP_H
#define AMPHI_MODDEP_H

#include <stddef.h>

struct moddep;

/* Parses the text of modules.dep ("path: dep dep ...") and, optionally
 * (builtin may be NULL), of modules.builtin. Returns NULL with err set. */
struct moddep *moddep_parse(const char *dep, size_t deplen, const char *builtin,
			    size_t builtinlen, char *err, size_t errlen);
void moddep_free(struct moddep *d);

/* Adds `name` (as modprobe spells it: '-' and '_' are the same) and its
 * dependencies to the order, each once. Built-in modules add nothing.
 * Returns 0, or -1 with err naming the unknown module; a failed add
 * leaves the order as it was. */
int moddep_add(struct moddep *d, const char *name, char *err, size_t errlen);

/* The order so far: paths relative to the modules directory. */
size_t moddep_count(const struct moddep *d);
const char *moddep_path(const struct moddep *d, size_t i);

#endif
