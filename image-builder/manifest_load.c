/* What comes into a staged tree from the host: a tar's entries, a
 * directory's files. */
#include "manifest.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int manifest_add_tar(struct manifest *m, const char *tar_path, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char *buf = NULL;
	int r = 0, got;

	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, tar_path, 1 << 16) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", tar_path, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	while (r == 0 && (got = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		char path[PATH_MAX];
		const char *link = archive_entry_hardlink(ae);
		mode_t type = archive_entry_filetype(ae);
		unsigned mode = archive_entry_perm(ae) & 07777;
		snprintf(path, sizeof(path), "%s", archive_entry_pathname(ae));
		manifest_normalize(path);
		if (!path[0] || (!strncmp(path, "dev/", 4) && type != AE_IFDIR))
			continue;
		if (link) {
			char target[PATH_MAX];
			snprintf(target, sizeof(target), "%s", link);
			manifest_normalize(target);
			struct manifest_entry *t = manifest_find(m, target);
			if (!t || t->kind != MF_DATA) {
				snprintf(err, errlen, "%s: %s: a hard link to '%s', which it does not hold before", tar_path,
					 path, target);
				r = -1;
				break;
			}
			struct manifest_entry copy = *t;
			copy.path = path;
			r = manifest_copy(m, &copy);
			continue;
		}
		switch (type) {
		case AE_IFDIR:
			r = manifest_dir(m, path, mode);
			break;
		case AE_IFLNK:
			r = manifest_symlink(m, path, archive_entry_symlink(ae));
			break;
		case AE_IFREG: {
			la_int64_t size = archive_entry_size(ae);
			char *data = malloc(size > 0 ? (size_t)size : 1);
			if (!data || (size > 0 && archive_read_data(a, data, (size_t)size) != size)) {
				snprintf(err, errlen, "%s: %s: %s", tar_path, path, data ? archive_error_string(a) : "out of memory");
				free(data);
				r = -1;
				continue;
			}
			r = manifest_data(m, path, mode, data, (size_t)size);
			free(data);
			break;
		}
		default:
			continue;  /* devices, FIFOs */
		}
		if (r == 0)
			r = manifest_chown(m, path, (unsigned)archive_entry_uid(ae), (unsigned)archive_entry_gid(ae));
		if (r < 0 && !err[0])
			snprintf(err, errlen, "%s: %s: out of memory", tar_path, path);
	}
	if (r == 0 && got != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", tar_path, archive_error_string(a));
		r = -1;
	}
	free(buf);
	archive_read_free(a);
	return r;
}

int manifest_tree(struct manifest *m, const char *path, const char *host_dir, char *err, size_t errlen)
{
	DIR *d = opendir(host_dir);
	struct dirent *de;
	int r = 0;

	if (!d) {
		snprintf(err, errlen, "%s: %s", host_dir, strerror(errno));
		return -1;
	}
	while (r == 0 && (de = readdir(d))) {
		char src[PATH_MAX], dst[PATH_MAX], target[PATH_MAX];
		struct stat st;
		ssize_t n;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(src, sizeof(src), "%s/%s", host_dir, de->d_name);
		snprintf(dst, sizeof(dst), "%s%s%s", path, path[0] ? "/" : "", de->d_name);
		if (lstat(src, &st) < 0) {
			snprintf(err, errlen, "%s: %s", src, strerror(errno));
			r = -1;
		} else if (S_ISDIR(st.st_mode)) {
			r = manifest_dir(m, dst, st.st_mode & 07777);
			if (r == 0)
				r = manifest_tree(m, dst, src, err, errlen);
		} else if (S_ISREG(st.st_mode)) {
			r = manifest_file(m, dst, st.st_mode & 07777, src);
		} else if (S_ISLNK(st.st_mode) && (n = readlink(src, target, sizeof(target) - 1)) > 0) {
			target[n] = '\0';
			r = manifest_symlink(m, dst, target);
		} else {
			snprintf(err, errlen, "%s: only directories, files and symlinks belong in a skeleton", src);
			r = -1;
		}
		if (r < 0 && !err[0])
			snprintf(err, errlen, "out of memory");
	}
	closedir(d);
	return r;
}
