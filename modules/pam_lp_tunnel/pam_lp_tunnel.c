/*
 * pam_lp_tunnel: keeps node keys and people apart on the bastion.  The
 * tunnel account's sessions are admitted only for a registered key of an
 * enabled node, never with a terminal, and are recorded under the run
 * directory while they last; other accounts never get in with a node's
 * key.
 *
 * sshd tells the module which key passed its publickey step through
 * SSH_AUTH_INFO_0 in the PAM environment (read by lib/authinfo.c).  For a
 * key-only login, a tunnel's, sshd leaves it empty in the account phase
 * and fills it for the session (see RECIPES and pam_lp_tunnel(8)), so
 * the tunnel's checks are made when its session opens; a failing open
 * ends the connection before any forward is bound.  People log in with a
 * key and a code, so their key is known in the account phase already.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include <libaudit.h>

#include "../common/lp_pam.h"
#include "audit.h"
#include "authinfo.h"
#include "index.h"
#include "lp_util.h"
#include "record.h"
#include "tunnel.h"
#include "user.h"

#define LP_AUTHINFO_VAR		"SSH_AUTH_INFO_0"
#define LP_DATA_NODE		"pam_lp_tunnel_node"
#define LP_SSHD_TTY		"ssh"	/* what sshd sets before any pty */

struct lp_args {
	const char	*config;
	const char	*index;
	const char	*run_dir;
	bool		 debug;
};

/* What the close of a session needs to know of its open. */
struct lp_session {
	char			 node[LP_NODE_NAME_MAX + 1];
	unsigned		 port;
	struct timespec		 start;	/* CLOCK_MONOTONIC */
};

/* What the checks found out about the key of a login. */
struct lp_found {
	struct lp_index_node	 node;
	char			 key[LP_AUTHINFO_KEY_MAX];
	const char		*reason;	/* a reason= word on failure */
};

static int
parse_one_arg(pam_handle_t *pamh, struct lp_args *a, const char *arg)
{
	if (strncmp(arg, "config=", 7) == 0 && arg[7] == '/')
		a->config = arg + 7;
	else if (strncmp(arg, "index=", 6) == 0 && arg[6] == '/')
		a->index = arg + 6;
	else if (strncmp(arg, "run_dir=", 8) == 0 && arg[8] == '/')
		a->run_dir = arg + 8;
	else if (strcmp(arg, "debug") == 0)
		a->debug = true;
	else {
		char safe[129];

		pam_syslog(pamh, LOG_ERR, "unknown or malformed option \"%s\"",
		    lp_log_safe(safe, sizeof(safe), arg, 128));
		return -EINVAL;
	}
	return 0;
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
	a->index = LP_INDEX_PATH;
	a->run_dir = LP_TUNNEL_RUN_DIR;
	for (i = 0; i < argc; i++)
		if (parse_one_arg(pamh, a, argv[i]) != 0)
			return -EINVAL;
	if (a->debug)
		pam_syslog(pamh, LOG_DEBUG, "config=%s index=%s run_dir=%s",
		    a->config, a->index, a->run_dir);
	return 0;
}

/* A name that does not resolve is often a mistyped password. */
static void
fill_who(pam_handle_t *pamh, const char *user, struct lp_who *w)
{
	lp_pam_who(pamh, user, lp_user_name_check(user) == 0 &&
	    pam_modutil_getpwnam(pamh, user) != NULL, w);
}

/* Sets *ret_user, or logs why not and returns the PAM code. */
static int
get_user(pam_handle_t *pamh, const char **ret_user)
{
	const char *user = NULL;
	int r;

	r = pam_get_user(pamh, &user, NULL);
	if (r != PAM_SUCCESS || user == NULL || *user == '\0') {
		pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
		return r == PAM_SUCCESS ? PAM_USER_UNKNOWN : r;
	}
	*ret_user = user;
	return PAM_SUCCESS;
}

/*
 * Without the index nobody can be told from the tunnel account, so every
 * phase refuses; the line says what the administrator must fix.
 */
static int
open_index(pam_handle_t *pamh, const struct lp_args *a,
    const struct lp_who *w, struct lp_index **ret_idx)
{
	int r;

	r = lp_index_open(a->index, ret_idx);
	if (r != 0)
		lp_pam_log(pamh, LOG_ERR, w, "no_index",
		    " index=%s error=%s%s", a->index, strerror(-r),
		    r == -EPERM ?
		    " (it must be owned by root, not writable by others)" :
		    r == -EPROTO ?
		    " (corrupt, or of another version: run lp-nodes compile)" :
		    "");
	return r;
}

/*
 * Reads the key of the login from SSH_AUTH_INFO_0 and looks it up in the
 * index.  Returns 0 when the key belongs to a node (f->node), -ENOENT
 * when it belongs to none, -ENOMSG when the value names no key (a login
 * without the publickey method), or another negative errno, with
 * f->reason set to the word to log: -ENOKEY (no variable), -ENODATA (an
 * empty value), -EBADMSG, -EPROTONOSUPPORT, -ENOBUFS (see authinfo.h),
 * -EPROTO (a corrupt index record).
 */
static int
find_key_node(pam_handle_t *pamh, struct lp_index *idx, struct lp_found *f)
{
	const char *info;
	int r;

	memset(f, 0, sizeof(*f));
	if ((info = pam_getenv(pamh, LP_AUTHINFO_VAR)) == NULL) {
		f->reason = "no_authinfo";
		return -ENOKEY;
	}
	r = lp_authinfo_publickey(info, f->key, sizeof(f->key));
	switch (r) {
	case 0:
		break;
	case -ENODATA:
		f->reason = "empty_authinfo";
		return r;
	case -ENOENT:
		f->reason = "no_key";
		return -ENOMSG;
	case -EPROTONOSUPPORT:
		f->reason = "unsupported_key";
		return r;
	default:
		f->reason = "bad_authinfo";
		return r;
	}
	r = lp_index_node_by_key(idx, f->key, &f->node);
	if (r == -ENOENT)
		f->reason = "unknown_key";
	else if (r != 0)
		f->reason = "bad_index";
	return r;
}

/* The key's type, for a log line; the key itself is not logged. */
static const char *
key_type(const struct lp_found *f, char *buf, size_t size)
{
	return lp_log_safe(buf, size, f->key, strcspn(f->key, " ") < 40 ?
	    strcspn(f->key, " ") : 40);
}

/*
 * A person's login: refused when its key belongs to a node, whether the
 * node is enabled or not.  A login whose key the module cannot see is
 * refused too (see pam_lp_tunnel(8) for why an empty value is not
 * passed).  A login without any publickey line used no node key.
 */
static int
check_person(pam_handle_t *pamh, struct lp_index *idx, const struct lp_who *w)
{
	struct lp_found f;
	char type[41];
	int r;

	r = find_key_node(pamh, idx, &f);
	if (r == 0) {
		lp_pam_log(pamh, LOG_NOTICE, w, "node_key_for_person",
		    " node=%s", f.node.name);
		return PAM_PERM_DENIED;
	}
	if (r == -ENOENT || r == -ENOMSG) {
		lp_pam_log(pamh, LOG_INFO, w, "ok", "%s%s",
		    r == -ENOMSG ? " key=none" : " key_type=",
		    r == -ENOMSG ? "" : key_type(&f, type, sizeof(type)));
		return PAM_SUCCESS;
	}
	lp_pam_log(pamh, r == -EPROTO ? LOG_ERR : LOG_NOTICE, w, f.reason,
	    "%s", "");
	return r == -EPROTO ? PAM_SERVICE_ERR : PAM_PERM_DENIED;
}

/*
 * The tunnel account's key: a registered key of an enabled node.
 * Returns PAM_SUCCESS with f->node filled, or logs the refusal and
 * returns fail (the phase's refusal code).
 */
static int
check_tunnel_key(pam_handle_t *pamh, struct lp_index *idx,
    const struct lp_who *w, struct lp_found *f, int fail)
{
	char type[41];
	int r;

	r = find_key_node(pamh, idx, f);
	if (r == 0 && f->node.enabled)
		return PAM_SUCCESS;
	if (r == 0) {
		f->reason = "node_disabled";
		lp_pam_log(pamh, LOG_NOTICE, w, f->reason, " node=%s",
		    f->node.name);
	} else if (r == -ENOENT)
		lp_pam_log(pamh, LOG_NOTICE, w, "unknown_key", " key_type=%s",
		    key_type(f, type, sizeof(type)));
	else
		lp_pam_log(pamh, r == -EPROTO ? LOG_ERR : LOG_NOTICE, w,
		    f->reason, "%s", "");
	return fail;
}

static bool
is_tunnel_user(pam_handle_t *pamh, const struct lp_args *a,
    struct lp_index *idx, const char *user)
{
	const char *t = lp_index_tunnel_user(idx);
	bool yes = t != NULL && *t != '\0' && strcmp(t, user) == 0;

	if (a->debug)
		pam_syslog(pamh, LOG_DEBUG, "the index names %s as the tunnel "
		    "account: this login is %s", t != NULL ? t : "nobody",
		    yes ? "a tunnel" : "a person");
	return yes;
}

PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct lp_args args;
	struct lp_found found;
	struct lp_index *idx = NULL;
	struct lp_who who;
	const char *user = NULL, *info;
	int r;

	(void)flags;
	if (lp_args_parse(pamh, argc, argv, &args) != 0)
		return PAM_SERVICE_ERR;
	if ((r = get_user(pamh, &user)) != PAM_SUCCESS)
		return r;
	fill_who(pamh, user, &who);
	if (open_index(pamh, &args, &who, &idx) != 0) {
		r = PAM_SERVICE_ERR;
		goto out;
	}

	if (!is_tunnel_user(pamh, &args, idx, user)) {
		r = check_person(pamh, idx, &who);
		goto out;
	}
	/*
	 * A key-only login has SSH_AUTH_INFO_0 empty here and filled for
	 * the session, which makes the decision.  When sshd does show a
	 * key here, it is checked now as well.
	 */
	info = pam_getenv(pamh, LP_AUTHINFO_VAR);
	if (info != NULL && *info == '\0') {
		lp_pam_log(pamh, LOG_INFO, &who, "deferred", "%s", "");
		r = PAM_SUCCESS;
		goto out;
	}
	r = check_tunnel_key(pamh, idx, &who, &found, PAM_PERM_DENIED);
	if (r == PAM_SUCCESS)
		lp_pam_log(pamh, LOG_INFO, &who, "ok", " node=%s",
		    found.node.name);
out:
	lp_index_close(idx);
	return r;
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
 * Writes one USER_START or USER_END record of a tunnel: node and port
 * when known, the node's address as sshd saw it.  Should the remote
 * fields be unfit for a record, it is written without them rather than
 * not at all.  A failure is logged and changes no decision.
 */
static void
audit_tunnel(pam_handle_t *pamh, int type, const char *user,
    const char *node, unsigned port, const char *reason, bool success,
    int64_t duration_ms)
{
	const char *rhost = lp_pam_item(pamh, PAM_RHOST);
	struct lp_audit_rec rec;
	int r;

	lp_audit_rec_init(&rec, type, "lp-tunnel");
	rec.acct = user;
	rec.node = node;
	rec.port = port;
	rec.reason = reason;
	rec.duration_ms = duration_ms;
	rec.success = success;
	rec.hostname = rhost;
	rec.addr = is_numeric_addr(rhost) ? rhost : NULL;
	rec.terminal = lp_pam_item(pamh, PAM_TTY);
	r = lp_audit_write(&rec);
	if (r == -EINVAL) {
		pam_syslog(pamh, LOG_WARNING, "rhost or tty unfit for an "
		    "audit record, written as \"?\", continuing");
		rec.hostname = rec.addr = rec.terminal = NULL;
		r = lp_audit_write(&rec);
	}
	if (r < 0)
		pam_syslog(pamh, LOG_ERR, "cannot write the audit record of "
		    "this tunnel: %s", strerror(-r));
}

/*
 * PAM_TTY is "ssh" (sshd's placeholder) or unset for a session without
 * a terminal; anything else names one, and a tunnel never gets one.
 */
static bool
has_terminal(pam_handle_t *pamh)
{
	const char *tty = lp_pam_item(pamh, PAM_TTY);

	return *tty != '\0' && strcmp(tty, LP_SSHD_TTY) != 0;
}

/* Says when the policy changed after the index was compiled. */
static void
warn_if_stale(pam_handle_t *pamh, const struct lp_args *a)
{
	struct stat pst, ist;

	if (stat(a->config, &pst) != 0 || stat(a->index, &ist) != 0)
		return;
	if (pst.st_mtim.tv_sec > ist.st_mtim.tv_sec ||
	    (pst.st_mtim.tv_sec == ist.st_mtim.tv_sec &&
	    pst.st_mtim.tv_nsec > ist.st_mtim.tv_nsec))
		pam_syslog(pamh, LOG_WARNING, "%s is newer than %s: run "
		    "lp-nodes compile; using the index, continuing",
		    a->config, a->index);
}

/*
 * The record holds an address, or a name when sshd resolves them, of up
 * to LP_PEER_MAX printable characters; another is recorded as "-".
 */
static bool
peer_fits(const char *rhost)
{
	size_t len = strnlen(rhost, LP_PEER_MAX + 1);

	return len <= LP_PEER_MAX && lp_rec_is_word(rhost, len);
}

static void
free_session_data(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

/*
 * Writes the tunnel's record and remembers the node for the close, which
 * runs in this same process (sshd's monitor for the connection).  A
 * node holds one tunnel at a time: while the record of another session
 * of the node names a live process, that session still holds the
 * node's port (or will until sshd finds its link dead), and this one is
 * refused with -EEXIST, the holder in *holder.
 */
static int
record_tunnel(pam_handle_t *pamh, const struct lp_args *a,
    const struct lp_index_node *node, struct lp_tunnel_rec *holder)
{
	struct lp_tunnel_rec rec;
	struct lp_session *sess;
	const char *rhost = lp_pam_item(pamh, PAM_RHOST);
	int r;

	memset(&rec, 0, sizeof(rec));
	memcpy(rec.node, node->name, sizeof(rec.node));
	rec.port = node->port;
	if (!peer_fits(rhost))
		rhost = "-";
	memcpy(rec.peer, rhost, strlen(rhost) + 1);
	rec.pid = getpid();
	rec.since = (int64_t)time(NULL);

	if ((sess = calloc(1, sizeof(*sess))) == NULL)
		return -ENOMEM;
	memcpy(sess->node, node->name, sizeof(sess->node));
	sess->port = node->port;
	(void)clock_gettime(CLOCK_MONOTONIC, &sess->start);
	if (pam_set_data(pamh, LP_DATA_NODE, sess, free_session_data) !=
	    PAM_SUCCESS) {
		free(sess);
		return -ENOMEM;
	}
	r = lp_tunnel_rec_write(a->run_dir, &rec, holder);
	if (r != 0)
		(void)pam_set_data(pamh, LP_DATA_NODE, NULL, NULL);
	return r;
}

/*
 * Opens the tunnel's session: checks its key, its terminal and that the
 * node holds no other tunnel, then writes its record.  Returns the PAM
 * code, with f->node filled when the key is a node's and f->reason set
 * on a refusal.
 */
static int
open_tunnel(pam_handle_t *pamh, const struct lp_args *a,
    struct lp_index *idx, const struct lp_who *w, struct lp_found *f)
{
	struct lp_tunnel_rec holder;
	int r;

	if (check_tunnel_key(pamh, idx, w, f, PAM_SESSION_ERR) != PAM_SUCCESS)
		return PAM_SESSION_ERR;
	if (has_terminal(pamh)) {
		f->reason = "tty_refused";
		lp_pam_log(pamh, LOG_NOTICE, w, f->reason, " node=%s",
		    f->node.name);
		return PAM_SESSION_ERR;
	}
	warn_if_stale(pamh, a);
	if ((r = record_tunnel(pamh, a, &f->node, &holder)) == -EEXIST) {
		f->reason = "already_up";
		lp_pam_log(pamh, LOG_NOTICE, w, f->reason,
		    " node=%s pid=%ld since=%lld", f->node.name,
		    (long)holder.pid, (long long)holder.since);
		return PAM_SESSION_ERR;
	}
	if (r != 0) {
		f->reason = "record_failed";
		lp_pam_log(pamh, LOG_ERR, w, f->reason,
		    " node=%s run_dir=%s error=%s", f->node.name,
		    a->run_dir, strerror(-r));
		return r == -ENOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
	}
	lp_pam_log(pamh, LOG_INFO, w, "ok", " node=%s port=%u pid=%ld",
	    f->node.name, f->node.port, (long)getpid());
	return PAM_SUCCESS;
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct lp_args args;
	struct lp_found found;
	struct lp_index *idx = NULL;
	struct lp_who who;
	const char *user = NULL;
	int r;

	(void)flags;
	memset(&found, 0, sizeof(found));
	if (lp_args_parse(pamh, argc, argv, &args) != 0)
		return PAM_SERVICE_ERR;
	if ((r = get_user(pamh, &user)) != PAM_SUCCESS)
		return PAM_SESSION_ERR;
	fill_who(pamh, user, &who);
	r = PAM_SESSION_ERR;
	if (open_index(pamh, &args, &who, &idx) != 0)
		goto out;
	/* People were judged in the account phase. */
	if (!is_tunnel_user(pamh, &args, idx, user)) {
		r = PAM_IGNORE;
		goto out;
	}

	r = open_tunnel(pamh, &args, idx, &who, &found);
	audit_tunnel(pamh, AUDIT_USER_START, user,
	    found.node.name[0] != '\0' ? found.node.name : NULL,
	    found.node.port, r == PAM_SUCCESS ? NULL : found.reason,
	    r == PAM_SUCCESS, -1);
out:
	lp_index_close(idx);
	return r;
}

/* Milliseconds since start, on the monotonic clock. */
static int64_t
ms_since(const struct timespec *start)
{
	struct timespec now;
	int64_t ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return -1;
	ms = ((int64_t)now.tv_sec - (int64_t)start->tv_sec) * 1000 +
	    ((int64_t)now.tv_nsec - (int64_t)start->tv_nsec) / 1000000;
	return ms >= 0 ? ms : 0;
}

/* Leaves the node's down marker once its tunnel is gone. */
static void
mark_down(pam_handle_t *pamh, const struct lp_args *a, const char *node)
{
	int r;

	r = lp_tunnel_down_write(a->run_dir, node, (int64_t)time(NULL));
	if (r != 0)
		pam_syslog(pamh, LOG_ERR, "cannot write the down marker of "
		    "%s in %s: %s", node, a->run_dir, strerror(-r));
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
    const char **argv)
{
	struct lp_args args;
	struct lp_who who;
	const struct lp_session *sess;
	const void *data = NULL;
	const char *user = NULL, *reason = NULL;
	int r, ret = PAM_SUCCESS;

	(void)flags;
	if (lp_args_parse(pamh, argc, argv, &args) != 0)
		return PAM_SERVICE_ERR;
	/* Only a session this module opened has a record to remove. */
	if (pam_get_data(pamh, LP_DATA_NODE, &data) != PAM_SUCCESS ||
	    data == NULL)
		return PAM_IGNORE;
	sess = data;
	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL)
		user = "";
	fill_who(pamh, user, &who);

	r = lp_tunnel_rec_remove(args.run_dir, sess->node, getpid());
	if (r == 0 || r == -ENOENT) {
		mark_down(pamh, &args, sess->node);
		lp_pam_log(pamh, LOG_INFO, &who, "closed", " node=%s pid=%ld",
		    sess->node, (long)getpid());
	} else if (r == -ESRCH) {
		/* A newer tunnel of the node holds the record: it is up. */
		reason = "replaced";
		lp_pam_log(pamh, LOG_INFO, &who, reason, " node=%s pid=%ld",
		    sess->node, (long)getpid());
	} else {
		reason = "record_failed";
		lp_pam_log(pamh, LOG_ERR, &who, reason,
		    " node=%s run_dir=%s error=%s", sess->node,
		    args.run_dir, strerror(-r));
		ret = PAM_SESSION_ERR;
	}
	audit_tunnel(pamh, AUDIT_USER_END, *user != '\0' ? user : NULL,
	    sess->node, sess->port, reason, ret == PAM_SUCCESS,
	    ms_since(&sess->start));
	return ret;
}
