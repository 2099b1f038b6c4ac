/* The guest agent's commands on the system's own state: its clock, its
 * names, its network and amphi-status. Everything is read below root, so
 * that tests run these on a fixture tree. */
#include "agentsys.h"
#include "agentreq.h"
#include "netaddr.h"
#include "netlink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/rtc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

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

int agentsys_get_time(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	struct timespec ts;
	(void)root, (void)r, (void)err;

	clock_gettime(CLOCK_REALTIME, &ts);
	jsonw_int(w, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	return 0;
}

/* With a time: the clock, then the RTC, as qemu-ga's hwclock -w. Without:
 * the clock from the RTC (virsh domtime --sync), as sysfs gives it. */
int agentsys_set_time(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	char path[PATH_MAX], since[32];
	struct timespec ts = { 0 };
	long long ns;
	int t = agentreq_arg(r, "time");

	if (agentcmd_hooks_get()->container) {
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

int agentsys_host_name(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
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
int agentsys_osinfo(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
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
int agentsys_timezone(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
{
	(void)root, (void)r, (void)err;
	jsonw_raw(w, "{\"zone\":\"UTC\",\"offset\":0}");
	return 0;
}

/* amphi keeps no utmp: who is logged in on its gettys is not known. */
int agentsys_users(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
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
int agentsys_interfaces(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
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
int agentsys_status(const char *root, const struct agentreq *r, struct jsonw *w, const char **err)
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
	const struct agentcmd_hooks *hooks = agentcmd_hooks_get();
	if (hooks->status)
		hooks->status(w);
	jsonw_raw(w, ",\"interfaces\":");
	if (agentsys_interfaces(root, r, w, err) < 0)
		jsonw_raw(w, "[]");
	jsonw_raw(w, "}");
	return 0;
}
