/* Guest text made safe for a terminal or a file (logescape.c): what both
 * of amphi logs' readers, its store and amphi ctl show of a guest. */
#ifndef AMPHI_LOGESCAPE_H
#define AMPHI_LOGESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* Escapes n bytes of untrusted text for a terminal or a file: C0, DEL, C1,
 * the characters that reorder or hide text (bidi controls, zero-width and
 * invisible format characters, U+2028/9, the BOM, tags) and invalid UTF-8
 * become \xHH per byte. With json, a JSON string body (\uXXXX). out needs
 * room for 6 * n + 1 bytes. Returns the new end of out (NUL-terminated). */
char *logs_escape(char *out, const char *s, size_t n, int json);
/* sysUpTime (hundredths, RFC 5424 §7.3.2) as seconds: "12.34". Returns
 * the new end of out (not terminated). */
char *logs_put_uptime(char *out, int64_t cs);

#endif
