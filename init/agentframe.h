/* The guest agent's requests cut out of the byte stream from the host
 * (QEMU's guest agent protocol): a request is a JSON object, complete when
 * its braces balance outside strings; nothing marks its end. Pure, so that
 * it is unit tested and fuzzed (tests/fuzz/fuzz_agent.c). */
#ifndef AMPHI_AGENTFRAME_H
#define AMPHI_AGENTFRAME_H

#include <stddef.h>

/* The longest request taken (libvirt's longest is under 200 bytes), and
 * the deepest nesting. Longer or deeper ones are read to their end and
 * answered with an error, never kept. */
#define AGENTFRAME_MAX 4096
#define AGENTFRAME_DEPTH 8

enum agentframe_what {
	AGENTFRAME_REQUEST,   /* req[0..len): one object, NUL-terminated */
	AGENTFRAME_TOO_LONG,  /* an object over AGENTFRAME_MAX or too deep */
	AGENTFRAME_GARBAGE,   /* bytes outside an object, or a control byte in one */
};

struct agentframe {
	size_t len;
	int depth, in_string, escaped, over, garbage;
	char buf[AGENTFRAME_MAX + 1];
};

typedef void (*agentframe_fn)(enum agentframe_what what, const char *req, size_t len, void *ctx);

/* Forgets any partial request: a reconnected host starts afresh. */
void agentframe_reset(struct agentframe *f);
/* Takes p[0..n). A byte 0xFF (what guest-sync-delimited's clients send
 * to flush) drops a partial request without a word; any other control
 * byte there ends it as AGENTFRAME_GARBAGE. A run of garbage between
 * objects is reported once, when the next object starts or a reset
 * comes; whitespace between objects is not garbage. */
void agentframe_feed(struct agentframe *f, const char *p, size_t n, agentframe_fn fn, void *ctx);

#endif
