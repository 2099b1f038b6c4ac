/* libFuzzer: a recipe into the parser both the builder and PID 1 run
 * (lib/recipe.c over lib/conf.c): the builder reads one a user downloaded,
 * the init the copy in the image, then adds its DHCP client service.
 * Built by `make fuzz` (Makefile: fuzz_src_recipe). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recipe.h"
#include "argv.h"

#define STR(s) check_string(s, sizeof(s))

static void check_string(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		__builtin_trap();
}

static void check_list(const struct recipe_list *l)
{
	if (l->n < 0 || l->n > RECIPE_LIST_MAX)
		__builtin_trap();
	for (int i = 0; i < l->n; i++)
		STR(l->item[i]);
}

static void check_unit(const struct recipe_unit *u)
{
	char words[RECIPE_EXEC_MAX], why[128], *argv[ARGV_MAX];

	STR(u->name);
	STR(u->exec);
	STR(u->user);
	STR(u->group);
	STR(u->workdir);
	check_list(&u->env);
	check_list(&u->after);
	if (!u->name[0] || !u->exec[0] || u->line < 0) /* 0: the init's own */
		__builtin_trap();
	/* check_units promised the init can split what it accepted. */
	if (!u->shell && argv_split(u->exec, words, sizeof(words), argv, ARGV_MAX, why, sizeof(why)) < 0)
		__builtin_trap();
}

/* Every service once in start_order, after every service it names. */
static void check_order(const struct recipe *r)
{
	int pos[RECIPE_UNITS_MAX], nservices = 0;

	for (int i = 0; i < r->nunits; i++) {
		pos[i] = -1;
		nservices += r->unit[i].kind == UNIT_SERVICE;
	}
	if (r->nservices != nservices)
		__builtin_trap();
	for (int k = 0; k < r->nservices; k++) {
		int i = r->start_order[k];
		if (i < 0 || i >= r->nunits || r->unit[i].kind != UNIT_SERVICE || pos[i] >= 0)
			__builtin_trap();
		pos[i] = k;
	}
	for (int i = 0; i < r->nunits; i++)
		for (int a = 0; r->unit[i].kind == UNIT_SERVICE && a < r->unit[i].after.n; a++) {
			int found = 0;
			for (int j = 0; j < r->nunits; j++)
				if (r->unit[j].kind == UNIT_SERVICE && !strcmp(r->unit[j].name, r->unit[i].after.item[a])) {
					found = 1;
					if (pos[j] > pos[i])
						__builtin_trap();
				}
			if (!found)
				__builtin_trap();
		}
}

static void check_recipe(const struct recipe *r)
{
	int nsteps = 0;

	STR(r->name);
	STR(r->hostname);
	STR(r->install_marker);
	if (!r->name[0] || !r->hostname[0])
		__builtin_trap();
	check_list(&r->modules);
	check_list(&r->getty);
	check_list(&r->log_files);
	if (r->nunits < 0 || r->nunits > RECIPE_UNITS_MAX || r->nnets < 0 || r->nnets > RECIPE_NETS_MAX ||
	    r->nlxc < 0 || r->nlxc > RECIPE_LXC_MAX)
		__builtin_trap();
	for (int i = 0; i < r->nnets; i++) {
		const struct recipe_net *n = &r->net[i];
		STR(n->name);
		STR(n->mac);
		STR(n->gateway);
		STR(n->gateway6);
		STR(n->bridge);
		check_list(&n->address);
		check_list(&n->dns);
		check_list(&n->search);
	}
	for (int i = 0; i < r->nlxc; i++) {
		STR(r->lxc[i].key);
		STR(r->lxc[i].value);
	}
	for (int i = 0; i < r->nunits; i++) {
		check_unit(&r->unit[i]);
		nsteps += r->unit[i].kind == UNIT_STEP;
	}
	if (r->nsteps != nsteps || (nsteps && r->install_mode == INSTALL_NONE))
		__builtin_trap();
	if (r->install_then < THEN_POWEROFF || r->install_then > THEN_CONTINUE)
		__builtin_trap();
	check_order(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct recipe r;
	char err[RECIPE_ERR_MAX];
	/* An exact-size copy: ASan sees a read past the text. */
	char *text = malloc(size ? size : 1);

	memcpy(text, data, size);
	recipe_defaults(&r);
	memset(err, 0x55, sizeof(err));
	if (recipe_parse(text, size, "fuzz.conf", &r, err, sizeof(err)) == 0) {
		check_recipe(&r);
		/* The init adds its DHCP client before the recipe's services (a
		 * name with a '.', which no [service.NAME] can take). */
		if (recipe_prepend_service(&r, "udhcpc.fuzz", "/sbin/udhcpc -f") == 0) {
			if (r.start_order[0] != r.nunits - 1)
				__builtin_trap();
			check_recipe(&r);
		} else if (r.nunits != RECIPE_UNITS_MAX) {
			__builtin_trap();
		}
	} else {
		/* "fuzz.conf:LINE: what" or "fuzz.conf: what" */
		if (!memchr(err, '\0', sizeof(err)) || strncmp(err, "fuzz.conf:", 10) != 0 || !err[10])
			__builtin_trap();
	}
	free(text);
	return 0;
}
