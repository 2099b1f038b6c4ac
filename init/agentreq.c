#include "agentreq.h"

int agentreq_parse(struct agentreq *r, const char *js, size_t len, const char **why)
{
	int rc = jsontok_parse(&r->doc, js, len, r->tok, AGENTREQ_TOKENS, 0);

	r->execute = r->arguments = r->id = -1;
	if (rc == -2) {
		*why = "request has too many members";
		return -1;
	}
	if (rc < 0 || r->tok[0].type != JSMN_OBJECT) {
		*why = "request is not a JSON object";
		return -1;
	}
	r->execute = jsontok_member(&r->doc, 0, "execute");
	r->arguments = jsontok_member(&r->doc, 0, "arguments");
	r->id = jsontok_member(&r->doc, 0, "id");
	if (r->execute < 0 || r->tok[r->execute].type != JSMN_STRING) {
		*why = "request lacks a string member 'execute'";
		return -1;
	}
	if (r->arguments >= 0 && r->tok[r->arguments].type != JSMN_OBJECT) {
		*why = "'arguments' is not an object";
		return -1;
	}
	return 0;
}

int agentreq_arg(const struct agentreq *r, const char *name)
{
	return jsontok_member(&r->doc, r->arguments, name);
}
