/* timingsafe_bcmp(3) for C libraries that lack it. */
#include "config.h"

#include <stddef.h>

#include "compat.h"

int
timingsafe_bcmp(const void *b1, const void *b2, size_t n)
{
	const volatile unsigned char *p1 = b1, *p2 = b2;
	unsigned char diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= p1[i] ^ p2[i];
	return diff != 0;
}
