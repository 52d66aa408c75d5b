/*
 * Secret wiping, constant-time comparison, random bytes and checked
 * parsing.
 */
#include "config.h"

#include <sys/random.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lp_util.h"

void
lp_wipe_str(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

void
lp_freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

void
lp_freezero_str(char *s)
{
	if (s != NULL)
		lp_freezero(s, strlen(s));
}

int
lp_timingsafe_eq(const void *a, const void *b, size_t len)
{
	return timingsafe_bcmp(a, b, len) == 0;
}

int
lp_random_fill(void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = getrandom(p + off, len - off, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

int
lp_parse_ll(const char *s, long long min, long long max, long long *ret_val)
{
	const char *errstr = NULL;
	long long v;
	int saved = errno;

	/* strtoll would take a sign and leading blanks; the policy does not. */
	if (s == NULL || *s == '\0' || *s == '+' || *s == ' ' || *s == '\t')
		return -EINVAL;
	v = strtonum(s, min, max, &errstr);
	errno = saved;
	if (errstr != NULL)
		return strcmp(errstr, "invalid") == 0 ? -EINVAL : -ERANGE;
	*ret_val = v;
	return 0;
}

char *
lp_log_safe(char *dst, size_t dstsize, const char *src, size_t max)
{
	size_t i;

	if (dstsize == 0)
		return dst;
	if (src == NULL)
		src = "";
	for (i = 0; src[i] != '\0' && i < max && i + 1 < dstsize; i++) {
		unsigned char c = (unsigned char)src[i];

		/* A space would let a value add a key=value field. */
		dst[i] = (c <= 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
	return dst;
}
