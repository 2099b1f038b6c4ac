/* The console: where the init's own lines go and what children inherit. */
#ifndef AMPHI_CONSOLE_H
#define AMPHI_CONSOLE_H

/* Opens /dev/console (a container manager may have given us /dev/null),
 * makes it fds 0-2 for children, and points the log at it. Returns 0 or -errno. */
int console_open(void);

/* In a child: new session with the console as controlling terminal, so job
 * control and Ctrl-C work in a shell. */
void console_make_controlling(void);

#endif
