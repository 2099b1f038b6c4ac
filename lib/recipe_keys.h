/* What each key of a recipe means: the sections it may stand in, the type
 * of its value, how a value of that type is checked and where it goes, and
 * the defaults of what no key says. The grammar around it, sections and
 * whole-file checks, is lib/recipe.c. */
#ifndef AMPHI_RECIPE_KEYS_H
#define AMPHI_RECIPE_KEYS_H

#include "recipe.h"

#include <stddef.h>

/* The kinds of section, as a key's table row names the ones it belongs in. */
enum { IN_IMAGE = 1, IN_RUNTIME = 2, IN_TASK = 4, IN_SERVICE = 8, IN_NET = 16, IN_LOG = 32,
       IN_STEP = 64, IN_INSTALL = 128, IN_LXC = 256, IN_NETWORK = 512, IN_UNIT = IN_TASK | IN_SERVICE | IN_STEP };

/* key = value in a section of kind where, set in base: the struct recipe,
 * or the recipe_unit or recipe_net the section names. 0; -1 with err
 * ("KEY = 'VALUE': expected ..."); 1 when where has no such key. */
int recipe_key_set(void *base, int where, const char *key, const char *value, char *err, size_t errlen);

/* The keys of where, comma-separated, for the error on an unknown one. */
void recipe_keys_list(int where, char *out, size_t outlen);

/* A unit with nothing said but its kind and name. */
void recipe_unit_defaults(struct recipe_unit *u, enum unit_kind kind, const char *name);

/* A word: letters, digits and -_.+ (module, unit and appliance names);
 * with hostname, letters, digits and inner '-' only (RFC 1123). */
int recipe_valid_word(const char *s, int hostname);

#endif
