/* PID 1's malloc. The only callers are musl's fopen (a FILE and its buffer,
 * about 1.2 KiB) and opendir (a DIR, about 2.1 KiB), a few at a time: a
 * fixed pool of slots serves them. That keeps PID 1's memory bounded by
 * construction, and leaves musl's general allocator (8 KiB of code) out
 * of a binary that aims at 100 KiB. Anything bigger or beyond the pool
 * fails with ENOMEM, which those callers report like any open error. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SLOT_BYTES 4096
#define SLOTS 16

static _Alignas(16) unsigned char pool[SLOTS][SLOT_BYTES];
static unsigned char used[SLOTS];

void *malloc(size_t n)
{
	if (n <= SLOT_BYTES)
		for (int i = 0; i < SLOTS; i++)
			if (!used[i]) {
				used[i] = 1;
				return pool[i];
			}
	errno = ENOMEM;
	return NULL;
}

void free(void *p)
{
	if (!p)
		return;
	uintptr_t off = (uintptr_t)p - (uintptr_t)pool;
	if (off < sizeof(pool))
		used[off / SLOT_BYTES] = 0;
}

void *calloc(size_t count, size_t size)
{
	if (size && count > SLOT_BYTES / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc(count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n <= SLOT_BYTES)
		return p;  /* every slot is already the largest size */
	errno = ENOMEM;
	return NULL;
}
