/* The floor for benchmarks: the least a PID 1 can do. It says it is ready
 * on the console and waits; a stop signal ends the container or VM. Every
 * other contender is measured against it.
 *
 * With AMPHI_BENCH_RSS in its environment (the VM's kernel command line
 * gives it to init: bench/extras.py's memory section boots the VM with
 * AMPHI_BENCH_RSS=1) it also prints "rss-idle VmRSS: N kB Rss: M kB", its
 * own /proc/self/status and /proc/self/smaps_rollup lines (the guest kernel's
 * VmRSS lags for a process with few page faults; Rss is a page table walk),
 * on the console 1 s after the ready line. Without
 * it (the boot table, LXC) nothing of this runs. */
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

/* Whether s begins with p (strncmp or getenv would double the code). */
static int starts(const char *s, const char *p)
{
	while (*p && *s == *p)
		s++, p++;
	return !*p;
}

/* Writes the line of PATH that begins with KEY, its newline as END. */
static void print_field(int con, const char *path, const char *key, char end)
{
	char buf[2048]; /* on the stack: no page of it before this runs */
	ssize_t n, i, j;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0) { /* a VM's initramfs has /proc, not mounted */
		mount("proc", "/proc", "proc", 0, NULL);
		fd = open(path, O_RDONLY);
	}
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	for (i = 0; i < n; i = j + 1) {
		for (j = i; j < n && buf[j] != '\n'; j++)
			;
		if (j < n && (buf[j] = '\0', starts(buf + i, key))) {
			buf[j] = end;
			(void)!write(con, buf + i, j - i + 1);
			return;
		}
	}
}

int main(int argc, char **argv, char **envp)
{
	static const char ready[] = "amphi: ready env=floor in 0 ms\n";
	sigset_t all;
	int sig, fd;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd < 0) {
		/* A VM's initramfs may lack the node; never in LXC, whose /dev a
		 * devtmpfs would hide (the host's console behind it). */
		mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
		fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	}
	if (fd >= 0 && write(fd, ready, sizeof(ready) - 1) < 0)
		return 1;
	(void)argc, (void)argv;
	for (; fd >= 0 && *envp; envp++)
		if (starts(*envp, "AMPHI_BENCH_RSS="))
			alarm(1);
	for (;;) {
		if (sigwait(&all, &sig) != 0)
			continue;
		if (sig == SIGCHLD)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		else if (sig == SIGALRM) {
			(void)!write(fd, "rss-idle ", 9);
			print_field(fd, "/proc/self/status", "VmRSS:", ' ');
			print_field(fd, "/proc/self/smaps_rollup", "Rss:", '\n');
		}
		else if (sig == SIGINT || sig == SIGTERM)
			reboot(RB_AUTOBOOT);
		else
			reboot(RB_POWER_OFF);
	}
}
