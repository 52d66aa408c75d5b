/*
 * Small helpers shared by every part of lp-bastion: wiping secrets,
 * constant-time comparison, random bytes and checked number parsing.
 */
#ifndef LP_UTIL_H
#define LP_UTIL_H

#include <stddef.h>
#include <string.h>

#include "compat/compat.h"

#define LP_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Evaluates to 0 for an array and fails to compile for a pointer, so that
 * lp_wipe_array() never wipes only sizeof(char *) bytes of a secret.
 */
#define LP_MUST_BE_ARRAY(a) \
	(sizeof(char[1 - 2 * __builtin_types_compatible_p(__typeof__(a), \
	    __typeof__(&(a)[0]))]) - 1)

#define lp_wipe_array(a) \
	explicit_bzero((a), sizeof(a) + LP_MUST_BE_ARRAY(a))
#define lp_wipe_obj(p)	explicit_bzero((p), sizeof(*(p)))

/* Wipes a NUL-terminated string in place; accepts NULL. */
void	lp_wipe_str(char *s);

/* Wipes len bytes at p, then frees p; accepts NULL. */
void	lp_freezero(void *p, size_t len);

/* Wipes and frees a NUL-terminated string; accepts NULL. */
void	lp_freezero_str(char *s);

/*
 * Compares len bytes in time that depends only on len.  Returns 1 when
 * equal, 0 otherwise.
 */
int	lp_timingsafe_eq(const void *a, const void *b, size_t len);

/*
 * Fills len bytes at buf from getrandom(2) (the kernel's CSPRNG, waiting
 * only until it is seeded at boot), going on after a short read or an
 * interruption.  Returns 0, or a negative errno with buf partly written;
 * the caller wipes buf either way when it is a secret.  Logs nothing.
 */
int	lp_random_fill(void *buf, size_t len);

/*
 * Parses a whole decimal string into [min, max].  Returns 0 and sets
 * *ret_val, or -EINVAL (not a number) or -ERANGE (out of range).
 */
int	lp_parse_ll(const char *s, long long min, long long max,
	    long long *ret_val);

/*
 * Copies src into dst of size dstsize, replacing spaces, control
 * characters and bytes >= 0x7f with '?', and truncating to at most max
 * bytes.  For strings from outside that are about to be logged in
 * key=value lines.  Returns dst.
 */
char	*lp_log_safe(char *dst, size_t dstsize, const char *src, size_t max);

#endif /* LP_UTIL_H */
