/* amphi logs: read an appliance's log stream (docs/PROTOCOL.md), store it
 * (logstore.c), acknowledge what is stored, show it. Everything from the
 * guest is untrusted: its text is escaped (logescape.c) before it reaches a
 * terminal or a file. --text hands over to the Anaconda text reader
 * (logtext.c) once the options, --out and the channel (logconn.c) are set
 * up here. */
#include "commands.h"
#include "logconn.h"
#include "logescape.h"
#include "logread.h"
#include "logs.h"
#include "logstore.h"
#include "logtext.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FULL_RETRY_MS 1000 /* a full store is tried again this often */
#define ACK_RETRY_MS 1000 /* an ack the socket had no room for is sent again */
/* One ack per batch, not per read. A batch ends when the guest pauses,
 * after this many records, or after this long; all well inside what the
 * guest's ring holds for us. A pause is short: the batch is stored then
 * (at 20 ms, the end of a 50 MB flood reaches the files a fifth of the
 * flood's time late). */
#define ACK_IDLE_MS 2
#define ACK_EVERY 256
#define ACK_MAX_DELAY_MS 100

struct logs {
	struct logs_opts o; /* what the text reader takes too */
	int text, sync, events;
	int max_boots;     /* --max-boots */
	int full_said;     /* that the store is full, until an ack says it took records again */
	struct logstore store;  /* with --out */
	/* the current boot: its id, the highest seq taken (with --out, stored) */
	char boot[sizeof(((struct logrec_parsed *)0)->boot)];
	uint64_t highest, acked;
	int seen; /* a record came on this connection: only then may we ack */
};

/* An escaped record: a byte becomes at most 6 ("\u00HH"). */
static char line[6 * LOGREC_FRAME_MAX + 2048];

static int usage_logs(FILE *out, int status)
{
	fprintf(out,
		"usage: amphi logs (--connect PATH | --listen PATH) [--out DIR [--max-size SIZE] [--max-boots N] [--sync]]\n"
		"                  [--follow] [--json | --events] [--quiet]\n"
		"       amphi logs --text (--connect PATH | --listen PATH | --fifo PATH) [--out DIR [--max-size SIZE]]\n"
		"                  [--follow] [--json] [--quiet]\n"
		"  reads an appliance's log stream and acknowledges what it stored; with --text, its Anaconda text\n"
		"  --connect PATH  connect to the socket (QEMU's org.amphi.log.0 chardev, a container's amphi.sock;\n"
		"                  with --text QEMU's org.fedoraproject.anaconda.log.0 chardev, DIR/vm/anaconda.sock)\n"
		"  --listen PATH   make the socket and wait for the guest to connect (keeps going like --follow)\n"
		"  --fifo PATH     with --text: read the FIFO a container writes (lxc/host/anaconda.fifo), made if missing\n"
		"  --out DIR       store DIR/<boot>/all.log and DIR/<boot>/<app>.log; with --text, DIR/anaconda.log\n"
		"  --max-size SIZE keep DIR under SIZE (512M, 2G; default 0: no limit), the oldest boots removed first\n"
		"  --max-boots N   keep the newest N boots in DIR (default %d; 0: no limit)\n"
		"  --sync          acknowledge only what is on the disk (fdatasync per batch; else once a second)\n"
		"  --follow        reconnect when the guest goes away, until Ctrl-C\n"
		"  --json          print one JSON object per record; with --text {time, level, program, msg, failure}\n"
		"  --quiet         print no records\n"
		"  --events        print only the install phase's events (docs/PROTOCOL.md) and its steps' output, one\n"
		"                  tab-separated line each: install EVENT STATE STEP STEPS MS NAME HOW MESSAGE, or\n"
		"                  out PROGRAM MESSAGE (what amphi install reads; guest text is escaped, never a tab)\n"
		"  --text          read Anaconda text (\"HH:MM:SS,mmm LEVEL program:message\" lines, from amphi or a\n"
		"                  real Anaconda), never writing to the channel; each line Lorax's log monitor takes\n"
		"                  for a failed install is reported on stderr as \"amphi logs: failure: LINE\"\n"
		"bounds: a boot gets at most %d program files (the records of other programs are in all.log only).\n"
		"  On a full disk, or with the boot being written alone over --max-size, nothing more is acknowledged:\n"
		"  the guest keeps its records; with --follow amphi logs tries again every second and goes on.\n"
		"  With --text such lines are shown, not stored (nothing on that channel is acknowledged).\n"
		"exit status: 0 success, 1 a protocol or I/O error (or no guest to connect to), 2 a usage error,\n"
		"  3 (--text) the log reported a failure\n", LOGSTORE_BOOTS_MAX, LOGSTORE_APPS_MAX);
	return status;
}

/* A boot id not seen before: said, and with --out, DIR/<boot>/. */
static int boot_start(struct logs *L, const char *id)
{
	snprintf(L->boot, sizeof(L->boot), "%s", id);
	L->highest = L->acked = 0;
	if (!L->o.conn.quiet && !L->o.json && !L->events) {
		logs_escape(line, id, strlen(id), 0);
		printf("== boot %s ==\n", line);
	}
	if (!L->o.out)
		return 0;
	int rc = logstore_boot(&L->store, id);
	if (rc < 0) {
		L->boot[0] = '\0'; /* started again with its next record */
		return rc;
	}
	L->highest = L->store.highest;
	return 0;
}

/* --events: the install phase as PID 1 reported it. The event comes from
 * [install@32473], which the parser takes on source "install" only, and
 * a step's output from source "service": a syslog tag or a line of text
 * that looks like either is neither. */
static void show_event(const struct logrec_parsed *p)
{
	const struct logrec_install *v = &p->install;
	char *e;

	if (strcmp(p->source, "install") == 0) {
		e = line + sprintf(line, "install\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t", v->event, v->state,
				   v->step, v->steps, v->ms);
		e = stpcpy(stpcpy(stpcpy(stpcpy(e, v->name), "\t"), v->how), "\t");
	} else if (strcmp(p->source, "service") == 0) {
		e = stpcpy(logs_escape(stpcpy(line, "out\t"), p->app, strlen(p->app), 0), "\t");
	} else {
		return;
	}
	logs_escape(e, p->msg, p->msglen, 0);
	puts(line);
}

static void show(struct logs *L, const struct logrec_parsed *p)
{
	char *e;

	if (L->events) {
		show_event(p);
		return;
	}
	if (L->o.json) {
		e = logs_escape(stpcpy(line, "{\"boot\":\""), p->boot, strlen(p->boot), 1);
		e += sprintf(e, "\",\"seq\":%" PRIu64 ",\"uptime\":", p->seq);
		e = logs_escape(stpcpy(logs_put_uptime(e, p->uptime_cs), ",\"source\":\""), p->source,
				strlen(p->source), 1);
		e = logs_escape(stpcpy(e, "\",\"app\":\""), p->app, strlen(p->app), 1);
		e += sprintf(e, "\",\"pri\":%d,\"msg\":\"", p->pri);
		strcpy(logs_escape(e, p->msg, p->msglen, 1), "\"}");
	} else {
		logs_escape(stpcpy(logs_escape(line, p->app, strlen(p->app), 0), ": "), p->msg, p->msglen, 0);
	}
	puts(line);
}

/* One record: a new boot, a duplicate (replayed after a reconnect), a gap. */
static int record(struct logs *L, const struct logrec_parsed *p)
{
	int rc;

	L->seen = 1;
	if (strcmp(p->boot, L->boot) != 0 && (rc = boot_start(L, p->boot)) < 0)
		return rc;
	if (p->seq <= L->highest)
		return 0;
	if (L->highest && p->seq > L->highest + 1) {
		logs_escape(line, L->boot, strlen(L->boot), 0);
		fprintf(stderr, "amphi logs: gap: records %" PRIu64 "-%" PRIu64 " of boot %s missing\n",
			L->highest + 1, p->seq - 1, line);
	}
	if (L->o.out && (rc = logstore_put(&L->store, p)) < 0)
		return rc;
	if (!L->o.conn.quiet)
		show(L, p);
	L->highest = p->seq;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "ACK N\n" once every record up to N is written (with --sync, on the
 * disk); only for the boot this connection sent (a reconnect may reach a
 * new boot). The guest may not be reading: never block on it, send again
 * later. 0, or what the store said (nothing acknowledged). */
static int ack(struct logs *L, int fd)
{
	char msg[32];
	int n, rc;

	if (!L->seen || L->highest <= L->acked)
		return 0;
	if (L->o.out && (rc = logstore_commit(&L->store, L->sync, now_ms())) < 0)
		return rc;
	n = logrec_ack_format(L->highest, msg, sizeof(msg));
	if (n > 0 && send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
		L->acked = L->highest;
	if (L->acked == L->highest && L->full_said) {
		fprintf(stderr, "amphi logs: the store under %s has room again; records are stored and acknowledged "
				"again\n", L->o.out);
		L->full_said = 0;
	}
	return 0;
}

/* The store could not take a record or a commit (rc < 0): full (the
 * guest keeps what is not acknowledged), or not to be trusted. */
static enum logconn_end store_end(int rc)
{
	return logstore_is_full(rc) ? LOGCONN_FULL : LOGCONN_FATAL;
}

/* Takes the whole frames of what was read. */
static enum logconn_end take(struct logs *L, struct logrec_reader *rd)
{
	struct logrec_parsed p;
	char why[256];
	int r, rc;

	while ((r = logrec_reader_next(rd, &p, why, sizeof(why))) > 0) {
		if (p.proto > LOGREC_PROTO_VERSION) {
			fprintf(stderr, "amphi logs: the guest speaks protocol version %d, this amphi logs %d; "
				"closed the connection (use the amphi that built the guest)\n",
				p.proto, LOGREC_PROTO_VERSION);
			return LOGCONN_BROKEN;
		}
		if ((rc = record(L, &p)) < 0)
			return store_end(rc);
	}
	if (r < 0) {
		fprintf(stderr, "amphi logs: protocol error from the guest: %s; closed the connection (is this the "
				"amphi stream, org.amphi.log.0 or amphi.sock? Anaconda text is read with --text)\n", why);
		return LOGCONN_BROKEN;
	}
	return LOGCONN_MORE;
}

static enum logconn_end stream(struct logs *L, int fd)
{
	static struct logrec_reader rd;
	struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = L->o.conn.sigfd, .events = POLLIN } };
	enum logconn_end end = LOGCONN_MORE;
	int rc;

	logrec_reader_init(&rd);
	L->acked = L->seen = 0; /* a new connection: say again what is stored */
	int64_t last_ack = now_ms();
	while (end == LOGCONN_MORE) {
		int r = poll(pf, 2, L->highest > L->acked ? ACK_IDLE_MS : ACK_RETRY_MS);
		if (pf[1].revents)
			return LOGCONN_STOP;
		if (r <= 0 || !pf[0].revents) {
			fflush(stdout);
			if ((rc = ack(L, fd)) < 0)
				return store_end(rc);
			last_ack = now_ms();
			continue;
		}
		/* Straight into the frame reader (after a partial frame, if any):
		 * a frame there never fills it, so there is always room. */
		size_t room;
		char *at = logrec_reader_space(&rd, &room);
		ssize_t n = read(fd, at, room);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno != ECONNRESET) {
			fprintf(stderr, "amphi logs: read: %s\n", strerror(errno));
			return LOGCONN_BROKEN;
		}
		if (n > 0)
			logrec_reader_wrote(&rd, (size_t)n);
		end = n <= 0 ? LOGCONN_CLOSED : take(L, &rd);
		if (end != LOGCONN_FATAL && end != LOGCONN_FULL &&
		    (end != LOGCONN_MORE || L->highest >= L->acked + ACK_EVERY || now_ms() - last_ack >= ACK_MAX_DELAY_MS)) {
			fflush(stdout);
			if ((rc = ack(L, fd)) < 0)
				end = store_end(rc);
			last_ack = now_ms();
		}
	}
	fflush(stdout);
	return end;
}

/* The store is full (the disk, or --max-size): nothing more is taken or
 * acknowledged, so the guest keeps it, until a commit succeeds again;
 * said once, until an ack says records are taken again (a full disk may
 * let a commit through and still refuse the next boot's directory).
 * AGAIN = try again, STOP = a signal, FATAL = the store failed otherwise
 * (said). */
static enum logconn_end wait_for_room(struct logs *L)
{
	if (!L->full_said)
		fprintf(stderr, "amphi logs: the store is full: %s; nothing more is acknowledged, the guest keeps its "
				"records (its [log] policy says whether writers then wait or the oldest are dropped and "
				"counted); trying again every second\n", L->store.full);
	L->full_said = 1;
	for (;;) {
		if (logconn_wait_signal(&L->o.conn, -1, FULL_RETRY_MS))
			return LOGCONN_STOP;
		int rc = logstore_commit(&L->store, L->sync, now_ms());
		if (rc == 0)
			return LOGCONN_AGAIN;
		if (!logstore_is_full(rc))
			return LOGCONN_FATAL;
	}
}

static int run(struct logs *L)
{
	struct logconn *c = &L->o.conn;
	int fd;

	c->hint = "; is the VM or container running? (amphi run wires this socket)";
	while ((fd = logconn_next(c)) >= 0) {
		enum logconn_end end = stream(L, fd);
		close(fd);
		if (end == LOGCONN_FULL && c->follow)
			end = wait_for_room(L);
		if (end == LOGCONN_FULL)
			fprintf(stderr, "amphi logs: the store is full: %s\n", L->store.full);
		if ((end == LOGCONN_FATAL || end == LOGCONN_FULL) && L->o.out)
			fprintf(stderr, "amphi logs: stopped: records not acknowledged stay in the guest's ring; fix or free "
					"the disk under %s and start amphi logs again to fetch them\n", L->o.out);
		if (!logconn_again(c, end))
			break;
	}
	return c->status;
}

/* --max-size SIZE (1) or --max-boots N (2); 0 is no limit. */
static int parse_bound(struct logs *L, int which, const char *opt, const char *v)
{
	long long n = parse_size(v);

	if (which == 2 && (strpbrk(v, "KkMmGg") || n > 1000000))
		n = -1;
	if (n < 0) {
		fprintf(stderr, "amphi logs: %s %s: expected %s\n", opt, v,
			which == 1 ? "a size such as 512M or 2G (0: no limit)" : "a number of boots, 0 to 1000000 (0: no limit)");
		return -1;
	}
	if (which == 1)
		L->o.max_size = n;
	else
		L->max_boots = (int)n;
	return 0;
}

static int parse_args(struct logs *L, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char **val = strcmp(argv[i], "--connect") == 0 ? &L->o.conn.connect
				 : strcmp(argv[i], "--listen") == 0  ? &L->o.conn.listen
				 : strcmp(argv[i], "--fifo") == 0    ? &L->o.conn.fifo
				 : strcmp(argv[i], "--out") == 0     ? &L->o.out : NULL;
		int bound = strcmp(argv[i], "--max-size") == 0 ? 1 : strcmp(argv[i], "--max-boots") == 0 ? 2 : 0;
		if (bound && i + 1 < argc) {
			if (parse_bound(L, bound, argv[i], argv[i + 1]) < 0)
				return -1;
			i++;
		} else if (val && i + 1 < argc) {
			*val = argv[++i];
		} else if (strcmp(argv[i], "--follow") == 0) {
			L->o.conn.follow = 1;
		} else if (strcmp(argv[i], "--json") == 0) {
			L->o.json = 1;
		} else if (strcmp(argv[i], "--quiet") == 0) {
			L->o.conn.quiet = 1;
		} else if (strcmp(argv[i], "--sync") == 0) {
			L->sync = 1;
		} else if (strcmp(argv[i], "--events") == 0) {
			L->events = 1;
		} else if (strcmp(argv[i], "--text") == 0) {
			L->text = 1;
		} else {
			fprintf(stderr, "amphi logs: %s '%s'\n", val || bound ? "a value is missing after" : "unexpected argument",
				argv[i]);
			return -1;
		}
	}
	if (L->events && (L->text || L->o.json)) {
		fprintf(stderr, "amphi logs: --events is the amphi stream's install events: not with --text or --json\n");
		return -1;
	}
	if (L->o.conn.fifo && !L->text) {
		fprintf(stderr, "amphi logs: --fifo carries Anaconda text: add --text\n");
		return -1;
	}
	int sources = !!L->o.conn.connect + !!L->o.conn.listen + !!L->o.conn.fifo;
	if (sources != 1) {
		fprintf(stderr, "amphi logs: %s --connect PATH, --listen PATH or --fifo PATH\n",
			sources ? "one source at a time: give only one of" : "read from where? give one of");
		return -1;
	}
	return 0;
}

int cmd_logs(int argc, char **argv)
{
	struct logs L = { .o.outfd = -1, .max_boots = LOGSTORE_BOOTS_MAX };
	struct logs_opts *o = &L.o;
	int rc;

	if (wants_help(argc, argv, "--connect --listen --fifo --out --max-size --max-boots"))
		return usage_logs(stdout, 0);
	if (parse_args(&L, argc, argv) < 0)
		return usage_logs(stderr, 2);
	if (logconn_init(&o->conn) < 0)
		return 1;
	if (o->out && ((mkdir(o->out, 0755) < 0 && errno != EEXIST) ||
		       (o->outfd = open(o->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)) {
		fprintf(stderr, "amphi logs: --out %s: %s; give a directory you can write to\n", o->out, strerror(errno));
		return 1;
	}
	logstore_init(&L.store, o->out, o->outfd, L.max_boots, (uint64_t)o->max_size);
	if (logconn_open(&o->conn) < 0)
		return 1;
	rc = L.text ? logtext_run(o) : run(&L);
	logconn_close(&o->conn);
	logstore_close(&L.store);
	return rc;
}

pid_t logs_spawn(const char *sock, int out, const char *const args[])
{
	const char *argv[16] = { "amphi", "logs", "--connect", sock };
	char self[PATH_MAX];
	size_t n = 4;
	pid_t pid;

	if (self_path(self, sizeof(self)) < 0)
		return -1;
	for (; *args && n < sizeof(argv) / sizeof(argv[0]) - 1; args++)
		argv[n++] = *args;
	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive amphi run or install */
	for (int i = 0; i < 600 && access(sock, F_OK) < 0; i++)
		usleep(100 * 1000);
	if (out >= 0 && dup2(out, 1) < 0)
		_exit(127);
	execv(self, (char *const *)argv);
	_exit(127);
}
