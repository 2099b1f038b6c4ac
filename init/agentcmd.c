/* The guest agent's command table and what answers a request with it:
 * the protocol's own commands (guest-sync, guest-ping, guest-info) and
 * the ones that act through PID 1 (guest-shutdown, amphi-restart). The
 * others are agentsys.c's (the system's state) and agentfs.c's (file
 * systems and disks). */
#include "agentcmd.h"
#include "agentfs.h"
#include "agentreq.h"
#include "agentsys.h"

#include <stdio.h>
#include <string.h>

#ifndef AMPHI_VERSION
#define AMPHI_VERSION "0.1"
#endif

static struct agentcmd_hooks hooks;

void agentcmd_set_hooks(const struct agentcmd_hooks *h)
{
	hooks = *h;
}

const struct agentcmd_hooks *agentcmd_hooks_get(void)
{
	return &hooks;
}

/* ---- the plain ones ---- */

static int cmd_sync(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	long long id;
	(void)root;

	/* libvirt's id is milliseconds since the epoch: 64 bits, exact. */
	if (jsontok_int(&r->doc, agentreq_arg(r, "id"), &id) < 0) {
		*err = "'id' must be an integer of 64 bits";
		return -1;
	}
	jsonw_int(w, id);
	return 0;
}

static int cmd_empty(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, "{}");
	return 0;
}

static int cmd_info(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);

static int cmd_shutdown(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char mode[16] = "powerdown";
	int t = agentreq_arg(r, "mode");
	(void)root, (void)w;

	if ((t >= 0 && jsontok_str(&r->doc, t, mode, sizeof(mode)) < 0) ||
	    (strcmp(mode, "powerdown") && strcmp(mode, "reboot") && strcmp(mode, "halt"))) {
		*err = "'mode' must be powerdown, reboot or halt";
		return -1;
	}
	if (hooks.shutdown)
		hooks.shutdown(mode);
	return 1;
}

static int cmd_restart(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char name[64];
	(void)root;

	if (jsontok_str(&r->doc, agentreq_arg(r, "name"), name, sizeof(name)) < 0) {
		*err = "'name' must name a service";
		return -1;
	}
	if (!hooks.restart || hooks.restart(name) < 0) {
		*err = "no such service";
		return -1;
	}
	jsonw_raw(w, "{}");
	return 0;
}

/* ---- the table ---- */

static const struct cmd {
	const char *name;
	agentcmd_fn fn;
	unsigned char no_reply;      /* success-response false */
	unsigned char while_frozen;  /* qemu-ga's allowlist while frozen */
} cmds[] = {
	{ "guest-sync", cmd_sync, 0, 1 },
	{ "guest-sync-delimited", cmd_sync, 0, 1 },
	{ "guest-ping", cmd_empty, 0, 1 },
	{ "guest-info", cmd_info, 0, 1 },
	{ "guest-shutdown", cmd_shutdown, 1, 0 },
	{ "guest-get-time", agentsys_get_time, 0, 0 },
	{ "guest-set-time", agentsys_set_time, 0, 0 },
	{ "guest-network-get-interfaces", agentsys_interfaces, 0, 0 },
	{ "guest-get-host-name", agentsys_host_name, 0, 0 },
	{ "guest-get-osinfo", agentsys_osinfo, 0, 0 },
	{ "guest-get-timezone", agentsys_timezone, 0, 0 },
	{ "guest-get-users", agentsys_users, 0, 0 },
	{ "guest-get-fsinfo", agentfs_fsinfo, 0, 0 },
	{ "guest-get-disks", agentfs_disks, 0, 0 },
	{ "guest-fsfreeze-status", agentfs_freeze_status, 0, 1 },
	{ "guest-fsfreeze-freeze", agentfs_freeze, 0, 0 },
	{ "guest-fsfreeze-thaw", agentfs_thaw, 0, 1 },
	{ "amphi-status", agentsys_status, 0, 1 },
	{ "amphi-restart", cmd_restart, 0, 0 },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static int cmd_info(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, "{\"version\":\"" AMPHI_VERSION "\",\"supported_commands\":[");
	for (size_t i = 0; i < NCMDS; i++) {
		jsonw_raw(w, i ? ",{\"name\":" : "{\"name\":");
		jsonw_str(w, cmds[i].name);
		jsonw_raw(w, agentcmd_frozen() && !cmds[i].while_frozen ? ",\"enabled\":false" : ",\"enabled\":true");
		jsonw_raw(w, cmds[i].no_reply ? ",\"success-response\":false}" : ",\"success-response\":true}");
	}
	jsonw_raw(w, "]}");
	return 0;
}

static void error(struct jsonw *w, const char *class, const char *desc)
{
	jsonw_raw(w, "{\"error\":{\"class\":\"");
	jsonw_raw(w, class);
	jsonw_raw(w, "\",\"desc\":");
	jsonw_str(w, desc);
	jsonw_raw(w, "}");
}

void agentcmd_refuse(struct jsonw *w, const char *why)
{
	w->len = 0;
	w->overflow = 0;
	error(w, "GenericError", why);
	jsonw_raw(w, "}\n");
}

static void end(struct jsonw *w, const struct agentreq *r)
{
	if (r->id >= 0) {
		size_t n;
		const char *id = jsontok_raw(&r->doc, r->id, &n);
		jsonw_raw(w, ",\"id\":");
		jsonw_rawn(w, id, n);
	}
	jsonw_raw(w, "}\n");
}

enum agentcmd_send agentcmd_run(const char *root, const char *req, size_t len, struct jsonw *w)
{
	static struct agentreq r;
	const char *why = NULL;
	char name[64], text[128];

	if (agentreq_parse(&r, req, len, &why) < 0) {
		agentcmd_refuse(w, why);
		return AGENTCMD_REPLY;
	}
	/* The name is the host's: a long or odd one is no command of ours. */
	const struct cmd *c = cmds;
	if (jsontok_str(&r.doc, r.execute, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "(unreadable)");
	while (c < cmds + NCMDS && strcmp(c->name, name))
		c++;
	if (c == cmds + NCMDS || (agentcmd_frozen() && !c->while_frozen)) {
		snprintf(text, sizeof(text), c == cmds + NCMDS ? "The command %s has not been found"
							      : "The command %s has been disabled for this instance", name);
		error(w, "CommandNotFound", text);
		end(w, &r);
		return AGENTCMD_REPLY;
	}
	jsonw_raw(w, "{\"return\":");
	int rc = c->fn(root, &r, w, &why);
	if (rc == 1)
		return AGENTCMD_NONE;
	if (rc < 0 || w->overflow) {
		snprintf(text, sizeof(text), "%s: %s", name, rc < 0 ? why : "the reply does not fit the agent's buffer");
		w->len = 0;
		w->overflow = 0;
		error(w, "GenericError", text);
	}
	end(w, &r);
	return strcmp(name, "guest-sync-delimited") ? AGENTCMD_REPLY : AGENTCMD_DELIMITED;
}
