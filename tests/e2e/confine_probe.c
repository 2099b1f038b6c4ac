/* What a hostile root in a container tries first: load a kernel module,
 * open a host file by handle. Prints the errno each attempt gets; nothing
 * can load or open, whatever the confinement: finit_module gets fd -1 and
 * open_by_handle_at a handle of inode 0. Built static by the e2e tests
 * (confinement.py) and run inside the container. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	/* Linux checks CAP_SYS_MODULE before the fd: EPERM without it,
	 * EBADF with it (kernel/module/main.c, may_init_module). */
	long r = syscall(SYS_finit_module, -1, "", 0);
	printf("finit_module errno=%d\n", r < 0 ? errno : 0);
	/* struct file_handle: handle_bytes, handle_type (1: ino32 + gen). */
	struct { unsigned int bytes; int type; unsigned char handle[8]; } fh = { 8, 1, { 0 } };
	r = syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY);
	printf("open_by_handle_at errno=%d\n", r < 0 ? errno : 0);
	return 0;
}
