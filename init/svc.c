#include "svc.h"
#include "argv.h"
#include "child.h"
#include "log.h"
#include "logpipe.h"
#include "loop.h"
#include "spawn.h"
#include "users.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEARCH_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A unit is a child (first: the child's callbacks find the unit from it)
 * with its recipe entry and its output pipe. */
struct unit_state {
	struct child c;
	const struct recipe_unit *u;
	struct logpipe out;     /* its stdout and stderr */
	int timed_out;
	int restart_now;        /* amphi-restart: up again at once */
};

enum phase { PHASE_STEPS, PHASE_TASKS, PHASE_SERVICES, PHASE_STOPPING };

static const struct recipe *rcp;
static struct svc_hooks hooks;
static struct unit_state st[RECIPE_UNITS_MAX];
static enum phase phase;
static int next_unit;          /* unit index to look from for the next step or task */
static int next_service;       /* index into start_order of the next to start */
static int network_ready;
static int ready_said;
static int stop_pos;           /* index into start_order while stopping */
static void (*stop_done)(void);
static int64_t stop_began_ms;
static int devnull = -1;

static void go_on(void);
static void stop_next(void);

/* A line of a unit's output to the log; a step's also to the install phase. */
static void emit(void *ctx, const char *line, size_t len, int plain)
{
	const struct unit_state *s = ctx;
	log_output(s->u->name, line, len, plain);
	if (s->u->kind == UNIT_STEP && hooks.step_line)
		hooks.step_line(s->u, line, len);
}

/* ---- starting ---- */

/* argv[0] without a '/' is looked up in the usual places. */
static int find_program(const char *name, char *out, size_t outlen)
{
	char path[] = SEARCH_PATH;

	if (strchr(name, '/')) {
		snprintf(out, outlen, "%s", name);
		return access(out, X_OK);
	}
	for (char *save = NULL, *dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, outlen, "%s/%s", dir, name);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

static int resolve_ids(const struct recipe_unit *u, struct spawn_opts *o, char *home, size_t homelen)
{
	snprintf(home, homelen, "/root");
	if (!u->user[0] && !u->group[0])
		return 0;
	o->set_ids = 1;
	if (u->user[0] && users_user("", u->user, &o->uid, &o->gid, home, homelen) < 0) {
		log_error("%s: user '%s' is not in /etc/passwd", u->name, u->user);
		return -1;
	}
	if (u->group[0] && users_group("", u->group, &o->gid) < 0) {
		log_error("%s: group '%s' is not in /etc/group", u->name, u->group);
		return -1;
	}
	return 0;
}

/* The unit's start function: the pid, or -1 after logging why it could
 * not start. */
static pid_t unit_start(struct child *c)
{
	struct unit_state *s = (struct unit_state *)c;
	const struct recipe_unit *u = s->u;
	static char words[RECIPE_EXEC_MAX], prog[256], envbuf[2][300];
	char *argv[ARGV_MAX], *envp[RECIPE_LIST_MAX + 3], err[128];
	struct spawn_opts o = { .stdin_fd = devnull, .workdir = u->workdir };
	char home[RECIPE_PATH_MAX];
	int n = 0, r;

	if (u->shell) {
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = (char *)u->exec;
		argv[3] = NULL;
	} else if (argv_split(u->exec, words, sizeof(words), argv, ARGV_MAX, err, sizeof(err)) < 0) {
		log_error("%s: exec: %s", u->name, err);  /* the parser checked; belt and braces */
		return -1;
	}
	if (find_program(argv[0], prog, sizeof(prog)) < 0) {
		log_error("%s: cannot run '%s': not found or not executable", u->name, argv[0]);
		return -1;
	}
	argv[0] = prog;
	if (resolve_ids(u, &o, home, sizeof(home)) < 0)
		return -1;
	snprintf(envbuf[0], sizeof(envbuf[0]), "PATH=%s", SEARCH_PATH);
	snprintf(envbuf[1], sizeof(envbuf[1]), "HOME=%s", home);
	envp[n++] = envbuf[0];
	envp[n++] = envbuf[1];
	for (int i = 0; i < u->env.n; i++)
		envp[n++] = (char *)u->env.item[i];
	envp[n] = NULL;
	o.envp = envp;
	if ((r = logpipe_open(&s->out, emit, s)) < 0) {
		log_error("%s: output pipe: %s", u->name, strerror(-r));
		return -1;
	}
	o.stdout_fd = o.stderr_fd = s->out.w;
	pid_t pid = spawn_with(argv, &o);
	if (pid < 0) {
		log_error("%s: fork: %s", u->name, strerror((int)-pid));
		return -1;
	}
	log_debug("%s: started, pid %d", u->name, (int)pid);
	return pid;
}

/* ---- the phases, in order: install steps one at a time (the install
 * phase, install.c, says when it is over), tasks one at a time, then the
 * services in start order. Every unit's end and every wait that is over
 * comes back to go_on. ---- */

static void task_timed_out(struct child *c)
{
	struct unit_state *s = (struct unit_state *)c;
	s->timed_out = 1;
	log_error("%s %s: still running after %d s; killing it", recipe_unit_kind(s->u->kind), s->u->name,
		  s->u->timeout);
	child_signal(c, SIGKILL);
}

/* The next step or task from next_unit on: started (1), or none left (0).
 * One that cannot start is reported to its phase, which says whether to
 * go on. */
static int start_next(enum unit_kind kind)
{
	for (; next_unit < rcp->nunits; next_unit++) {
		struct unit_state *s = &st[next_unit];
		if (s->u->kind != kind)
			continue;
		if (kind == UNIT_STEP)
			hooks.step_started(s->u);
		else
			log_info("task %s: starting", s->u->name);
		if (child_start(&s->c) < 0)
			return -1;
		child_timer(&s->c, (long)s->u->timeout * 1000, task_timed_out);
		return 1;
	}
	return 0;
}

static void start_services(void)
{
	for (; next_service < rcp->nservices; next_service++) {
		struct unit_state *s = &st[rcp->start_order[next_service]];
		if (s->u->needs_network && !network_ready) {
			log_info("service %s: waiting for the network", s->u->name);
			return;  /* it and everything after it in start order */
		}
		if (child_start(&s->c) == 0)
			log_info("service %s: started", s->u->name);
	}
	if (network_ready && !ready_said) {
		ready_said = 1;
		hooks.ready();
	}
}

static int step_ended(struct unit_state *s, int status);
static int task_ended(struct unit_state *s, int ok, const char *how);

static void go_on(void)
{
	int r;

	while (phase == PHASE_STEPS && (r = start_next(UNIT_STEP)) != 1) {
		if (r == 0) {
			hooks.steps_done();  /* svc_steps_over goes on */
			return;
		}
		if (!step_ended(&st[next_unit], -1))
			return;
	}
	while (phase == PHASE_TASKS && (r = start_next(UNIT_TASK)) != 1) {
		if (r == 0)
			phase = PHASE_SERVICES;
		else if (!task_ended(&st[next_unit], 0, "could not start"))
			return;
	}
	if (phase == PHASE_SERVICES)
		start_services();
}

/* Returns nonzero to go on with the next step. */
static int step_ended(struct unit_state *s, int status)
{
	next_unit++;
	return hooks.step_ended(s->u, status, s->timed_out);
}

void svc_steps_over(void)
{
	if (phase != PHASE_STEPS)
		return;
	phase = PHASE_TASKS;
	next_unit = 0;
	go_on();
}

/* Returns nonzero to go on with the next task. */
static int task_ended(struct unit_state *s, int ok, const char *how)
{
	char why[RECIPE_ERR_MAX];

	if (ok)
		log_info("task %s: done", s->u->name);
	else if (s->u->stop_boot_on_failure) {
		snprintf(why, sizeof(why), "task %s %s; the boot stops here (on_failure = stop)", s->u->name, how);
		/* The verdict in words Anaconda hosts look for: Lorax's log
		 * monitor counts "packaging: Installation failed" as a failure. */
		log_error("packaging: Installation failed: task %s %s", s->u->name, how);
		hooks.boot_failed(why);
		return 0;
	} else
		log_warn("task %s %s; going on (on_failure = continue)", s->u->name, how);
	next_unit++;
	return 1;
}

void svc_network_ready(void)
{
	if (network_ready)
		return;
	network_ready = 1;
	/* Steps and tasks do not wait for it: only services may have been
	 * waiting (a step or task running now must not be started again). */
	if (rcp && phase == PHASE_SERVICES)
		start_services();
}

/* ---- services ---- */

static void restart_service(struct child *c)
{
	if (phase == PHASE_SERVICES && !c->pid)
		child_start(c);
}

static void service_ended(struct unit_state *s, int status)
{
	char how[64];
	int64_t ran = loop_now_ms() - s->c.started_ms;
	int failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

	child_describe(status, how, sizeof(how));
	if (s->restart_now) {
		s->restart_now = 0;
		s->c.restarts++;
		log_info("service %s %s; restarted as the host asked", s->u->name, how);
		child_start(&s->c);
		return;
	}
	if (s->u->restart == RESTART_NO || (s->u->restart == RESTART_ON_FAILURE && !failed)) {
		log_info("service %s %s; not restarted (restart = %s)", s->u->name, how,
			 s->u->restart == RESTART_NO ? "no" : "on-failure");
		return;
	}
	long delay = child_backoff(&s->c);
	log_warn("service %s %s after %lld ms; restart %d in %ld ms", s->u->name, how,
		 (long long)ran, s->c.restarts, delay);
	child_timer(&s->c, delay, restart_service);
}

/* Every unit's end, reaped by child.c. */
static void unit_ended(struct child *c, int status)
{
	struct unit_state *s = (struct unit_state *)c;
	char how[64];

	logpipe_child_ended(&s->out);
	if (phase == PHASE_STOPPING)
		stop_next();
	else if (s->u->kind == UNIT_STEP) {
		if (step_ended(s, status))
			go_on();
	} else if (s->u->kind == UNIT_TASK) {
		child_describe(status, how, sizeof(how));
		if (task_ended(s, WIFEXITED(status) && WEXITSTATUS(status) == 0, how))
			go_on();
	} else
		service_ended(s, status);
}

void svc_start(const struct recipe *r, const struct svc_hooks *h, int net_ready, int run_steps)
{
	network_ready = net_ready;
	rcp = r;
	hooks = *h;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < r->nunits; i++)
		st[i] = (struct unit_state){ .c = CHILD_INIT(r->unit[i].name, CHILD_SERVICE, unit_start, unit_ended),
					     .u = &r->unit[i], .out = LOGPIPE_INIT };
	next_unit = next_service = ready_said = 0;
	phase = run_steps && r->nsteps && h->step_started && h->step_ended && h->steps_done ? PHASE_STEPS
											 : PHASE_TASKS;
	go_on();
}

/* ---- stopping, one at a time from the last started ---- */

static int stop_one(struct unit_state *s)
{
	if (!s->c.pid)
		return 0;
	log_info("stopping %s", s->u->name);
	/* In place of a step's or task's timeout: one timer a unit. */
	child_stop(&s->c, s->u->kind != UNIT_SERVICE ? SIGTERM : s->u->stop_signal, s->u->stop_timeout);
	return 1;
}

static void stop_next(void)
{
	/* A running step or task goes first: nothing started after it. */
	for (int i = 0; rcp && i < rcp->nunits; i++)
		if (st[i].u->kind != UNIT_SERVICE && st[i].c.pid)
			return (void)(st[i].c.timer < 0 && stop_one(&st[i]));
	for (; rcp && stop_pos >= 0; stop_pos--) {
		struct unit_state *s = &st[rcp->start_order[stop_pos]];
		if (s->c.pid)
			return (void)(s->c.timer < 0 && stop_one(s));
	}
	if (stop_done) {
		void (*done)(void) = stop_done;
		stop_done = NULL;
		if (rcp && rcp->nunits)
			log_info("services stopped in %lld ms", (long long)(loop_now_ms() - stop_began_ms));
		done();
	}
}

void svc_stop_all(void (*done)(void))
{
	phase = PHASE_STOPPING;
	stop_done = done;
	stop_began_ms = loop_now_ms();
	stop_pos = rcp ? rcp->nservices - 1 : -1;
	for (int i = 0; rcp && i < rcp->nunits; i++)
		child_cancel_timer(&st[i].c);  /* pending restarts and task timeouts */
	stop_next();
}

/* ---- the guest agent's view ---- */

int svc_restart(const char *name)
{
	for (int i = 0; rcp && i < rcp->nunits; i++) {
		struct unit_state *s = &st[i];
		if (s->u->kind != UNIT_SERVICE || strcmp(s->u->name, name))
			continue;
		if (phase != PHASE_SERVICES)
			return -1;
		if (s->c.pid) {
			/* Its end, reaped as any, starts it again. */
			s->restart_now = 1;
			child_signal(&s->c, s->u->stop_signal);
			child_signal(&s->c, SIGCONT);
		} else if (s->c.started_ms || s->c.timer >= 0) {
			child_cancel_timer(&s->c);
			s->c.restarts++;
			child_start(&s->c);
		} else
			return -1;  /* not started yet: its turn comes */
		return 0;
	}
	return -1;
}

void svc_status(struct jsonw *w)
{
	int64_t now = loop_now_ms();

	jsonw_raw(w, ",\"units\":[");
	for (int i = 0; rcp && i < rcp->nunits; i++) {
		const struct unit_state *s = &st[i];
		const struct child *c = &s->c;
		jsonw_raw(w, i ? ",{\"name\":" : "{\"name\":");
		jsonw_str(w, s->u->name);
		jsonw_raw(w, ",\"kind\":");
		jsonw_str(w, recipe_unit_kind(s->u->kind));
		jsonw_raw(w, ",\"state\":");
		jsonw_str(w, c->pid ? "running" : c->timer >= 0 && s->u->kind == UNIT_SERVICE ? "restarting"
			     : c->last_status >= 0 ? "exited" : "waiting");
		jsonw_raw(w, ",\"pid\":");
		jsonw_int(w, c->pid);
		jsonw_raw(w, ",\"restarts\":");
		jsonw_int(w, c->restarts);
		if (c->last_status >= 0) {
			char how[64];
			child_describe(c->last_status, how, sizeof(how));
			jsonw_raw(w, ",\"last-exit\":");
			jsonw_str(w, how);
		}
		jsonw_raw(w, ",\"for-ms\":");
		jsonw_int(w, c->since_ms ? now - c->since_ms : 0);
		jsonw_raw(w, "}");
	}
	jsonw_raw(w, "]");
}
