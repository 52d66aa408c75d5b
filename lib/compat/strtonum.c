/* strtonum(3) for C libraries that lack it, with the BSD contract. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "compat.h"

long long
strtonum(const char *numstr, long long minval, long long maxval,
    const char **errstrp)
{
	long long ll = 0;
	const char *errstr = NULL;
	char *end;
	int saved = errno;

	if (minval > maxval) {
		errstr = "invalid";
		goto out;
	}
	errno = 0;
	ll = strtoll(numstr, &end, 10);
	if (numstr == end || *end != '\0')
		errstr = "invalid";
	else if ((ll == LLONG_MIN && errno == ERANGE) || ll < minval)
		errstr = "too small";
	else if ((ll == LLONG_MAX && errno == ERANGE) || ll > maxval)
		errstr = "too large";
out:
	if (errstr != NULL) {
		ll = 0;
		errno = errstr[0] == 'i' ? EINVAL : ERANGE;
	} else
		errno = saved;
	if (errstrp != NULL)
		*errstrp = errstr;
	return ll;
}
