/* The guest agent's commands: QEMU's guest agent protocol as libvirt
 * speaks it (src/qemu/qemu_agent.c), the useful and safe part, plus
 * amphi's own. Anything else, guest-exec and guest-file-* above all, is
 * CommandNotFound, always. Reads the system below root, so that it is
 * tested on a fixture tree. */
#ifndef AMPHI_AGENTCMD_H
#define AMPHI_AGENTCMD_H

#include "jsonw.h"

#include <stddef.h>

/* What to send: nothing (a guest-shutdown under way), the reply, or the
 * reply after a 0xFF byte (guest-sync-delimited). */
enum agentcmd_send { AGENTCMD_NONE, AGENTCMD_REPLY, AGENTCMD_DELIMITED };

/* Answers the request req[0..len) into w: one line, {"return": ...} or
 * {"error": {"class", "desc"}}, with the request's "id" copied. */
enum agentcmd_send agentcmd_run(const char *root, const char *req, size_t len, struct jsonw *w);
/* The reply to what was not a request: too long or too deep, or bytes
 * outside an object. */
void agentcmd_refuse(struct jsonw *w, const char *why);

/* What PID 1 gives the commands (agent.c wires them; tests give fakes). */
struct agentcmd_hooks {
	/* mode: "powerdown", "reboot" or "halt"; the stop sequence begins. */
	void (*shutdown)(const char *mode);
	/* Restarts a service: 0, or -1 with no such service. */
	int (*restart)(const char *name);
	/* amphi-status's units and log members, written into w. */
	void (*status)(struct jsonw *w);
	/* guest-fsfreeze-thaw: what waited for it may write now. */
	void (*thawed)(void);
	/* A container's file systems and clock are the host's: guest-fsfreeze-*
	 * and guest-set-time are refused there, whatever its capabilities. */
	int container;
};
void agentcmd_set_hooks(const struct agentcmd_hooks *h);

/* Is a file system frozen by guest-fsfreeze-freeze? PID 1 writes nothing
 * to one then. (agentfs.c) */
int agentcmd_frozen(void);

/* ---- for the files of commands (agentsys.c, agentfs.c) ---- */

struct agentreq;
/* A command writes the value of "return" and gives 0; 1 when nothing is
 * to be sent (a shutdown under way); -1 with *err for a GenericError. */
typedef int (*agentcmd_fn)(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);
/* What agentcmd_set_hooks was given. */
const struct agentcmd_hooks *agentcmd_hooks_get(void);

#endif
