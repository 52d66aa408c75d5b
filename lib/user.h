/* User names that may become part of a path. */
#ifndef LP_USER_H
#define LP_USER_H

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

#endif /* LP_USER_H */
