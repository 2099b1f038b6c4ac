/* One guest agent request taken apart: {"execute": NAME, "arguments":
 * {...}, "id": ANY}. Pure, for agent.c and the fuzzer. */
#ifndef AMPHI_AGENTREQ_H
#define AMPHI_AGENTREQ_H

#include "jsontok.h"

#include <stddef.h>

/* A request of AGENTFRAME_MAX bytes has no use for more. */
#define AGENTREQ_TOKENS 64

struct agentreq {
	struct jsontok doc;
	int execute, arguments, id;  /* token indexes, -1 when absent */
	jsmntok_t tok[AGENTREQ_TOKENS];
};

/* 0, or -1 with *why saying what is wrong (for the error reply). */
int agentreq_parse(struct agentreq *r, const char *js, size_t len, const char **why);
/* The token of argument name, or -1. */
int agentreq_arg(const struct agentreq *r, const char *name);

#endif
