#include "power.h"
#include "log.h"
#include "loop.h"
#include "shutdown.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/input.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A VM has one or two (ACPI's fixed button, an AT keyboard's power key). */
#define POWER_MAX_DEVICES 8
#define LONG_BITS (8 * sizeof(unsigned long))

struct power_dev {
	int used;
	int fd;
	char path[PATH_MAX];
};

static struct power_dev devs[POWER_MAX_DEVICES];

/* EVIOCGBIT copies at most len bytes of the key bitmap and leaves the rest
 * of our buffer alone, hence the zeroed array (linux/input.h, evdev.c). */
static int probe_ioctl(int fd)
{
	unsigned long bits[(KEY_CNT + LONG_BITS - 1) / LONG_BITS] = { 0 };

	if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(bits)), bits) < 0)
		return -errno;
	return (bits[KEY_POWER / LONG_BITS] >> (KEY_POWER % LONG_BITS)) & 1;
}

static power_probe_fn probe = probe_ioctl;

void power_set_probe(power_probe_fn fn)
{
	probe = fn ? fn : probe_ioctl;
}

/* err: the read's errno, or 0 for a hangup reported by epoll. */
static void drop(struct power_dev *d, int err)
{
	log_warn("power button: %s %s%s; no longer watching it", d->path,
		 err == ENODEV || !err ? "is gone" : "cannot be read: ",
		 err == ENODEV || !err ? "" : strerror(err));
	loop_del_fd(d->fd);
	close(d->fd);
	d->used = 0;
}

/* Returns 1 when the batch held a press of KEY_POWER. Releases (value 0),
 * autorepeat (2), other keys and EV_SYN are of no interest. */
static int has_power_press(const struct input_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].type == EV_KEY && ev[i].code == KEY_POWER && ev[i].value == 1)
			return 1;
	return 0;
}

static void on_input(int fd, uint32_t events, void *data)
{
	struct power_dev *d = data;
	struct input_event ev[16];
	ssize_t n;

	/* evdev hands out whole records only; drain so a level-triggered loop
	 * does not wake again for what we already saw. */
	for (;;) {
		n = read(fd, ev, sizeof(ev));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (has_power_press(ev, (size_t)n / sizeof(ev[0]))) {
			log_info("power button: pressed on %s", d->path);
			shutdown_begin(STOP_POWEROFF, "power button");
		}
	}
	/* Unplugged (or the driver unloaded): evdev reports POLLHUP|POLLERR
	 * and read fails with ENODEV. */
	if (n < 0 && errno != EAGAIN)
		drop(d, errno);
	else if (events & (EPOLLHUP | EPOLLERR))
		drop(d, 0);
}

static struct power_dev *free_slot(void)
{
	for (int i = 0; i < POWER_MAX_DEVICES; i++)
		if (!devs[i].used)
			return &devs[i];
	return NULL;
}

/* Opens one node and keeps it when it can send KEY_POWER. Returns 1 when
 * watched, else 0 (each reason logged at the level it deserves). */
static int watch_one(const char *path)
{
	struct power_dev *d;
	int fd, r;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		log_warn("power button: cannot open %s: %s", path, strerror(errno));
		return 0;
	}
	r = probe(fd);
	if (r <= 0) {
		if (r < 0)
			log_debug("power button: %s: EVIOCGBIT: %s", path, strerror(-r));
		close(fd);
		return 0;
	}
	if (!(d = free_slot())) {
		log_warn("power button: %s not watched: all %d slots taken", path, POWER_MAX_DEVICES);
		close(fd);
		return 0;
	}
	d->used = 1;
	d->fd = fd;
	snprintf(d->path, sizeof(d->path), "%s", path);
	if ((r = loop_add_fd(fd, EPOLLIN, on_input, d)) < 0) {
		log_warn("power button: cannot watch %s: %s", path, strerror(-r));
		close(fd);
		d->used = 0;
		return 0;
	}
	log_info("power button: watching %s", path);
	return 1;
}

int power_button_watch(const char *root)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *e;
	int watched = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/dev/input", root);
	if (!(dp = opendir(dir))) {
		int err = errno;

		if (err != ENOENT) {
			log_warn("power button: cannot read %s: %s", dir, strerror(err));
			return -err;
		}
	} else {
		while ((e = readdir(dp))) {
			if (strncmp(e->d_name, "event", 5) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			watched += watch_one(path);
		}
		closedir(dp);
	}
	if (!watched)
		log_warn("no power button device; the VM stops only by signal");
	return watched;
}
