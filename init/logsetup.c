#include "logsetup.h"
#include "cmdline.h"
#include "log.h"
#include "logfile.h"
#include "logflow.h"
#include "logring.h"
#include "logsink.h"
#include "logsrc.h"
#include "loop.h"

#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static char boot_id[40] = "-";
static char host[64] = "-";

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

/* Once per turn: everything the turn logged goes out in as few writes as
 * it fits in. */
static void before_sleep(void)
{
	logsink_send();
	if (console_timer < 0 && log_console_waiting())
		console_timer = loop_add_timer(CONSOLE_RETRY_MS, console_retry, NULL);
}

void logsetup_begin(void)
{
	loop_set_before_sleep(before_sleep);
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
	char spec[256];
	if (world == WORLD_CONTAINER) {
		const char *env = getenv("AMPHI_LOG");
		if (env)
			apply_overrides(env, "AMPHI_LOG", ring_kib, policy);
	} else if (cmdline_get(root, "amphi.log", spec, sizeof(spec)))
		apply_overrides(spec, "amphi.log=", ring_kib, policy);
}

void logsetup_start(const char *root, enum world world, const struct recipe *r)
{
	int ring_kib = r->log_ring_kib, policy = r->log_policy, rc;

	overrides(root, world, &ring_kib, &policy);
	if ((rc = logring_resize((size_t)ring_kib * 1024)) < 0)
		log_warn("log: a %d KiB ring: %s; keeping the early 64 KiB one", ring_kib, strerror(-rc));
	read_boot_id(root);
	snprintf(host, sizeof(host), "%s", r->hostname[0] ? r->hostname : "-");
	logflow_set_drop(policy == LOG_POLICY_DROP);
	logsink_set_policy(policy);
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

void logsetup_flush(void)
{
	logfile_flush();  /* a followed file's last line without its newline */
	logsink_flush(FLUSH_MS);
	log_console_drain(CONSOLE_DRAIN_MS);
}
