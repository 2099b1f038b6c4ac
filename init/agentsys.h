/* The guest agent's commands on the system's own state, each an
 * agentcmd_fn for the command table (agentcmd.c). */
#ifndef AMPHI_AGENTSYS_H
#define AMPHI_AGENTSYS_H

#include "agentcmd.h"

/* guest-get-time: nanoseconds since the epoch. */
int agentsys_get_time(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* guest-set-time: the clock (and the RTC) to "time", or from the RTC. */
int agentsys_set_time(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* guest-get-host-name */
int agentsys_host_name(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* guest-get-osinfo: uname and os-release. */
int agentsys_osinfo(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* guest-get-timezone: always UTC. */
int agentsys_timezone(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* guest-get-users: none known. */
int agentsys_users(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* guest-network-get-interfaces */
int agentsys_interfaces(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* amphi-status: what amphi ctl status shows. */
int agentsys_status(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);

#endif
