/* libFuzzer: bytes from the host on the guest agent's port, in writes of
 * any size, through what PID 1 does with them: cut into requests
 * (init/agentframe.c), each taken apart (init/agentreq.c), every member's
 * value read as a string and as an integer, and written back as JSON
 * (init/jsonw.c). A request is checked to be a balanced object of at most
 * AGENTFRAME_MAX bytes; a reply string to be escaped and within its
 * buffer. Built by `make fuzz` (Makefile: fuzz_src_agent). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agentframe.h"
#include "agentreq.h"
#include "jsonw.h"

static void check_json_string(const char *s, size_t len)
{
	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		__builtin_trap();
	for (size_t i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0xFF || (c == '"' && s[i - 1] != '\\'))
			__builtin_trap();
		if (c == '\\')
			i++;  /* the escaped byte */
	}
}

static void on_request(enum agentframe_what what, const char *req, size_t len, void *ctx)
{
	static struct agentreq r;
	static char out[AGENTFRAME_MAX * 6 + 16];
	char s[256];
	const char *why;
	long long v;
	struct jsonw w;
	(void)ctx;

	if (what != AGENTFRAME_REQUEST)
		return;
	if (len > AGENTFRAME_MAX || strlen(req) != len || req[0] != '{' || req[len - 1] != '}')
		__builtin_trap();
	if (agentreq_parse(&r, req, len, &why) < 0) {
		if (!why || !*why)
			__builtin_trap();
		return;
	}
	for (int t = 0; t < r.doc.ntok; t++) {
		if (jsontok_str(&r.doc, t, s, sizeof(s)) == 0) {
			jsonw_init(&w, out, sizeof(out));
			jsonw_str(&w, s);
			if (w.overflow)
				__builtin_trap();
			check_json_string(out, w.len);
		}
		(void)jsontok_int(&r.doc, t, &v);
		(void)agentreq_arg(&r, s);
	}
	jsonw_init(&w, out, sizeof(out));
	jsonw_str(&w, req);
	if (w.overflow)
		__builtin_trap();
	check_json_string(out, w.len);
	if (r.id >= 0) {
		size_t n;
		const char *raw = jsontok_raw(&r.doc, r.id, &n);
		if (raw < req || raw + n > req + len)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct agentframe f;

	agentframe_reset(&f);
	/* The first byte picks the size of each write. */
	size_t step = size ? (size_t)data[0] % 64 + 1 : 1;
	for (size_t i = size ? 1 : 0; i < size; i += step)
		agentframe_feed(&f, (const char *)data + i, size - i < step ? size - i : step, on_request, NULL);
	return 0;
}
