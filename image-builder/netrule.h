/* What the init does on a container's eth0 (init/net.c decides it at
 * boot), and the words the next steps say it in: one rule, one table of
 * words, for the LXC template and lxc-local's tarballs alike. */
#ifndef AMPHI_NETRULE_H
#define AMPHI_NETRULE_H

#include "recipe.h"
#include "util.h"

enum netrule {
	NETRULE_RECIPE_DHCP,    /* [network.eth0] dhcp = yes */
	NETRULE_RECIPE_ADDRESS, /* [network.eth0] address = */
	NETRULE_LXC_ADDRESS,    /* lxc.net.0.ipv4.address, and the recipe gives none */
	NETRULE_RECIPE_NONE,    /* [network.eth0] with neither: what LXC gives */
	NETRULE_UNNAMED_DHCP,   /* no [network.eth0], nothing from LXC: DHCP, the default */
	NETRULE_UNNAMED_NONE,   /* the same with [network] unnamed = none */
};

/* The recipe's [network.eth0], or NULL. */
const struct recipe_net *netrule_recipe_eth0(const struct recipe *r);
/* Which case holds. lxc_address: LXC's lxc.net.0.ipv4.address, "" for
 * none; NULL where the container's config is not known (lxc-local's
 * tarballs, before lxc-create writes it). */
enum netrule netrule_eth0(const struct recipe *r, const char *lxc_address);
/* What eth0 gets, as it follows the interface's name ("eth0, a veth on
 * bridge lxcbr0, " + this); lxc_address as above: the known config's
 * words name where each value comes from, the unknown's what LXC may add. */
int netrule_say(struct strbuf *b, const struct recipe *r, const char *lxc_address);

#endif
