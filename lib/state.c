/*
 * The TOTP state store: a strict text format, and one file per user in a
 * root-only directory, read and replaced under a per-user lock.
 *
 * The text, one field a line, each line ending in '\n':
 *
 *	lp-totp-state 1
 *	secret BASE32		(unpadded, upper case, 10 to 64 bytes)
 *	last_step N
 *	failures N
 *	locked_until N
 *	last_success N
 *	enrolled N
 *	recovery $HASH		(0 to LP_RECOVERY_MAX lines)
 *	end
 *
 * Every accepted text is the one lp_state_format() writes for the state
 * it parses to, so a file has exactly one reading.  The end line comes
 * last with nothing after it, so that a file cut at any byte, even just
 * after a recovery line, is refused rather than read as a state with
 * fewer recovery codes.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "lp_util.h"
#include "record.h"
#include "state.h"
#include "user.h"

#define STATE_VERSION		"lp-totp-state 1"
#define STATE_END		"end"
#define STATE_SECRET_MIN	10
#define STATE_LOCK_SUFFIX	".lock"
#define STATE_TMP_SUFFIX	".tmp"
/* "." + name + the longer suffix + NUL */
#define STATE_NAME_SIZE		(1 + LP_USER_NAME_MAX + 5 + 1)

struct lp_store {
	int	dirfd;
};

struct lp_store_lock {
	struct lp_store	*store;
	int		 fd;
	char		 user[LP_USER_NAME_MAX + 1];
	char		 tmpname[STATE_NAME_SIZE];
};

static int
is_base32_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7');
}

/*
 * Decodes the secret, which must be in the form lp_base32_encode()
 * writes: upper case, no padding, no spaces, unused bits zero.  The
 * check is a re-encoding compared in constant time; both copies of the
 * text are wiped.
 */
static int
parse_secret(const char *val, size_t vlen, struct lp_totp_state *st)
{
	char text[LP_BASE32_MAX + 1], again[LP_BASE32_MAX + 1];
	size_t i, n = 0;
	int r = -EBADMSG;

	if (vlen == 0 || vlen > LP_BASE32_MAX)
		goto out;
	for (i = 0; i < vlen; i++)
		if (!is_base32_char(val[i]))
			goto out;
	memcpy(text, val, vlen);
	text[vlen] = '\0';
	if (lp_base32_decode(text, st->secret, sizeof(st->secret), &n) != 0)
		goto out;
	if (n < STATE_SECRET_MIN)
		goto out;
	if (lp_base32_encode(st->secret, n, again, sizeof(again)) != 0)
		goto out;
	if (strlen(again) != vlen || !lp_timingsafe_eq(again, text, vlen))
		goto out;

	st->secret_len = n;
	r = 0;
out:
	lp_wipe_array(text);
	lp_wipe_array(again);
	return r;
}

/* A crypt(3) string: '$' first, then printable ASCII without spaces. */
static int
check_hash(const char *s, size_t len)
{
	if (!lp_rec_is_word(s, len) || len >= LP_RECOVERY_HASH_MAX ||
	    s[0] != '$')
		return -EBADMSG;
	return 0;
}

static int
take_numbers(struct lp_rec *c, struct lp_totp_state *st)
{
	uint64_t v;

	if (lp_rec_take_u64(c, "last_step", 0, UINT64_MAX,
	    &st->last_step) != 0)
		return -EBADMSG;
	if (lp_rec_take_u64(c, "failures", 0, UINT_MAX, &v) != 0)
		return -EBADMSG;
	st->failures = (unsigned)v;
	if (lp_rec_take_u64(c, "locked_until", 0, INT64_MAX, &v) != 0)
		return -EBADMSG;
	st->locked_until = (int64_t)v;
	if (lp_rec_take_u64(c, "last_success", 0, INT64_MAX, &v) != 0)
		return -EBADMSG;
	st->last_success = (int64_t)v;
	if (lp_rec_take_u64(c, "enrolled", 0, INT64_MAX, &v) != 0)
		return -EBADMSG;
	st->enrolled = (int64_t)v;
	return 0;
}

int
lp_state_parse(const char *buf, size_t len, struct lp_totp_state *ret)
{
	struct lp_rec c;
	const char *val;
	size_t vlen;
	int r = -EBADMSG;

	if (ret == NULL)
		return -EINVAL;
	explicit_bzero(ret, sizeof(*ret));
	if (lp_rec_init(&c, buf, len) != 0)
		goto out;

	if (lp_rec_take_fixed(&c, STATE_VERSION) != 0)
		goto out;
	if (lp_rec_take_line(&c, "secret", &val, &vlen) != 0 ||
	    parse_secret(val, vlen, ret) != 0)
		goto out;
	if (take_numbers(&c, ret) != 0)
		goto out;
	while (!lp_rec_at_end(&c, STATE_END)) {
		if (ret->nrecovery == LP_RECOVERY_MAX)
			goto out;
		if (lp_rec_take_line(&c, "recovery", &val, &vlen) != 0 ||
		    check_hash(val, vlen) != 0)
			goto out;
		memcpy(ret->recovery[ret->nrecovery], val, vlen);
		ret->recovery[ret->nrecovery][vlen] = '\0';
		ret->nrecovery++;
	}
	r = 0;
out:
	if (r != 0)
		explicit_bzero(ret, sizeof(*ret));
	return r;
}

/* Appends len bytes to the buffer being formatted, which has room. */
static void
put(char *buf, size_t *pos, const char *s, size_t len)
{
	memcpy(buf + *pos, s, len);
	*pos += len;
}

static void
put_str(char *buf, size_t *pos, const char *s)
{
	put(buf, pos, s, strlen(s));
}

static void
put_u64(char *buf, size_t *pos, const char *key, uint64_t v)
{
	char num[LP_REC_U64_DIGITS + 1];

	(void)snprintf(num, sizeof(num), "%ju", (uintmax_t)v);
	put_str(buf, pos, key);
	put_str(buf, pos, " ");
	put_str(buf, pos, num);
	put_str(buf, pos, "\n");
}

/* Refuses a state that would not parse back to itself. */
static int
check_state(const struct lp_totp_state *st)
{
	size_t i;

	if (st->secret_len < STATE_SECRET_MIN ||
	    st->secret_len > LP_TOTP_SECRET_MAX ||
	    st->locked_until < 0 || st->last_success < 0 || st->enrolled < 0 ||
	    st->nrecovery > LP_RECOVERY_MAX)
		return -EINVAL;
	for (i = 0; i < st->nrecovery; i++)
		if (check_hash(st->recovery[i], strnlen(st->recovery[i],
		    LP_RECOVERY_HASH_MAX)) != 0)
			return -EINVAL;
	return 0;
}

/* The longest text: every line at its longest, every recovery slot used. */
#define STATE_TEXT_MAX	(sizeof(STATE_VERSION "\n") + \
	sizeof("secret \n") + LP_BASE32_MAX + \
	sizeof("locked_until \n") * 5 + LP_REC_U64_DIGITS * 5 + \
	LP_RECOVERY_MAX * (sizeof("recovery \n") + LP_RECOVERY_HASH_MAX) + \
	sizeof(STATE_END "\n"))

int
lp_state_format(const struct lp_totp_state *st, char **ret_buf,
    size_t *ret_len)
{
	char text[LP_BASE32_MAX + 1];
	char *buf = NULL;
	size_t i, pos = 0;
	int r;

	if ((r = check_state(st)) != 0)
		goto out;
	if ((r = lp_base32_encode(st->secret, st->secret_len, text,
	    sizeof(text))) != 0)
		goto out;
	if ((buf = malloc(STATE_TEXT_MAX)) == NULL) {
		r = -ENOMEM;
		goto out;
	}

	put_str(buf, &pos, STATE_VERSION "\n");
	put_str(buf, &pos, "secret ");
	put_str(buf, &pos, text);
	put_str(buf, &pos, "\n");
	put_u64(buf, &pos, "last_step", st->last_step);
	put_u64(buf, &pos, "failures", st->failures);
	put_u64(buf, &pos, "locked_until", (uint64_t)st->locked_until);
	put_u64(buf, &pos, "last_success", (uint64_t)st->last_success);
	put_u64(buf, &pos, "enrolled", (uint64_t)st->enrolled);
	for (i = 0; i < st->nrecovery; i++) {
		put_str(buf, &pos, "recovery ");
		put_str(buf, &pos, st->recovery[i]);
		put_str(buf, &pos, "\n");
	}
	put_str(buf, &pos, STATE_END "\n");

	*ret_buf = buf;
	*ret_len = pos;
	buf = NULL;
	r = 0;
out:
	lp_wipe_array(text);
	lp_freezero(buf, STATE_TEXT_MAX);
	return r;
}

int
lp_store_open(const char *dir, struct lp_store **ret_store)
{
	struct lp_store *store = NULL;
	int fd = -1, r;

	if ((r = lp_dir_open_checked(dir, 0, 077, &fd)) != 0)
		goto out;
	if ((store = malloc(sizeof(*store))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	store->dirfd = fd;
	fd = -1;

	*ret_store = store;
	store = NULL;
	r = 0;
out:
	if (fd != -1)
		(void)close(fd);
	free(store);
	return r;
}

void
lp_store_free(struct lp_store *store)
{
	if (store == NULL)
		return;
	(void)close(store->dirfd);
	free(store);
}

int
lp_store_lock(struct lp_store *store, const char *user,
    struct lp_store_lock **ret_lock)
{
	struct lp_store_lock *lk = NULL;
	char lockname[STATE_NAME_SIZE];
	int r = -EINVAL;

	if (store == NULL || lp_user_name_check(user) != 0)
		goto out;
	if ((lk = calloc(1, sizeof(*lk))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	lk->store = store;
	lk->fd = -1;
	/* lp_user_name_check() bounded the name to LP_USER_NAME_MAX. */
	memcpy(lk->user, user, strlen(user) + 1);
	/* User names start with neither '.' nor '-': no collision. */
	if ((r = lp_file_dotname(lockname, sizeof(lockname), user,
	    STATE_LOCK_SUFFIX)) != 0 ||
	    (r = lp_file_dotname(lk->tmpname, sizeof(lk->tmpname), user,
	    STATE_TMP_SUFFIX)) != 0)
		goto out;
	if ((r = lp_lock_take(store->dirfd, lockname, &lk->fd)) != 0)
		goto out;

	*ret_lock = lk;
	lk = NULL;
	r = 0;
out:
	free(lk);
	return r;
}

int
lp_store_read(struct lp_store_lock *lk, struct lp_totp_state *ret)
{
	char *buf = NULL;
	size_t len = 0;
	int r = -EINVAL;

	if (lk == NULL || ret == NULL)
		goto out;
	if ((r = lp_read_secret(lk->store->dirfd, lk->user, 0, 077,
	    LP_STATE_SIZE_MAX, &buf, &len)) != 0)
		goto out;
	r = lp_state_parse(buf, len, ret);
out:
	if (buf != NULL)
		lp_freezero(buf, len + 1);
	return r;
}

int
lp_store_write(struct lp_store_lock *lk, const struct lp_totp_state *st)
{
	char *buf = NULL;
	size_t len = 0;
	int r = -EINVAL;

	if (lk == NULL || st == NULL)
		goto out;
	if ((r = lp_state_format(st, &buf, &len)) != 0)
		goto out;
	r = lp_file_replace(lk->store->dirfd, lk->user, lk->tmpname, buf, len,
	    0600);
out:
	if (buf != NULL)
		lp_freezero(buf, len);
	return r;
}

int
lp_store_remove(struct lp_store_lock *lk)
{
	int r = -EINVAL;

	if (lk == NULL)
		goto out;
	/* A temporary file left by a crash may still hold the secret. */
	(void)unlinkat(lk->store->dirfd, lk->tmpname, 0);
	r = lp_file_remove(lk->store->dirfd, lk->user);
out:
	return r;
}

void
lp_store_unlock(struct lp_store_lock *lk)
{
	if (lk == NULL)
		return;
	lp_lock_release(lk->fd);
	free(lk);
}
