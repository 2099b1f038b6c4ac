#include "install.h"
#include "child.h"
#include "emergency.h"
#include "log.h"
#include "logframe.h"
#include "loop.h"
#include "shutdown.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The failing step's last lines are said before the verdict. */
#define TAIL_LINES 8
#define TAIL_LINE 160

static const struct recipe *rcp;
static const char *inst_root = "";
static int step_no;
static int64_t began_ms, step_began_ms;
static char tail[TAIL_LINES][TAIL_LINE];
static int tail_count;   /* lines seen in this step (the last TAIL_LINES are kept) */

/* An event's [install@32473 ...] (docs/PROTOCOL.md, "Install records"):
 * what the host decides on, in a part of the record that nothing but PID 1
 * writes. The message's words are for people. */
struct event {
	char sd[384];
	size_t len;
};

static struct event *ev_text(struct event *e, const char *name, const char *value)
{
	e->len = logrec_sd_param(e->sd, e->len, sizeof(e->sd) - 1, name, value);
	return e;
}

static struct event *ev_num(struct event *e, const char *name, long long v)
{
	char n[24];
	snprintf(n, sizeof(n), "%lld", v);
	return ev_text(e, name, n);
}

/* "[install@32473 event=EVENT steps=M", and the step's number and name. */
static struct event *ev_start(struct event *e, const char *event, int steps, const struct recipe_unit *u)
{
	e->len = (size_t)snprintf(e->sd, sizeof(e->sd), "[%s", LOGREC_SD_INSTALL);
	ev_num(ev_text(e, "event", event), "steps", steps);
	return u ? ev_text(ev_num(e, "step", step_no), "name", u->name) : e;
}

/* The element closed; 0 if it did not fit (never, with these values). */
static size_t ev_end(struct event *e)
{
	if (e->len >= sizeof(e->sd) - 1)
		return 0;
	e->sd[e->len++] = ']';
	return e->len;
}

int install_wanted(const char *root, const struct recipe *r)
{
	char path[PATH_MAX];

	if (r->install_mode == INSTALL_NONE)
		return 0;
	if (r->install_mode == INSTALL_FIRST_BOOT) {
		snprintf(path, sizeof(path), "%s%s", root, r->install_marker);
		if (access(path, F_OK) == 0) {
			struct event e;
			ev_start(&e, "skip", r->nsteps, NULL);
			log_install(LOG_LVL_INFO, e.sd, ev_end(&e),
				    "first boot already done (%s exists); %d step%s skipped", r->install_marker, r->nsteps,
				    r->nsteps == 1 ? "" : "s");
			return 0;
		}
	}
	return 1;
}

static void on_step_started(const struct recipe_unit *u)
{
	struct event e;

	if (step_no == 0) {
		began_ms = loop_now_ms();
		ev_start(&e, "begin", rcp->nsteps, NULL);
		log_install(LOG_LVL_INFO, e.sd, ev_end(&e), "%s: %d step%s",
			    rcp->install_mode == INSTALL_FIRST_BOOT ? "first boot" : "installer", rcp->nsteps,
			    rcp->nsteps == 1 ? "" : "s");
	}
	step_no++;
	tail_count = 0;
	step_began_ms = loop_now_ms();
	ev_text(ev_start(&e, "step", rcp->nsteps, u), "state", "started");
	log_install(LOG_LVL_INFO, e.sd, ev_end(&e), "step %d/%d %s: started", step_no, rcp->nsteps, u->name);
}

static void on_step_line(const struct recipe_unit *u, const char *line, size_t len)
{
	(void)u;
	char *t = tail[tail_count++ % TAIL_LINES];
	snprintf(t, TAIL_LINE, "%.*s", (int)(len < TAIL_LINE - 1 ? len : TAIL_LINE - 1), line);
}

static void how_it_ended(const struct recipe_unit *u, int status, int timed_out, char *out, size_t outlen)
{
	if (status < 0)
		snprintf(out, outlen, "could not start");
	else if (timed_out)
		snprintf(out, outlen, "timed out after %d s", u->timeout);
	else
		child_describe(status, out, outlen);
}

/* The failure verdict. "packaging: Installation failed" is what Lorax's
 * log monitor (livemedia-creator) counts as a failed install on the
 * Anaconda port; a success says nothing it would flag. The step's last
 * lines are a record of their own before it: the monitor passes over any
 * line that holds "IGNORED", so a step that printed it would have hidden
 * its own failure in the verdict's line. */
static void verdict_failure(const struct recipe_unit *u, const char *how)
{
	char last[TAIL_LINES * (TAIL_LINE + 3) + 1];
	struct event e;
	size_t used = 0;
	int first = tail_count > TAIL_LINES ? tail_count - TAIL_LINES : 0;

	last[0] = '\0';
	for (int i = first; i < tail_count; i++)
		used += (size_t)snprintf(last + used, sizeof(last) - used, "%s%s", i > first ? " | " : "",
					 tail[i % TAIL_LINES]);
	log_install(LOG_LVL_ERROR, NULL, 0, "step %d/%d %s: its last lines: %s", step_no, rcp->nsteps, u->name,
		    tail_count ? last : "(none)");
	ev_text(ev_text(ev_start(&e, "verdict", rcp->nsteps, u), "result", "failure"), "how", how);
	log_install(LOG_LVL_ERROR, e.sd, ev_end(&e), "verdict: failure: step %d/%d %s: %s (packaging: Installation failed)",
		    step_no, rcp->nsteps, u->name, how);
	if (rcp->install_shell_on_failure) {
		char why[256];
		snprintf(why, sizeof(why), "install step %s %s; kept up for inspection (on_failure = shell)", u->name, how);
		emergency_start(why);
	} else
		shutdown_begin(STOP_POWEROFF, "install failed");
}

static int on_step_ended(const struct recipe_unit *u, int status, int timed_out)
{
	char how[64];
	struct event e;
	long long ms = (long long)(loop_now_ms() - step_began_ms);

	ev_num(ev_start(&e, "step", rcp->nsteps, u), "ms", ms);
	if (status >= 0 && !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ev_text(&e, "state", "done");
		log_install(LOG_LVL_INFO, e.sd, ev_end(&e), "step %d/%d %s: done in %lld ms", step_no, rcp->nsteps,
			    u->name, ms);
		return 1;
	}
	how_it_ended(u, status, timed_out, how, sizeof(how));
	ev_text(ev_text(&e, "state", "failed"), "how", how);
	log_install(LOG_LVL_ERROR, e.sd, ev_end(&e), "step %d/%d %s: failed in %lld ms: %s", step_no, rcp->nsteps,
		    u->name, ms, how);
	verdict_failure(u, how);
	return 0;
}

/* mkdir -p of path's parent directories. */
static int make_parents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* On the root file system (a VM's disk, a container's rootfs), synced: the
 * next boot must see it even after a power cut. Made new beside it and
 * renamed over it, never opened where it is: a link planted there (the
 * steps ran as other users) would have PID 1 write through it, over any
 * file. */
static void write_marker(void)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], text[128];
	int fd, n, ok;

	snprintf(path, sizeof(path), "%s%s", inst_root, rcp->install_marker);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	n = snprintf(text, sizeof(text), "amphi: %d install steps done at %lld s after the epoch\n", rcp->nsteps,
		     (long long)time(NULL));
	unlink(tmp);
	if (make_parents(path) < 0 || (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0) {
		log_install(LOG_LVL_WARN, NULL, 0, "marker %s: %s; the first boot steps will run again next boot",
			    rcp->install_marker, strerror(errno));
		return;
	}
	ok = write(fd, text, (size_t)n) == n && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		log_install(LOG_LVL_WARN, NULL, 0, "marker %s: %s", rcp->install_marker, strerror(errno));
}

static void on_steps_done(void)
{
	struct event e;
	long long ms = (long long)(loop_now_ms() - began_ms);

	ev_num(ev_text(ev_start(&e, "verdict", rcp->nsteps, NULL), "result", "success"), "ms", ms);
	log_install(LOG_LVL_INFO, e.sd, ev_end(&e), "verdict: success: %d step%s in %lld ms", rcp->nsteps,
		    rcp->nsteps == 1 ? "" : "s", ms);
	if (rcp->install_mode == INSTALL_FIRST_BOOT)
		write_marker();
	if (rcp->install_then == THEN_POWEROFF)
		shutdown_begin(STOP_POWEROFF, "install done");
	else if (rcp->install_then == THEN_REBOOT)
		shutdown_begin(STOP_REBOOT, "install done");
	else
		svc_steps_over();
}

void install_hooks(const char *root, const struct recipe *r, struct svc_hooks *h)
{
	rcp = r;
	inst_root = root;
	h->step_started = on_step_started;
	h->step_line = on_step_line;
	h->step_ended = on_step_ended;
	h->steps_done = on_steps_done;
}
