/* amphi logs (logs.c) as the child that amphi run and amphi install start
 * beside the guest they boot, to read its log stream. */
#ifndef AMPHI_LOGS_H
#define AMPHI_LOGS_H

#include <sys/types.h>

/* Forks amphi logs --connect sock ARGS... (args: NULL-terminated, at most
 * 11), started once the socket is there (the guest's launcher makes it as
 * it starts; waited for up to a minute) and ended when its parent ends;
 * its stdout on out (-1: ours). Its pid, or -1 (errno). */
pid_t logs_spawn(const char *sock, int out, const char *const args[]);

#endif
