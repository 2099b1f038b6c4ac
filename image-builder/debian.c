/* The Debian tree a recipe's packages = lines ask for: made by mmdebstrap
 * from this host's own apt sources, kept as a tar in the cache, and taken
 * again while nothing that made it changed (a warm build needs no network).
 *
 * The cache key is the whole text of what goes in (suite, sources, the
 * packages, the setup commands, the time stamp), stored beside the tar and
 * compared in full: a hash only names the file. The .debs are kept too, so
 * a changed recipe downloads only what it adds. */
#include "debian.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define APT_DIR "/etc/apt"
#define MAX_SOURCES 32

/* What apt itself reads: sources.list and sources.list.d's *.list and
 * *.sources, in name order; AMPHI_APT_SOURCES names one file instead. */
static int apt_sources(char list[][PATH_MAX], int *n, char *err, size_t errlen)
{
	const char *env = getenv("AMPHI_APT_SOURCES");
	struct dirent **names;
	int k;

	*n = 0;
	if (env && *env) {
		snprintf(list[(*n)++], PATH_MAX, "%s", env);
		return 0;
	}
	if (access(APT_DIR "/sources.list", R_OK) == 0)
		snprintf(list[(*n)++], PATH_MAX, "%s", APT_DIR "/sources.list");
	if ((k = scandir(APT_DIR "/sources.list.d", &names, NULL, alphasort)) < 0)
		k = 0;
	for (int i = 0; i < k; i++) {
		const char *d = names[i]->d_name;
		size_t len = strlen(d);
		int ours = (len > 5 && !strcmp(d + len - 5, ".list")) || (len > 8 && !strcmp(d + len - 8, ".sources"));
		if (ours && d[0] != '.' && *n < MAX_SOURCES)
			snprintf(list[(*n)++], PATH_MAX, "%s/sources.list.d/%s", APT_DIR, d);
		free(names[i]);
	}
	free(k ? names : NULL);
	if (*n == 0) {
		snprintf(err, errlen, "packages: this host has no apt sources (%s/sources.list, %s/sources.list.d/*.sources); "
			 "add Debian's, or name a sources file with AMPHI_APT_SOURCES", APT_DIR, APT_DIR);
		return -1;
	}
	return 0;
}

/* The host's release (bookworm): the packages come from the same. */
static int host_suite(char *out, size_t outlen, char *err, size_t errlen)
{
	char line[256];
	FILE *f = fopen("/etc/os-release", "re");

	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VERSION_CODENAME=", 17)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, outlen, "%s", line + 17 + (line[17] == '"'));
			out[strcspn(out, "\"")] = '\0';
		}
	if (f)
		fclose(f);
	if (!out[0]) {
		snprintf(err, errlen, "packages: /etc/os-release names no VERSION_CODENAME; amphi builds Debian "
			 "trees on a Debian host (bookworm)");
		return -1;
	}
	return 0;
}

/* The setup lines as one script: each in a subshell, and the first that
 * fails says its recipe line so the error can point there. */
static int setup_script(const struct build_src *b, const char *path, char *err, size_t errlen)
{
	struct strbuf s = { 0 };
	int rc = strbuf_printf(&s, "# amphi: [image] setup of %s\n", b->recipe_path);

	for (int i = 0; rc == 0 && i < b->r->nsetup; i++)
		rc = strbuf_printf(&s, "( %s\n) || { echo \"amphi-setup-failed %d $?\" >&2; exit 1; }\n",
				   b->r->setup[i].cmd, b->r->setup[i].line);
	if (rc == 0)
		rc = write_file(path, 0644, s.s, s.len, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	free(s.s);
	return rc;
}

/* Single quotes for a hook's sh: our own cache paths, refused with a quote. */
static int hook(char *out, size_t outlen, const char *fmt, const char *a, const char *c)
{
	if (strchr(a, '\'') || (c && strchr(c, '\'')))
		return -1;
	snprintf(out, outlen, fmt, a, c);
	return 0;
}

/* apt's and mmdebstrap's words, taken apart for the recipe's reader. */
static void explain(const struct build_src *b, const char *log, int status, char *err, size_t errlen)
{
	char line[1024], last[1024] = "", net[1024] = "";
	FILE *f = fopen(log, "re");
	int setup_line = 0, setup_rc = 0, no_mode = 0;

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char pkg[128];
		if (sscanf(line, "amphi-setup-failed %d %d", &setup_line, &setup_rc) == 2)
			continue;
		if (sscanf(line, "E: Unable to locate package %127s", pkg) == 1 ||
		    sscanf(line, "E: Package '%127[^']' has no installation candidate", pkg) == 1) {
			for (int i = 0; i < b->r->packages.n; i++) {
				const char *want = b->r->packages.item[i];
				if (!strncmp(want, pkg, strcspn(want, "=")) && strlen(pkg) == strcspn(want, "=")) {
					snprintf(err, errlen, "%s:%d: packages: apt says: %s; check the name (apt-cache search %s)",
						 b->recipe_path, b->r->packages_line[i], line, pkg);
					fclose(f);
					return;
				}
			}
		}
		if (strstr(line, "Failed to fetch") || strstr(line, "Temporary failure resolving") ||
		    strstr(line, "Could not connect") || strstr(line, "Unable to connect") ||
		    strstr(line, "Could not resolve"))
			snprintf(net, sizeof(net), "%s", line);
		if (strstr(line, "unable to pick chroot mode"))
			no_mode = 1;
		if (!strncmp(line, "E: ", 3))
			snprintf(last, sizeof(last), "%s", line);
	}
	if (f)
		fclose(f);
	if (setup_line)
		snprintf(err, errlen, "%s:%d: setup failed with exit status %d; its output is in %s", b->recipe_path,
			 setup_line, setup_rc, log);
	else if (no_mode) {
		struct passwd *pw = getpwuid(geteuid());
		const char *who = pw ? pw->pw_name : "this user";
		snprintf(err, errlen, "%s:%d: packages: mmdebstrap cannot make a tree as %s: another user than root "
			 "needs user namespaces and its own ranges in /etc/subuid and /etc/subgid (as root: usermod "
			 "--add-subuids 200000-265535 --add-subgids 200000-265535 %s); or build as root. Whole log: %s",
			 b->recipe_path, b->r->packages_line[0], who, who, log);
	} else if (net[0])
		snprintf(err, errlen, "%s:%d: packages: no apt source could be reached (%s), and the cache has no tree "
			 "for this recipe yet; connect this host to its Debian mirror (the sources in %s), then build "
			 "again. Whole log: %s", b->recipe_path, b->r->packages_line[0], net, APT_DIR, log);
	else
		snprintf(err, errlen, "%s:%d: packages: mmdebstrap %s %d%s%s; whole log: %s", b->recipe_path,
			 b->r->packages_line[0], WIFEXITED(status) ? "failed with exit status" : "was killed by signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), last[0] ? ": " : "", last, log);
}

/* Reads mmdebstrap's words into the log; on a terminal its latest line
 * stands in one place as progress. */
static void follow(int fd, FILE *log)
{
	FILE *in = fdopen(fd, "r");
	int tty = isatty(1);
	char line[512];

	while (in && fgets(line, sizeof(line), in)) {
		fputs(line, log);
		if (tty && (!strncmp(line, "I: ", 3) || !strncmp(line, "E: ", 3))) {
			line[strcspn(line, "\n")] = '\0';
			printf("\r\033[Kbuild: packages: %.70s", line);
			fflush(stdout);
		}
	}
	if (tty) {
		printf("\r\033[K");
		fflush(stdout);
	}
	if (in)
		fclose(in);
}

static int run_mmdebstrap(char **argv, const char *log_path, time_t mtime, int *status, char *err, size_t errlen)
{
	int fds[2];
	FILE *log = fopen(log_path, "we");
	pid_t pid;

	if (!log || pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: %s", log_path, strerror(errno));
		if (log)
			fclose(log);
		return -1;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		char when[32];
		snprintf(when, sizeof(when), "%lld", (long long)mtime);
		setenv("SOURCE_DATE_EPOCH", when, 1);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "E: cannot run mmdebstrap: %s; make deps installs it\n", strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		fclose(log);
		return -1;
	}
	follow(fds[0], log);
	fclose(log);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

int debian_tree(const struct build_src *b, int refresh, char out[PATH_MAX], char *err, size_t errlen)
{
	static char sources[MAX_SOURCES][PATH_MAX];
	char suite[64], dir[PATH_MAX], base[PATH_MAX], debs[PATH_MAX];
	struct strbuf key = { 0 };
	int nsources;

	if (apt_sources(sources, &nsources, err, errlen) < 0 || host_suite(suite, sizeof(suite), err, errlen) < 0)
		return -1;
	/* Everything that shapes the tree, in full. */
	int rc = strbuf_printf(&key, "amphi debian tree 4\nsuite %s\ntime %lld\n", suite, (long long)b->mtime);
	for (int i = 0; rc == 0 && i < b->r->packages.n; i++)
		rc = strbuf_printf(&key, "package %s\n", b->r->packages.item[i]);
	for (int i = 0; rc == 0 && i < b->r->nsetup; i++)
		rc = strbuf_printf(&key, "setup %s\n", b->r->setup[i].cmd);
	for (int i = 0; rc == 0 && i < nsources; i++) {
		char *text;
		size_t len;
		if (read_file(sources[i], &text, &len, err, errlen) < 0) {
			free(key.s);
			return -1;
		}
		rc = strbuf_printf(&key, "source %s\n", sources[i]) < 0 || strbuf_add(&key, text, len) < 0 ? -1 : 0;
		free(text);
	}
	if (rc < 0) {
		free(key.s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}

	snprintf(dir, sizeof(dir), "%s/debian", b->in->cache);
	snprintf(debs, sizeof(debs), "%s/debs", dir);
	if (mkdir(b->in->cache, 0755) < 0 && errno != EEXIST)
		goto io;
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || (mkdir(debs, 0755) < 0 && errno != EEXIST))
		goto io;
	snprintf(base, sizeof(base), "%s/%016llx", dir, hash64(HASH64_START, key.s, key.len));
	snprintf(out, PATH_MAX, "%s.tar", base);

	char keypath[PATH_MAX], *had = NULL;
	size_t hadlen = 0;
	snprintf(keypath, sizeof(keypath), "%s.key", base);
	if (!refresh && access(out, R_OK) == 0 && read_file(keypath, &had, &hadlen, err, errlen) == 0 &&
	    hadlen == key.len && memcmp(had, key.s, hadlen) == 0) {
		free(had);
		free(key.s);
		printf("build: packages: the Debian tree from the cache (%s)\n", out);
		return 0;
	}
	free(had);
	err[0] = '\0';

	char tmp[PATH_MAX], log[PATH_MAX], script[PATH_MAX], h_in[PATH_MAX * 2], h_out[PATH_MAX * 2],
		h_copy[PATH_MAX * 2], h_run[PATH_MAX], include[RECIPE_LIST_MAX * RECIPE_WORD_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s.tar.new", base);
	snprintf(log, sizeof(log), "%s.log", base);
	snprintf(script, sizeof(script), "%s.setup", base);
	size_t used = (size_t)snprintf(include, sizeof(include), "--include=");
	for (int i = 0; i < b->r->packages.n; i++)
		used += (size_t)snprintf(include + used, sizeof(include) - used, "%s%s", i ? "," : "",
					 b->r->packages.item[i]);
	/* Docs, man pages and locales go (copyright files stay). */
	char *argv[32 + MAX_SOURCES] = {
		"mmdebstrap", "--variant=essential", "--format=tar", include, "--skip=essential/unlink",
		"--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
		"--dpkgopt=path-include=/usr/share/doc/*/copyright", "--dpkgopt=path-exclude=/usr/share/locale/*",
		"--dpkgopt=path-exclude=/usr/share/info/*", "--dpkgopt=path-exclude=/usr/share/lintian/*",
		"--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives",
		/* merged /usr by debootstrap's symlinks, with usr-is-merged: else
		 * apt takes the usrmerge package, and perl with it (47 MB). */
		"--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
	};
	int n = 13;
	if (hook(h_in, sizeof(h_in), "--setup-hook=sync-in '%s' /var/cache/apt/archives/", debs, NULL) < 0 ||
	    hook(h_out, sizeof(h_out), "--customize-hook=sync-out /var/cache/apt/archives '%s'", debs, NULL) < 0 ||
	    hook(h_copy, sizeof(h_copy), "--customize-hook=copy-in '%s' /tmp", script, NULL) < 0) {
		snprintf(err, errlen, "%s: a path with a quote (') cannot go to mmdebstrap's hooks; set AMPHI_CACHE", dir);
		free(key.s);
		return -1;
	}
	argv[n++] = h_in;
	argv[n++] = h_out;
	if (b->r->nsetup) {
		if (setup_script(b, script, err, errlen) < 0) {
			free(key.s);
			return -1;
		}
		snprintf(h_run, sizeof(h_run), "--customize-hook=chroot \"$1\" /bin/sh /tmp/%s; s=$?; rm -f \"$1\"/tmp/%s; exit $s",
			 strrchr(script, '/') + 1, strrchr(script, '/') + 1);
		argv[n++] = h_copy;
		argv[n++] = h_run;
	}
	/* The essential packages are unpacked before dpkg's filters apply. */
	argv[n++] = "--customize-hook=cd \"$1\"/usr/share && find man locale info lintian doc ! -type d "
		    "! -name copyright -delete 2>/dev/null; true";
	/* mmdebstrap copies in the host's; the init writes its own. apt,
	 * which mmdebstrap runs outside the tree, leaves its lock and the
	 * archive directory to the builder: another user's (unshare mode)
	 * would be the tree's, where root's is root's. */
	argv[n++] = "--customize-hook=rm -f \"$1\"/etc/resolv.conf \"$1\"/etc/hostname "
		    "\"$1\"/var/cache/apt/archives/lock && chown 0:0 \"$1\"/var/cache/apt/archives";
	argv[n++] = "--";
	argv[n++] = suite;
	argv[n++] = tmp;
	for (int i = 0; i < nsources; i++)
		argv[n++] = sources[i];
	argv[n] = NULL;

	printf("build: packages: making the Debian tree with mmdebstrap (%d package%s and their dependencies; "
	       "log in %s)\n", b->r->packages.n, b->r->packages.n == 1 ? "" : "s", log);
	int status = 0;
	unlink(tmp);
	if (run_mmdebstrap(argv, log, b->mtime, &status, err, errlen) < 0) {
		free(key.s);
		return -1;
	}
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		unlink(tmp);
		free(key.s);
		explain(b, log, status, err, errlen);
		return -1;
	}
	rc = rename(tmp, out) < 0 ? -1 : write_file(keypath, 0644, key.s, key.len, err, errlen);
	free(key.s);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "%s: %s", out, strerror(errno));
	return rc;
io:
	free(key.s);
	snprintf(err, errlen, "%s: %s; the Debian cache goes there (AMPHI_CACHE names another place)", dir,
		 strerror(errno));
	return -1;
}
