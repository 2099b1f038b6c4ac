#include "logflow.h"
#include "log.h"
#include "logring.h"
#include "loop.h"

#include <stdint.h>

static uint64_t floor_seq = UINT64_MAX;
static void (*resume_fns[LOGFLOW_SOURCES])(void);
static int nresume, paused;
static int drop_policy, drop_yielded, drop_timer;

size_t logflow_owed(void)
{
	/* Only the owed part counts: what is older may go (so a full ring
	 * whose oldest records were acked takes more without losing any). */
	return logring_bytes_from(floor_seq);
}

static int pressure(void)
{
	size_t used = logflow_owed();
	return used && used + LOGFLOW_HEADROOM > logring_size();
}

size_t logflow_room(void)
{
	if (floor_seq >= logring_next_seq() || (drop_policy && drop_yielded))
		return SIZE_MAX;
	size_t used = logflow_owed() + LOGFLOW_HEADROOM;
	return used < logring_size() ? logring_size() - used : 0;
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

int logflow_hold(void)
{
	if (!pressure())
		return 0;
	if (drop_policy) {
		if (drop_yielded && !drop_timer)
			return 0;  /* their turn was given: the oldest records go */
		if (!drop_timer && loop_add_timer(0, drop_turn_over, NULL) < 0)
			return 0;  /* cannot come back for them: never hold the writer */
		drop_timer = drop_yielded = 1;
	}
	paused = 1;
	return 1;
}

void logflow_set_floor(uint64_t seq)
{
	floor_seq = seq;
	/* The ring is looked at only when someone waits for it. */
	if (!(paused || drop_yielded) || pressure())
		return;
	drop_yielded = 0;
	if (paused)
		resume_all();
}

void logflow_set_drop(int on)
{
	drop_policy = on;
}

void logflow_on_resume(void (*fn)(void))
{
	for (int i = 0; i < nresume; i++)
		if (resume_fns[i] == fn)
			return;
	if (nresume < LOGFLOW_SOURCES)
		resume_fns[nresume++] = fn;
	else
		log_error("log: more than %d sources wait for the readers; one would never resume (a bug: please report it)",
			  LOGFLOW_SOURCES);
}
