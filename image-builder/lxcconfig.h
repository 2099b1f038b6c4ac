/* An appliance's LXC config: for lxc-start -f (DIR/lxc/config), and the
 * lines that the LXC template and lxc-local's metadata put in theirs. */
#ifndef AMPHI_LXCCONFIG_H
#define AMPHI_LXCCONFIG_H

#include "recipe.h"
#include "util.h"

#include <stddef.h>

/* Where LXC keeps the config files its templates include (common.conf,
 * userns.conf): Debian's and the other distributions' packages. */
#define LXC_TEMPLATE_CONFIG "/usr/share/lxc/config"
/* lxc.include of LXC's common.conf (and userns.conf for an lxc.idmap
 * container) from confdir, less its lxcfs post-stop hook. */
int lxc_confinement_lines(struct strbuf *b, const char *confdir, int userns);
/* The recipe's [lxc] lines map ids (lxc.idmap): an unprivileged container. */
int lxc_recipe_userns(const struct recipe *r);
/* The host id the recipe's lxc.idmap lines give container id `id` of kind
 * 'u' or 'g'; -1 when none maps it. */
int lxc_map_id(const struct recipe *r, char kind, unsigned id, unsigned *host);
/* amphi's LXC config lines (init, signals, ttys, console log under base,
 * the host log directory base/host, the recipe's bridged networks); with
 * standalone, "no network" when the recipe bridges none. */
int lxc_config_lines(struct strbuf *b, const char *base, const struct recipe *r, int standalone);
/* DIR/lxc/config, for lxc-start -f. */
int write_lxc_config(const char *dir, const struct recipe *r, char *err, size_t errlen);

#endif
