/* libFuzzer: one datagram on /dev/log, as any process in the appliance may
 * send it, into the RFC 3164 / RFC 5424 parser PID 1 runs (init/logsrc.c).
 * Built by `make fuzz` (Makefile: fuzz_src_syslog). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loginput.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *msg = NULL;
	char app[LOGREC_NAME_MAX];
	size_t msglen = 0, applen;
	int pri = -1;

	memset(app, 0x55, sizeof(app));
	if (logrec_parse_syslog(s, size, &pri, app, &msg, &msglen) < 0)
		return 0;
	/* RFC 5424 §6.2.1: PRI is 0..191. */
	if (pri < 0 || pri > 191)
		__builtin_trap();
	/* The app name is a non-empty NUL-terminated word of printable ASCII:
	 * it becomes APP-NAME in every frame (RFC 5424 §6.2.5, PRINTUSASCII). */
	applen = logrec_name_len(app, sizeof(app));
	if (applen == 0 || applen == sizeof(app))
		__builtin_trap();
	for (size_t i = 0; i < applen; i++)
		if ((unsigned char)app[i] <= 32 || (unsigned char)app[i] >= 127)
			__builtin_trap();
	/* The message lies inside the datagram and runs to its end, but for
	 * the LFs and NULs senders end it with (musl's syslog(3) an LF). */
	while (size && (s[size - 1] == '\n' || s[size - 1] == '\0'))
		size--;
	if (msg < s || msg > s + size || msg + msglen != s + size)
		__builtin_trap();
	return 0;
}
