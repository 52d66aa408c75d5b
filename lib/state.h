/*
 * A person's TOTP state, one file per user in a root-only directory:
 * secret, last accepted time step, consecutive failures, lockout and
 * hashed recovery codes.  Every read-check-write happens under one
 * per-user lock, and every write replaces the file atomically.
 */
#ifndef LP_STATE_H
#define LP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "totp.h"

#define LP_RECOVERY_MAX		16	/* slots in a state file */
#define LP_RECOVERY_HASH_MAX	128	/* a crypt(3) string, with NUL */
#define LP_STATE_SIZE_MAX	(16u * 1024)

struct lp_totp_state {
	unsigned char	secret[LP_TOTP_SECRET_MAX];
	size_t		secret_len;
	uint64_t	last_step;	/* last accepted step; 0: none yet */
	unsigned	failures;	/* consecutive failed attempts */
	int64_t		locked_until;	/* epoch seconds; 0: not locked */
	int64_t		last_success;	/* epoch seconds; 0: never */
	int64_t		enrolled;	/* epoch seconds */
	char		recovery[LP_RECOVERY_MAX][LP_RECOVERY_HASH_MAX];
	size_t		nrecovery;
};

/*
 * Parses the text of a state file.  The format is strict: a version line,
 * each field once in a fixed order, then an end line; anything else,
 * including a file cut short anywhere, is -EBADMSG.
 * Returns 0 and fills *ret, or -EBADMSG.  On failure *ret is wiped.
 */
int	lp_state_parse(const char *buf, size_t len, struct lp_totp_state *ret);

/*
 * Formats st as the text of a state file into a new buffer.  Returns 0
 * and sets *ret_buf (free with lp_freezero(buf, len)) and *ret_len, or
 * -EINVAL when st would not parse back (secret length, recovery count or
 * hash, a negative time), or -ENOMEM.
 */
int	lp_state_format(const struct lp_totp_state *st, char **ret_buf,
	    size_t *ret_len);

struct lp_store;	/* a state directory */
struct lp_store_lock;	/* one user's lock, held */

/*
 * Opens the state directory at dir, which must be owned by root and have
 * no group or other permission bits.  Returns 0 and sets *ret_store, or
 * -ENOENT, -ELOOP, -ENOTDIR, -EPERM or another negative errno.
 */
int	lp_store_open(const char *dir, struct lp_store **ret_store);

/* Closes a state directory; accepts NULL. */
void	lp_store_free(struct lp_store *store);

/*
 * Takes user's lock in store (the name must pass lp_user_name_check()).
 * Returns 0 and sets *ret_lock, or -EINVAL for a bad name, or another
 * negative errno.
 */
int	lp_store_lock(struct lp_store *store, const char *user,
	    struct lp_store_lock **ret_lock);

/*
 * Reads the locked user's state.  Returns 0 and fills *ret, -ENOENT when
 * the user is not enrolled, -ELOOP (a link), -EPERM (wrong owner or
 * mode), -EINVAL (not a regular file), -EBADMSG (malformed), or another
 * negative errno.  The file's bytes are wiped after parsing.
 */
int	lp_store_read(struct lp_store_lock *lk, struct lp_totp_state *ret);

/* Replaces the locked user's state atomically.  Returns 0 or -errno. */
int	lp_store_write(struct lp_store_lock *lk, const struct lp_totp_state *st);

/* Removes the locked user's state.  Returns 0, -ENOENT or -errno. */
int	lp_store_remove(struct lp_store_lock *lk);

/* Releases the lock and frees lk; accepts NULL. */
void	lp_store_unlock(struct lp_store_lock *lk);

#endif /* LP_STATE_H */
