/* The control FIFO's messages (control.h): its bytes cut into lines, a
 * line into its first word and the rest, a DHCP message "IFACE EVENT
 * key=value ..." into its parts. Pure, so that it is fuzzed
 * (tests/fuzz/fuzz_control.c). */
#ifndef AMPHI_CTLMSG_H
#define AMPHI_CTLMSG_H

#include "control.h"

#include <stddef.h>

struct ctlmsg_reader {
	size_t len;
	char line[CONTROL_LINE_MAX];
};

/* Takes p[0..n): fn gets each line without its LF, NUL-terminated; what
 * goes past CONTROL_LINE_MAX - 1 bytes, up to the LF, is dropped. */
void ctlmsg_feed(struct ctlmsg_reader *r, const char *p, size_t n, void (*fn)(char *line));

/* Ends line after its first word; returns the rest ("" if none). */
char *ctlmsg_first_word(char *line);

#define CTLMSG_KV_MAX 32
struct ctlmsg_dhcp {
	char *iface, *event; /* NULL if missing */
	char *kv[CTLMSG_KV_MAX];
	int nkv;
};
/* Splits msg in place at spaces; words past CTLMSG_KV_MAX are ignored. */
void ctlmsg_dhcp_parse(char *msg, struct ctlmsg_dhcp *m);
/* The value of key=value in m, or "". */
const char *ctlmsg_dhcp_field(const struct ctlmsg_dhcp *m, const char *key);

#endif
