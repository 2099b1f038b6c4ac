/* The appliance's steps, tasks and services: install steps, then tasks,
 * one after another in file order, then services in start order, kept running with a capped,
 * growing restart delay; their output to the log, line by line. */
#ifndef AMPHI_SVC_H
#define AMPHI_SVC_H

#include "jsonw.h"
#include "recipe.h"

#include <sys/types.h>

struct svc_hooks {
	void (*ready)(void);                 /* every service started */
	void (*boot_failed)(const char *why); /* a task with on_failure = stop failed */
	/* The install phase (install.c), when svc_start is told to run it. */
	void (*step_started)(const struct recipe_unit *u);
	void (*step_line)(const struct recipe_unit *u, const char *line, size_t len);
	/* status as from waitpid, or -1 when it could not start; returns
	 * nonzero to go on with the next step. */
	int (*step_ended)(const struct recipe_unit *u, int status, int timed_out);
	void (*steps_done)(void);            /* all succeeded: svc_steps_over goes on */
};

/* Runs the install steps when run_steps (each reported through the hooks;
 * after the last, nothing more until svc_steps_over), then the tasks, then
 * the services; a service with needs = network, and every one after it in
 * start order, waits for svc_network_ready. hooks->ready comes once all
 * are started and the network is ready. r must outlive the run. */
void svc_start(const struct recipe *r, const struct svc_hooks *hooks, int network_ready, int run_steps);
/* The install phase is over: on to the tasks and services. */
void svc_steps_over(void);
/* The network is configured (or we gave up waiting): go on. */
void svc_network_ready(void);
/* Stops services in reverse start order, each with its stop signal and
 * timeout (a running task first); calls done when all are down. */
void svc_stop_all(void (*done)(void));
/* amphi-restart: a running service is stopped with its stop signal and
 * started again as soon as it ends; a waiting one starts now. 0, or -1
 * when no service has that name or services are not running yet. */
int svc_restart(const char *name);
/* amphi-status's ,"units":[{name, kind, state, pid, restarts, last-exit,
 * for-ms}] members. */
void svc_status(struct jsonw *w);

#endif
