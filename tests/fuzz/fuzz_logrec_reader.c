/* libFuzzer: arbitrary bytes into the amphi stream reader, in chunks whose
 * sizes come from the input itself, as a hostile guest would send them.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib \
 *         tests/fuzz/fuzz_logrec_reader.c lib/logread.c lib/rfc5424.c \
 *         lib/logrec.c lib/wbuf.c -o fuzz_logrec_reader
 *   ./fuzz_logrec_reader tests/fuzz/corpus/logrec_reader
 *
 * The first byte seeds the chunk sizes; the rest is the stream. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "logread.h"

static void check(const struct logrec_reader *rd, const struct logrec_parsed *p)
{
	/* Every field a NUL-terminated string inside its array; the message
	 * inside the buffer. Touch every byte so ASan sees bad pointers. */
	volatile size_t sink = strlen(p->timestamp) + strlen(p->host) + strlen(p->app) + strlen(p->msgid) +
			       strlen(p->source) + strlen(p->boot);
	const char *b = rd->buf, *e = rd->buf + sizeof(rd->buf);

	if (p->msglen && (p->msg < b || p->msg > e || p->msglen > (size_t)(e - p->msg)))
		__builtin_trap();
	for (size_t i = 0; i < p->msglen; i++)
		sink += (unsigned char)p->msg[i];
	(void)sink;
	if (p->msglen > LOGREC_FRAME_MAX || rd->start + rd->len > sizeof(rd->buf))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct logrec_reader rd;
	struct logrec_parsed p;
	char why[128];
	uint32_t rng;
	size_t off = 1;

	if (size < 1)
		return 0;
	rng = data[0] * 2654435761u + 1;
	logrec_reader_init(&rd);
	while (off < size) {
		size_t want, took;
		int r;

		rng = rng * 1103515245u + 12345u;
		/* Mostly small pieces, sometimes everything left. */
		want = (rng >> 16) % 8 == 0 ? size - off : 1 + (rng >> 16) % 64;
		if (want > size - off)
			want = size - off;
		took = logrec_reader_feed(&rd, (const char *)data + off, want);
		off += took;
		while ((r = logrec_reader_next(&rd, &p, why, sizeof(why))) == 1)
			check(&rd, &p);
		if (r < 0) {
			if (!memchr(why, '\0', sizeof(why)) || !why[0])
				__builtin_trap(); /* an error always says why */
			logrec_reader_init(&rd); /* the reader drops the connection */
		} else if (took == 0) {
			__builtin_trap(); /* full, yet no frame and no error: stuck */
		}
	}
	return 0;
}
