/* Sources beyond the init's own lines and its children's output: the
 * kernel's /dev/kmsg (a VM; LXC gives containers none) and a syslog
 * socket at /dev/log for syslog(3) and busybox logger. */
#ifndef AMPHI_LOGSRC_H
#define AMPHI_LOGSRC_H

#include "detect.h"

void logsrc_start(const char *root, enum world world);

#endif
