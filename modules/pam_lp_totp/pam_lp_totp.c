/*
 * pam_lp_totp: the TOTP second factor of the bastion.  The decision itself
 * lives in lib/auth.c; this file reads options, talks to the person
 * through the PAM conversation, logs one line per decision and maps the
 * outcome to a PAM code.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define PAM_SM_AUTH
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include <libaudit.h>

#include "../common/lp_pam.h"
#include "audit.h"
#include "auth.h"
#include "cfg.h"
#include "lp_util.h"
#include "state.h"
#include "user.h"

#define LP_PROMPT_DEFAULT	"Verification code: "
#define LP_PROMPT_MAX		128

#define LP_MSG_FAILED	"Invalid or already used verification code."
#define LP_MSG_LOCKED \
	"Too many failed verification codes: this account is locked for now."

struct lp_args {
	const char	*config;
	const char	*state_dir;
	const char	*prompt;
	bool		 nullok;
	bool		 debug;
	bool		 audit;
};

/* Takes the value of a path option; only an absolute path will do. */
static const char *
path_value(const char *arg, size_t keylen)
{
	return arg[keylen] == '/' ? arg + keylen : NULL;
}

static int
parse_one_arg(pam_handle_t *pamh, struct lp_args *a, const char *arg)
{
	const char *why = "unknown option";
	char safe[129];

	if (strncmp(arg, "config=", 7) == 0) {
		why = "config= needs an absolute path";
		a->config = path_value(arg, 7);
		if (a->config != NULL)
			return 0;
	} else if (strncmp(arg, "state_dir=", 10) == 0) {
		why = "state_dir= needs an absolute path";
		a->state_dir = path_value(arg, 10);
		if (a->state_dir != NULL)
			return 0;
	} else if (strncmp(arg, "prompt=", 7) == 0) {
		why = "prompt= needs 1 to 128 bytes";
		a->prompt = arg + 7;
		if (arg[7] != '\0' && strlen(arg + 7) <= LP_PROMPT_MAX)
			return 0;
	} else if (strcmp(arg, "nullok") == 0) {
		a->nullok = true;
		return 0;
	} else if (strcmp(arg, "debug") == 0) {
		a->debug = true;
		return 0;
	} else if (strcmp(arg, "audit") == 0) {
		a->audit = true;
		return 0;
	}
	pam_syslog(pamh, LOG_ERR, "%s: \"%s\"", why,
	    lp_log_safe(safe, sizeof(safe), arg, 128));
	return -EINVAL;
}

/*
 * Reads the module arguments.  Every option is checked, and a misspelt
 * one refuses rather than silently weakening policy.
 */
static int
lp_args_parse(pam_handle_t *pamh, int argc, const char **argv,
    struct lp_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->config = LP_CONFIG_PATH;
	a->state_dir = LP_TOTP_STATE_DIR;
	a->prompt = LP_PROMPT_DEFAULT;
	for (i = 0; i < argc; i++)
		if (parse_one_arg(pamh, a, argv[i]) != 0)
			return -EINVAL;
	if (a->debug)
		pam_syslog(pamh, LOG_DEBUG,
		    "config=%s state_dir=%s nullok=%d audit=%d",
		    a->config, a->state_dir, a->nullok, a->audit);
	return 0;
}

/* What the administrator must look at, after the error of a bad state. */
static const char *
state_hint(int error)
{
	switch (error) {
	case -EPERM:
		return " (the state file must be owned by root, mode 0600)";
	case -EINVAL:
	case -ELOOP:
		return " (the state file must be a regular file with one link)";
	case -EBADMSG:
		return " (the state file is damaged: see lp-enroll-totp --status)";
	default:
		return "";
	}
}

static void
log_decision(pam_handle_t *pamh, const struct lp_who *w,
    const struct lp_auth_outcome *o)
{
	int prio = LOG_NOTICE;

	if (o->result == LP_AUTH_OK || o->result == LP_AUTH_RECOVERY_OK)
		prio = LOG_INFO;
	else if (o->result == LP_AUTH_BAD_STATE)
		prio = LOG_ERR;

	if (o->result == LP_AUTH_BAD_STATE)
		lp_pam_log(pamh, prio, w, lp_auth_reason(o->result),
		    " error=%s%s", strerror(-o->error), state_hint(o->error));
	else if (o->locked_now)
		lp_pam_log(pamh, prio, w, lp_auth_reason(o->result),
		    " lockout=start");
	else
		lp_pam_log(pamh, prio, w, lp_auth_reason(o->result),
		    " failures=%u", o->failures);
}

/* An address as the kernel's records hold one, not a host name. */
static bool
is_numeric_addr(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * Writes one record of this module.  The remote fields come from the
 * client; should they be unfit for a record, the record is written
 * without them rather than not at all.  A failure is logged and changes
 * no decision.
 */
static void
write_record(pam_handle_t *pamh, struct lp_audit_rec *rec)
{
	const char *rhost = lp_pam_item(pamh, PAM_RHOST);
	int r;

	rec->hostname = rhost;
	rec->addr = is_numeric_addr(rhost) ? rhost : NULL;
	rec->terminal = lp_pam_item(pamh, PAM_TTY);
	r = lp_audit_write(rec);
	if (r == -EINVAL) {
		pam_syslog(pamh, LOG_WARNING, "rhost or tty unfit for an "
		    "audit record, written as \"?\", continuing");
		rec->hostname = rec->addr = rec->terminal = NULL;
		r = lp_audit_write(rec);
	}
	if (r < 0)
		pam_syslog(pamh, LOG_ERR, "cannot write the audit record of "
		    "this decision: %s", strerror(-r));
}

/*
 * One USER_AUTH record per decision on a code, and ANOM_LOGIN_FAILURES
 * when this failure locked the account.  acct is the account's name, or
 * what was typed when no account has it and the audit option asks for
 * such names; else there is no acct field.
 */
static void
audit_decision(pam_handle_t *pamh, const char *acct, const char *reason,
    bool success, bool locked_now)
{
	struct lp_audit_rec rec;

	lp_audit_rec_init(&rec, AUDIT_USER_AUTH, "lp-totp");
	rec.acct = acct;
	rec.reason = reason;
	rec.success = success;
	write_record(pamh, &rec);
	if (!locked_now)
		return;

	lp_audit_rec_init(&rec, AUDIT_ANOM_LOGIN_FAILURES, "lp-totp");
	rec.acct = acct;
	rec.reason = "locked";
	write_record(pamh, &rec);
}

/* Tells the person what happened, without saying how long a lock lasts. */
static void
tell_person(pam_handle_t *pamh, const struct lp_auth_outcome *o)
{
	switch (o->result) {
	case LP_AUTH_OK:
		break;
	case LP_AUTH_RECOVERY_OK:
		pam_info(pamh, "Recovery code accepted; %zu left.",
		    o->recovery_left);
		break;
	case LP_AUTH_LOCKED:
		pam_error(pamh, "%s", LP_MSG_LOCKED);
		break;
	default:
		if (o->locked_now)
			pam_error(pamh, "%s", LP_MSG_LOCKED);
		else
			pam_error(pamh, "%s", LP_MSG_FAILED);
		break;
	}
}

static int
lp_pam_code(const struct lp_auth_outcome *o)
{
	switch (o->result) {
	case LP_AUTH_OK:
	case LP_AUTH_RECOVERY_OK:
		return PAM_SUCCESS;
	case LP_AUTH_BAD_STATE:
		return o->error == -ENOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
	default:
		return PAM_AUTH_ERR;
	}
}

/*
 * With nullok, a known user without a state file passes as PAM_IGNORE
 * before being asked anything.  Returns 1 when the user is enrolled or
 * the answer is unclear (so the attempt goes on and fails closed).
 */
static int
is_enrolled(struct lp_store *store, const char *user)
{
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st;
	int r;

	if (lp_store_lock(store, user, &lk) != 0)
		return 1;
	r = lp_store_read(lk, &st);
	lp_wipe_obj(&st);
	lp_store_unlock(lk);
	return r != -ENOENT;
}

static int
ask_code(pam_handle_t *pamh, const char *prompt, char **ret_resp)
{
	char *resp = NULL;
	int r;

	r = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", prompt);
	if (r != PAM_SUCCESS) {
		lp_freezero_str(resp);
		return r;
	}
	if (resp == NULL)
		return PAM_CONV_ERR;
	*ret_resp = resp;
	return PAM_SUCCESS;
}

static int
open_policy(pam_handle_t *pamh, const struct lp_args *a,
    struct lp_cfg **ret_cfg, struct lp_store **ret_store)
{
	struct lp_diag diag = { NULL, 0 };
	struct lp_cfg *cfg = NULL;
	struct lp_store *store = NULL;
	int r;

	r = lp_cfg_load(a->config, &cfg, &diag);
	if (r != 0) {
		pam_syslog(pamh, LOG_ERR, "cannot use policy: %s",
		    diag.n > 0 ? diag.msgs[0] : strerror(-r));
		lp_diag_clear(&diag);
		return r == -ENOMEM ? PAM_BUF_ERR : PAM_SERVICE_ERR;
	}
	r = lp_store_open(a->state_dir, &store);
	if (r != 0) {
		pam_syslog(pamh, LOG_ERR,
		    "cannot use state directory %s: %s%s", a->state_dir,
		    strerror(-r), r == -EPERM ?
		    " (it must be owned by root, mode 0700)" : "");
		lp_cfg_free(cfg);
		return PAM_AUTHINFO_UNAVAIL;
	}
	*ret_cfg = cfg;
	*ret_store = store;
	return PAM_SUCCESS;
}

/*
 * Returns the account's own name, or NULL when there is no such account.
 * The state file is found by that name, not by what was typed, since a
 * user database that folds case would otherwise let "ALICE" reach
 * alice's account without alice's state.
 */
static const char *
canonical_user(pam_handle_t *pamh, const char *user)
{
	const struct passwd *pw;

	if (lp_user_name_check(user) != 0)
		return NULL;
	pw = pam_modutil_getpwnam(pamh, user);
	if (pw == NULL || lp_user_name_check(pw->pw_name) != 0)
		return NULL;
	return pw->pw_name;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct lp_auth_outcome out;
	struct lp_args args;
	struct lp_cfg *cfg = NULL;
	struct lp_store *store = NULL;
	struct lp_who who;
	const char *user = NULL, *name, *acct;
	char *resp = NULL;
	int r = PAM_SERVICE_ERR;

	(void)flags;
	memset(&out, 0, sizeof(out));
	if (lp_args_parse(pamh, argc, argv, &args) != 0)
		return PAM_SERVICE_ERR;
	r = pam_get_user(pamh, &user, NULL);
	if (r != PAM_SUCCESS || user == NULL) {
		pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
		return r == PAM_SUCCESS ? PAM_USER_UNKNOWN : r;
	}
	name = canonical_user(pamh, user);
	/* A name that does not resolve is logged only with audit. */
	lp_pam_who(pamh, name != NULL ? name : user, name != NULL || args.audit,
	    &who);
	/* Bounded so that, even hex-encoded, it fits in a record. */
	acct = name;
	if (acct == NULL && args.audit &&
	    strnlen(user, LP_USER_NAME_MAX + 1) <= LP_USER_NAME_MAX)
		acct = user;

	r = open_policy(pamh, &args, &cfg, &store);
	if (r != PAM_SUCCESS)
		goto out;
	if (name != NULL && args.nullok && !is_enrolled(store, name)) {
		lp_pam_log(pamh, LOG_INFO, &who, "not_enrolled", " nullok=1");
		r = PAM_IGNORE;
		goto out;
	}

	r = ask_code(pamh, args.prompt, &resp);
	if (r != PAM_SUCCESS) {
		lp_pam_log(pamh, LOG_NOTICE, &who, "no_answer", "%s", "");
		audit_decision(pamh, acct, "no_answer", false, false);
		goto out;
	}
	/* An unknown name (NULL) is refused by the same work. */
	r = lp_auth_attempt(store, &cfg->totp, name, resp, time(NULL), &out);
	if (r != 0) {
		memset(&out, 0, sizeof(out));
		out.result = LP_AUTH_BAD_STATE;
		out.error = r;
	}
	log_decision(pamh, &who, &out);
	r = lp_pam_code(&out);
	audit_decision(pamh, acct, lp_auth_reason(out.result),
	    r == PAM_SUCCESS, out.locked_now != 0);
	tell_person(pamh, &out);
out:
	lp_freezero_str(resp);
	lp_store_free(store);
	lp_cfg_free(cfg);
	return r;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
