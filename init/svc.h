/* The appliance's tasks and services: tasks one after another in file
 * order, then services in start order, kept running with a capped,
 * growing restart delay; their output to the log, line by line. */
#ifndef AMPHI_SVC_H
#define AMPHI_SVC_H

#include "recipe.h"

#include <sys/types.h>

struct svc_hooks {
	void (*ready)(void);                 /* every service started */
	void (*boot_failed)(const char *why); /* a task with on_failure = stop failed */
};

/* Starts the tasks, then the services; a service with needs = network,
 * and every one after it in start order, waits for svc_network_ready.
 * hooks->ready comes once all are started and the network is ready.
 * r must outlive the run. */
void svc_start(const struct recipe *r, const struct svc_hooks *hooks, int network_ready);
/* The network is configured (or we gave up waiting): go on. */
void svc_network_ready(void);
/* For every reaped child: returns 1 if it was a task or a service. */
int svc_reaped(pid_t pid, int status);
/* Stops services in reverse start order, each with its stop signal and
 * timeout (a running task first); calls done when all are down. */
void svc_stop_all(void (*done)(void));

#endif
