/* A staged tree written out through libarchive: a cpio, a tar, a
 * SquashFS image (mksquashfs fed a tar), a directory. */
#include "manifest.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const unsigned kind_type[] = {
	[MF_DIR] = AE_IFDIR, [MF_FILE] = AE_IFREG, [MF_DATA] = AE_IFREG,
	[MF_SYMLINK] = AE_IFLNK, [MF_CHARDEV] = AE_IFCHR,
};

/* Fills a libarchive entry; for files, returns the open host fd in *fd. */
static int fill_entry(const struct manifest *m, const struct manifest_entry *e, size_t ino,
		      struct archive_entry *ae, int *fd, char *err, size_t errlen)
{
	struct stat st;

	*fd = -1;
	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, e->path);
	archive_entry_set_filetype(ae, kind_type[e->kind]);
	archive_entry_set_perm(ae, e->mode);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, m->mtime, 0);
	archive_entry_set_ino64(ae, (la_int64_t)ino);
	archive_entry_set_nlink(ae, e->kind == MF_DIR ? 2 : 1);
	archive_entry_set_size(ae, 0);
	switch (e->kind) {
	case MF_FILE:
		if ((*fd = open(e->source, O_RDONLY | O_CLOEXEC)) < 0 || fstat(*fd, &st) < 0) {
			snprintf(err, errlen, "%s: %s", e->source, strerror(errno));
			return -1;
		}
		archive_entry_set_size(ae, st.st_size);
		break;
	case MF_DATA:
		archive_entry_set_size(ae, (la_int64_t)e->len);
		break;
	case MF_SYMLINK:
		archive_entry_set_symlink(ae, e->source);
		break;
	case MF_CHARDEV:
		archive_entry_set_rdev(ae, makedev(e->rmajor, e->rminor));
		break;
	case MF_DIR:
		break;
	}
	return 0;
}

static int copy_data(struct archive *a, const struct manifest_entry *e, int fd, char *err, size_t errlen)
{
	char buf[65536];
	ssize_t n;

	if (e->kind == MF_DATA)
		return archive_write_data(a, e->data, e->len) < 0 ? -1 : 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(a, buf, (size_t)n) < 0) {
			snprintf(err, errlen, "%s: %s", e->path, archive_error_string(a));
			return -1;
		}
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", e->source, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_all(struct manifest *m, struct archive *a, int skip_devices, char *err, size_t errlen)
{
	struct archive_entry *ae = archive_entry_new();
	int r = 0;

	if (manifest_sort(m) < 0) {
		snprintf(err, errlen, "out of memory");
		archive_entry_free(ae);
		return -1;
	}
	for (size_t i = 0; r == 0 && i < m->n; i++) {
		const struct manifest_entry *e = &m->e[i];
		int fd;
		if (skip_devices && e->kind == MF_CHARDEV)
			continue;
		r = fill_entry(m, e, i + 1, ae, &fd, err, errlen);
		if (r == 0 && archive_write_header(a, ae) != ARCHIVE_OK) {
			snprintf(err, errlen, "%s: %s", e->path, archive_error_string(a));
			r = -1;
		}
		if (r == 0 && (e->kind == MF_FILE || e->kind == MF_DATA))
			r = copy_data(a, e, fd, err, errlen);
		if (fd >= 0)
			close(fd);
	}
	archive_entry_free(ae);
	return r;
}

/* Opens out_path, or fd when it is one, with a (format, filter) set up;
 * writes every entry, closes and frees a. */
static int write_archive_file(struct manifest *m, struct archive *a, const char *out_path, int fd, char *err,
			      size_t errlen)
{
	int r = -1;

	if ((fd >= 0 ? archive_write_open_fd(a, fd) : archive_write_open_filename(a, out_path)) != ARCHIVE_OK)
		snprintf(err, errlen, "%s: %s", out_path, archive_error_string(a));
	else
		r = write_all(m, a, 0, err, errlen);
	if (archive_write_close(a) != ARCHIVE_OK && r == 0) {
		snprintf(err, errlen, "%s: %s", out_path, archive_error_string(a));
		r = -1;
	}
	archive_write_free(a);
	return r;
}

int manifest_write_cpio(struct manifest *m, const char *out_path, char *err, size_t errlen)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_cpio_newc(a);
	archive_write_add_filter_gzip(a);
	/* gzip would store the current time in its header: not reproducible. */
	if (archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK) {
		snprintf(err, errlen, "libarchive: cannot turn off gzip timestamps: %s", archive_error_string(a));
		archive_write_free(a);
		return -1;
	}
	return write_archive_file(m, a, out_path, -1, err, errlen);
}

int manifest_write_tar_xz(struct manifest *m, const char *out_path, char *err, size_t errlen)
{
	struct archive *a = archive_write_new();

	/* pax_restricted: plain ustar headers unless an entry needs more (a
	 * long path); with whole-second mtimes and no atime/ctime set, no
	 * extended header carries anything that changes between builds.
	 * xz's container holds no timestamp. Two threads always: liblzma's
	 * threaded encoder cuts the same blocks whatever the thread count,
	 * but one thread would take the single-threaded encoder, whose
	 * output differs. Level 1: a Debian tree of 117 MB took xz -T2 7 s
	 * for 27 MB, where its default 6 took 24 s for 22 MB. */
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_xz(a);
	if (archive_write_set_filter_option(a, "xz", "compression-level", "1") != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "xz", "threads", "2") != ARCHIVE_OK) {
		snprintf(err, errlen, "libarchive: cannot set xz options: %s", archive_error_string(a));
		archive_write_free(a);
		return -1;
	}
	return write_archive_file(m, a, out_path, -1, err, errlen);
}

int manifest_write_squashfs(struct manifest *m, const char *out_path, char *err, size_t errlen)
{
	char when[32];
	int pipefd[2], status;
	pid_t pid;

	snprintf(when, sizeof(when), "%lld", (long long)m->mtime);
	/* mksquashfs refuses SOURCE_DATE_EPOCH beside -all-time; the time it
	 * would give is m->mtime already. Made before fork: the child only
	 * execs. */
	size_t nenv = 0;
	while (environ[nenv])
		nenv++;
	char **env = calloc(nenv + 1, sizeof(*env));
	if (!env) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0, j = 0; i < nenv; i++)
		if (strncmp(environ[i], "SOURCE_DATE_EPOCH=", 18) != 0)
			env[j++] = environ[i];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		free(env);
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		free(env);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (dup2(pipefd[0], 0) < 0 || null < 0 || dup2(null, 1) < 0)
			_exit(127);
		/* The tar has no entry for the top: -root-* give it. Every time
		 * fixed (the file system's own included) for the same bytes.
		 * zstd level 6, not its 15: a Debian tree of 117 MB took 1.0 s
		 * instead of 13.5 s, for 35 MB instead of 32. */
		char *argv[] = { "unshare", "--map-root-user", "--", "mksquashfs", "-", (char *)out_path, "-tar",
				 "-noappend", "-quiet", "-no-progress", "-comp", "zstd", "-Xcompression-level", "6",
				 "-no-xattrs", "-all-time", when, "-mkfs-time", when, "-root-mode", "755", "-root-uid",
				 "0", "-root-gid", "0", NULL };
		/* mksquashfs 4.5 gives the top, with -tar, to whoever runs it
		 * whatever -root-uid says: another user than root runs it as
		 * root of a user namespace of its own. */
		char **run = geteuid() == 0 ? argv + 3 : argv;
		execvpe(run[0], run, env);
		_exit(127);
	}
	free(env);
	close(pipefd[0]);
	/* If mksquashfs dies, the write fails with EPIPE and is said, rather
	 * than the signal ending amphi without a word. */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigaction(SIGPIPE, &ign, &old);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_none(a);
	int r = write_archive_file(m, a, out_path, pipefd[1], err, errlen);
	close(pipefd[1]);
	sigaction(SIGPIPE, &old, NULL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* If mksquashfs died first, the write failed with a broken pipe: its
	 * failure is the part worth saying. */
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		size_t used = r < 0 ? strnlen(err, errlen) : 0;
		if (r == 0 || used + 2 < errlen)
			snprintf(err + used, errlen - used, "%s%s: mksquashfs %s (its words are above); is squashfs-tools "
				 "installed (make deps)? Another user than root needs user namespaces for it (unshare -r)", r < 0 ? "; " : "", out_path,
				 WIFEXITED(status) ? "failed" : "was killed");
		r = -1;
	}
	return r;
}

int manifest_write_dir(struct manifest *m, const char *out_dir, char *err, size_t errlen)
{
	struct archive *a = archive_write_disk_new();
	char cwd[PATH_MAX];
	int r = -1;

	if (mkdir(out_dir, 0755) < 0) {
		snprintf(err, errlen, "%s: %s", out_dir, strerror(errno));
		archive_write_free(a);
		return -1;
	}
	/* libarchive's disk writer takes paths relative to the cwd. */
	if (!getcwd(cwd, sizeof(cwd)) || chdir(out_dir) < 0) {
		snprintf(err, errlen, "%s: %s", out_dir, strerror(errno));
		archive_write_free(a);
		return -1;
	}
	archive_write_disk_set_options(a, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
				       ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
				       (geteuid() == 0 ? ARCHIVE_EXTRACT_OWNER : 0));
	r = write_all(m, a, geteuid() != 0, err, errlen);
	if (archive_write_close(a) != ARCHIVE_OK && r == 0) {
		snprintf(err, errlen, "%s: %s", out_dir, archive_error_string(a));
		r = -1;
	}
	archive_write_free(a);
	if (chdir(cwd) < 0 && r == 0) {
		snprintf(err, errlen, "%s: %s", cwd, strerror(errno));
		r = -1;
	}
	return r;
}
