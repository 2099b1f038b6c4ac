#include "logsink.h"
#include "logring.h"
#include "logflow.h"
#include "recipe.h"
#include "log.h"
#include "logframe.h"
#include "anaconda.h"
#include "loop.h"
#include "unixsock.h"
#include "vport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A port's name appears in sysfs a little after the device: look again
 * this often, this many times. Then a slow safety net for connections. */
#define FIND_PORTS_MS 100
#define FIND_PORTS_TRIES 50
#define RECHECK_MS 1000

/* A batch is filled to at most this much: a virtio port takes up to 32 KiB
 * a write, and a batch one frame over it goes out as two writes, the
 * second a trip to the host for one frame (in a flood, half of all writes).
 * (A frame is at most LOGREC_FRAME_MAX, so the first always fits.) */
#define OUT_BATCH (32 * 1024)

enum kind { STREAM, TEXT };
enum transport { PORT, SOCKET, FIFO };

struct sink {
	const char *what;
	enum kind kind;
	enum transport transport;
	char path[PATH_MAX];
	int fd, listen_fd;
	int connected;
	uint32_t events;              /* what the loop watches fd for */
	struct logring_cursor cur;
	uint64_t acked;
	/* Several frames per write(2): on a virtio port every write is a trip
	 * to the host. */
	char out[OUT_BATCH + LOGREC_FRAME_MAX + 8];
	size_t outlen, outoff;
	uint64_t batch_seq;           /* the first record in out */
	char in[64];                  /* a partial ACK line */
	size_t inlen;
	int has_acked;                /* this reader acknowledges (rsyslog never does) */
	uint64_t lost, lost_upto;     /* records it never had; the last counted */
};

static struct sink sinks[4];
static int nsinks;
static const char *sink_root = "";
static struct logrec_origin origin;  /* the host and boot fields of every frame */
static int find_tries;
static int policy = LOG_POLICY_AUTO;

/* What connected readers are still owed: acknowledged readers keep what
 * they have not acked, the others what they have not been sent. (Under
 * drop too: the sources then wait one turn for them, not more; logflow.) */
static void update_floor(void)
{
	uint64_t floor = UINT64_MAX;
	for (int i = 0; i < nsinks; i++) {
		const struct sink *s = &sinks[i];
		/* block: what the stream's last reader has not acknowledged is
		 * kept even while nobody is connected. */
		if (policy == LOG_POLICY_BLOCK && !s->connected && s->kind == STREAM) {
			if (s->acked + 1 < floor)
				floor = s->acked + 1;
			continue;
		}
		if (!s->connected)
			continue;
		uint64_t owed = s->outoff < s->outlen ? s->batch_seq : s->cur.seq;
		if (s->kind == STREAM && s->has_acked && s->acked + 1 < owed)
			owed = s->acked + 1;
		if (owed < floor)
			floor = owed;
	}
	logflow_set_floor(floor);
}

static void disconnect(struct sink *s, const char *why)
{
	if (s->fd >= 0) {
		loop_del_fd(s->fd);
		if (s->transport != PORT)
			close(s->fd);
	}
	if (s->transport != PORT)
		s->fd = -1;
	s->connected = 0;
	/* A half-sent batch goes again, whole, from its first record: a
	 * stream reader's next connection starts from what it acked anyway,
	 * a text reader's from here (else the rest of the batch was lost). */
	if (s->outoff < s->outlen) {
		s->cur.seq = s->batch_seq;
		s->cur.off = 0;  /* a hint only; the next peek finds the record */
	}
	s->outlen = s->outoff = s->inlen = 0;
	s->has_acked = 0;
	update_floor();
	log_debug("log: %s: reader gone (%s)", s->what, why);
}

/* Formats the record at the cursor, or a note of records lost before it,
 * into out. Returns its length; 0 when there is no record; -1 when it does
 * not fit in room, or comes out longer than limit: the cursor stays. With
 * cut (the first of a batch), limit does not count and a record too big
 * even for an empty buffer is cut until it fits, never dropped. */
static int format_one(struct sink *s, char *out, size_t room, size_t limit, int cut)
{
	struct logring_cursor was = s->cur;
	struct logrec r;
	uint64_t lost_first, lost_last;
	char note[96];
	int n;

	if (!logring_peek(&s->cur, &r, &lost_first, &lost_last))
		return 0;
	if (!cut && !lost_first && r.msglen >= limit)
		goto no_fit;  /* the frame is longer than its message */
	if (lost_first) {
		/* A batch sent again meets the same loss: counted once. */
		if (lost_last > s->lost_upto) {
			s->lost += lost_last - (lost_first > s->lost_upto ? lost_first : s->lost_upto + 1) + 1;
			s->lost_upto = lost_last;
		}
		/* Counted, never silent: the note stands in for the lost ones.
		 * (It is short, and room is never below a frame.) */
		struct logrec loss = { .seq = lost_last, .realtime_us = r.realtime_us, .uptime_us = r.uptime_us,
				       .pri = 4 * 8 + 4, .source = LOGSRC_INIT, .app = "amphi", .msg = note };
		loss.msglen = (size_t)snprintf(note, sizeof(note), "lost %llu records, seq %llu-%llu",
					       (unsigned long long)(lost_last - lost_first + 1),
					       (unsigned long long)lost_first, (unsigned long long)lost_last);
		n = s->kind == STREAM ? logrec_frame_from(&loss, &origin, "loss", out, room)
				      : logrec_text(&loss, out, room);
		if (n > 0 && (cut || (size_t)n <= limit))
			return n;
		goto no_fit;
	}
	for (;;) {
		n = s->kind == STREAM ? logrec_frame_from(&r, &origin, r.seq == 1 ? "boot" : "-", out, room)
				      : logrec_text(&r, out, room);
		if (n > 0 || !cut || r.msglen == 0)
			break;
		/* Escaping can grow a message past the frame limit (binary bytes
		 * become \xHH). */
		r.msglen /= 2;
	}
	if (!cut && (n <= 0 || (size_t)n > limit))
		goto no_fit;
	logring_advance(&s->cur);
	return n > 0 ? n : 0;
no_fit:
	/* For the next batch, from the same record. (Under cut only a note
	 * can fail, which cannot happen: it is short. Were it to, the cursor
	 * stays past the loss, so the note is skipped, never retried forever.) */
	if (!cut)
		s->cur = was;
	return -1;
}

/* Fills out with as many records as fit. Returns 1 if there is something
 * to send. */
static int format_next(struct sink *s)
{
	int n;

	s->outlen = s->outoff = 0;
	s->batch_seq = s->cur.seq;
	while (s->outlen < OUT_BATCH &&
	       (n = format_one(s, s->out + s->outlen, sizeof(s->out) - s->outlen, OUT_BATCH - s->outlen,
			       s->outlen == 0)) > 0)
		s->outlen += (size_t)n;
	return s->outlen > 0;
}

static void watch(struct sink *s, uint32_t events);

/* Writes until done or the reader is full; never blocks. */
static void pump(struct sink *s)
{
	while (s->connected) {
		if (s->outoff == s->outlen && !format_next(s)) {
			watch(s, s->kind == STREAM ? EPOLLIN : 0);
			update_floor();
			return;
		}
		ssize_t n = write(s->fd, s->out + s->outoff, s->outlen - s->outoff);
		if (n > 0) {
			s->outoff += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			watch(s, EPOLLOUT | (s->kind == STREAM ? EPOLLIN : 0));
			update_floor();
			return;
		}
		disconnect(s, n < 0 ? strerror(errno) : "closed");
		return;
	}
}

static void on_acks(struct sink *s)
{
	char buf[512];
	ssize_t n = -1;

	for (int turns = 0; turns < LOOP_READS_PER_TURN && (n = read(s->fd, buf, sizeof(buf))) > 0; turns++)
		for (ssize_t i = 0; i < n; i++) {
			if (s->inlen < sizeof(s->in))
				s->in[s->inlen++] = buf[i];
			if (buf[i] != '\n')
				continue;
			size_t used;
			uint64_t seq = logrec_ack_parse(s->in, s->inlen, &used);
			if (seq > s->acked)
				s->acked = seq;
			if (seq)
				s->has_acked = 1;
			s->inlen = 0;
		}
	update_floor();
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		disconnect(s, n == 0 ? "closed" : strerror(errno));
}

static void on_event(int fd, uint32_t events, void *data)
{
	struct sink *s = data;
	(void)fd;
	if (events & EPOLLIN)
		on_acks(s);
	if (s->connected && (events & (EPOLLHUP | EPOLLERR))) {
		disconnect(s, "hung up");
		return;
	}
	pump(s);
}

static void watch(struct sink *s, uint32_t events)
{
	if (s->fd < 0 || s->events == events || !s->connected)
		return;
	if (s->events == 0xffffffffu)
		loop_add_fd(s->fd, events, on_event, s);
	else
		loop_mod_fd(s->fd, events);
	s->events = events;
}

static void now_connected(struct sink *s)
{
	s->connected = 1;
	s->events = 0xffffffffu;  /* not in the loop yet */
	s->outlen = s->outoff = 0;
	/* A stream reader gets everything it has not acknowledged; a text
	 * reader goes on where the last one stopped. */
	if (s->kind == STREAM) {
		/* Not seek: from an evicted seq, the first peek reports the loss. */
		s->cur.seq = s->acked + 1;
		s->cur.off = 0;
	}
	log_debug("log: %s: reader connected", s->what);
	watch(s, s->kind == STREAM ? EPOLLIN : 0);
	pump(s);
}

/* ---- virtio ports: while no host is connected the port polls POLLHUP
 * (virtio_console), so it stays out of epoll until SIGIO says otherwise. */

static void check_port(struct sink *s)
{
	int up = vport_host_connected(s->fd);
	if (up && !s->connected)
		now_connected(s);
	else if (!up && s->connected)
		disconnect(s, "host closed the port");
}

static void add_port(const char *dev, const char *name, enum kind kind)
{
	char path[PATH_MAX];
	struct sink *s = &sinks[nsinks];

	snprintf(path, sizeof(path), "%s/dev/%s", sink_root, dev);
	int fd = vport_open(sink_root, dev);
	if (fd < 0) {
		log_warn("log: %s (%s): %s", path, name, strerror(-fd));
		return;
	}
	/* Every reader starts at the boot's first record: one that comes late
	 * to a full ring gets a loss record for what went before it. */
	*s = (struct sink){ .what = name, .kind = kind, .transport = PORT, .fd = fd, .listen_fd = -1, .cur = { 1, 0 } };
	snprintf(s->path, sizeof(s->path), "%s", path);
	nsinks++;
	log_info("log: %s on /dev/%s", name, dev);
	check_port(s);
	update_floor();  /* block: a stream port found late is owed everything too */
}

static int have_sink(const char *name)
{
	for (int i = 0; i < nsinks; i++)
		if (strcmp(sinks[i].what, name) == 0)
			return 1;
	return 0;
}

static long find_ports(void *unused)
{
	static const struct { const char *name; enum kind kind; } ports[] = {
		{ LOGSINK_PORT_STREAM, STREAM }, { LOGSINK_PORT_TEXT, TEXT },
	};
	char dev[64];
	(void)unused;

	for (size_t i = 0; i < 2; i++)
		if (!have_sink(ports[i].name) && vport_find(sink_root, ports[i].name, dev, sizeof(dev)) == 0)
			add_port(dev, ports[i].name, ports[i].kind);
	if (nsinks == 2 || ++find_tries >= FIND_PORTS_TRIES)
		return -1;
	return FIND_PORTS_MS;
}

/* ---- container: a socket the host connects to, and a FIFO it may make ---- */

static void on_accept(int fd, uint32_t events, void *data)
{
	struct sink *s = data;
	(void)events;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	if (s->connected)
		disconnect(s, "a new reader replaced it");  /* one reader at a time */
	s->fd = c;
	now_connected(s);
}

static void add_socket(void)
{
	char path[PATH_MAX];
	struct sink *s = &sinks[nsinks];
	int fd;

	snprintf(path, sizeof(path), "%s%s/%s", sink_root, LOGSINK_HOST_DIR, LOGSINK_SOCKET);
	if ((fd = unixsock_listen(path, 0, on_accept, s)) < 0) {
		log_warn("log: %s: %s", path, strerror(-fd));
		return;
	}
	*s = (struct sink){ .what = "container socket", .kind = STREAM, .transport = SOCKET, .fd = -1, .listen_fd = fd };
	nsinks++;
	log_info("log: amphi stream on %s/%s", LOGSINK_HOST_DIR, LOGSINK_SOCKET);
}

/* The host may make the FIFO at any time (amphi logs --text --fifo does),
 * so it is looked for again at every recheck. ENXIO: no reader yet. */
static void try_fifo(struct sink *s)
{
	struct stat st;

	if (s->connected)
		return;
	s->fd = open(s->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (s->fd >= 0 && (fstat(s->fd, &st) < 0 || !S_ISFIFO(st.st_mode))) {
		close(s->fd);  /* something else by that name: not ours to fill */
		s->fd = -1;
	}
	if (s->fd >= 0)
		now_connected(s);
}

static void add_fifo(void)
{
	struct sink *s = &sinks[nsinks++];
	struct stat st;

	*s = (struct sink){ .what = "container FIFO", .kind = TEXT, .transport = FIFO, .fd = -1, .listen_fd = -1,
			    .cur = { 1, 0 } };
	snprintf(s->path, sizeof(s->path), "%s%s/%s", sink_root, LOGSINK_HOST_DIR, LOGSINK_FIFO);
	log_info("log: Anaconda text on %s/%s%s", LOGSINK_HOST_DIR, LOGSINK_FIFO,
		 stat(s->path, &st) == 0 && S_ISFIFO(st.st_mode) ? "" : " once the host makes it");
	try_fifo(s);
}

/* ---- both ---- */

static long recheck(void *unused)
{
	(void)unused;
	logsink_ports_changed();
	return RECHECK_MS;
}

void logsink_ports_changed(void)
{
	for (int i = 0; i < nsinks; i++) {
		if (sinks[i].transport == PORT)
			check_port(&sinks[i]);
		else if (sinks[i].transport == FIFO)
			try_fifo(&sinks[i]);
	}
}

void logsink_set_policy(int p)
{
	policy = p;
	update_floor();
}

void logsink_send(void)
{
	for (int i = 0; i < nsinks; i++)
		if (sinks[i].connected && sinks[i].outoff == sinks[i].outlen && sinks[i].cur.seq < logring_next_seq())
			pump(&sinks[i]);
}

/* What a sink still waits for: POLLOUT while records are unsent, POLLIN
 * while an acknowledging reader has not acked the last one; 0 when done. */
static short owed_events(const struct sink *s)
{
	if (!s->connected || s->fd < 0)
		return 0;
	if (s->outoff < s->outlen || s->cur.seq < logring_next_seq())
		return POLLOUT | POLLIN;
	if (s->kind == STREAM && s->has_acked && s->acked + 1 < logring_next_seq())
		return POLLIN;
	return 0;
}

void logsink_flush(int timeout_ms)
{
	int64_t end = loop_now_ms() + timeout_ms;
	struct pollfd p[4];
	struct sink *of[4];

	for (;;) {
		int n = 0;
		for (int i = 0; i < nsinks; i++)
			if (sinks[i].connected)
				pump(&sinks[i]);
		for (int i = 0; i < nsinks; i++) {
			short ev = owed_events(&sinks[i]);
			if (ev) {
				p[n] = (struct pollfd){ .fd = sinks[i].fd, .events = ev };
				of[n++] = &sinks[i];
			}
		}
		int64_t left = end - loop_now_ms();
		if (n == 0 || left <= 0 || poll(p, (nfds_t)n, (int)left) < 0)
			return;
		for (int i = 0; i < n; i++) {
			if (p[i].revents & POLLIN)
				on_acks(of[i]);
			if (of[i]->connected && (p[i].revents & (POLLHUP | POLLERR)))
				disconnect(of[i], "hung up");
		}
	}
}

void logsink_start(const char *root, enum world world, const char *hostname, const char *boot_id)
{
	sink_root = root;
	logrec_origin_init(&origin, hostname, boot_id);
	if (world == WORLD_CONTAINER) {
		/* Never /sys/class/virtio-ports here: that is the host's sysfs. */
		struct stat st;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s%s", root, LOGSINK_HOST_DIR);
		if (stat(dir, &st) < 0) {
			log_info("log: no host directory at %s; the log goes to the console only", LOGSINK_HOST_DIR);
			return;
		}
		add_socket();
		add_fifo();
	} else if (find_ports(NULL) >= 0)
		loop_add_timer(FIND_PORTS_MS, find_ports, NULL);
	loop_add_timer(RECHECK_MS, recheck, NULL);
	update_floor();  /* block: the stream's reader is owed everything from now, connected or not */
}

void logsink_status(struct jsonw *w)
{
	jsonw_raw(w, ",\"log\":{\"records\":");
	jsonw_int(w, (long long)(logring_next_seq() - 1));
	jsonw_raw(w, ",\"oldest\":");
	jsonw_int(w, (long long)(logring_oldest_seq()));
	jsonw_raw(w, ",\"ring-bytes\":");
	jsonw_int(w, (long long)logring_size());
	jsonw_raw(w, ",\"owed-bytes\":");
	jsonw_int(w, (long long)logflow_owed());
	jsonw_raw(w, ",\"readers\":[");
	for (int i = 0; i < nsinks; i++) {
		const struct sink *s = &sinks[i];
		jsonw_raw(w, i ? ",{\"name\":" : "{\"name\":");
		jsonw_str(w, s->what);
		jsonw_raw(w, s->connected ? ",\"connected\":true,\"sent\":" : ",\"connected\":false,\"sent\":");
		jsonw_int(w, (long long)(s->cur.seq - 1));
		if (s->kind == STREAM) {
			jsonw_raw(w, ",\"acked\":");
			jsonw_int(w, (long long)(s->acked));
		}
		jsonw_raw(w, ",\"lost\":");
		jsonw_int(w, (long long)(s->lost));
		jsonw_raw(w, "}");
	}
	jsonw_raw(w, "]}");
}
