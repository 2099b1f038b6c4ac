#include "agent.h"
#include "agentcmd.h"
#include "agentframe.h"
#include "log.h"
#include "logsink.h"
#include "loop.h"
#include "net.h"
#include "shutdown.h"
#include "svc.h"
#include "unixsock.h"
#include "vport.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The longest reply (amphi-status with every unit and address), and how
 * much may wait for the host: a request is taken only while a reply of
 * the longest kind fits. */
#define REPLY_MAX 8192
#define OUT_MAX (2 * REPLY_MAX)
#define IN_MAX 4096
/* The port shows up a little after the device, as the log ports do. */
#define FIND_MS 100
#define FIND_TRIES 50
/* The port, and a few clients of the container's socket at once (amphi
 * ctl watch beside a status). */
#define CONNS 4

/* The buffers last: a slot's pages are touched only as it is used. */
struct conn {
	int fd;
	int port, up;           /* the virtio port; a host has it open */
	uint32_t events;        /* what the loop watches: ~0 when not in it */
	size_t inoff, inlen;    /* of in: read, not yet fed to the framer */
	size_t outoff, outlen;
	struct agentframe frame;
	char in[IN_MAX];
	char out[OUT_MAX];
};

static struct conn conns[CONNS];
static unsigned char used[CONNS];
static const char *agent_root = "";
static int find_tries;

static void on_event(int fd, uint32_t events, void *data);

static void watch(struct conn *c, uint32_t events)
{
	if (c->events == events)
		return;
	if (c->events == ~0u)
		loop_add_fd(c->fd, events, on_event, c);
	else if (events == ~0u)
		loop_del_fd(c->fd);
	else
		loop_mod_fd(c->fd, events);
	c->events = events;
}

/* A new host: nothing of the old one's half request or unread replies. */
static void fresh(struct conn *c)
{
	agentframe_reset(&c->frame);
	c->inoff = c->inlen = c->outoff = c->outlen = 0;
}

static void drop(struct conn *c)
{
	watch(c, ~0u);
	if (c->port) {
		/* The port stays open; SIGIO says when a host is back. What the
		 * host that left sent and the init did not read yet is its: a
		 * half request would run into the next host's first. */
		for (int i = 0; i < LOOP_READS_PER_TURN && read(c->fd, c->in, sizeof(c->in)) > 0; i++)
			;
		c->up = 0;
		fresh(c);
		return;
	}
	close(c->fd);
	used[c - conns] = 0;
}

static void on_frame(enum agentframe_what what, const char *req, size_t len, void *ctx)
{
	struct conn *c = ctx;
	struct jsonw w;
	char *at = c->out + c->outlen;
	enum agentcmd_send send = AGENTCMD_REPLY;

	/* Room for a 0xFF and the longest reply: see pump. */
	jsonw_init(&w, at + 1, REPLY_MAX);
	if (what == AGENTFRAME_REQUEST)
		send = agentcmd_run(agent_root, req, len, &w);
	else
		agentcmd_refuse(&w, what == AGENTFRAME_TOO_LONG ? "request too long or too deep"
								  : "expected a request, a JSON object");
	if (send == AGENTCMD_NONE)
		return;
	if (send == AGENTCMD_DELIMITED) {
		at[0] = (char)0xFF;  /* the reply follows it already */
		c->outlen += 1 + w.len;
	} else {
		memmove(at, at + 1, w.len);
		c->outlen += w.len;
	}
}

/* Writes what waits, then feeds the framer what was read while a reply
 * fits, then reads more; the loop watches for whatever stopped it. */
static void pump(struct conn *c)
{
	for (int turns = 0; turns < LOOP_READS_PER_TURN; turns++) {
		if (c->outoff < c->outlen) {
			ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				drop(c);
				return;
			}
			if (n > 0)
				c->outoff += (size_t)n;
			if (c->outoff < c->outlen) {
				watch(c, EPOLLOUT);
				return;
			}
		}
		c->outoff = c->outlen = 0;
		/* Only the framer's '{' (garbage before it) and '}' (a request)
		 * bring a reply: the bytes go in pieces that end at the first
		 * of them, each while the longest reply has room. */
		while (c->inoff < c->inlen && c->outlen + 1 + REPLY_MAX <= OUT_MAX) {
			const char *p = c->in + c->inoff;
			size_t take = 1;
			while (c->inoff + take < c->inlen && p[take - 1] != '}' && p[take - 1] != '{')
				take++;
			agentframe_feed(&c->frame, p, take, on_frame, c);
			c->inoff += take;
		}
		if (c->outlen)
			continue;
		c->inoff = c->inlen = 0;
		ssize_t n = read(c->fd, c->in, sizeof(c->in));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop(c);
			return;
		}
		if (n < 0) {
			watch(c, EPOLLIN);
			return;
		}
		c->inlen = (size_t)n;
	}
	watch(c, EPOLLIN | EPOLLOUT);  /* more next turn, after everyone else */
}

static void on_event(int fd, uint32_t events, void *data)
{
	struct conn *c = data;
	(void)fd;

	/* A port whose host left polls HUP for good: out of the loop until
	 * SIGIO. */
	if (c->port && (events & EPOLLHUP)) {
		drop(c);
		return;
	}
	pump(c);
}

/* ---- VM: the port ---- */

static void check_port(struct conn *c)
{
	int up = vport_host_connected(c->fd);
	if (up && !c->up) {
		c->up = 1;
		fresh(c);
		log_debug("agent: host connected");
		pump(c);
	} else if (!up && c->up)
		drop(c);
}

void agent_ports_changed(void)
{
	if (used[0] && conns[0].port)
		check_port(&conns[0]);
}

/* A slot for fd, as yet out of the loop, with nothing read or to send. */
static struct conn *take_slot(int fd, int port)
{
	for (int i = 0; i < CONNS; i++)
		if (!used[i]) {
			struct conn *c = &conns[i];
			used[i] = 1;
			c->fd = fd;
			c->port = port;
			c->up = 0;
			c->events = ~0u;
			fresh(c);
			return c;
		}
	return NULL;
}

static long find_port(void *unused)
{
	char dev[64];
	(void)unused;

	if (vport_find(agent_root, AGENT_PORT, dev, sizeof(dev)) < 0)
		return ++find_tries >= FIND_TRIES ? -1 : FIND_MS;
	int fd = vport_open(agent_root, dev);
	if (fd < 0) {
		log_warn("agent: /dev/%s: %s", dev, strerror(-fd));
		return -1;
	}
	log_info("agent: guest agent on /dev/%s", dev);
	check_port(take_slot(fd, 1));
	return -1;
}

/* ---- container: a socket in the host directory ---- */

static void on_accept(int fd, uint32_t events, void *data)
{
	(void)events, (void)data;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct conn *slot = take_slot(c, 0);
	if (slot)
		pump(slot);
	else
		close(c);  /* every slot taken: this client sees EOF */
}

static void listen_socket(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s%s/%s", agent_root, LOGSINK_HOST_DIR, AGENT_SOCKET);
	/* Root's only: whoever else runs in the appliance may not shut it
	 * down. The host's root reaches it whatever the mode. */
	if ((fd = unixsock_listen(path, 0600, on_accept, NULL)) < 0)
		log_warn("agent: %s: %s", path, strerror(-fd));
	else
		log_info("agent: guest agent on %s/%s", LOGSINK_HOST_DIR, AGENT_SOCKET);
}

static void shutdown_mode(const char *mode)
{
	shutdown_begin(!strcmp(mode, "reboot") ? STOP_REBOOT : !strcmp(mode, "halt") ? STOP_HALT : STOP_POWEROFF,
		       "the host's guest agent");
}

static void status(struct jsonw *w)
{
	svc_status(w);
	logsink_status(w);
}

void agent_start(const char *root, enum world world)
{
	struct agentcmd_hooks hooks = { .shutdown = shutdown_mode, .restart = svc_restart, .status = status,
					.thawed = net_thawed, .container = world == WORLD_CONTAINER };
	struct stat st;
	char dir[PATH_MAX];

	agentcmd_set_hooks(&hooks);
	agent_root = root;
	if (world != WORLD_CONTAINER) {
		if (find_port(NULL) >= 0)
			loop_add_timer(FIND_MS, find_port, NULL);
		return;
	}
	snprintf(dir, sizeof(dir), "%s%s", root, LOGSINK_HOST_DIR);
	if (stat(dir, &st) == 0)
		listen_socket();
}
