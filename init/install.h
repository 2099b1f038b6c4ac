/* The install phase: a recipe's [step.NAME]s run before anything else,
 * each announced, timed and ended as a record of source "install"; the
 * last record is the verdict; then the machine powers off, reboots or goes
 * on to the tasks and services, as [install] says. */
#ifndef AMPHI_INSTALL_H
#define AMPHI_INSTALL_H

#include "recipe.h"
#include "svc.h"

/* Whether the steps run on this boot: an installer's always, a first
 * boot's only while ROOT/marker does not exist. Says why not. */
int install_wanted(const char *root, const struct recipe *r);
/* The hooks svc runs the steps with. */
void install_hooks(const char *root, const struct recipe *r, struct svc_hooks *h);

#endif
