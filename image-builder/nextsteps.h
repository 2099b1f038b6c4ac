/* The commands a container's next steps give: the same lines for the LXC
 * template's container and for lxc-local's, each naming the container
 * its own way. */
#ifndef AMPHI_NEXTSTEPS_H
#define AMPHI_NEXTSTEPS_H

#include "util.h"

struct next_steps {
	const char *name;     /* each command's -n */
	const char *at;       /* after the name in each command: " -P LXCPATH", or "" */
	const char *start_at; /* after it in the start command only */
	const char *dir;      /* the container's directory: host/amphi.sock, console.log */
	const char *amphi;    /* the amphi command that reads its logs */
	int without_amphi;    /* say too how to read them without amphi */
};

/* start it, its login prompt, a shell inside, its logs. */
int next_steps_commands(struct strbuf *b, const struct next_steps *s);
/* stop it, restart. */
int next_steps_stop(struct strbuf *b, const struct next_steps *s);

#endif
