/* amphi logs: read an appliance's log stream (docs/PROTOCOL.md), store it,
 * acknowledge what is stored, show it. Everything from the guest is
 * untrusted: names are sanitised before they become file names, and text is
 * escaped before it reaches a terminal or a file. --text hands over to the
 * Anaconda text reader (logtext.c) once the options, signals and --out are
 * set up here. */
#include "commands.h"
#include "logrec.h"
#include "logs.h"
#include "storefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MS 200      /* reconnect delay with --follow */
#define ACK_RETRY_MS 1000 /* an ack the socket had no room for is sent again */
/* One ack per batch, not per read. A batch ends when the guest pauses,
 * after this many records, or after this long; all well inside what the
 * guest's ring holds for us. A pause is short: the batch is stored then
 * (at 20 ms, the end of a 50 MB flood reached the files a fifth of the
 * flood's time late, measured). */
#define ACK_IDLE_MS 2
#define ACK_EVERY 256
#define ACK_MAX_DELAY_MS 100
/* An ack promises the records are written to the store (the page cache:
 * they survive this process). all.log is also sent to the disk this often,
 * by a thread of its own (disk_sync), not per ack: a sync per batch made
 * the next append wait for the page under writeback and halved the
 * throughput, and one a second in line stalled the reader for a fifth of
 * it during a flood (measured). --sync syncs before every ack. */
#define SYNC_EVERY_MS 1000
/* Per-app files stay open (and buffered) while a boot lasts; past this
 * many apps, the least recently opened one is closed to make room. */
#define APP_FILES 16

/* How a connection ended: still going, the peer closed, it broke the
 * protocol, a signal, or we cannot store (fatal even with --follow). */
enum stream_end { END_MORE, END_CLOSED, END_BROKEN, END_STOP, END_FATAL };

struct logs {
	const char *connect, *listen, *fifo, *out;
	struct sockaddr_un addr; /* of --connect or --listen */
	int follow, json, quiet, text, sync;
	int64_t synced_ms; /* when all.log last reached the disk */
	int sigfd, outfd, listenfd;
	/* the current boot: its id, directory, all.log, highest seq stored */
	char boot[sizeof(((struct logrec_parsed *)0)->boot)], dir[LOGREC_NAME_MAX + 1];
	int bootfd;
	int statefd;      /* DIR/<boot>/.stored: the highest seq stored, across reader restarts */
	struct storefile all, apps[APP_FILES];
	int next_app;     /* the slot to reuse when all are taken */
	/* The app of the last record and its file (records come in runs from
	 * one app): no sanitising and lookup per record. NULL: look up. */
	char last_app[sizeof(((struct logrec_parsed *)0)->app)];
	struct storefile *last_file;
	uint64_t highest, acked;
	int seen; /* a record came on this connection: only then may we ack */
};

/* An escaped record: a byte becomes at most 6 ("\u00HH"). */
static char line[6 * LOGREC_FRAME_MAX + 2048];

static int usage_logs(void)
{
	fprintf(stderr,
		"usage: amphi logs (--connect PATH | --listen PATH) [--out DIR] [--sync] [--follow] [--json] [--quiet]\n"
		"       amphi logs --text (--connect PATH | --listen PATH | --fifo PATH) [--out DIR] [--follow] [--json] [--quiet]\n"
		"  reads an appliance's log stream and acknowledges what it stored; with --text, its Anaconda text\n"
		"  --connect PATH  connect to the socket (QEMU's org.amphi.log.0 chardev, a container's amphi.sock;\n"
		"                  with --text QEMU's org.fedoraproject.anaconda.log.0 chardev, DIR/vm/anaconda.sock)\n"
		"  --listen PATH   make the socket and wait for the guest to connect (keeps going like --follow)\n"
		"  --fifo PATH     with --text: read the FIFO a container writes (lxc/host/anaconda.fifo), made if missing\n"
		"  --out DIR       store DIR/<boot>/all.log and DIR/<boot>/<app>.log; with --text, DIR/anaconda.log\n"
		"  --sync          acknowledge only what is on the disk (fdatasync per batch; else once a second)\n"
		"  --follow        reconnect when the guest goes away, until Ctrl-C\n"
		"  --json          print one JSON object per record; with --text {time, level, program, msg, failure}\n"
		"  --quiet         print no records\n"
		"  --text          read Anaconda text (\"HH:MM:SS,mmm LEVEL program:message\" lines, from amphi or a\n"
		"                  real Anaconda), never writing to the channel; each line Lorax's log monitor takes\n"
		"                  for a failed install is reported on stderr as \"amphi logs: failure: LINE\"\n"
		"exit status: 0 success, 1 a protocol or I/O error (or no guest to connect to), 2 a usage error,\n"
		"  3 (--text) the log reported a failure\n");
	return 2;
}

/* A guest-chosen name as a file name: [A-Za-z0-9._-] only, no leading '.',
 * at most LOGREC_NAME_MAX chars, never empty. No '/' survives. */
static void sanitise_name(const char *in, char out[LOGREC_NAME_MAX + 1])
{
	size_t n;

	for (n = 0; in[n] && n < LOGREC_NAME_MAX; n++) {
		char c = in[n];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			 c == '_' || c == '-';
		out[n] = ok ? c : '_';
	}
	if (n == 0)
		out[n++] = '_';
	if (out[0] == '.')
		out[0] = '_';
	out[n] = 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t c = s[0] & (0x7f >> len);

	if (len < 2 || n < len)
		return len < 2 ? len : 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	return c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ? 0 : len;
}

/* Escapes s for a terminal or a log line: C0, DEL, C1 (U+0080 to U+009F,
 * CSI among them) and invalid UTF-8 become \xHH. With json, a JSON string
 * body (RFC 8259 §7), invalid bytes as the text "\xHH" as the guest sends
 * them. Returns the new end of out. */
char *logs_escape(char *out, const char *str, size_t n, int json)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < n;) {
		/* Printable ASCII in runs, one copy each (JSON escapes two of it). */
		size_t run = i;
		if (!json)
			run += logrec_ascii_run(str + i, n - i);
		else
			while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
				run++;
		if (run > i) {
			memcpy(out, s + i, run - i);
			out += run - i, i = run;
			continue;
		}
		size_t l = utf8_seq(s + i, n - i);
		int c1 = l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0;
		if (l == 1 && s[i] >= 0x20 && s[i] != 0x7f) {
			if (json && (s[i] == '"' || s[i] == '\\'))
				*out++ = '\\';
			*out++ = (char)s[i++];
		} else if (l > 1 && !c1) {
			memcpy(out, s + i, l);
			out += l, i += l;
		} else if (json && l) { /* a control character */
			out += sprintf(out, "\\u%04x", c1 ? s[i + 1] : s[i]);
			i += l;
		} else {
			for (size_t k = 0; k < (l ? l : 1); k++, i++)
				out += sprintf(out, json ? "\\\\x%02x" : "\\x%02x", s[i]);
		}
	}
	*out = 0;
	return out;
}

/* sysUpTime (hundredths, RFC 5424 §7.3.2) as seconds: "12.34". (Once a
 * record: sprintf cost more than the rest of the line.) */
static char *put_uptime(char *out, int64_t cs)
{
	uint64_t v = cs < 0 ? 0 : (uint64_t)cs;

	out = logrec_put_num(out, v / 100, 1);
	*out++ = '.';
	return logrec_put_num(out, v % 100, 2);
}

/* A write to f failed (errno): said. The store is not to be trusted. */
static int write_failed(struct logs *L, const struct storefile *f)
{
	fprintf(stderr, "amphi logs: writing %s/%s/%s: %s\n", L->out, L->dir, f->name, strerror(errno));
	return -1;
}

static int file_open(struct logs *L, struct storefile *f, const char *name)
{
	int fd = storefile_open(f, L->bootfd, name);
	if (fd < 0)
		fprintf(stderr, "amphi logs: %s/%s/%s: %s\n", L->out, L->dir, name, strerror(errno));
	return fd;
}

static int file_close(struct logs *L, struct storefile *f)
{
	L->last_file = NULL;
	return storefile_close(f) < 0 ? write_failed(L, f) : 0;
}

/* The disk syncs of all.log that nobody waits for: one at a time, on a
 * copy of its fd (the file may be closed meanwhile). Started from the main
 * thread after SIGINT and SIGTERM are blocked, which it inherits. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;       /* to sync; -1: nothing asked */
	int busy, started;
	int err;      /* errno of a sync that failed, for the next request to say */
} disk = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, 0, 0, 0 };

static void *disk_syncer(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&disk.mu);
	for (;;) {
		while (disk.fd < 0)
			pthread_cond_wait(&disk.cv, &disk.mu);
		int fd = disk.fd;
		disk.fd = -1;
		pthread_mutex_unlock(&disk.mu);
		int e = fdatasync(fd) < 0 ? errno : 0;
		close(fd);
		pthread_mutex_lock(&disk.mu);
		if (e)
			disk.err = e;
		disk.busy = 0;
	}
	return NULL;
}

/* Asks for all.log to reach the disk without waiting for it; in line if
 * there is no thread for it. 1 = asked (or done), 0 = the last one is
 * still going (a slow disk: ask again later), -1 = a sync failed (errno). */
static int disk_sync_later(int fd)
{
	pthread_t t;
	int copy, rc = 0;

	pthread_mutex_lock(&disk.mu);
	if (!disk.started && pthread_create(&t, NULL, disk_syncer, NULL) == 0) {
		pthread_detach(t);
		disk.started = 1;
	}
	if (disk.err) {
		errno = disk.err;
		rc = -1;
	} else if (!disk.started) {
		rc = fdatasync(fd) < 0 ? -1 : 1;
	} else if (!disk.busy && (copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
		disk.fd = copy;
		disk.busy = 1;
		pthread_cond_signal(&disk.cv);
		rc = 1;
	}
	pthread_mutex_unlock(&disk.mu);
	return rc;
}

/* A sync of all.log failed (in line or on the thread): errno says why. */
static int sync_failed(struct logs *L)
{
	fprintf(stderr, "amphi logs: syncing %s/%s/all.log to the disk: %s\n", L->out, L->dir, strerror(errno));
	return -1;
}

/* Everything stored so far written out; with sync, all.log on the disk. */
static int flush_all(struct logs *L, int sync)
{
	int rc = 0;
	for (int i = 0; i < APP_FILES; i++)
		if (L->apps[i].fd >= 0 && storefile_flush(&L->apps[i]) < 0)
			rc = write_failed(L, &L->apps[i]);
	if (L->all.fd < 0)
		return rc;
	if (storefile_flush(&L->all) < 0)
		return write_failed(L, &L->all);
	return sync && fdatasync(L->all.fd) < 0 ? sync_failed(L) : rc;
}

/* After a flush: what is in the files, for the next reader of this DIR. */
static void save_stored(struct logs *L)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%020" PRIu64 "\n", L->highest);
	if (L->statefd >= 0 && pwrite(L->statefd, num, (size_t)n, 0) != n)
		fprintf(stderr, "amphi logs: %s/%s/.stored: %s\n", L->out, L->dir, strerror(errno));
}

static void boot_close(struct logs *L)
{
	for (int i = 0; i < APP_FILES; i++)
		file_close(L, &L->apps[i]);
	file_close(L, &L->all);
	if (L->statefd >= 0) {
		save_stored(L);
		close(L->statefd);
	}
	L->statefd = -1;
	if (L->bootfd >= 0)
		close(L->bootfd);
	L->bootfd = -1;
}

/* A boot id not seen before: with --out, DIR/<boot>/ and its all.log. */
static int boot_start(struct logs *L, const char *id)
{
	boot_close(L);
	snprintf(L->boot, sizeof(L->boot), "%s", id);
	L->highest = L->acked = 0;
	if (!L->quiet && !L->json) {
		logs_escape(line, id, strlen(id), 0);
		printf("== boot %s ==\n", line);
	}
	if (!L->out)
		return 0;
	sanitise_name(id, L->dir);
	if ((mkdirat(L->outfd, L->dir, 0755) < 0 && errno != EEXIST) ||
	    (L->bootfd = openat(L->outfd, L->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fprintf(stderr, "amphi logs: %s/%s: %s; is --out a directory you can write to?\n", L->out, L->dir,
			strerror(errno));
		return -1;
	}
	if (file_open(L, &L->all, "all.log") < 0)
		return -1;
	/* A reader killed before its last ack left records the guest sends
	 * again: what .stored says is there is not stored twice. */
	char num[24] = "";
	L->statefd = openat(L->bootfd, ".stored", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (L->statefd >= 0 && pread(L->statefd, num, sizeof(num) - 1, 0) > 0)
		L->highest = strtoull(num, NULL, 10);
	return 0;
}


/* The file of an app's records, opened if it is not. */
static struct storefile *app_file(struct logs *L, const char *app)
{
	char name[LOGREC_NAME_MAX + 8];
	struct storefile *f = NULL;

	if (L->last_file && strcmp(app, L->last_app) == 0)
		return L->last_file;
	sanitise_name(app, name);
	if (strcmp(name, "all") == 0) /* would write into all.log */
		strcpy(name, "_all");
	strcat(name, ".log");
	for (int i = 0; i < APP_FILES && !f; i++)
		if (L->apps[i].fd >= 0 && strcmp(L->apps[i].name, name) == 0)
			f = &L->apps[i];
	if (!f) {
		f = &L->apps[L->next_app];
		L->next_app = (L->next_app + 1) % APP_FILES;
		if (file_close(L, f) < 0 || file_open(L, f, name) < 0)
			return NULL;
	}
	snprintf(L->last_app, sizeof(L->last_app), "%s", app);
	L->last_file = f;
	return f;
}

/* "uptime source app: message\n" into all.log and <app>.log: made once, in
 * all.log's buffer, and copied from there. */
static int store(struct logs *L, const struct logrec_parsed *p)
{
	struct storefile *f = app_file(L, p->app);
	size_t slen = strlen(p->source), alen = strlen(p->app);
	/* escaping makes a byte at most 4 ("\xHH"); a frame is at most
	 * LOGREC_FRAME_MAX, so this is within STOREFILE_LINE_MAX */
	size_t most = 32 + 4 * (slen + alen + p->msglen) + 4;
	_Static_assert(32 + 4 * LOGREC_FRAME_MAX + 4 <= STOREFILE_LINE_MAX, "a stored line fits a file's buffer");

	if (!f)
		return -1;
	char *line0 = storefile_room(&L->all, most);
	if (!line0)
		return write_failed(L, &L->all);
	char *e = put_uptime(line0, p->uptime_cs);

	*e++ = ' ';
	e = logs_escape(e, p->source, slen, 0);
	*e++ = ' ';
	e = logs_escape(e, p->app, alen, 0);
	e = logs_escape(stpcpy(e, ": "), p->msg, p->msglen, 0);
	*e++ = '\n';
	storefile_commit(&L->all, (size_t)(e - line0));
	return storefile_write(f, line0, (size_t)(e - line0)) < 0 ? write_failed(L, f) : 0;
}

static void show(struct logs *L, const struct logrec_parsed *p)
{
	char *e;

	if (L->json) {
		e = logs_escape(stpcpy(line, "{\"boot\":\""), p->boot, strlen(p->boot), 1);
		e += sprintf(e, "\",\"seq\":%" PRIu64 ",\"uptime\":", p->seq);
		e = logs_escape(stpcpy(put_uptime(e, p->uptime_cs), ",\"source\":\""), p->source, strlen(p->source), 1);
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
	L->seen = 1;
	if (strcmp(p->boot, L->boot) != 0 && boot_start(L, p->boot) < 0)
		return -1;
	if (p->seq <= L->highest)
		return 0;
	if (L->highest && p->seq > L->highest + 1) {
		logs_escape(line, L->boot, strlen(L->boot), 0);
		fprintf(stderr, "amphi logs: gap: records %" PRIu64 "-%" PRIu64 " of boot %s missing\n",
			L->highest + 1, p->seq - 1, line);
	}
	if (L->out && store(L, p) < 0)
		return -1;
	if (!L->quiet)
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
 * later. */
static int ack(struct logs *L, int fd)
{
	char msg[32];
	int n;

	if (!L->seen || L->highest <= L->acked)
		return 0;
	int64_t now = now_ms();
	if (flush_all(L, L->sync) < 0)
		return -1;  /* cannot store: said, and fatal */
	save_stored(L);
	if (!L->sync && L->all.fd >= 0 && now - L->synced_ms >= SYNC_EVERY_MS) {
		int r = disk_sync_later(L->all.fd);
		if (r < 0)
			return sync_failed(L);  /* as a failed write: the store is not to be trusted */
		if (r > 0)
			L->synced_ms = now;
	}
	n = logrec_ack_format(L->highest, msg, sizeof(msg));
	if (n > 0 && send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
		L->acked = L->highest;
	return 0;
}

/* Takes the whole frames of what was read. */
static enum stream_end take(struct logs *L, struct logrec_reader *rd)
{
	struct logrec_parsed p;
	char why[256];
	int r;

	while ((r = logrec_reader_next(rd, &p, why, sizeof(why))) > 0) {
		if (p.proto > LOGREC_PROTO_VERSION) {
			fprintf(stderr, "amphi logs: the guest speaks protocol version %d, this amphi logs %d; "
				"closed the connection (use the amphi that built the guest)\n",
				p.proto, LOGREC_PROTO_VERSION);
			return END_BROKEN;
		}
		if (record(L, &p) < 0)
			return END_FATAL;
	}
	if (r < 0) {
		fprintf(stderr, "amphi logs: protocol error from the guest: %s; closed the connection\n", why);
		return END_BROKEN;
	}
	return END_MORE;
}

static enum stream_end stream(struct logs *L, int fd)
{
	static struct logrec_reader rd;
	struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = L->sigfd, .events = POLLIN } };
	enum stream_end end = END_MORE;

	logrec_reader_init(&rd);
	L->acked = L->seen = 0; /* a new connection: say again what is stored */
	int64_t last_ack = now_ms();
	while (end == END_MORE) {
		int r = poll(pf, 2, L->highest > L->acked ? ACK_IDLE_MS : ACK_RETRY_MS);
		if (pf[1].revents)
			return END_STOP;
		if (r <= 0 || !pf[0].revents) {
			fflush(stdout);
			if (ack(L, fd) < 0)
				return END_FATAL;
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
			return END_BROKEN;
		}
		if (n > 0)
			logrec_reader_wrote(&rd, (size_t)n);
		end = n <= 0 ? END_CLOSED : take(L, &rd);
		if (end != END_FATAL && (end != END_MORE || L->highest >= L->acked + ACK_EVERY ||
					 now_ms() - last_ack >= ACK_MAX_DELAY_MS)) {
			fflush(stdout);
			if (ack(L, fd) < 0)
				end = END_FATAL;
			last_ack = now_ms();
		}
	}
	fflush(stdout);
	return end;
}

/* A connected socket, or -1 (errno set). */
int logs_sock_connect(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return fd;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Left by a reader that died: a socket nobody answers on. */
static int stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd;

	if (lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if ((fd = logs_sock_connect(sa)) >= 0)
		close(fd);
	return fd < 0 && errno == ECONNREFUSED;
}

static int sock_listen(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc = fd < 0 ? -1 : bind(fd, (const struct sockaddr *)sa, sizeof(*sa));

	if (rc < 0 && errno == EADDRINUSE && stale_socket(sa))
		rc = unlink(sa->sun_path) < 0 ? -1 : bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (rc < 0 || listen(fd, 1) < 0) {
		fprintf(stderr, "amphi logs: listen %s: %s%s\n", sa->sun_path, strerror(errno),
			errno == EADDRINUSE ? "; is another amphi logs listening there? (or remove the file)" : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Waits up to ms (forever if < 0) for a signal or for fd. 1 = a signal. */
static int wait_signal(struct logs *L, int fd, int ms)
{
	struct pollfd pf[2] = { { .fd = L->sigfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };

	return poll(pf, 2, ms) > 0 && pf[0].revents;
}

/* The next connection; -1 = stop (a signal, or no peer without --follow). */
static int next_conn(struct logs *L)
{
	for (int attempt = 0;; attempt++) {
		int fd;
		if (L->listen) {
			if (wait_signal(L, L->listenfd, -1))
				return -1;
			if ((fd = accept4(L->listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
				return fd;
			continue;
		}
		if ((fd = logs_sock_connect(&L->addr)) >= 0)
			return fd;
		if (attempt == 0) /* once per outage: each retry is not news */
			fprintf(stderr, "amphi logs: connect %s: %s; is the VM or container running? "
				"(amphi run wires this socket)%s\n", L->connect, strerror(errno),
				L->follow ? "; retrying every 200 ms" : "");
		if (!L->follow || wait_signal(L, -1, RETRY_MS))
			return -1;
	}
}

static int run(struct logs *L)
{
	for (;;) {
		int fd = next_conn(L);
		if (fd < 0)
			return L->follow ? 0 : 1;
		enum stream_end end = stream(L, fd);
		close(fd);
		if (end == END_STOP)
			return 0;
		if (end == END_FATAL && L->out)
			fprintf(stderr, "amphi logs: stopped: records not acknowledged stay in the guest's ring; fix or free "
					"the disk under %s and start amphi logs again to fetch them\n", L->out);
		if (end == END_FATAL || !L->follow)
			return end == END_CLOSED ? 0 : 1;
		if (!L->quiet)
			fprintf(stderr, "amphi logs: connection closed; waiting for the guest again\n");
		/* a guest that keeps breaking the protocol gets 5 tries a second */
		if (wait_signal(L, -1, RETRY_MS))
			return 0;
	}
}

static int parse_args(struct logs *L, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char **val = strcmp(argv[i], "--connect") == 0 ? &L->connect
				 : strcmp(argv[i], "--listen") == 0  ? &L->listen
				 : strcmp(argv[i], "--fifo") == 0    ? &L->fifo
				 : strcmp(argv[i], "--out") == 0     ? &L->out : NULL;
		if (val && i + 1 < argc)
			*val = argv[++i];
		else if (strcmp(argv[i], "--follow") == 0)
			L->follow = 1;
		else if (strcmp(argv[i], "--json") == 0)
			L->json = 1;
		else if (strcmp(argv[i], "--quiet") == 0)
			L->quiet = 1;
		else if (strcmp(argv[i], "--sync") == 0)
			L->sync = 1;
		else if (strcmp(argv[i], "--text") == 0)
			L->text = 1;
		else {
			fprintf(stderr, "amphi logs: %s '%s'\n", val ? "a value is missing after" : "unexpected argument",
				argv[i]);
			return -1;
		}
	}
	if (L->fifo && !L->text) {
		fprintf(stderr, "amphi logs: --fifo carries Anaconda text: add --text\n");
		return -1;
	}
	return !!L->connect + !!L->listen + !!L->fifo == 1 ? 0 : -1;
}

int cmd_logs(int argc, char **argv)
{
	struct logs L = { .sigfd = -1, .outfd = -1, .listenfd = -1, .bootfd = -1, .statefd = -1, .all.fd = -1 };

	for (int i = 0; i < APP_FILES; i++)
		L.apps[i].fd = -1;
	const char *path;
	sigset_t stop;
	int rc;

	if (parse_args(&L, argc, argv) < 0)
		return usage_logs();
	path = L.listen ? L.listen : L.connect ? L.connect : "";
	L.follow |= L.listen != NULL;
	L.addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(L.addr.sun_path)) {
		fprintf(stderr, "amphi logs: %s: a socket path has at most %zu bytes; use a shorter one\n", path,
			sizeof(L.addr.sun_path) - 1);
		return 1;
	}
	strcpy(L.addr.sun_path, path);
	if (L.out && ((mkdir(L.out, 0755) < 0 && errno != EEXIST) ||
		      (L.outfd = open(L.out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)) {
		fprintf(stderr, "amphi logs: --out %s: %s; give a directory you can write to\n", L.out, strerror(errno));
		return 1;
	}
	/* SIGINT/SIGTERM through a signalfd: every poll sees them, no races. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0 || (L.sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, "amphi logs: signalfd: %s\n", strerror(errno));
		return 1;
	}
	if (L.listen && (L.listenfd = sock_listen(&L.addr)) < 0)
		return 1;
	if (L.text) {
		struct logtext_opts t = { .connect = L.connect, .listen = L.listen, .fifo = L.fifo, .out = L.out,
					  .addr = &L.addr, .follow = L.follow, .json = L.json, .quiet = L.quiet,
					  .sigfd = L.sigfd, .outfd = L.outfd, .listenfd = L.listenfd };
		rc = logtext_run(&t);
	} else {
		rc = run(&L);
	}
	if (L.listen)
		unlink(L.listen);
	boot_close(&L);
	return rc;
}
