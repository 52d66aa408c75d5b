/* The decision of one authentication attempt, under the user's lock. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "auth.h"
#include "lp_util.h"
#include "recovery.h"
#include "user.h"

/*
 * Stands in for the secret of an unknown or unenrolled user, so that
 * their attempts cost one TOTP verification like everyone else's.  It
 * protects nothing; it has the length enrolment gives real secrets.
 */
static const unsigned char dummy_secret[LP_TOTP_SECRET_LEN] = {
	0x6c, 0x70, 0x2d, 0x62, 0x61, 0x73, 0x74, 0x69, 0x6f, 0x6e,
	0x2d, 0x64, 0x75, 0x6d, 0x6d, 0x79, 0x2d, 0x6b, 0x65, 0x79,
};

/*
 * The dummy enrolment's recovery hashes: a yescrypt hash, at the cost
 * lib/recovery.c uses, of a code that appears nowhere.
 */
static const char dummy_hash[] =
    "$y$j7T$36FrMYg8KFBlIYg4nY0Jz0$"
    "GR.mt8xufeXs06pWnFw2iPU0/c5E3zOqUD84YDfCFo5";

/* A fixed enrolment time, so that the dummy file never changes. */
#define DUMMY_ENROLLED	((int64_t)1700000000)

const char *
lp_auth_reason(enum lp_auth_result result)
{
	switch (result) {
	case LP_AUTH_OK:
		return "ok";
	case LP_AUTH_RECOVERY_OK:
		return "recovery_code_used";
	case LP_AUTH_BAD_CODE:
		return "bad_code";
	case LP_AUTH_REPLAYED:
		return "replayed_code";
	case LP_AUTH_LOCKED:
		return "locked";
	case LP_AUTH_NOT_ENROLLED:
		return "not_enrolled";
	case LP_AUTH_BAD_STATE:
	default:
		return "bad_state";
	}
}

/* Checks input against st and says what it is; changes nothing. */
static enum lp_auth_result
judge(const struct lp_totp_cfg *cfg, const struct lp_totp_state *st,
    const char *input, time_t now, size_t *ret_slot, uint64_t *ret_step,
    int *ret_error)
{
	char code[LP_TOTP_CODE_MAX + 1];
	char rcode[LP_RECOVERY_LEN + 1];
	enum lp_auth_result res = LP_AUTH_BAD_CODE;
	uint64_t step = 0;
	size_t slot = 0;
	int r;

	if (lp_totp_code_parse(input, cfg->digits, code) == 0) {
		r = lp_totp_verify(st->secret, st->secret_len, cfg, now, code,
		    &step);
		if (r == 0)
			res = step > st->last_step ? LP_AUTH_OK :
			    LP_AUTH_REPLAYED;
		else if (r != -ENOENT) {
			res = LP_AUTH_BAD_STATE;
			*ret_error = r;
		}
	} else if (lp_recovery_parse(input, rcode) == 0) {
		r = lp_recovery_match(st, rcode, &slot);
		if (r == 0)
			res = LP_AUTH_RECOVERY_OK;
		else if (r != -ENOENT) {
			res = LP_AUTH_BAD_STATE;
			*ret_error = r;
		}
	}

	*ret_step = step;
	*ret_slot = slot;
	lp_wipe_array(code);
	lp_wipe_array(rcode);
	return res;
}

/* Counts a failure in st, starting a lockout when it is one too many. */
static void
count_failure(const struct lp_totp_cfg *cfg, struct lp_totp_state *st,
    time_t now, struct lp_auth_outcome *out)
{
	st->failures++;
	if (st->failures >= cfg->max_failures) {
		st->locked_until = now > INT64_MAX - (int64_t)cfg->lockout ?
		    INT64_MAX : (int64_t)now + cfg->lockout;
		st->failures = 0;
		out->locked_now = 1;
	}
}

/*
 * Applies the judgement to st and stores it.  A success that cannot be
 * stored is refused, since the step (or the recovery code) could be used
 * again; a failure that cannot be stored is still a failure.
 */
static void
record(struct lp_store_lock *lk, const struct lp_totp_cfg *cfg,
    struct lp_totp_state *st, time_t now, size_t slot, uint64_t step,
    struct lp_auth_outcome *out)
{
	int r;

	switch (out->result) {
	case LP_AUTH_OK:
		st->last_step = step;
		break;
	case LP_AUTH_RECOVERY_OK:
		lp_recovery_remove(st, slot);
		break;
	case LP_AUTH_BAD_CODE:
	case LP_AUTH_REPLAYED:
		count_failure(cfg, st, now, out);
		break;
	default:
		return;
	}
	if (out->result == LP_AUTH_OK || out->result == LP_AUTH_RECOVERY_OK) {
		st->failures = 0;
		st->locked_until = 0;
		st->last_success = now;
	}

	/*
	 * What was not stored did not happen: a success not written could
	 * be replayed, a failure not counted would never lock the account.
	 * Either way the attempt is refused as a state error, which the
	 * caller logs with the reason.
	 */
	if ((r = lp_store_write(lk, st)) != 0) {
		out->error = r;
		out->result = LP_AUTH_BAD_STATE;
	}
	out->failures = st->failures;
	out->recovery_left = st->nrecovery;
}

static int
check_args(const struct lp_totp_cfg *cfg)
{
	if (cfg->digits < 6 || cfg->digits > LP_TOTP_CODE_MAX ||
	    cfg->period == 0 || cfg->max_failures == 0)
		return -EINVAL;
	return 0;
}

/* Fills st with the dummy enrolment, shaped as enrolment shapes one. */
static void
make_dummy(struct lp_totp_state *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	memcpy(st->secret, dummy_secret, sizeof(dummy_secret));
	st->secret_len = sizeof(dummy_secret);
	st->enrolled = DUMMY_ENROLLED;
	for (i = 0; i < LP_RECOVERY_COUNT; i++)
		memcpy(st->recovery[i], dummy_hash, sizeof(dummy_hash));
	st->nrecovery = LP_RECOVERY_COUNT;
}

/*
 * The refusal of an unknown or unenrolled user (reread set), or of a
 * locked one (reread clear, since the user's own state was read): what an
 * enrolled user's wrong code costs, on the dummy enrolment.  Under the
 * dummy's lock it reads the dummy file, judges input against the dummy
 * state and stores that state, which writes and fsyncs the same bytes
 * every time.  The judgement is thrown away, so even the dummy's right
 * code is refused, and so are failures to read or store, which change
 * nothing but the cost.  The caller holds at most a user's lock; the
 * dummy's is always taken last, so two attempts never wait on each
 * other in a circle.
 *
 * XXX: every such refusal takes the one dummy lock, so attempts by many
 * unknown names at once queue where those by as many enrolled names
 * would not.  sshd's MaxStartups bounds the queue; one dummy per hash
 * bucket of the name would end it, should parallel probing matter.
 */
static void
refuse_on_dummy(struct lp_store *store, const struct lp_totp_cfg *cfg,
    const char *input, time_t now, int reread)
{
	struct lp_totp_state st, seen;
	struct lp_store_lock *lk = NULL;
	uint64_t step;
	size_t slot;
	int error = 0;

	/* The dummy protects nothing: st is not wiped. */
	make_dummy(&st);
	if (lp_store_lock(store, LP_AUTH_DUMMY_USER, &lk) != 0)
		lk = NULL;
	if (lk != NULL && reread) {
		(void)lp_store_read(lk, &seen);
		lp_wipe_obj(&seen);
	}
	(void)judge(cfg, &st, input, now, &slot, &step, &error);
	if (lk != NULL)
		(void)lp_store_write(lk, &st);
	lp_store_unlock(lk);
}

/* A name that cannot have a state of its own. */
static int
has_no_state(const char *user)
{
	return user == NULL || lp_user_name_check(user) != 0 ||
	    strcmp(user, LP_AUTH_DUMMY_USER) == 0;
}

int
lp_auth_attempt(struct lp_store *store, const struct lp_totp_cfg *cfg,
    const char *user, const char *input, time_t now,
    struct lp_auth_outcome *ret)
{
	struct lp_totp_state st;
	struct lp_auth_outcome out;
	struct lp_store_lock *lk = NULL;
	uint64_t step = 0;
	size_t slot = 0;
	int r;

	if (store == NULL || cfg == NULL || input == NULL || ret == NULL ||
	    check_args(cfg) != 0)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	memset(&out, 0, sizeof(out));
	out.result = LP_AUTH_NOT_ENROLLED;

	if (has_no_state(user)) {
		refuse_on_dummy(store, cfg, input, now, 1);
		goto out;
	}
	/* A name too long for the store cannot have been enrolled. */
	if ((r = lp_store_lock(store, user, &lk)) != 0) {
		if (r == -ENAMETOOLONG)
			refuse_on_dummy(store, cfg, input, now, 1);
		else {
			out.result = LP_AUTH_BAD_STATE;
			out.error = r;
		}
		goto out;
	}
	if ((r = lp_store_read(lk, &st)) != 0) {
		if (r == -ENOENT)
			refuse_on_dummy(store, cfg, input, now, 1);
		else {
			out.result = LP_AUTH_BAD_STATE;
			out.error = r;
		}
		goto out;
	}

	/* Failures while locked neither count nor extend the lock. */
	if (st.locked_until > (int64_t)now) {
		refuse_on_dummy(store, cfg, input, now, 0);
		out.result = LP_AUTH_LOCKED;
		out.failures = st.failures;
		out.recovery_left = st.nrecovery;
		goto out;
	}

	out.result = judge(cfg, &st, input, now, &slot, &step, &out.error);
	record(lk, cfg, &st, now, slot, step, &out);
out:
	lp_store_unlock(lk);
	lp_wipe_obj(&st);
	*ret = out;
	return 0;
}
