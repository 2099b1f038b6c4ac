#include "logcore.h"
#include "log.h"
#include "logbuf.h"
#include "logsink.h"
#include "logsrc.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char boot_id[40] = "-";
static char host[64] = "-";
static void (*resume_fn)(void);
static int paused;

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void take(struct logrec *r)
{
	int64_t now_rt = clock_us(CLOCK_REALTIME), now_up = clock_us(CLOCK_BOOTTIME);
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

void logcore_begin(void)
{
	log_set_record_hook(take);
}

void logcore_start(const char *root, enum world world, const char *hostname)
{
	read_boot_id(root);
	snprintf(host, sizeof(host), "%s", hostname && *hostname ? hostname : "-");
	logsrc_start(root, world);
	logsink_start(root, world, host, boot_id);
}

int logcore_backpressure(void)
{
	if (logbuf_pressure()) {
		paused = 1;
		return 1;
	}
	return 0;
}

void logcore_on_resume(void (*fn)(void))
{
	resume_fn = fn;
}

void logcore_maybe_resume(void)
{
	if (paused && !logbuf_pressure()) {
		paused = 0;
		if (resume_fn)
			resume_fn();
	}
}
