/* libFuzzer: bytes on PID 1's control FIFO, in writes of any size, through
 * what the init does with them (init/ctlmsg.c): cut into lines, the first
 * word taken for the handler, a DHCP message split into its parts. Each
 * line is checked against the input itself. Built by `make fuzz`
 * (Makefile: fuzz_src_control). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ctlmsg.h"

static const char *in, *in_end; /* the input not yet matched by a line */

static int inside(const char *p, const char *line, size_t len)
{
	return p >= line && p <= line + len;
}

static void check_word(const char *w, const char *line, size_t len)
{
	if (!w || !inside(w, line, len) || !*w || strchr(w, ' '))
		__builtin_trap();
}

static void on_line(char *line)
{
	static const char *const keys[] = { "ip", "mask", "router", "dns", "domain", "mtu", "lease" };
	const char *lf = memchr(in, '\n', (size_t)(in_end - in));
	size_t len = strlen(line), want;
	struct ctlmsg_dhcp m;
	char *rest;

	/* The line is the input up to the next LF, cut at the bound (a NUL in
	 * it ends it early, as C strings go). */
	if (!lf)
		__builtin_trap(); /* a line without its LF */
	want = (size_t)(lf - in);
	if (want > CONTROL_LINE_MAX - 1)
		want = CONTROL_LINE_MAX - 1;
	if (len > want || memcmp(line, in, len) != 0 || (len < want && in[len] != '\0'))
		__builtin_trap();
	in = lf + 1;

	rest = ctlmsg_first_word(line);
	if (!inside(rest, line, len) || strchr(line, ' ') || (rest < line + len && rest[-1] != '\0'))
		__builtin_trap();
	len -= (size_t)(rest - line);
	line = rest;
	ctlmsg_dhcp_parse(line, &m);
	if (m.nkv < 0 || m.nkv > CTLMSG_KV_MAX || (m.nkv && !m.event) || (m.event && !m.iface))
		__builtin_trap();
	if (m.iface)
		check_word(m.iface, line, len);
	if (m.event)
		check_word(m.event, line, len);
	for (int i = 0; i < m.nkv; i++)
		check_word(m.kv[i], line, len);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *v = ctlmsg_dhcp_field(&m, keys[k]);
		if (*v && (!inside(v, line, len) || strchr(v, ' ') || memcmp(v - strlen(keys[k]) - 1, keys[k], strlen(keys[k]))))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctlmsg_reader r;
	uint32_t rng;
	size_t off = 1, want;

	if (size < 1)
		return 0;
	memset(&r, 0, sizeof(r));
	rng = data[0] * 2654435761u + 1;
	in = (const char *)data + 1, in_end = (const char *)data + size;
	for (; off < size; off += want) {
		rng = rng * 1103515245u + 12345u;
		want = (rng >> 16) % 8 == 0 ? size - off : 1 + (rng >> 16) % 64;
		if (want > size - off)
			want = size - off;
		ctlmsg_feed(&r, (const char *)data + off, want, on_line);
	}
	/* Every LF ended a line; what is left is the line not ended yet. */
	if (memchr(in, '\n', (size_t)(in_end - in)))
		__builtin_trap();
	return 0;
}
