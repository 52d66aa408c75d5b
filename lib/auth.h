/*
 * One authentication attempt, decided under the user's lock: the policy
 * of pam_lp_totp without the PAM plumbing, so that it can be tested
 * directly.
 */
#ifndef LP_AUTH_H
#define LP_AUTH_H

#include <stddef.h>
#include <time.h>

#include "cfg.h"
#include "state.h"

/* Zero is a refusal, so that an outcome left unset never grants. */
enum lp_auth_result {
	LP_AUTH_BAD_STATE = 0,	/* state unreadable, malformed, or unsafe */
	LP_AUTH_OK,		/* a right, fresh code */
	LP_AUTH_RECOVERY_OK,	/* a recovery code, now used up */
	LP_AUTH_BAD_CODE,	/* wrong or malformed */
	LP_AUTH_REPLAYED,	/* right code of an already used step */
	LP_AUTH_LOCKED,		/* refused without looking at the code */
	LP_AUTH_NOT_ENROLLED,	/* no state file, or an unknown user */
};

struct lp_auth_outcome {
	enum lp_auth_result result;
	int		 error;		/* negative errno behind BAD_STATE */
	unsigned	 failures;	/* count after this attempt */
	int		 locked_now;	/* this attempt started a lockout */
	size_t		 recovery_left;
};

/*
 * The user name of the dummy enrolment: its state file in the state
 * directory is what refusals of unknown, unenrolled and locked users
 * read and rewrite, so that they cost what an enrolled user's wrong code
 * costs.  The ".invalid" domain (RFC 2606) keeps it from naming a real
 * account; an account that did bear it is refused as unenrolled, and
 * enrolment tools must refuse it.
 */
#define LP_AUTH_DUMMY_USER	"lp-dummy.invalid"

/*
 * Runs one attempt by user with input (what the person typed).  Under the
 * user's lock it reads the state, refuses a locked account, checks input
 * as a code and, failing that, as a recovery code, then records the
 * result: a success sets the last step and clears the failures, a failure
 * counts and may start a lockout.  A state that cannot be written after a
 * success turns the success into BAD_STATE, since replay protection would
 * be lost.  user NULL stands for a name with no account.  An unknown or
 * unenrolled user (NOT_ENROLLED) and a locked one (LOCKED) are refused
 * with the same work on the dummy enrolment (LP_AUTH_DUMMY_USER): its
 * file is read, the input judged and the unchanged state written back,
 * fsync included.  Always fills *ret and returns 0 once a decision is
 * made; a negative errno only for invalid arguments.  Logs nothing; wipes
 * the state it read.
 */
int	lp_auth_attempt(struct lp_store *store, const struct lp_totp_cfg *cfg,
	    const char *user, const char *input, time_t now,
	    struct lp_auth_outcome *ret);

/* The fixed log word of a result: ok, bad_code, replayed_code, ... */
const char *lp_auth_reason(enum lp_auth_result result);

#endif /* LP_AUTH_H */
