/* Log files the recipe names ([log] files), followed like tail -F: read
 * from the start when they appear, line by line as they grow, again from
 * the start when truncated or replaced. inotify on the directory, so a
 * file that does not exist yet is picked up when it is created. */
#ifndef AMPHI_LOGFILE_H
#define AMPHI_LOGFILE_H

#include "recipe.h"

void logfile_start(const char *root, const struct recipe_list *paths);
/* Before the machine goes down: what the files hold, to the last line,
 * newline or not. */
void logfile_flush(void);

#endif
