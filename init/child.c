#include "child.h"
#include "log.h"
#include "loop.h"
#include "recipe.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static const struct {
	long first_ms, cap_ms, stable_ms, after_stable_ms;
} policies[] = {
	[CHILD_SERVICE] = { 100, 30000, 10000, 100 },
	[CHILD_GETTY] = { 1000, 30000, 10000, 0 },
	[CHILD_SHELL] = { 1000, 1000, 0, 1000 },
};

/* Every child ever started, for the reaper: each unit, each getty, the
 * emergency shell. */
#define CHILDREN_MAX (RECIPE_UNITS_MAX + RECIPE_TTYS_MAX + 1)
static struct child *children[CHILDREN_MAX];
static int nchildren;
static void (*none_left)(void);

int child_start(struct child *c)
{
	int i = 0;
	while (i < nchildren && children[i] != c)
		i++;
	if (i == CHILDREN_MAX) {
		log_error("%s: more than %d children; not started (a bug: please report it)", c->name, CHILDREN_MAX);
		return -1;
	}
	if (i == nchildren)  /* its first start: the reaper knows it from now on */
		children[nchildren++] = c;
	/* A start that fails is a run of no time: the next delay grows. */
	c->started_ms = loop_now_ms();
	pid_t pid = c->start(c);
	if (pid <= 0)
		return -1;
	c->pid = pid;
	c->since_ms = c->started_ms;
	return 0;
}

long child_backoff(struct child *c)
{
	long ran = (long)(loop_now_ms() - c->started_ms);
	const long first = policies[c->policy].first_ms, cap = policies[c->policy].cap_ms;

	if (ran >= policies[c->policy].stable_ms)
		c->backoff_ms = policies[c->policy].after_stable_ms;
	else
		c->backoff_ms = c->backoff_ms <= 0 ? first : c->backoff_ms * 2 > cap ? cap : c->backoff_ms * 2;
	c->restarts++;
	return c->backoff_ms;
}

static void respawn_due(struct child *c)
{
	if (!c->pid)
		child_start(c);
}

long child_respawn(struct child *c)
{
	long delay = child_backoff(c);
	if (delay == 0)
		respawn_due(c);
	else
		child_timer(c, delay, respawn_due);
	return delay;
}

static long on_timer(void *data)
{
	struct child *c = data;
	c->timer = -1;
	c->timer_fn(c);
	return -1;
}

int child_timer(struct child *c, long ms, void (*fn)(struct child *c))
{
	child_cancel_timer(c);
	int id = loop_add_timer(ms, on_timer, c);
	if (id < 0)
		return id;  /* the loop said so */
	c->timer = id;
	c->timer_fn = fn;
	return 0;
}

void child_cancel_timer(struct child *c)
{
	loop_del_timer(c->timer);
	c->timer = -1;
}

/* The child makes its group in its setsid (spawn.c), which can come a
 * while after fork returned here: a stop right after a start (a reboot
 * signal queued while the services were starting, or sent as the ready
 * line came) finds no group (ESRCH), and the child would run until its
 * stop timeout. Then the child itself gets the signal: it has no children
 * yet, and it still blocks every signal, so this one waits and acts once
 * the child has put the handlers back to default and unblocked them. */
void child_signal(const struct child *c, int sig)
{
	if (c->pid <= 0)
		return;
	if (kill(-c->pid, sig) < 0 && errno == ESRCH)
		kill(c->pid, sig);
}

static void stop_timed_out(struct child *c)
{
	log_warn("%s: still running %d s after its stop signal; killing it", c->name, c->stop_timeout_s);
	child_signal(c, SIGKILL);
}

void child_stop(struct child *c, int sig, int timeout_s)
{
	child_signal(c, sig);
	child_signal(c, SIGCONT);
	c->stop_timeout_s = timeout_s;
	child_timer(c, (long)timeout_s * 1000, stop_timed_out);
}

int child_exited(pid_t pid, int status)
{
	for (int i = 0; i < nchildren; i++) {
		struct child *c = children[i];
		if (c->pid == pid && pid > 0) {
			c->pid = 0;
			c->last_status = status;
			c->since_ms = loop_now_ms();
			child_cancel_timer(c);
			c->ended(c, status);
			return 1;
		}
	}
	return 0;
}

void child_reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		child_exited(pid, status);
	if (pid < 0 && errno == ECHILD && none_left)
		none_left();
}

void child_on_none_left(void (*fn)(void))
{
	none_left = fn;
}

void child_describe(int status, char *out, size_t outlen)
{
	if (WIFSIGNALED(status))
		snprintf(out, outlen, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
}
