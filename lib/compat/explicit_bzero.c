/* explicit_bzero(3) for C libraries that lack it. */
#include "config.h"

#include <string.h>

#include "compat.h"

static void *(*const volatile lp_memset_ptr)(void *, int, size_t) = memset;

void
explicit_bzero(void *buf, size_t len)
{
	lp_memset_ptr(buf, 0, len);
}
