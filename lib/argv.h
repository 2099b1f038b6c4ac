/* Splitting a command line into words, as a recipe's exec = writes it:
 * blanks separate words; '...' keeps everything literally; "..." keeps
 * blanks and allows \" and \\; a backslash outside quotes escapes the next
 * character; a word that starts with an unquoted '#' starts a comment,
 * which runs to the end. No variables, globs or redirections: for those,
 * shell = yes. */
#ifndef AMPHI_ARGV_H
#define AMPHI_ARGV_H

#include <stddef.h>

#define ARGV_MAX 64

/* Words go into buf (buflen bytes), pointers into argv (max entries, the
 * last one NULL). Returns the word count, or -1 with err set. */
int argv_split(const char *line, char *buf, size_t buflen, char *argv[], int max,
	       char *err, size_t errlen);

#endif
