/* The init's side of the builder's [image] keys (packages, files, setup):
 * the builder checked them when it made the image (lib/recipe_image.c),
 * and the init acts on none of them, so it takes them as read and keeps
 * their checks out of PID 1. */
#include "recipe.h"

#include <string.h>

int recipe_image_key(struct recipe *r, const char *key, const char *value, int line, char *err, size_t errlen)
{
	(void)value, (void)line, (void)err, (void)errlen;
	/* That there are packages, not which: root = auto means a root image
	 * then (recipe_root_image), and the grammar's checks must agree. */
	if (!strcmp(key, "packages") && r->packages.n < RECIPE_LIST_MAX)
		r->packages.n++;
	return strcmp(key, "packages") && strcmp(key, "files") && strcmp(key, "setup");
}
