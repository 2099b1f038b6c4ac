#include "svc.h"
#include "argv.h"
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

/* Restart delays: from 100 ms, doubling, capped at 30 s, back to 100 ms
 * after a run of 10 s or more: a crash loop costs little, a one-off crash
 * is retried at once. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_CAP_MS 30000
#define STABLE_RUN_MS 10000
#define SEARCH_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct unit_state {
	const struct recipe_unit *u;
	pid_t pid;
	struct logpipe out;     /* its stdout and stderr */
	int64_t started_ms;
	long backoff_ms;
	int restarts;
	int timer;
	int timed_out;
	int last_status;        /* as from waitpid; -1 before the first end */
	int64_t since_ms;       /* when it last started or ended */
	int restart_now;        /* amphi-restart: up again at once */
};

enum phase { PHASE_STEPS, PHASE_TASKS, PHASE_SERVICES, PHASE_STOPPING };

static const struct recipe *rcp;
static struct svc_hooks hooks;
static struct unit_state st[RECIPE_UNITS_MAX];
static enum phase phase;
static int next_step;          /* unit index to look from for the next step */
static int next_task;          /* unit index to look from for the next task */
static int next_service;       /* index into start_order of the next to start */
static int network_ready;
static int ready_said;
static int stop_pos;           /* index into start_order while stopping */
static void (*stop_done)(void);
static int64_t stop_began_ms;
static int devnull = -1;

static void start_services(void);
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

/* Returns the pid, or -1 after logging why it could not start. */
static pid_t unit_spawn(struct unit_state *s)
{
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
	s->pid = pid;
	s->started_ms = s->since_ms = loop_now_ms();
	log_debug("%s: started, pid %d", u->name, (int)pid);
	return pid;
}

static void describe(int status, char *out, size_t outlen)
{
	if (WIFSIGNALED(status))
		snprintf(out, outlen, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
}

/* Signals a unit's process group: the service's own children go with it.
 * The child makes that group in its setsid (spawn.c), which can come a
 * while after fork returned here: a stop right after a unit started (a
 * reboot signal queued while the services were starting, or sent as the
 * ready line came) finds no group (ESRCH), and the unit would run until
 * its stop timeout. Then the child itself gets the signal: it has no
 * children yet, and it still blocks every signal, so this one waits and
 * acts once the child has put the handlers back to default and unblocked
 * them. */
static void kill_unit(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0 && errno == ESRCH)
		kill(pid, sig);
}

/* ---- steps and tasks ---- */

static long task_timed_out(void *data)
{
	struct unit_state *s = data;
	s->timer = -1;
	s->timed_out = 1;
	log_error("%s %s: still running after %d s; killing it", recipe_unit_kind(s->u->kind), s->u->name,
		  s->u->timeout);
	kill_unit(s->pid, SIGKILL);
	return -1;
}

/* Runs the next step; after the last, the install phase decides. */
static void next_install_step(void)
{
	for (; next_step < rcp->nunits; next_step++) {
		struct unit_state *s = &st[next_step];
		if (s->u->kind != UNIT_STEP)
			continue;
		hooks.step_started(s->u);
		if (unit_spawn(s) < 0) {
			next_step++;
			if (hooks.step_ended(s->u, -1, 0))
				next_install_step();
			return;
		}
		s->timer = loop_add_timer((long)s->u->timeout * 1000, task_timed_out, s);
		return;  /* step_exited continues from the next one */
	}
	hooks.steps_done();
}

static void step_exited(struct unit_state *s, int status)
{
	next_step++;
	if (hooks.step_ended(s->u, status, s->timed_out))
		next_install_step();
}

void svc_steps_over(void)
{
	if (phase != PHASE_STEPS)
		return;
	phase = PHASE_TASKS;
	start_services();
}

static void task_done(struct unit_state *s, int ok, const char *how)
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
		return;
	} else
		log_warn("task %s %s; going on (on_failure = continue)", s->u->name, how);
	next_task++;
	start_services();
}

/* Runs the next task, or moves on to the services when none is left. */
static void start_services(void)
{
	for (; phase == PHASE_TASKS && next_task < rcp->nunits; next_task++) {
		struct unit_state *s = &st[next_task];
		if (s->u->kind != UNIT_TASK)
			continue;
		log_info("task %s: starting", s->u->name);
		if (unit_spawn(s) < 0) {
			task_done(s, 0, "could not start");
			return;
		}
		s->timer = loop_add_timer((long)s->u->timeout * 1000, task_timed_out, s);
		return;  /* task_done continues from the next one */
	}
	if (phase == PHASE_TASKS)
		phase = PHASE_SERVICES;
	if (phase != PHASE_SERVICES)
		return;
	for (; next_service < rcp->nservices; next_service++) {
		struct unit_state *s = &st[rcp->start_order[next_service]];
		if (s->u->needs_network && !network_ready) {
			log_info("service %s: waiting for the network", s->u->name);
			return;  /* it and everything after it in start order */
		}
		if (unit_spawn(s) >= 0)
			log_info("service %s: started", s->u->name);
	}
	if (network_ready && !ready_said) {
		ready_said = 1;
		hooks.ready();
	}
}

void svc_network_ready(void)
{
	if (network_ready)
		return;
	network_ready = 1;
	if (rcp)
		start_services();
}

/* ---- services ---- */

static long restart_service(void *data)
{
	struct unit_state *s = data;
	s->timer = -1;
	if (phase == PHASE_SERVICES && !s->pid)
		unit_spawn(s);
	return -1;
}

static void service_exited(struct unit_state *s, int status)
{
	char how[64];
	int64_t ran = loop_now_ms() - s->started_ms;
	int failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

	describe(status, how, sizeof(how));
	if (s->restart_now) {
		s->restart_now = 0;
		s->restarts++;
		log_info("service %s %s; restarted as the host asked", s->u->name, how);
		unit_spawn(s);
		return;
	}
	if (s->u->restart == RESTART_NO || (s->u->restart == RESTART_ON_FAILURE && !failed)) {
		log_info("service %s %s; not restarted (restart = %s)", s->u->name, how,
			 s->u->restart == RESTART_NO ? "no" : "on-failure");
		return;
	}
	s->backoff_ms = (ran >= STABLE_RUN_MS || !s->backoff_ms) ? BACKOFF_FIRST_MS
			: (s->backoff_ms * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : s->backoff_ms * 2);
	s->restarts++;
	log_warn("service %s %s after %lld ms; restart %d in %ld ms", s->u->name, how,
		 (long long)ran, s->restarts, s->backoff_ms);
	s->timer = loop_add_timer(s->backoff_ms, restart_service, s);
}

int svc_reaped(pid_t pid, int status)
{
	char how[64];

	for (int i = 0; rcp && i < rcp->nunits; i++) {
		struct unit_state *s = &st[i];
		if (s->pid != pid)
			continue;
		s->pid = 0;
		s->last_status = status;
		s->since_ms = loop_now_ms();
		logpipe_child_ended(&s->out);
		loop_del_timer(s->timer);
		s->timer = -1;
		if (phase == PHASE_STOPPING)
			stop_next();
		else if (s->u->kind == UNIT_STEP)
			step_exited(s, status);
		else if (s->u->kind == UNIT_TASK) {
			describe(status, how, sizeof(how));
			task_done(s, WIFEXITED(status) && WEXITSTATUS(status) == 0, how);
		} else
			service_exited(s, status);
		return 1;
	}
	return 0;
}

void svc_start(const struct recipe *r, const struct svc_hooks *h, int net_ready, int run_steps)
{
	network_ready = net_ready;
	rcp = r;
	hooks = *h;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < r->nunits; i++)
		st[i] = (struct unit_state){ .u = &r->unit[i], .out = LOGPIPE_INIT, .timer = -1, .last_status = -1 };
	next_step = next_task = 0;
	if (run_steps && r->nsteps && h->step_started && h->step_ended && h->steps_done) {
		phase = PHASE_STEPS;
		next_install_step();
		return;
	}
	phase = PHASE_TASKS;
	start_services();
}

/* ---- stopping, one at a time from the last started ---- */

static long stop_timed_out(void *data)
{
	struct unit_state *s = data;
	s->timer = -1;
	log_warn("%s: still running %d s after its stop signal; killing it", s->u->name, s->u->stop_timeout);
	kill_unit(s->pid, SIGKILL);
	return -1;
}

static int stop_one(struct unit_state *s)
{
	if (!s->pid)
		return 0;
	log_info("stopping %s", s->u->name);
	kill_unit(s->pid, s->u->kind != UNIT_SERVICE ? SIGTERM : s->u->stop_signal);
	kill_unit(s->pid, SIGCONT);
	loop_del_timer(s->timer);  /* a step's or task's timeout: one timer a unit */
	s->timer = loop_add_timer((long)s->u->stop_timeout * 1000, stop_timed_out, s);
	return 1;
}

static void stop_next(void)
{
	/* A running step or task goes first: nothing started after it. */
	for (int i = 0; rcp && i < rcp->nunits; i++)
		if (st[i].u->kind != UNIT_SERVICE && st[i].pid)
			return (void)(st[i].timer < 0 && stop_one(&st[i]));
	for (; rcp && stop_pos >= 0; stop_pos--) {
		struct unit_state *s = &st[rcp->start_order[stop_pos]];
		if (s->pid)
			return (void)(s->timer < 0 && stop_one(s));
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
	for (int i = 0; rcp && i < rcp->nunits; i++) {
		loop_del_timer(st[i].timer);  /* pending restarts and task timeouts */
		st[i].timer = -1;
	}
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
		if (s->pid) {
			/* Its end, reaped as any, starts it again. */
			s->restart_now = 1;
			kill_unit(s->pid, s->u->stop_signal);
			kill_unit(s->pid, SIGCONT);
		} else if (s->started_ms || s->timer >= 0) {
			loop_del_timer(s->timer);
			s->timer = -1;
			s->restarts++;
			unit_spawn(s);
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
		jsonw_raw(w, i ? ",{\"name\":" : "{\"name\":");
		jsonw_str(w, s->u->name);
		jsonw_raw(w, ",\"kind\":");
		jsonw_str(w, recipe_unit_kind(s->u->kind));
		jsonw_raw(w, ",\"state\":");
		jsonw_str(w, s->pid ? "running" : s->timer >= 0 && s->u->kind == UNIT_SERVICE ? "restarting"
			     : s->last_status >= 0 ? "exited" : "waiting");
		jsonw_raw(w, ",\"pid\":");
		jsonw_int(w, s->pid);
		jsonw_raw(w, ",\"restarts\":");
		jsonw_int(w, s->restarts);
		if (s->last_status >= 0) {
			char how[64];
			describe(s->last_status, how, sizeof(how));
			jsonw_raw(w, ",\"last-exit\":");
			jsonw_str(w, how);
		}
		jsonw_raw(w, ",\"for-ms\":");
		jsonw_int(w, s->since_ms ? now - s->since_ms : 0);
		jsonw_raw(w, "}");
	}
	jsonw_raw(w, "]");
}
