/* PID 1's control FIFO: one-line messages from helpers it started (the
 * DHCP client's event script), read in the loop. A FIFO rather than a
 * signal: it carries data, and a writer never blocks on it. */
#ifndef AMPHI_CONTROL_H
#define AMPHI_CONTROL_H

#define CONTROL_DIR "/run/amphi"
#define CONTROL_FIFO CONTROL_DIR "/control"
#define CONTROL_LINE_MAX 1024  /* < PIPE_BUF: one write is one message */

/* PID 1: make the FIFO under root and listen. 0 or -errno. */
int control_listen(const char *root);
/* A helper: send one line (no newline needed). 0 or -errno. */
int control_send(const char *root, const char *line);

#endif
