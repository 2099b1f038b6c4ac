#include "logcore.h"
#include "log.h"
#include "logbuf.h"
#include "logfile.h"
#include "logsink.h"
#include "logsrc.h"
#include "loop.h"

#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char boot_id[40] = "-";
static char host[64] = "-";
/* Who stopped reading under back-pressure: service pipes, /dev/log,
 * /dev/kmsg, followed files. */
static void (*resume_fns[4])(void);
static int nresume, paused;
/* drop: a full ring holds the sources for one turn of the loop (the sinks
 * send what their readers take), then they go on and the oldest records
 * go, until the readers have caught up again. */
static int drop_policy, drop_yielded, drop_timer;

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int clock_held, clock_valid;
static int64_t held_rt, held_up;

void logcore_clock_hold(void)
{
	clock_held = 1;
	clock_valid = 0;
}

void logcore_clock_release(void)
{
	clock_held = 0;
}

static void take(struct logrec *r)
{
	int64_t now_rt, now_up;

	if (clock_held && clock_valid) {
		now_rt = held_rt, now_up = held_up;
	} else {
		now_rt = held_rt = clock_us(CLOCK_REALTIME);
		now_up = held_up = clock_us(CLOCK_BOOTTIME);
		clock_valid = clock_held;
	}
	if (r->uptime_us < 0)
		r->uptime_us = now_up;
	/* A kernel record's wall time: now minus how long ago it was. */
	r->realtime_us = now_rt - (now_up - r->uptime_us);
	logbuf_append(r);
	logsink_kick();
}

static void read_boot_id(const char *root)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/proc/sys/kernel/random/boot_id", root);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fgets(boot_id, sizeof(boot_id), f))
			boot_id[strcspn(boot_id, "\n")] = '\0';
		fclose(f);
	}
}

/* A console that stopped taking lines is tried again this often. */
#define CONSOLE_RETRY_MS 20
static int console_timer = -1;

static long console_retry(void *unused)
{
	(void)unused;
	if (log_console_flush())
		return CONSOLE_RETRY_MS;
	console_timer = -1;
	return -1;
}

static void console_stuck(void)
{
	if (console_timer < 0)
		console_timer = loop_add_timer(CONSOLE_RETRY_MS, console_retry, NULL);
}

void logcore_begin(void)
{
	log_set_record_hook(take);
	log_set_console_stuck_hook(console_stuck);
}

/* "ring=4096,policy=drop" over the recipe's values; bad parts are said. */
static void apply_overrides(const char *spec, const char *from, int *ring_kib, int *policy)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '='), *end;
		long n;
		if (v)
			*v++ = '\0';
		if (v && !strcmp(kv, "ring") && (n = strtol(v, &end, 10), !*end && n >= 64 && n <= 65536))
			*ring_kib = (int)n;
		else if (v && !strcmp(kv, "policy") && recipe_log_policy(v) >= 0)
			*policy = recipe_log_policy(v);
		else
			log_warn("log: %s: '%s%s%s' ignored; expected ring=KIB (64-65536) or policy=auto|block|drop",
				 from, kv, v ? "=" : "", v ? v : "");
	}
}

static void overrides(const char *root, enum world world, int *ring_kib, int *policy)
{
	char path[PATH_MAX], line[4096], *save = NULL;
	if (world == WORLD_CONTAINER) {
		const char *env = getenv("AMPHI_LOG");
		if (env)
			apply_overrides(env, "AMPHI_LOG", ring_kib, policy);
		return;
	}
	snprintf(path, sizeof(path), "%s/proc/cmdline", root);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	for (char *w = strtok_r(line, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		if (!strncmp(w, "amphi.log=", 10))
			apply_overrides(w + 10, "amphi.log=", ring_kib, policy);
}

void logcore_start(const char *root, enum world world, const struct recipe *r)
{
	int ring_kib = r->log_ring_kib, policy = r->log_policy, rc;

	overrides(root, world, &ring_kib, &policy);
	if ((rc = logbuf_resize((size_t)ring_kib * 1024)) < 0)
		log_warn("log: a %d KiB ring: %s; keeping the early 64 KiB one", ring_kib, strerror(-rc));
	read_boot_id(root);
	snprintf(host, sizeof(host), "%s", r->hostname[0] ? r->hostname : "-");
	logsink_set_policy(policy);
	drop_policy = policy == LOG_POLICY_DROP;
	log_info("log: a %d KiB ring, policy %s", ring_kib,
		 policy == LOG_POLICY_BLOCK ? "block" : policy == LOG_POLICY_DROP ? "drop" : "auto");
	log_set_console_init_only(r->log_console_init_only);
	logsrc_start(root, world);
	logsink_start(root, world, host, boot_id);
	logfile_start(root, &r->log_files);
}

/* Long enough for a reader to store and ack the last batch (it acks within
 * 20 ms of a pause), short enough that a stuck one does not hold up a stop. */
#define FLUSH_MS 1000
/* The console's last lines (the stop's summary) get this long to go out. */
#define CONSOLE_DRAIN_MS 500

void logcore_flush(void)
{
	logfile_flush();  /* a followed file's last line without its newline */
	logsink_flush(FLUSH_MS);
	log_console_drain(CONSOLE_DRAIN_MS);
}

static void resume_all(void)
{
	paused = 0;
	for (int i = 0; i < nresume; i++)
		resume_fns[i]();
}

/* drop: the turn is over; whatever the readers did not take may go now. */
static long drop_turn_over(void *unused)
{
	(void)unused;
	drop_timer = 0;
	if (paused)
		resume_all();
	return -1;
}

int logcore_backpressure(void)
{
	if (!logbuf_pressure())
		return 0;
	if (drop_policy) {
		if (drop_yielded)
			return 0;
		if (!drop_timer && loop_add_timer(0, drop_turn_over, NULL) < 0)
			return 0;  /* cannot come back for them: never hold the writer */
		drop_timer = drop_yielded = 1;
	}
	paused = 1;
	return 1;
}

size_t logcore_room(void)
{
	return drop_policy && drop_yielded ? SIZE_MAX : logbuf_room();
}

void logcore_on_resume(void (*fn)(void))
{
	for (int i = 0; i < nresume; i++)
		if (resume_fns[i] == fn)
			return;
	if (nresume < (int)(sizeof(resume_fns) / sizeof(resume_fns[0])))
		resume_fns[nresume++] = fn;
}

void logcore_maybe_resume(void)
{
	/* Called whenever a sink made room: the ring is looked at only when
	 * someone waits for it. */
	if (!(paused || drop_yielded) || logbuf_pressure())
		return;
	drop_yielded = 0;
	if (paused)
		resume_all();
}
