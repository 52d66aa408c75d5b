/*
 * One-time recovery codes: shown once at enrolment, stored as crypt(3)
 * yescrypt hashes, accepted at the code prompt and removed when used.
 */
#ifndef LP_RECOVERY_H
#define LP_RECOVERY_H

#include <stddef.h>

#include "state.h"

#define LP_RECOVERY_COUNT	10	/* codes made at enrolment */
#define LP_RECOVERY_LEN		14	/* "xxxx-xxxx-xxxx" */

/*
 * Makes n (at most LP_RECOVERY_MAX) fresh codes from getrandom(2) into
 * codes and their hashes into hashes.  Returns 0 or a negative errno; on
 * failure both arrays are wiped.  The caller wipes codes after showing
 * them.
 */
int	lp_recovery_generate(size_t n,
	    char codes[][LP_RECOVERY_LEN + 1],
	    char hashes[][LP_RECOVERY_HASH_MAX]);

/*
 * Normalises what a person typed as a recovery code: spaces dropped,
 * upper case folded, dashes optional.  Returns 0 and writes
 * "xxxx-xxxx-xxxx" to out, or -EINVAL when input cannot be a recovery
 * code.
 */
int	lp_recovery_parse(const char *input, char out[LP_RECOVERY_LEN + 1]);

/*
 * Looks for the normalised code among st's hashes.  Hashes every one of
 * LP_RECOVERY_MAX slots (empty slots against a dummy hash), so the cost
 * does not tell how many codes are left or which one matched.  Returns 0
 * and sets *ret_index, -ENOENT when none matches, or another negative
 * errno.
 */
int	lp_recovery_match(const struct lp_totp_state *st, const char *code,
	    size_t *ret_index);

/* Removes slot i from st, wiping it.  */
void	lp_recovery_remove(struct lp_totp_state *st, size_t i);

#endif /* LP_RECOVERY_H */
