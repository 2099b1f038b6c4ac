/* One guest agent request taken apart (JSON by jsmn, no allocation):
 * {"execute": NAME, "arguments": {...}, "id": ANY}. Pure, for agent.c and
 * the fuzzer. */
#ifndef AMPHI_AGENTREQ_H
#define AMPHI_AGENTREQ_H

#define JSMN_HEADER
#include <jsmn.h>

#include <stddef.h>

/* A request of AGENTFRAME_MAX bytes has no use for more. */
#define AGENTREQ_TOKENS 64

struct agentreq {
	const char *js;
	int ntok;
	int execute, arguments, id;  /* token indexes, -1 when absent */
	jsmntok_t tok[AGENTREQ_TOKENS];
};

/* 0, or -1 with *why saying what is wrong (for the error reply). */
int agentreq_parse(struct agentreq *r, const char *js, size_t len, const char **why);
/* Is token t the string s? */
int agentreq_is(const struct agentreq *r, int t, const char *s);
/* The token of argument name, or -1. */
int agentreq_arg(const struct agentreq *r, const char *name);
/* A JSON integer as 64 bits exactly (never through a double); 0 or -1. */
int agentreq_int(const struct agentreq *r, int t, long long *out);
/* A JSON string, its escapes undone; 0, or -1 if it is not a string, does
 * not fit out, or holds a NUL. */
int agentreq_str(const struct agentreq *r, int t, char *out, size_t outlen);
/* The raw text of token t, a string's quotes included (an id is echoed
 * as it came). */
const char *agentreq_raw(const struct agentreq *r, int t, size_t *len);

#endif
