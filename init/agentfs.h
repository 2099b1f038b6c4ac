/* The guest agent's commands on file systems and disks, each an
 * agentcmd_fn for the command table (agentcmd.c); agentcmd_frozen says
 * what guest-fsfreeze-freeze left frozen. */
#ifndef AMPHI_AGENTFS_H
#define AMPHI_AGENTFS_H

#include "agentcmd.h"

/* guest-get-fsinfo: the mounts on block devices. */
int agentfs_fsinfo(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* guest-get-disks: the disks and their partitions. */
int agentfs_disks(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* guest-fsfreeze-freeze, -thaw and -status. */
int agentfs_freeze(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
int agentfs_thaw(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
int agentfs_freeze_status(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);

#endif
