/* libFuzzer: one /dev/kmsg record into the parser PID 1 runs on each read
 * (init/logsrc.c). The kernel writes these, but the text of a record is
 * whatever a process wrote to /dev/kmsg. Built by `make fuzz`
 * (Makefile: fuzz_src_kmsg). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loginput.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *text = NULL, *semi;
	uint64_t kseq;
	int64_t uptime = -1;
	size_t textlen = 0;
	int pri = -1;

	if (logrec_parse_kmsg(s, size, &pri, &kseq, &uptime, &text, &textlen) < 0)
		return 0;
	if (pri < 0 || uptime < 0)
		__builtin_trap();
	/* Documentation/ABI/testing/dev-kmsg: the text follows the first ';'
	 * and ends at the first newline after it (continuation lines are
	 * KEY=value pairs, not text). */
	semi = memchr(s, ';', size);
	if (!semi || text != semi + 1 || textlen > (size_t)(s + size - text) ||
	    memchr(text, '\n', textlen) || memchr(s, '\n', (size_t)(semi - s)))
		__builtin_trap();
	if (text + textlen < s + size && text[textlen] != '\n')
		__builtin_trap();
	return 0;
}
