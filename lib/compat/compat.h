/* Replacements for calls that some C libraries lack. */
#ifndef LP_COMPAT_H
#define LP_COMPAT_H

#include <stddef.h>

#ifndef HAVE_EXPLICIT_BZERO
void	explicit_bzero(void *buf, size_t len);
#endif
#ifndef HAVE_STRTONUM
long long strtonum(const char *numstr, long long minval, long long maxval,
	    const char **errstrp);
#endif
#ifndef HAVE_TIMINGSAFE_BCMP
int	timingsafe_bcmp(const void *b1, const void *b2, size_t n);
#endif

#endif /* LP_COMPAT_H */
