/* A recipe: one appliance in one file. [image] says what goes into the
 * images (read by the builder); [runtime] says how the appliance runs (read
 * by the init from the copy the builder puts at /etc/amphi/recipe.conf).
 * Both sides parse the whole file with the same code, so a recipe the
 * builder accepts is one the init accepts. */
#ifndef AMPHI_RECIPE_H
#define AMPHI_RECIPE_H

#include <stddef.h>

#define RECIPE_WORD_MAX 64
#define RECIPE_LIST_MAX 32
#define RECIPE_ERR_MAX 512
/* Where the builder puts the recipe inside every image. */
#define RECIPE_IMAGE_PATH "/etc/amphi/recipe.conf"

struct recipe_list {
	int n;
	char item[RECIPE_LIST_MAX][RECIPE_WORD_MAX];
};

struct recipe {
	/* [image] */
	char name[RECIPE_WORD_MAX];  /* required */
	struct recipe_list modules;  /* VM kernel modules; the builder adds their dependencies */
	/* [runtime] */
	char hostname[RECIPE_WORD_MAX];  /* default: from name */
	int ttys;                    /* LXC ttys (lxc.tty.max) */
	/* Where login prompts go: "auto" (VM: the kernel's console; container:
	 * every tty LXC made), "none", or tty names ("console", "ttyS1", "tty2"). */
	struct recipe_list getty;
	int autologin;               /* a root shell instead of getty + login */
	int stop_timeout;            /* seconds between TERM and KILL at stop */
};

void recipe_defaults(struct recipe *r);

/* Parses text[0..len) named `filename` over the defaults. Returns 0, or -1
 * with err = "FILE:LINE: what was expected". */
int recipe_parse(const char *text, size_t len, const char *filename,
		 struct recipe *r, char *err, size_t errlen);

/* Reads and parses a file (at most 64 KiB). Same return as recipe_parse. */
int recipe_load(const char *path, struct recipe *r, char *err, size_t errlen);

#endif
