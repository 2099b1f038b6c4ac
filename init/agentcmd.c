#include "agentcmd.h"
#include "agentreq.h"
#include "netaddr.h"
#include "netlink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/rtc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef AMPHI_VERSION
#define AMPHI_VERSION "0.1"
#endif

/* A handler writes the value of "return" and gives 0; 1 when nothing is to
 * be sent (a shutdown under way); -1 with *err for a GenericError. */
typedef int (*cmd_fn)(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);

static struct agentcmd_hooks hooks;

void agentcmd_set_hooks(const struct agentcmd_hooks *h)
{
	hooks = *h;
}

/* A file of root's sysfs, its first line without the newline ("" if none). */
static void sysfs_line(const char *root, const char *dir, const char *name, const char *file, char *out, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/sys/%s/%s/%s", root, dir, name, file);
	FILE *f = fopen(path, "re");
	if (!f || !fgets(out, (int)len, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (f)
		fclose(f);
}

/* ---- the plain ones ---- */

static int cmd_sync(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	long long id;
	(void)root;

	/* libvirt's id is milliseconds since the epoch: 64 bits, exact. */
	if (jsontok_int(&r->doc, agentreq_arg(r, "id"), &id) < 0) {
		*err = "'id' must be an integer of 64 bits";
		return -1;
	}
	jsonw_int(w, id);
	return 0;
}

static int cmd_empty(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, "{}");
	return 0;
}

static int cmd_info(const char *root, const struct agentreq *r, struct jsonw *w, const char **err);

static int cmd_shutdown(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char mode[16] = "powerdown";
	int t = agentreq_arg(r, "mode");
	(void)root, (void)w;

	if ((t >= 0 && jsontok_str(&r->doc, t, mode, sizeof(mode)) < 0) ||
	    (strcmp(mode, "powerdown") && strcmp(mode, "reboot") && strcmp(mode, "halt"))) {
		*err = "'mode' must be powerdown, reboot or halt";
		return -1;
	}
	if (hooks.shutdown)
		hooks.shutdown(mode);
	return 1;
}

static int cmd_get_time(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	struct timespec ts;
	(void)root, (void)r, (void)err;

	clock_gettime(CLOCK_REALTIME, &ts);
	jsonw_int(w, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	return 0;
}

/* With a time: the clock, then the RTC, as qemu-ga's hwclock -w. Without:
 * the clock from the RTC (virsh domtime --sync), as sysfs gives it. */
static int cmd_set_time(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char path[PATH_MAX], since[32];
	struct timespec ts = { 0 };
	long long ns;
	int t = agentreq_arg(r, "time");

	if (hooks.container) {
		*err = "a container's clock is the host's: set it there";
		return -1;
	}
	if (t >= 0) {
		if (jsontok_int(&r->doc, t, &ns) < 0 || ns < 0) {
			*err = "'time' must be nanoseconds since the epoch";
			return -1;
		}
		ts = (struct timespec){ .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };
	} else {
		sysfs_line(root, "class/rtc", "rtc0", "since_epoch", since, sizeof(since));
		if (!since[0]) {
			*err = "no RTC to read the time from";
			return -1;
		}
		ts.tv_sec = strtoll(since, NULL, 10);
	}
	if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
		*err = strerror(errno);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/dev/rtc0", root);
	int fd = t >= 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	struct tm tm;
	if (fd >= 0 && gmtime_r(&ts.tv_sec, &tm)) {
		struct rtc_time rtc = { .tm_sec = tm.tm_sec, .tm_min = tm.tm_min, .tm_hour = tm.tm_hour,
					.tm_mday = tm.tm_mday, .tm_mon = tm.tm_mon, .tm_year = tm.tm_year };
		ioctl(fd, RTC_SET_TIME, &rtc);
	}
	if (fd >= 0)
		close(fd);
	jsonw_raw(w, "{}");
	return 0;
}

static int cmd_host_name(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	struct utsname u;
	(void)root, (void)r, (void)err;

	uname(&u);
	jsonw_raw(w, "{\"host-name\":");
	jsonw_str(w, u.nodename);
	jsonw_raw(w, "}");
	return 0;
}

/* uname's and os-release's (/etc, else /usr/lib) fields, what libvirt
 * shows as os.*: os-release's keys lowercased, '_' as '-'. */
static int cmd_osinfo(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char path[PATH_MAX], line[512];
	struct utsname u;
	FILE *f = NULL;
	(void)r, (void)err;

	uname(&u);
	jsonw_raw(w, "{\"kernel-release\":");
	jsonw_str(w, u.release);
	jsonw_raw(w, ",\"kernel-version\":");
	jsonw_str(w, u.version);
	jsonw_raw(w, ",\"machine\":");
	jsonw_str(w, u.machine);
	for (int i = 0; i < 2 && !f; i++) {
		snprintf(path, sizeof(path), "%s%s", root, i ? "/usr/lib/os-release" : "/etc/os-release");
		f = fopen(path, "re");
	}
	while (f && fgets(line, sizeof(line), f)) {
		char *v = strchr(line, '='), key[16] = ",\"";
		size_t n, k;
		if (!v || v - line > 11)
			continue;
		*v++ = '\0';
		snprintf(path, sizeof(path), " %s ", line);
		if (!strstr(" ID NAME PRETTY_NAME VERSION VERSION_ID VARIANT VARIANT_ID ", path))
			continue;
		for (k = 0; line[k]; k++)
			key[k + 2] = line[k] == '_' ? '-' : (char)(line[k] | 0x20);
		memcpy(key + k + 2, "\":", 3);
		n = strcspn(v, "\n");
		if (n >= 2 && (*v == '"' || *v == '\'') && v[n - 1] == *v)
			v++, n -= 2;
		v[n] = '\0';
		jsonw_raw(w, key);
		jsonw_str(w, v);
	}
	if (f)
		fclose(f);
	jsonw_raw(w, "}");
	return 0;
}

/* The init sets no TZ and reads no zone file: its clock, and what it
 * reports, is UTC. */
static int cmd_timezone(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, "{\"zone\":\"UTC\",\"offset\":0}");
	return 0;
}

/* amphi keeps no utmp: who is logged in on its gettys is not known. */
static int cmd_users(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, "[]");
	return 0;
}

/* ---- network ---- */

struct addr_out {
	struct jsonw *w;
	int n;
};

/* An address as text, IPv6's longest run of zero groups as "::" (RFC
 * 5952, as ip(8) shows it): inet_ntop would cost the init 700 bytes. */
static void addr_text(const struct net_addr *a, char *out, size_t len)
{
	const uint8_t *b = a->bytes;
	int run = 0, at = -9, zeros = 0;
	size_t n = 0;  /* 39 characters at most: out has room */

	if (a->family == AF_INET) {
		snprintf(out, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
		return;
	}
	for (int g = 0; g < 8; g++) {
		zeros = b[2 * g] || b[2 * g + 1] ? 0 : zeros + 1;
		if (zeros > run && zeros > 1)
			run = zeros, at = g - zeros + 1;
	}
	for (int g = 0; g < 8; g++) {
		if (g == at) {
			n += (size_t)snprintf(out + n, len - n, "::");
			g += run - 1;
		} else
			n += (size_t)snprintf(out + n, len - n, g && g != at + run ? ":%x" : "%x",
					      b[2 * g] << 8 | b[2 * g + 1]);
	}
}

static void one_addr(const struct net_addr *a, void *data)
{
	struct addr_out *o = data;
	char text[48];

	addr_text(a, text, sizeof(text));
	jsonw_raw(o->w, o->n++ ? ",{\"ip-address\":" : ",\"ip-addresses\":[{\"ip-address\":");
	jsonw_str(o->w, text);
	jsonw_raw(o->w, a->family == AF_INET ? ",\"ip-address-type\":\"ipv4\",\"prefix\":"
					     : ",\"ip-address-type\":\"ipv6\",\"prefix\":");
	jsonw_int(o->w, a->prefix);
	jsonw_raw(o->w, "}");
}

/* [{"name","hardware-address","ip-addresses":[{"ip-address","ip-address-type","prefix"}]}]:
 * the links of root's /sys/class/net (the appliance's own network
 * namespace, in a container too), their addresses from the kernel. */
static int cmd_interfaces(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char path[PATH_MAX], mac[32], index[16];
	struct dirent *d;
	int n = 0;
	(void)r, (void)err;

	snprintf(path, sizeof(path), "%s/sys/class/net", root);
	DIR *dir = opendir(path);
	nl_open();
	jsonw_raw(w, "[");
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		jsonw_raw(w, n++ ? ",{\"name\":" : "{\"name\":");
		jsonw_str(w, d->d_name);
		sysfs_line(root, "class/net", d->d_name, "address", mac, sizeof(mac));
		if (mac[0]) {
			jsonw_raw(w, ",\"hardware-address\":");
			jsonw_str(w, mac);
		}
		sysfs_line(root, "class/net", d->d_name, "ifindex", index, sizeof(index));
		struct addr_out o = { w, 0 };
		if (index[0])
			nl_addr_each(atoi(index), one_addr, &o);
		jsonw_raw(w, o.n ? "]}" : "}");
	}
	if (dir)
		closedir(dir);
	jsonw_raw(w, "]");
	return 0;
}

/* ---- file systems and disks ---- */

#define FROZEN_MAX 16
static char frozen[FROZEN_MAX][256];  /* mountpoints, in the order frozen */
static int nfrozen;

int agentcmd_frozen(void)
{
	return nfrozen > 0;
}

/* The next mount of root's mountinfo on a block device: its mountpoint
 * (escapes undone), device, type and whether it is read-write. 0 at the
 * end. */
struct mount {
	char point[256], dev[64], type[32];
	int rw;
};

static int next_mount(FILE *f, struct mount *m)
{
	char line[1024];

	while (fgets(line, sizeof(line), f)) {
		/* id parent dev root POINT OPTS [tags...] - TYPE SOURCE SUPER */
		char *w[16], *save = NULL, *point, *opts, *type = NULL, *dev = NULL;
		int nw = 0;
		for (char *t = strtok_r(line, " \n", &save); t && nw < 16; t = strtok_r(NULL, " \n", &save))
			w[nw++] = t;
		for (int i = 6; i + 2 < nw; i++)
			if (!strcmp(w[i], "-")) {
				type = w[i + 1];
				dev = w[i + 2];
				break;
			}
		if (!dev || strncmp(dev, "/dev/", 5))
			continue;
		point = w[4];
		opts = w[5];
		size_t n = 0;
		for (char *p = point; *p && n < sizeof(m->point) - 1; p++) {
			/* \040 and the like: octal escapes of mountinfo */
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
			    p[3] <= '7') {
				m->point[n++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else
				m->point[n++] = *p;
		}
		m->point[n] = '\0';
		snprintf(m->type, sizeof(m->type), "%s", type);
		snprintf(m->dev, sizeof(m->dev), "%s", dev + 5);
		m->rw = !strncmp(opts, "rw", 2) && (opts[2] == ',' || !opts[2]);
		return 1;
	}
	return 0;
}

static FILE *mountinfo(const char *root)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
	return fopen(path, "re");
}

/* libvirt needs "disk" in each entry; an empty list says no more. */
static int cmd_fsinfo(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char path[PATH_MAX];
	struct mount m;
	struct statvfs sv;
	FILE *f = mountinfo(root);
	int n = 0;
	(void)r, (void)err;

	jsonw_raw(w, "[");
	while (f && next_mount(f, &m)) {
		jsonw_raw(w, n++ ? ",{\"name\":" : "{\"name\":");
		jsonw_str(w, m.dev);
		jsonw_raw(w, ",\"mountpoint\":");
		jsonw_str(w, m.point);
		jsonw_raw(w, ",\"type\":");
		jsonw_str(w, m.type);
		snprintf(path, sizeof(path), "%s%s", root, m.point);
		if (statvfs(path, &sv) == 0) {
			jsonw_raw(w, ",\"used-bytes\":");
			jsonw_int(w, (long long)((sv.f_blocks - sv.f_bfree) * sv.f_frsize));
			jsonw_raw(w, ",\"total-bytes\":");
			jsonw_int(w, (long long)(sv.f_blocks * sv.f_frsize));
		}
		jsonw_raw(w, ",\"disk\":[]}");
	}
	if (f)
		fclose(f);
	jsonw_raw(w, "]");
	return 0;
}

static void disk_entry(struct jsonw *w, int *n, const char *name, const char *parent)
{
	char dev[300];

	jsonw_raw(w, (*n)++ ? ",{\"name\":" : "{\"name\":");
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	jsonw_str(w, dev);
	jsonw_raw(w, parent ? ",\"partition\":true,\"dependencies\":[" : ",\"partition\":false}");
	if (parent) {
		snprintf(dev, sizeof(dev), "/dev/%s", parent);
		jsonw_str(w, dev);
		jsonw_raw(w, "]}");
	}
}

/* Each disk of /sys/block, then its partitions (loop and ram devices aside). */
static int cmd_disks(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char path[PATH_MAX];
	struct dirent *d, *p;
	int n = 0;
	(void)r, (void)err;

	snprintf(path, sizeof(path), "%s/sys/block", root);
	DIR *dir = opendir(path);
	jsonw_raw(w, "[");
	while (dir && (d = readdir(dir))) {
		size_t len = strlen(d->d_name);
		if (d->d_name[0] == '.' || !strncmp(d->d_name, "loop", 4) || !strncmp(d->d_name, "ram", 3))
			continue;
		disk_entry(w, &n, d->d_name, NULL);
		snprintf(path, sizeof(path), "%s/sys/block/%s", root, d->d_name);
		DIR *parts = opendir(path);
		while (parts && (p = readdir(parts)))
			if (!strncmp(p->d_name, d->d_name, len) && p->d_name[len])
				disk_entry(w, &n, p->d_name, d->d_name);
		if (parts)
			closedir(parts);
	}
	if (dir)
		closedir(dir);
	jsonw_raw(w, "]");
	return 0;
}

/* Thaws what guest-fsfreeze-freeze froze, last frozen first; the count. */
static int thaw_all(const char *root)
{
	char path[PATH_MAX];
	int n = 0;

	while (nfrozen) {
		snprintf(path, sizeof(path), "%s%s", root, frozen[--nfrozen]);
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		n += fd >= 0 && ioctl(fd, FITHAW, 0) == 0;
		if (fd >= 0)
			close(fd);
	}
	return n;
}

/* Writable file systems on block devices, deepest first (reverse mount
 * order), as qemu-ga does: what a snapshot of the disks needs quiet. All
 * or none: a failure thaws what was frozen. */
static int cmd_freeze(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char points[FROZEN_MAX][256], path[PATH_MAX];
	struct mount m;
	FILE *f;
	int n = 0;
	(void)r;

	if (hooks.container) {
		*err = "a container's file systems are the host's: freeze them there";
		return -1;
	}
	f = mountinfo(root);
	while (f && n < FROZEN_MAX && next_mount(f, &m))
		if (m.rw)
			memcpy(points[n++], m.point, sizeof(m.point));
	if (f)
		fclose(f);
	while (n--) {
		snprintf(path, sizeof(path), "%s%s", root, points[n]);
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int rc = fd < 0 ? -1 : ioctl(fd, FIFREEZE, 0), e = errno;
		if (fd >= 0)
			close(fd);
		if (rc == 0)
			memcpy(frozen[nfrozen++], points[n], sizeof(points[n]));
		else if (e != EBUSY && e != EOPNOTSUPP) {  /* already frozen; cannot be */
			*err = strerror(e);
			thaw_all(root);
			return -1;
		}
	}
	jsonw_int(w, nfrozen);
	return 0;
}

static int cmd_thaw(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)r, (void)err;
	jsonw_int(w, thaw_all(root));
	if (hooks.thawed)
		hooks.thawed();
	return 0;
}

static int cmd_freeze_status(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, nfrozen ? "\"frozen\"" : "\"thawed\"");
	return 0;
}

/* ---- amphi's own ---- */

static long long meminfo(const char *root, const char *key)
{
	char path[PATH_MAX], line[128];
	long long kb = -1;
	size_t n = strlen(key);

	snprintf(path, sizeof(path), "%s/proc/meminfo", root);
	FILE *f = fopen(path, "re");
	while (f && kb < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			kb = strtoll(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return kb * 1024;
}

/* {"uptime","load":[1,5,15],"memory":{"total","available"},"units":[...],
 * "log":{...},"interfaces":[...]}: what amphi ctl status shows. */
static int cmd_status(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	struct sysinfo si;
	char load[64];

	sysinfo(&si);
	jsonw_raw(w, "{\"uptime\":");
	jsonw_int(w, si.uptime);
	snprintf(load, sizeof(load), ",\"load\":[%.2f,%.2f,%.2f]", si.loads[0] / 65536.0, si.loads[1] / 65536.0,
		 si.loads[2] / 65536.0);
	jsonw_raw(w, load);
	jsonw_raw(w, ",\"memory\":{\"total\":");
	jsonw_int(w, meminfo(root, "MemTotal"));
	jsonw_raw(w, ",\"available\":");
	jsonw_int(w, meminfo(root, "MemAvailable"));
	jsonw_raw(w, "}");
	if (hooks.status)
		hooks.status(w);
	jsonw_raw(w, ",\"interfaces\":");
	if (cmd_interfaces(root, r, w, err) < 0)
		jsonw_raw(w, "[]");
	jsonw_raw(w, "}");
	return 0;
}

static int cmd_restart(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char name[64];
	(void)root;

	if (jsontok_str(&r->doc, agentreq_arg(r, "name"), name, sizeof(name)) < 0) {
		*err = "'name' must name a service";
		return -1;
	}
	if (!hooks.restart || hooks.restart(name) < 0) {
		*err = "no such service";
		return -1;
	}
	jsonw_raw(w, "{}");
	return 0;
}

/* ---- the table ---- */

static const struct cmd {
	const char *name;
	cmd_fn fn;
	unsigned char no_reply;      /* success-response false */
	unsigned char while_frozen;  /* qemu-ga's allowlist while frozen */
} cmds[] = {
	{ "guest-sync", cmd_sync, 0, 1 },
	{ "guest-sync-delimited", cmd_sync, 0, 1 },
	{ "guest-ping", cmd_empty, 0, 1 },
	{ "guest-info", cmd_info, 0, 1 },
	{ "guest-shutdown", cmd_shutdown, 1, 0 },
	{ "guest-get-time", cmd_get_time, 0, 0 },
	{ "guest-set-time", cmd_set_time, 0, 0 },
	{ "guest-network-get-interfaces", cmd_interfaces, 0, 0 },
	{ "guest-get-host-name", cmd_host_name, 0, 0 },
	{ "guest-get-osinfo", cmd_osinfo, 0, 0 },
	{ "guest-get-timezone", cmd_timezone, 0, 0 },
	{ "guest-get-users", cmd_users, 0, 0 },
	{ "guest-get-fsinfo", cmd_fsinfo, 0, 0 },
	{ "guest-get-disks", cmd_disks, 0, 0 },
	{ "guest-fsfreeze-status", cmd_freeze_status, 0, 1 },
	{ "guest-fsfreeze-freeze", cmd_freeze, 0, 0 },
	{ "guest-fsfreeze-thaw", cmd_thaw, 0, 1 },
	{ "amphi-status", cmd_status, 0, 1 },
	{ "amphi-restart", cmd_restart, 0, 0 },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static int cmd_info(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, "{\"version\":\"" AMPHI_VERSION "\",\"supported_commands\":[");
	for (size_t i = 0; i < NCMDS; i++) {
		jsonw_raw(w, i ? ",{\"name\":" : "{\"name\":");
		jsonw_str(w, cmds[i].name);
		jsonw_raw(w, nfrozen && !cmds[i].while_frozen ? ",\"enabled\":false" : ",\"enabled\":true");
		jsonw_raw(w, cmds[i].no_reply ? ",\"success-response\":false}" : ",\"success-response\":true}");
	}
	jsonw_raw(w, "]}");
	return 0;
}

static void error(struct jsonw *w, const char *class, const char *desc)
{
	jsonw_raw(w, "{\"error\":{\"class\":\"");
	jsonw_raw(w, class);
	jsonw_raw(w, "\",\"desc\":");
	jsonw_str(w, desc);
	jsonw_raw(w, "}");
}

void agentcmd_refuse(struct jsonw *w, const char *why)
{
	w->len = 0;
	w->overflow = 0;
	error(w, "GenericError", why);
	jsonw_raw(w, "}\n");
}

static void end(struct jsonw *w, const struct agentreq *r)
{
	if (r->id >= 0) {
		size_t n;
		const char *id = jsontok_raw(&r->doc, r->id, &n);
		jsonw_raw(w, ",\"id\":");
		jsonw_rawn(w, id, n);
	}
	jsonw_raw(w, "}\n");
}

enum agentcmd_send agentcmd_run(const char *root, const char *req, size_t len, struct jsonw *w)
{
	static struct agentreq r;
	const char *why = NULL;
	char name[64], text[128];

	if (agentreq_parse(&r, req, len, &why) < 0) {
		agentcmd_refuse(w, why);
		return AGENTCMD_REPLY;
	}
	/* The name is the host's: a long or odd one is no command of ours. */
	const struct cmd *c = cmds;
	if (jsontok_str(&r.doc, r.execute, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "(unreadable)");
	while (c < cmds + NCMDS && strcmp(c->name, name))
		c++;
	if (c == cmds + NCMDS || (nfrozen && !c->while_frozen)) {
		snprintf(text, sizeof(text), c == cmds + NCMDS ? "The command %s has not been found"
							      : "The command %s has been disabled for this instance", name);
		error(w, "CommandNotFound", text);
		end(w, &r);
		return AGENTCMD_REPLY;
	}
	jsonw_raw(w, "{\"return\":");
	int rc = c->fn(root, &r, w, &why);
	if (rc == 1)
		return AGENTCMD_NONE;
	if (rc < 0 || w->overflow) {
		snprintf(text, sizeof(text), "%s: %s", name, rc < 0 ? why : "the reply does not fit the agent's buffer");
		w->len = 0;
		w->overflow = 0;
		error(w, "GenericError", text);
	}
	end(w, &r);
	return strcmp(name, "guest-sync-delimited") ? AGENTCMD_REPLY : AGENTCMD_DELIMITED;
}
