#include "ctlmsg.h"

#include <string.h>

void ctlmsg_feed(struct ctlmsg_reader *r, const char *p, size_t n, void (*fn)(char *line))
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			r->line[r->len] = '\0';
			fn(r->line);
			r->len = 0;
		} else if (r->len < sizeof(r->line) - 1)
			r->line[r->len++] = p[i];
	}
}

char *ctlmsg_first_word(char *line)
{
	char *rest = strchr(line, ' ');

	if (!rest)
		return line + strlen(line);
	*rest = '\0';
	return rest + 1;
}

void ctlmsg_dhcp_parse(char *msg, struct ctlmsg_dhcp *m)
{
	char *save = NULL;

	m->iface = strtok_r(msg, " ", &save);
	m->event = strtok_r(NULL, " ", &save);
	m->nkv = 0;
	while (m->nkv < CTLMSG_KV_MAX && (m->kv[m->nkv] = strtok_r(NULL, " ", &save)))
		m->nkv++;
}

const char *ctlmsg_dhcp_field(const struct ctlmsg_dhcp *m, const char *key)
{
	size_t len = strlen(key);

	for (int i = 0; i < m->nkv; i++)
		if (strncmp(m->kv[i], key, len) == 0 && m->kv[i][len] == '=')
			return m->kv[i] + len + 1;
	return "";
}
