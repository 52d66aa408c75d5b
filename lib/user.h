/* User names that may become part of a path. */
#ifndef LP_USER_H
#define LP_USER_H

#include <stddef.h>

/*
 * A state directory holds ".NAME.lock" beside NAME, and a file name has
 * at most 255 bytes, so a name may have 249.
 */
#define LP_USER_NAME_MAX	249

/*
 * Returns 0 when name is safe to use as a file name in a state directory,
 * -EINVAL otherwise: empty, longer than LP_USER_NAME_MAX bytes, starting
 * with '-' or '.', containing '/', "..", a control character, a space,
 * or a byte outside printable ASCII.  Letters, digits, '.', '-', '_' and
 * '@' are accepted inside a name (first.last, alice@example.org).
 */
int	lp_user_name_check(const char *name);

/*
 * Writes who runs an admin tool, for its log line, into buf:
 * "by=NAME" with the real user ID's name (or "by=#UID"), followed by
 * " sudo_user=NAME" when SUDO_USER holds a valid user name.  The
 * environment is only a hint beside by=, never in its place; no value can
 * hold a space or '=', so none can add a field.  Truncates to size.
 */
void	lp_user_caller(char *buf, size_t size);

#endif /* LP_USER_H */
