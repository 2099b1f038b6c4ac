/* amphi ctl: a build's running appliance driven through its PID 1's guest
 * agent (QEMU's guest agent protocol, init/agentcmd.c): in a VM the socket
 * vm/launch gives org.qemu.guest_agent.0, in a container the init's
 * socket in the host directory. Every reply is the guest's, so hostile:
 * bounded, parsed strictly, its strings escaped before they are shown. */
#include "commands.h"
#include "guestpath.h"
#include "jsontok.h"
#include "logconn.h"
#include "logescape.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The longest reply taken, and the most tokens in it: amphi-status of a
 * full recipe is under 10 KiB. */
#define REPLY_MAX (256 * 1024)
#define TOKENS_MAX 8192
#define WAIT_MS 10000

static const char usage_text[] =
	"usage: amphi ctl DIR status [--json] | watch | ping | shutdown | reboot | restart SERVICE\n"
	"  DIR is an amphi build whose appliance runs: under QEMU (amphi run DIR, its vm/agent.sock)\n"
	"  or in LXC (its lxc/host/agent.sock).\n";

struct agent {
	int fd;
	const char *path;
	char buf[REPLY_MAX + 1];
	size_t len;   /* bytes in buf not yet taken */
	jsmntok_t tok[TOKENS_MAX];
	struct jsontok doc;
	int ret;      /* the reply's "return" token */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Untrusted text for the terminal (at most 200 bytes of it). */
static const char *shown(const char *s, size_t n)
{
	static char out[6 * 200 + 1];
	logs_escape(out, s, n > 200 ? 200 : n, 0);
	return out;
}

static int send_all(struct agent *a, const char *s, size_t n)
{
	int64_t end = now_ms() + WAIT_MS;
	while (n) {
		ssize_t w = write(a->fd, s, n);
		if (w > 0) {
			s += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "amphi ctl: %s: %s\n", a->path, strerror(errno));
			return -1;
		}
		struct pollfd p = { .fd = a->fd, .events = POLLOUT };
		if (now_ms() >= end || poll(&p, 1, (int)(end - now_ms())) == 0) {
			fprintf(stderr, "amphi ctl: %s: the guest takes nothing; is its PID 1 amphi-init?\n", a->path);
			return -1;
		}
	}
	return 0;
}

/* Reads until buf holds a line (or, with ff, a 0xFF: what it drops).
 * Returns the line's length (its LF excluded), or -1 (said). */
static long read_line(struct agent *a, int ff, int64_t end)
{
	for (;;) {
		char *lf = ff ? memchr(a->buf, 0xFF, a->len) : memchr(a->buf, '\n', a->len);
		if (lf)
			return (long)(lf - a->buf);
		if (a->len == REPLY_MAX) {
			fprintf(stderr, "amphi ctl: %s: a reply longer than %d bytes; not taken\n", a->path, REPLY_MAX);
			return -1;
		}
		struct pollfd p = { .fd = a->fd, .events = POLLIN };
		int64_t left = end - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			fprintf(stderr, "amphi ctl: %s: no answer within %d s; is the appliance up (its PID 1 answers "
				"once it has started its log)?\n", a->path, WAIT_MS / 1000);
			return -1;
		}
		ssize_t n = read(a->fd, a->buf + a->len, REPLY_MAX - a->len);
		if (n == 0) {
			fprintf(stderr, "amphi ctl: %s: the guest closed the connection\n", a->path);
			return -1;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "amphi ctl: %s: %s\n", a->path, strerror(errno));
			return -1;
		}
		if (n > 0)
			a->len += (size_t)n;
	}
}

static void take(struct agent *a, size_t n)
{
	memmove(a->buf, a->buf + n, a->len - n);
	a->len -= n;
}

/* The next reply line, parsed: 0 with a->ret its "return"; 1 for an
 * error reply (said); -1 when no reply came or it was not one. */
static int reply(struct agent *a, const char *what, int64_t end)
{
	long n = read_line(a, 0, end);
	if (n < 0)
		return -1;
	a->buf[n] = '\0';
	/* jsmn lets raw control bytes through in strings: the agent escapes
	 * them, so one here is not the agent's. */
	for (long i = 0; i < n; i++)
		if ((unsigned char)a->buf[i] < 0x20 || a->buf[i] == 0x7f) {
			fprintf(stderr, "amphi ctl: %s: %s: a control byte in the reply: %s\n", a->path, what,
				shown(a->buf, (size_t)n));
			return -1;
		}
	int rc = jsontok_parse(&a->doc, a->buf, (size_t)n, a->tok, TOKENS_MAX, 1);
	if (rc < 0 || a->tok[0].type != JSMN_OBJECT) {
		fprintf(stderr, "amphi ctl: %s: %s: the reply is not %s: %s\n", a->path, what,
			rc == -2 ? "within bounds" : "a JSON object", shown(a->buf, (size_t)n));
		return -1;
	}
	a->ret = jsontok_member(&a->doc, 0, "return");
	int err = jsontok_member(&a->doc, 0, "error");
	if (a->ret >= 0)
		return 0;
	char desc[256] = "", class[64] = "";
	jsontok_str(&a->doc, jsontok_member(&a->doc, err, "desc"), desc, sizeof(desc));
	jsontok_str(&a->doc, jsontok_member(&a->doc, err, "class"), class, sizeof(class));
	if (err < 0)
		fprintf(stderr, "amphi ctl: %s: %s: a reply with neither return nor error: %s\n", a->path, what,
			shown(a->buf, (size_t)n));
	else
		fprintf(stderr, "amphi ctl: %s: %s: %s%s%s\n", a->path, what, shown(desc, strlen(desc)),
			class[0] ? " " : "", class[0] ? class : "");
	return err < 0 ? -1 : 1;
}

/* guest-sync-delimited with a fresh id: whatever a half-read reply or an
 * earlier client left is skipped up to the 0xFF before ours. */
static int sync_agent(struct agent *a)
{
	char req[128];
	unsigned long long id = 0;
	long long got;
	int64_t end = now_ms() + WAIT_MS;

	if (getrandom(&id, sizeof(id), 0) < 0)
		id = (unsigned long long)now_ms();
	id &= 0x7fffffffffffffffULL;
	int n = snprintf(req, sizeof(req), "\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%llu}}", id);
	if (send_all(a, req, (size_t)n) < 0)
		return -1;
	for (;;) {
		long at = read_line(a, 1, end);
		if (at < 0)
			return -1;
		take(a, (size_t)at + 1);
		if (reply(a, "guest-sync-delimited", end) < 0)
			return -1;
		int ok = jsontok_int(&a->doc, a->ret, &got) == 0 && (unsigned long long)got == id;
		take(a, strlen(a->buf) + 1);
		if (ok)
			return 0;
	}
}

/* The socket of DIR's running appliance, connected: the VM's when QEMU
 * listens on it, else the container's. */
static int connect_agent(struct agent *a, const char *dir)
{
	static char paths[2][PATH_MAX];
	char why[2][512];
	int refused;

	snprintf(paths[0], sizeof(paths[0]), "%s/vm/agent.sock", dir);
	snprintf(paths[1], sizeof(paths[1]), "%s/lxc/host/agent.sock", dir);
	for (int i = 0; i < 2; i++) {
		a->fd = logconn_connect(paths[i], why[i], sizeof(why[i]), &refused);
		if (a->fd >= 0) {
			a->path = paths[i];
			a->len = 0;
			return sync_agent(a);
		}
	}
	fprintf(stderr, "amphi ctl: no guest agent to reach in %s: %s: %s; %s: %s. Start the appliance "
		"(amphi run DIR, or amphi run --lxc DIR) and try again\n", dir, paths[0], why[0], paths[1], why[1]);
	return -1;
}

static int command(struct agent *a, const char *req, const char *what)
{
	if (send_all(a, req, strlen(req)) < 0)
		return -1;
	return reply(a, what, now_ms() + WAIT_MS);
}

/* ---- status ---- */

static long long num(const struct agent *a, int obj, const char *key)
{
	long long v = -1;
	jsontok_int(&a->doc, jsontok_member(&a->doc, obj, key), &v);
	return v;
}

/* A member's string, escaped for the terminal; "-" when there is none. */
static const char *text(const struct agent *a, int obj, const char *key)
{
	static char out[4][6 * 64 + 1];
	static int turn;
	char s[64];
	char *o = out[turn++ % 4];

	if (jsontok_str(&a->doc, jsontok_member(&a->doc, obj, key), s, sizeof(s)) < 0)
		snprintf(s, sizeof(s), "-");
	logs_escape(o, s, strlen(s), 0);
	return o;
}

static const char *duration(long long ms, char *out, size_t len)
{
	long long s = ms / 1000;
	if (ms < 0)
		snprintf(out, len, "-");
	else if (s < 60)
		snprintf(out, len, "%llds", s);
	else if (s < 3600)
		snprintf(out, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, len, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(out, len, "%lldd%02lldh", s / 86400, s / 3600 % 24);
	return out;
}

/* Each element of array t, in turn: -1 at the end. */
static int element(const struct agent *a, int arr, int prev)
{
	if (arr < 0 || a->tok[arr].type != JSMN_ARRAY)
		return -1;
	int t = prev < 0 ? arr + 1 : jsontok_next(&a->doc, prev);
	return t < a->doc.ntok && a->tok[t].start < a->tok[arr].end ? t : -1;
}

static void print_status(const struct agent *a, FILE *out)
{
	char d[32], load[64] = "-";
	int r = a->ret, l = jsontok_member(&a->doc, r, "load");

	for (int t = element(a, l, -1), i = 0; t >= 0 && i < 3; t = element(a, l, t), i++) {
		size_t n;
		const char *v = jsontok_raw(&a->doc, t, &n);
		snprintf(load + (i ? strlen(load) : 0), sizeof(load) - (i ? strlen(load) : 0), "%s%s", i ? " " : "",
			 shown(v, n));
	}
	int mem = jsontok_member(&a->doc, r, "memory");
	fprintf(out, "up %s   load %s   memory %.1f MiB available of %.1f MiB\n\n",
		duration(num(a, r, "uptime") * 1000, d, sizeof(d)), load, num(a, mem, "available") / 1048576.0,
		num(a, mem, "total") / 1048576.0);

	fprintf(out, "%-16s %-8s %-10s %7s %8s %8s  %s\n", "UNIT", "KIND", "STATE", "PID", "RESTARTS", "FOR",
		"LAST EXIT");
	int units = jsontok_member(&a->doc, r, "units");
	for (int u = element(a, units, -1); u >= 0; u = element(a, units, u))
		fprintf(out, "%-16s %-8s %-10s %7lld %8lld %8s  %s\n", text(a, u, "name"), text(a, u, "kind"),
			text(a, u, "state"), num(a, u, "pid"), num(a, u, "restarts"),
			duration(num(a, u, "for-ms"), d, sizeof(d)), text(a, u, "last-exit"));

	fprintf(out, "\n%-16s %-18s %s\n", "INTERFACE", "MAC", "ADDRESSES");
	int ifs = jsontok_member(&a->doc, r, "interfaces");
	for (int i = element(a, ifs, -1); i >= 0; i = element(a, ifs, i)) {
		fprintf(out, "%-16s %-18s", text(a, i, "name"), text(a, i, "hardware-address"));
		int addrs = jsontok_member(&a->doc, i, "ip-addresses");
		for (int ad = element(a, addrs, -1); ad >= 0; ad = element(a, addrs, ad))
			fprintf(out, " %s/%lld", text(a, ad, "ip-address"), num(a, ad, "prefix"));
		fputc('\n', out);
	}

	int log = jsontok_member(&a->doc, r, "log");
	fprintf(out, "\nlog: %lld records, the oldest kept %lld; ring %lld KiB, %lld KiB of it owed to readers\n"
		"%-16s %-10s %10s %10s %8s\n", num(a, log, "records"), num(a, log, "oldest"), num(a, log, "ring-bytes") / 1024,
		num(a, log, "owed-bytes") / 1024, "READER", "CONNECTED", "SENT", "ACKED", "LOST");
	int readers = jsontok_member(&a->doc, log, "readers");
	for (int s = element(a, readers, -1); s >= 0; s = element(a, readers, s)) {
		int c = jsontok_member(&a->doc, s, "connected");
		fprintf(out, "%-16s %-10s %10lld %10s %8lld\n", text(a, s, "name"),
			c >= 0 && a->buf[a->tok[c].start] == 't' ? "yes" : "no", num(a, s, "sent"),
			jsontok_member(&a->doc, s, "acked") >= 0 ? (snprintf(d, sizeof(d), "%lld", num(a, s, "acked")), d)
								 : "-",
			num(a, s, "lost"));
	}
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int status(struct agent *a, int json, int watch)
{
	int tty = isatty(1);

	if (watch) {
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	do {
		int rc = command(a, "{\"execute\":\"amphi-status\"}", "amphi-status");
		if (rc)
			return 1;
		if (json) {
			size_t n;
			const char *v = jsontok_raw(&a->doc, a->ret, &n);
			/* Checked JSON without a control byte (reply). */
			printf("%.*s\n", (int)n, v);
		} else {
			if (watch && tty)
				fputs("\033[H\033[2J", stdout);
			print_status(a, stdout);
			if (watch && !tty)
				putchar('\n');
		}
		fflush(stdout);
		take(a, strlen(a->buf) + 1);
		for (int i = 0; watch && !stop && i < 10; i++)
			usleep(100 * 1000);
	} while (watch && !stop);
	return 0;
}

/* ---- the rest ---- */

/* The appliance going down closes the connection: wait for that. A reply
 * is an error (a successful guest-shutdown has none). */
static int wait_gone(struct agent *a, const char *what)
{
	int64_t end = now_ms() + 60000;

	for (;;) {
		struct pollfd p = { .fd = a->fd, .events = POLLIN };
		int64_t left = end - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			fprintf(stderr, "amphi ctl: %s: %s asked; the appliance is still up after 60 s\n", a->path, what);
			return 1;
		}
		ssize_t n = read(a->fd, a->buf + a->len, REPLY_MAX - a->len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 0;
		if (n > 0 && memchr(a->buf + a->len, '\n', (size_t)n)) {
			a->len += (size_t)n;
			reply(a, what, end);
			return 1;
		}
		if (n > 0 && (a->len += (size_t)n) == REPLY_MAX)
			a->len = 0;
	}
}

int cmd_ctl(int argc, char **argv)
{
	static struct agent a;
	char req[512];
	int json = 0;

	if (wants_help(argc, argv, "")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[argc - 1], "--json")) {
		json = 1;
		argc--;
	}
	if (argc < 3 || (json && strcmp(argv[2], "status"))) {
		fputs(usage_text, stderr);
		return 2;
	}
	const char *dir = argv[1], *verb = argv[2];
	int need = !strcmp(verb, "restart") ? 4 : 3;
	if (argc != need || (strcmp(verb, "status") && strcmp(verb, "watch") && strcmp(verb, "ping") &&
			     strcmp(verb, "shutdown") && strcmp(verb, "reboot") && strcmp(verb, "restart"))) {
		fprintf(stderr, "amphi ctl: %s%s\n%s", argc == need ? "unknown command " : "wrong arguments for ", verb,
			usage_text);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (connect_agent(&a, dir) < 0)
		return 1;
	if (!strcmp(verb, "status") || !strcmp(verb, "watch"))
		return status(&a, json, !strcmp(verb, "watch"));
	if (!strcmp(verb, "ping")) {
		if (command(&a, "{\"execute\":\"guest-ping\"}", "guest-ping"))
			return 1;
		printf("%s: the appliance answers\n", a.path);
		return 0;
	}
	if (!strcmp(verb, "restart")) {
		char name[6 * 64 + 1];
		if (strlen(argv[3]) > 63) {
			fprintf(stderr, "amphi ctl: restart: no service has so long a name\n");
			return 2;
		}
		/* The name goes as a JSON string whatever it holds. */
		logs_escape(name, argv[3], strlen(argv[3]), 1);
		snprintf(req, sizeof(req), "{\"execute\":\"amphi-restart\",\"arguments\":{\"name\":\"%s\"}}", name);
		if (command(&a, req, "amphi-restart"))
			return 1;
		printf("%s: restarted\n", name);
		return 0;
	}
	/* shutdown, reboot: no reply when it works; an error reply when not. */
	int reboot = !strcmp(verb, "reboot");
	snprintf(req, sizeof(req), "{\"execute\":\"guest-shutdown\",\"arguments\":{\"mode\":\"%s\"}}",
		 reboot ? "reboot" : "powerdown");
	if (send_all(&a, req, strlen(req)) < 0)
		return 1;
	if (reboot) {
		printf("%s: rebooting\n", dir);
		return 0;
	}
	if (wait_gone(&a, verb))
		return 1;
	printf("%s: stopped\n", dir);
	return 0;
}
