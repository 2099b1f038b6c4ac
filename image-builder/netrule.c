/* The network rule of init/net.c, as the next steps tell it. */
#include "netrule.h"

#include <stdio.h>
#include <string.h>

/* Each case's words around the address it names ("" where none), for a
 * container whose config is known and for one whose is not. */
struct netrule_words {
	const char *before, *after;
};

#define NETRULE_DNSMASQ "(from a server on that\n                     bridge, such as lxc-net's dnsmasq on lxcbr0)"
#define NETRULE_NO_ADDRESS "comes up with no address: neither LXC's config nor the\n                     recipe gives one ("
#define NETRULE_GIVE_ONE "; lxc-create ... -- --net dhcp|ADDRESS/PREFIX gives one)"

static const struct netrule_words known_words[] = {
	[NETRULE_RECIPE_DHCP] = { "takes an address by DHCP " NETRULE_DNSMASQ, "" },
	[NETRULE_RECIPE_ADDRESS] = { "gets ", " from the recipe" },
	[NETRULE_LXC_ADDRESS] = { "gets ", " from LXC (lxc.net.0.ipv4.address)" },
	[NETRULE_RECIPE_NONE] = { NETRULE_NO_ADDRESS "its [network.eth0] has no dhcp or address" NETRULE_GIVE_ONE, "" },
	[NETRULE_UNNAMED_DHCP] = { "takes an address by DHCP, amphi's default where nothing else gives one "
				   NETRULE_DNSMASQ, "" },
	[NETRULE_UNNAMED_NONE] = { NETRULE_NO_ADDRESS "it says [network] unnamed = none" NETRULE_GIVE_ONE, "" },
};

static const struct netrule_words unknown_words[] = {
	[NETRULE_RECIPE_DHCP] = { "takes an address by DHCP ([network.eth0])", "" },
	[NETRULE_RECIPE_ADDRESS] = { "gets ", " ([network.eth0])" },
	[NETRULE_LXC_ADDRESS] = { "gets ", " from LXC (lxc.net.0.ipv4.address)" },
	[NETRULE_RECIPE_NONE] = { "keeps what LXC gives it ([network.eth0] sets no address)", "" },
	[NETRULE_UNNAMED_DHCP] = { "takes an address by DHCP where LXC gives it none\n"
				   "                     (lxc-net's dnsmasq answers on lxcbr0)", "" },
	[NETRULE_UNNAMED_NONE] = { "keeps what LXC gives it and asks no DHCP\n"
				   "                     ([network] unnamed = none)", "" },
};

const struct recipe_net *netrule_recipe_eth0(const struct recipe *r)
{
	for (int i = 0; i < r->nnets; i++)
		if (!strcmp(r->net[i].name, "eth0"))
			return &r->net[i];
	return NULL;
}

/* The recipe's own section first; an address LXC set stays unless the
 * recipe asks DHCP or sets one; an interface neither names takes DHCP
 * unless [network] unnamed = none. */
enum netrule netrule_eth0(const struct recipe *r, const char *lxc_address)
{
	const struct recipe_net *eth0 = netrule_recipe_eth0(r);

	if (eth0 && eth0->dhcp)
		return NETRULE_RECIPE_DHCP;
	if (eth0 && eth0->address.n)
		return NETRULE_RECIPE_ADDRESS;
	if (lxc_address && lxc_address[0])
		return NETRULE_LXC_ADDRESS;
	if (eth0)
		return NETRULE_RECIPE_NONE;
	return r->unnamed_dhcp ? NETRULE_UNNAMED_DHCP : NETRULE_UNNAMED_NONE;
}

int netrule_say(struct strbuf *b, const struct recipe *r, const char *lxc_address)
{
	enum netrule rule = netrule_eth0(r, lxc_address);
	const struct netrule_words *w = lxc_address ? &known_words[rule] : &unknown_words[rule];
	const char *address = "";

	if (rule == NETRULE_RECIPE_ADDRESS)
		address = netrule_recipe_eth0(r)->address.item[0];
	else if (rule == NETRULE_LXC_ADDRESS)
		address = lxc_address;
	return strbuf_printf(b, "%s%s%s", w->before, address, w->after);
}
