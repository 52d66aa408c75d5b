/*
 * lp-enroll-totp: creates, replaces, shows, unlocks and removes a
 * person's TOTP enrolment on the bastion.  Run by root; the state and
 * policy work is done by liblp_common, this file parses arguments, talks
 * to the administrator and reports.
 *
 * Nothing on disk changes until the new secret (and the recovery codes)
 * have been shown, and with --verify until a first code has been checked.
 * The user's lock is not held meanwhile, because pam_lp_totp waits on it:
 * it is taken again for the write, which happens only if the state is
 * still the one seen at the start.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libaudit.h>
#include <qrencode.h>

#include "audit.h"
#include "auth.h"
#include "cfg.h"
#include "diag.h"
#include "lp_util.h"
#include "recovery.h"
#include "state.h"
#include "totp.h"
#include "user.h"

#define EXIT_REFUSED	1
#define EXIT_USAGE	2

#define QR_QUIET	4	/* light modules around the symbol */
#define CODE_INPUT_MAX	64
#define URI_MAX		2048
#define NAME_SHOWN_MAX	64	/* bytes of a name shown in a message */
#define PATH_SHOWN_MAX	255	/* bytes of a path shown in a message */

#define LOGIN_DEFS	"/etc/login.defs"
#define UID_MIN_DEFAULT	1000	/* useradd's own default for UID_MIN */

/* Black ink on a bright white background, whatever the terminal's theme. */
#define QR_SGR_ON	"\033[30;107m"
#define QR_SGR_OFF	"\033[0m"

enum mode {
	MODE_ENROL,
	MODE_REMOVE,
	MODE_NEW_CODES,
	MODE_STATUS,
	MODE_UNLOCK,
};

/* The option that chose each mode, for usage messages. */
static const char *const mode_option[] = {
	[MODE_ENROL] = "an enrolment",
	[MODE_REMOVE] = "--remove",
	[MODE_NEW_CODES] = "--new-recovery-codes",
	[MODE_STATUS] = "--status",
	[MODE_UNLOCK] = "--unlock",
};

struct opts {
	const char	*config;
	const char	*state_dir;
	const char	*user;
	enum mode	 mode;
	bool		 force;
	bool		 no_qr;
	bool		 uri_only;
	bool		 verify;
};

/*
 * Every secret the program holds lives here, so that one wipe in main()
 * covers them all, whichever way the program ends.
 */
static struct {
	struct lp_totp_state	st;	/* the state to write */
	struct lp_totp_state	old;	/* as read at the start */
	struct lp_totp_state	cur;	/* as read for the write */
	char	b32[LP_BASE32_MAX + 1];
	char	uri[URI_MAX];
	char	codes[LP_RECOVERY_COUNT][LP_RECOVERY_LEN + 1];
	char	hashes[LP_RECOVERY_COUNT][LP_RECOVERY_HASH_MAX];
	char	input[CODE_INPUT_MAX];
	char	code[LP_TOTP_CODE_MAX + 1];
} sec;

/* stdout's buffer, which holds the URI and the codes: wiped at the end. */
static char outbuf[BUFSIZ];

static volatile sig_atomic_t got_signal;

static const int prompt_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU,
};

static const struct option longopts[] = {
	{ "config",		required_argument,	NULL, 'c' },
	{ "state-dir",		required_argument,	NULL, 'd' },
	{ "force",		no_argument,		NULL, 'f' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "no-qr",		no_argument,		NULL, 'n' },
	{ "new-recovery-codes",	no_argument,		NULL, 'R' },
	{ "remove",		no_argument,		NULL, 'r' },
	{ "status",		no_argument,		NULL, 's' },
	{ "unlock",		no_argument,		NULL, 'U' },
	{ "uri-only",		no_argument,		NULL, 'u' },
	{ "verify",		no_argument,		NULL, 'v' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL,			0,			NULL, 0 },
};

/* Asked for, the usage goes to stdout; after an error, to stderr. */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == EXIT_SUCCESS ? stdout : stderr,
	    "usage: lp-enroll-totp [-fnuv] [-c path] [-d dir] user\n"
	    "       lp-enroll-totp -R | -r | -s | -U [-c path] [-d dir] user\n"
	    "       lp-enroll-totp -h | -V\n");
	exit(status);
}

/* Says what is wrong with the command line, then shows the usage. */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	usage(EXIT_USAGE);
}

static void
set_mode(struct opts *o, enum mode m)
{
	if (o->mode != MODE_ENROL && o->mode != m)
		usage_error("%s and %s cannot be combined",
		    mode_option[o->mode], mode_option[m]);
	o->mode = m;
}

/* The first option given that only shapes an enrolment, or NULL. */
static const char *
enrol_option(const struct opts *o)
{
	if (o->force)
		return "--force";
	if (o->no_qr)
		return "--no-qr";
	if (o->uri_only)
		return "--uri-only";
	if (o->verify)
		return "--verify";
	return NULL;
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->config = LP_CONFIG_PATH;
	o->state_dir = LP_TOTP_STATE_DIR;
	o->mode = MODE_ENROL;

	/* '+': the user name ends option parsing, as POSIX says. */
	while ((ch = getopt_long(argc, argv, "+c:d:fhnRrsUuVv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'd':
			o->state_dir = optarg;
			break;
		case 'f':
			o->force = true;
			break;
		case 'h':
			usage(EXIT_SUCCESS);
		case 'n':
			o->no_qr = true;
			break;
		case 'R':
			set_mode(o, MODE_NEW_CODES);
			break;
		case 'r':
			set_mode(o, MODE_REMOVE);
			break;
		case 's':
			set_mode(o, MODE_STATUS);
			break;
		case 'U':
			set_mode(o, MODE_UNLOCK);
			break;
		case 'u':
			o->uri_only = true;
			break;
		case 'v':
			o->verify = true;
			break;
		case 'V':
			printf("lp-enroll-totp %s\n", PACKAGE_VERSION);
			exit(fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_REFUSED);
		default:
			/* getopt_long(3) has said what was wrong. */
			usage(EXIT_USAGE);
		}
	}
	if (argc - optind < 1)
		usage_error("no user given");
	if (argc - optind > 1)
		usage_error("one user at a time; %d arguments given",
		    argc - optind);
	o->user = argv[optind];

	/* These shape an enrolment; elsewhere they would be ignored. */
	if (o->mode != MODE_ENROL && enrol_option(o) != NULL)
		usage_error("%s and %s cannot be combined",
		    mode_option[o->mode], enrol_option(o));
}

/* A string from outside, cut to fit buf and made fit for a message. */
static const char *
shown(char *buf, size_t size, const char *s)
{
	return lp_log_safe(buf, size, s, size - 1);
}

/* Checks the name and that the account exists; sets *ret_uid. */
static int
check_user(const char *user, uid_t *ret_uid)
{
	char name[NAME_SHOWN_MAX + 1];
	const struct passwd *pw;

	if (lp_user_name_check(user) < 0) {
		warnx("%s: invalid user name", shown(name, sizeof(name), user));
		return -1;
	}
	/* pam_lp_totp refuses unknown users with work on this name. */
	if (strcmp(user, LP_AUTH_DUMMY_USER) == 0) {
		warnx("%s: reserved for pam_lp_totp's own use", user);
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			warn("%s: cannot look up user", user);
		else
			warnx("%s: no such user", user);
		return -1;
	}
	*ret_uid = pw->pw_uid;
	return 0;
}

/*
 * The lowest uid of an ordinary account, as useradd(8) sees it: the last
 * UID_MIN in login.defs, else 1000.  It only decides a warning, so a file
 * that cannot be read or a value that does not parse is no error.
 */
static uid_t
read_uid_min(void)
{
	char *line = NULL, *key, *val, *save;
	uid_t min = UID_MIN_DEFAULT;
	size_t cap = 0;
	long long v;
	FILE *fp;

	if ((fp = fopen(LOGIN_DEFS, "re")) == NULL)
		return min;
	while (getline(&line, &cap, fp) != -1) {
		key = strtok_r(line, " \t\r\n", &save);
		if (key == NULL || strcmp(key, "UID_MIN") != 0)
			continue;
		val = strtok_r(NULL, " \t\r\n", &save);
		if (val != NULL && lp_parse_ll(val, 0, UINT32_MAX - 1, &v) == 0)
			min = (uid_t)v;
	}
	free(line);
	(void)fclose(fp);
	return min;
}

/*
 * A second factor on a system account is unusual enough to be a slip
 * (the wrong name typed), yet some sites want it on root: say so, and go
 * on.
 */
static void
warn_system_account(const char *user, uid_t uid)
{
	uid_t min;

	if (uid == 0) {
		warnx("warning: %s is the superuser (uid 0); enrolling anyway",
		    user);
		return;
	}
	min = read_uid_min();
	if (uid < min)
		warnx("warning: %s is a system account (uid %u, below "
		    "UID_MIN %u); enrolling anyway", user, (unsigned)uid,
		    (unsigned)min);
}

/* The reason= word of a failed change, by mode; NULL: changes nothing. */
static const char *const mode_change[] = {
	[MODE_ENROL] = "enrolled",
	[MODE_REMOVE] = "removed",
	[MODE_NEW_CODES] = "new_recovery_codes",
	[MODE_STATUS] = NULL,
	[MODE_UNLOCK] = "unlocked",
};

/* Set once a change is made, so that a later failure is not its. */
static bool change_made;

/*
 * Writes the USER_MGMT record of a change, or of a change that failed.
 * The kernel adds who ran the program (auid, uid); the terminal is the
 * administrator's.  A record that cannot be written is said on stderr:
 * the change itself stands.
 */
static void
audit_change(const char *user, const char *reason, bool success)
{
	struct lp_audit_rec rec;
	int r;

	lp_audit_rec_init(&rec, AUDIT_USER_MGMT, "lp-enroll-totp");
	rec.acct = user;
	rec.reason = reason;
	rec.success = success;
	r = lp_audit_write_admin(&rec);
	if (r < 0)
		warnx("%s: cannot write the audit record: %s", user,
		    strerror(-r));
}

/*
 * Logs a change of user's enrolment and who made it (lp_user_caller()),
 * and writes its audit record.
 */
static void
log_change(const char *user, const char *action, const char *extra)
{
	char who[2 * LP_USER_NAME_MAX + 32];

	lp_user_caller(who, sizeof(who));
	syslog(LOG_NOTICE, "action=%s user=%s %s%s", action, user, who, extra);
	change_made = true;
	audit_change(user, action, true);
}

/*
 * Says why the state file was refused.  A hard link and a file that is
 * not regular both read as -EINVAL; lstat(2) of the path only words the
 * message, it decides nothing.
 */
static const char *
read_error(const struct opts *o, int r)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	switch (r) {
	case -ELOOP:
		return "state file is a symbolic link";
	case -EPERM:
		return "state file has the wrong owner or mode";
	case -EINVAL:
		n = snprintf(path, sizeof(path), "%s/%s", o->state_dir,
		    o->user);
		if (n > 0 && (size_t)n < sizeof(path) &&
		    lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_nlink > 1)
			return "state file has more than one hard link";
		return "state file is not a regular file";
	case -EBADMSG:
		return "state file is malformed";
	case -EFBIG:
		return "state file is too large";
	default:
		return strerror(-r);
	}
}

/*
 * Whether a state file refused with r is still a plain root-owned file
 * of ours that is only unreadable as state: --force may replace it and
 * --remove may delete it.  Links, other file types and wrong owners or
 * modes need a look first, and are never touched.
 */
static bool
is_safe_to_drop(int r)
{
	return r == -EBADMSG || r == -EFBIG;
}

static int
open_store(const char *dir, struct lp_store **ret_store)
{
	char name[PATH_SHOWN_MAX + 1];
	const char *why;
	int r;

	r = lp_store_open(dir, ret_store);
	if (r == 0)
		return 0;
	switch (r) {
	case -ENOENT:
		why = "no such directory";
		break;
	case -ELOOP:
		why = "is a symbolic link";
		break;
	case -EPERM:
		why = "must be owned by root with no group or other access";
		break;
	default:
		why = strerror(-r);
	}
	warnx("%s: %s", shown(name, sizeof(name), dir), why);
	return r;
}

static int
load_policy(const char *path, struct lp_cfg **ret_cfg)
{
	struct lp_diag diag = { NULL, 0 };
	char name[PATH_SHOWN_MAX + 1];
	size_t i, nmsgs;
	int r;

	r = lp_cfg_load(path, ret_cfg, &diag);
	nmsgs = diag.n;
	for (i = 0; i < diag.n; i++)
		warnx("%s", diag.msgs[i]);
	lp_diag_clear(&diag);
	if (r == 0)
		return 0;

	/* Parse errors were named above, with their line and column. */
	shown(name, sizeof(name), path);
	if (r == -EPERM)
		warnx("%s: must be owned by root and not writable by others",
		    name);
	else if (r != -EINVAL || nmsgs == 0)
		warnx("%s: %s", name, strerror(-r));
	return r;
}

/*
 * Reads the user's state under the lock into *st and puts the result of
 * the read (0, -ENOENT, ...) in *ret_read.  Returns 0, or a negative
 * errno when the lock cannot be taken.
 */
static int
read_locked(struct lp_store *store, const char *user,
    struct lp_totp_state *st, int *ret_read)
{
	struct lp_store_lock *lk = NULL;
	int r;

	r = lp_store_lock(store, user, &lk);
	if (r < 0) {
		warnx("%s: cannot lock state: %s", user, strerror(-r));
		return r;
	}
	*ret_read = lp_store_read(lk, st);
	lp_store_unlock(lk);
	return 0;
}

/* Whether two reads saw the same enrolment (or the same lack of one). */
static bool
same_enrolment(int ra, const struct lp_totp_state *a, int rb,
    const struct lp_totp_state *b)
{
	if (ra != rb)
		return false;
	if (ra != 0)
		return true;
	return a->enrolled == b->enrolled &&
	    a->secret_len == b->secret_len &&
	    lp_timingsafe_eq(a->secret, b->secret, a->secret_len);
}

/*
 * Takes the lock again and writes: sec.st for an enrolment, or sec.cur
 * with the new recovery hashes when keep_secret.  Writes nothing if the
 * state is no longer the one read as sec.old with result old_read.
 */
static int
commit(struct lp_store *store, const char *user, int old_read,
    bool keep_secret)
{
	struct lp_store_lock *lk = NULL;
	int cur_read, r;

	r = lp_store_lock(store, user, &lk);
	if (r < 0) {
		warnx("%s: cannot lock state: %s", user, strerror(-r));
		goto out;
	}
	cur_read = lp_store_read(lk, &sec.cur);
	if (!same_enrolment(old_read, &sec.old, cur_read, &sec.cur)) {
		warnx("%s: enrolment changed meanwhile; nothing written",
		    user);
		r = -EAGAIN;
		goto out;
	}
	if (keep_secret) {
		/* The fresh read keeps last_step: replay must not regress. */
		memset(sec.cur.recovery, 0, sizeof(sec.cur.recovery));
		memcpy(sec.cur.recovery, sec.hashes, sizeof(sec.hashes));
		sec.cur.nrecovery = LP_RECOVERY_COUNT;
		r = lp_store_write(lk, &sec.cur);
	} else
		r = lp_store_write(lk, &sec.st);
	if (r < 0) {
		warnx("%s: cannot write state: %s; nothing changed", user,
		    strerror(-r));
		goto out;
	}
	r = 0;
out:
	lp_store_unlock(lk);
	return r;
}

/* Percent-encodes every byte outside RFC 3986's unreserved set. */
static int
pct_encode(const char *in, char *out, size_t outsize)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			if (o + 1 >= outsize)
				return -ENOBUFS;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsize)
				return -ENOBUFS;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	if (o >= outsize)
		return -ENOBUFS;
	out[o] = '\0';
	return 0;
}

/* Builds sec.uri from sec.b32, the user and the totp: policy. */
static int
make_uri(const char *user, const struct lp_totp_cfg *tc)
{
	char issuer[3 * LP_ISSUER_MAX + 1];
	char name[3 * LP_USER_NAME_MAX + 1];
	char algo[8];
	const char *a;
	size_t i;
	int n;

	if (pct_encode(tc->issuer, issuer, sizeof(issuer)) < 0 ||
	    pct_encode(user, name, sizeof(name)) < 0)
		return -ENOBUFS;
	a = lp_totp_algo_name(tc->algo);
	for (i = 0; a[i] != '\0' && i + 1 < sizeof(algo); i++)
		algo[i] = (char)(a[i] >= 'a' && a[i] <= 'z' ?
		    a[i] - 'a' + 'A' : a[i]);
	algo[i] = '\0';

	n = snprintf(sec.uri, sizeof(sec.uri),
	    "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=%s"
	    "&digits=%u&period=%u", issuer, name, sec.b32, issuer, algo,
	    tc->digits, tc->period);
	if (n < 0 || (size_t)n >= sizeof(sec.uri))
		return -ENOBUFS;
	return 0;
}

static bool
qr_dark(const QRcode *qr, int x, int y)
{
	x -= QR_QUIET;
	y -= QR_QUIET;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return (qr->data[y * qr->width + x] & 1) != 0;
}

/*
 * Draws text as a QR code, two modules a character cell: the upper and
 * lower half blocks and the full block, in UTF-8.
 */
static int
draw_qr(const char *text)
{
	static const char *const cell[2][2] = {
		{ " ", "\xe2\x96\x84" },		/* U+2584 lower half */
		{ "\xe2\x96\x80", "\xe2\x96\x88" },	/* U+2580, U+2588 */
	};
	QRcode *qr;
	int size, x, y;

	errno = 0;
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL)
		return errno != 0 ? -errno : -ENOMEM;
	size = qr->width + 2 * QR_QUIET;
	for (y = 0; y < size; y += 2) {
		fputs(QR_SGR_ON, stdout);
		for (x = 0; x < size; x++)
			fputs(cell[qr_dark(qr, x, y)][qr_dark(qr, x, y + 1)],
			    stdout);
		fputs(QR_SGR_OFF "\n", stdout);
	}
	/*
	 * XXX: libqrencode frees its own working copies of the text without
	 * wiping them; only the finished symbol can be wiped here.  The
	 * process ends moments later, which keeps the window short.
	 */
	explicit_bzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	return 0;
}

static void
show_key(void)
{
	size_t i;

	fputs("Or type the key by hand:", stdout);
	for (i = 0; sec.b32[i] != '\0'; i++) {
		if (i % 4 == 0)
			putchar(' ');
		putchar(sec.b32[i]);
	}
	putchar('\n');
}

static void
show_codes(const char *user)
{
	size_t i;

	printf("\nRecovery codes for %s; each one works once, in place of a "
	    "code.\n", user);
	printf("They are shown only this once: store them somewhere safe "
	    "now.\n\n");
	for (i = 0; i < LP_RECOVERY_COUNT; i++)
		printf("    %s\n", sec.codes[i]);
}

/* Flushes stdout; a lost line of a secret is a failure. */
static int
flush_out(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warn("standard output");
		return -EIO;
	}
	return 0;
}

static int
show_enrolment(const struct opts *o, const struct lp_totp_cfg *tc)
{
	int r;

	if (o->uri_only) {
		printf("%s\n", sec.uri);
		return flush_out();
	}
	printf("TOTP enrolment of %s (issuer %s, %s, %u digits, %u s).\n"
	    "Add it to an authenticator app: scan the QR code or open the "
	    "URI.\n\n%s\n\n", o->user, tc->issuer, lp_totp_algo_name(tc->algo),
	    tc->digits, tc->period, sec.uri);
	if (!o->no_qr) {
		r = draw_qr(sec.uri);
		if (r < 0) {
			warnx("cannot draw the QR code: %s; use --no-qr",
			    strerror(-r));
			return r;
		}
		putchar('\n');
	}
	show_key();
	if (!o->verify)
		show_codes(o->user);
	return flush_out();
}

static void
catch_signal(int signo)
{
	got_signal = signo;
}

/*
 * Reads a line into buf, one byte at a time so that nothing after it is
 * taken from a shared input.  Returns 0, -ENODATA when the input ends
 * before its first byte, -EMSGSIZE for a line too long, -EINTR on a
 * signal, or another negative errno.
 */
static int
read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	bool toolong = false;
	ssize_t k;
	char c;
	int r = 0;

	for (;;) {
		k = read(fd, &c, 1);
		if (k < 0) {
			if (errno == EINTR && got_signal == 0)
				continue;
			r = -errno;
			break;
		}
		if (k == 0) {
			if (n == 0 && !toolong)
				r = -ENODATA;
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if (n + 1 < size)
			buf[n++] = c;
		else
			toolong = true;
	}
	explicit_bzero(&c, sizeof(c));
	buf[n] = '\0';
	if (r == 0 && toolong)
		r = -EMSGSIZE;
	return r;
}

static void
write_all(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n < 0) {
			if (errno == EINTR && got_signal == 0)
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

/*
 * Asks for a code on the controlling terminal with echo off.  Without
 * one (a script, a test under setsid), reads standard input and prompts
 * on standard error, so that stdout keeps only what --uri-only promises.
 */
static int
prompt_code(char *buf, size_t size)
{
	struct sigaction sa, saved_sa[LP_ARRAY_SIZE(prompt_signals)];
	struct termios saved, quiet;
	bool restore = false;
	int fd, outfd, r;
	size_t i;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	outfd = fd;
	if (fd == -1) {
		fd = STDIN_FILENO;
		outfd = STDERR_FILENO;
	}

	/* No SA_RESTART: a signal must end the read and bring echo back. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = catch_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < LP_ARRAY_SIZE(prompt_signals); i++)
		(void)sigaction(prompt_signals[i], &sa, &saved_sa[i]);

	if (tcgetattr(fd, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	write_all(outfd, "Verification code: ");
	r = got_signal != 0 ? -EINTR : read_line(fd, buf, size);
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &saved);
	write_all(outfd, "\n");

	for (i = 0; i < LP_ARRAY_SIZE(prompt_signals); i++)
		(void)sigaction(prompt_signals[i], &saved_sa[i], NULL);
	if (fd != STDIN_FILENO)
		(void)close(fd);
	if (got_signal != 0)
		r = -EINTR;
	return r;
}

/* Asks for a first code and records its step in sec.st. */
static int
verify_code(const char *user, const struct lp_totp_cfg *tc)
{
	uint64_t step;
	int r;

	r = prompt_code(sec.input, sizeof(sec.input));
	if (r == -EINTR || r == -ENODATA) {
		warnx("%s: %s; nothing changed", user,
		    r == -EINTR ? "interrupted" : "no code given");
		return r;
	}
	if (r < 0 && r != -EMSGSIZE) {
		warnx("%s: cannot read the code: %s", user, strerror(-r));
		return r;
	}
	if (r == 0)
		r = lp_totp_code_parse(sec.input, tc->digits, sec.code);
	if (r < 0) {
		warnx("%s: not a %u-digit code; nothing changed", user,
		    tc->digits);
		return r;
	}

	r = lp_totp_verify(sec.st.secret, sec.st.secret_len, tc,
	    time(NULL), sec.code, &step);
	if (r == -ENOENT)
		warnx("%s: wrong code; nothing changed", user);
	else if (r < 0)
		warnx("%s: cannot check the code: %s", user, strerror(-r));
	if (r < 0)
		return r;
	/* The code that proved the enrolment may not log in as well. */
	sec.st.last_step = step;
	return 0;
}

/* Checks the state seen at the start against --force. */
static int
check_existing(const struct opts *o, int old_read)
{
	if (old_read == -ENOENT)
		return 0;
	if (old_read == 0 && !o->force) {
		warnx("%s: already enrolled; use --force to replace",
		    o->user);
		return -EEXIST;
	}
	if (is_safe_to_drop(old_read) && !o->force) {
		warnx("%s: %s; use --force to replace it", o->user,
		    read_error(o, old_read));
		return -EEXIST;
	}
	if (old_read != 0 && !is_safe_to_drop(old_read)) {
		/* A link or a wrong mode needs a look, not an overwrite. */
		warnx("%s: %s", o->user, read_error(o, old_read));
		return old_read;
	}
	return 0;
}

/* Fills sec.st, sec.b32 and sec.uri, and the codes unless --uri-only. */
static int
make_enrolment(const struct opts *o, const struct lp_totp_cfg *tc)
{
	int r;

	memset(&sec.st, 0, sizeof(sec.st));
	r = lp_random_fill(sec.st.secret, LP_TOTP_SECRET_LEN);
	if (r < 0) {
		warnx("cannot make a secret: %s", strerror(-r));
		return r;
	}
	sec.st.secret_len = LP_TOTP_SECRET_LEN;
	sec.st.enrolled = (int64_t)time(NULL);

	r = lp_base32_encode(sec.st.secret, sec.st.secret_len, sec.b32,
	    sizeof(sec.b32));
	if (r == 0)
		r = make_uri(o->user, tc);
	if (r < 0) {
		warnx("%s: cannot make the URI: %s", o->user, strerror(-r));
		return r;
	}

	/* Codes nobody will see are not made: --uri-only shows none. */
	if (o->uri_only)
		return 0;
	r = lp_recovery_generate(LP_RECOVERY_COUNT, sec.codes, sec.hashes);
	if (r < 0) {
		warnx("cannot make recovery codes: %s", strerror(-r));
		return r;
	}
	memcpy(sec.st.recovery, sec.hashes, sizeof(sec.hashes));
	sec.st.nrecovery = LP_RECOVERY_COUNT;
	return 0;
}

static int
do_enrol(const struct opts *o, struct lp_store *store)
{
	struct lp_cfg *cfg = NULL;
	int old_read, r;

	r = load_policy(o->config, &cfg);
	if (r < 0)
		goto out;
	r = read_locked(store, o->user, &sec.old, &old_read);
	if (r < 0)
		goto out;
	r = check_existing(o, old_read);
	if (r < 0)
		goto out;

	r = make_enrolment(o, &cfg->totp);
	if (r < 0)
		goto out;
	r = show_enrolment(o, &cfg->totp);
	if (r < 0)
		goto out;
	if (o->verify) {
		r = verify_code(o->user, &cfg->totp);
		if (r < 0)
			goto out;
	}

	r = commit(store, o->user, old_read, false);
	if (r < 0) {
		if (!o->uri_only)
			warnx("%s: discard the key and codes shown above",
			    o->user);
		goto out;
	}
	log_change(o->user, old_read == -ENOENT ? "enrolled" : "replaced",
	    o->verify ? " verified=yes" : " verified=no");
	if (!o->uri_only) {
		if (o->verify) {
			printf("Code accepted.\n");
			show_codes(o->user);
		}
		printf("\n%s: %s.\n", o->user, old_read == -ENOENT ?
		    "enrolled" : "enrolment replaced");
	}
	r = flush_out();
out:
	lp_cfg_free(cfg);
	return r;
}

static int
do_new_codes(const struct opts *o, struct lp_store *store)
{
	int old_read, r;

	r = read_locked(store, o->user, &sec.old, &old_read);
	if (r < 0)
		return r;
	if (old_read == -ENOENT) {
		warnx("%s: not enrolled", o->user);
		return old_read;
	}
	if (old_read < 0) {
		warnx("%s: %s", o->user, read_error(o, old_read));
		return old_read;
	}
	/* Checked only now, so that "not enrolled" is said first. */
	if (!isatty(STDOUT_FILENO)) {
		warnx("%s: standard output is not a terminal; refusing to "
		    "show recovery codes", o->user);
		return -ENOTTY;
	}

	r = lp_recovery_generate(LP_RECOVERY_COUNT, sec.codes, sec.hashes);
	if (r < 0) {
		warnx("cannot make recovery codes: %s", strerror(-r));
		return r;
	}
	show_codes(o->user);
	r = flush_out();
	if (r < 0)
		return r;
	r = commit(store, o->user, old_read, true);
	if (r < 0) {
		warnx("%s: the codes above are void; the old ones still work",
		    o->user);
		return r;
	}
	log_change(o->user, "new_recovery_codes", "");
	printf("\n%s: recovery codes replaced.\n", o->user);
	return flush_out();
}

/*
 * Removes the state under the lock, after the same checks as every other
 * mode: a link, a file that is not regular, or a wrong owner or mode is
 * left for a person to look at.  A malformed file is removed, since that
 * is how an administrator gets rid of one.
 */
static int
do_remove(const struct opts *o, struct lp_store *store)
{
	struct lp_store_lock *lk = NULL;
	int r;

	r = lp_store_lock(store, o->user, &lk);
	if (r < 0) {
		warnx("%s: cannot lock state: %s", o->user, strerror(-r));
		goto out;
	}
	r = lp_store_read(lk, &sec.old);
	if (r < 0 && r != -ENOENT && !is_safe_to_drop(r)) {
		warnx("%s: %s; not removed", o->user, read_error(o, r));
		goto out;
	}
	/* Also when not enrolled: a stale temporary file goes too. */
	r = lp_store_remove(lk);
	if (r == -ENOENT)
		warnx("%s: not enrolled", o->user);
	else if (r < 0)
		warnx("%s: cannot remove state: %s", o->user, strerror(-r));
	if (r < 0)
		goto out;
	r = 0;
out:
	lp_store_unlock(lk);
	if (r == 0)
		log_change(o->user, "removed", "");
	return r;
}

/*
 * Ends a lockout: clears the failure count and locked_until under the
 * lock, keeping the secret, the last accepted step (so that no code is
 * accepted twice) and the recovery codes.
 */
static int
do_unlock(const struct opts *o, struct lp_store *store)
{
	struct lp_store_lock *lk = NULL;
	unsigned failures = 0;
	bool was_locked = false;
	int r;

	r = lp_store_lock(store, o->user, &lk);
	if (r < 0) {
		warnx("%s: cannot lock state: %s", o->user, strerror(-r));
		goto out;
	}
	r = lp_store_read(lk, &sec.old);
	if (r == -ENOENT)
		warnx("%s: not enrolled", o->user);
	else if (r < 0)
		warnx("%s: %s", o->user, read_error(o, r));
	if (r < 0)
		goto out;

	failures = sec.old.failures;
	was_locked = sec.old.locked_until > (int64_t)time(NULL);
	sec.old.failures = 0;
	sec.old.locked_until = 0;
	r = lp_store_write(lk, &sec.old);
	if (r < 0) {
		warnx("%s: cannot write state: %s; nothing changed", o->user,
		    strerror(-r));
		goto out;
	}
	r = 0;
out:
	lp_store_unlock(lk);
	if (r < 0)
		return r;
	log_change(o->user, "unlocked", "");
	printf("%s: unlocked (%s, %u failure%s cleared).\n", o->user,
	    was_locked ? "was locked" : "was not locked", failures,
	    failures == 1 ? "" : "s");
	return flush_out();
}

static void
print_time(const char *label, int64_t t, const char *none)
{
	char buf[64];
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		printf("%s: %s\n", label, none);
	else
		printf("%s: %s\n", label, buf);
}

static int
do_status(const struct opts *o, struct lp_store *store)
{
	int rd, r;

	r = read_locked(store, o->user, &sec.old, &rd);
	if (r < 0)
		return r;
	if (rd < 0 && rd != -ENOENT) {
		warnx("%s: %s", o->user, read_error(o, rd));
		return rd;
	}

	printf("user: %s\n", o->user);
	printf("enrolled: %s\n", rd == 0 ? "yes" : "no");
	if (rd == 0) {
		print_time("enrolled at", sec.old.enrolled, "unknown");
		print_time("last success", sec.old.last_success, "never");
		printf("failures: %u\n", sec.old.failures);
		print_time("locked until", sec.old.locked_until >
		    (int64_t)time(NULL) ? sec.old.locked_until : 0,
		    "not locked");
		printf("recovery codes left: %zu\n", sec.old.nrecovery);
	}
	return flush_out();
}

static int
run(const struct opts *o)
{
	struct lp_store *store = NULL;
	bool known = false;
	uid_t uid;
	int r = -EINVAL;

	if (check_user(o->user, &uid) < 0)
		goto out;
	known = true;
	if (o->mode == MODE_ENROL)
		warn_system_account(o->user, uid);

	/*
	 * A seed or a recovery code goes only to a terminal, where a person
	 * reads it, not to a file or a pipe that may outlive the session.
	 * --uri-only is the one exception, for scripts, and it prints no
	 * recovery codes.  -R checks once it knows the user is enrolled.
	 */
	if (o->mode == MODE_ENROL && !o->uri_only &&
	    !isatty(STDOUT_FILENO)) {
		warnx("%s: standard output is not a terminal; refusing to "
		    "show secrets (see --uri-only)", o->user);
		goto out;
	}

	r = open_store(o->state_dir, &store);
	if (r < 0)
		goto out;
	switch (o->mode) {
	case MODE_ENROL:
		r = do_enrol(o, store);
		break;
	case MODE_NEW_CODES:
		r = do_new_codes(o, store);
		break;
	case MODE_REMOVE:
		r = do_remove(o, store);
		break;
	case MODE_STATUS:
		r = do_status(o, store);
		break;
	case MODE_UNLOCK:
		r = do_unlock(o, store);
		break;
	}
out:
	/* A refused or failed change of an account that exists. */
	if (r < 0 && known && !change_made && mode_change[o->mode] != NULL)
		audit_change(o->user, mode_change[o->mode], false);
	lp_store_free(store);
	return r;
}

int
main(int argc, char *argv[])
{
	const struct rlimit nocore = { 0, 0 };
	struct opts o;
	int r;

	/*
	 * Secrets pass through this process's memory: no core file may hold
	 * them, and only a tracer with CAP_SYS_PTRACE may attach.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    setrlimit(RLIMIT_CORE, &nocore) == -1)
		err(EXIT_REFUSED, "cannot disable core dumps");

	parse_args(argc, argv, &o);
	if (getuid() != 0 || geteuid() != 0)
		errx(EXIT_REFUSED, "must be run as root");

	umask(077);
	/* Before any output: the URI and codes stay in a buffer we wipe. */
	(void)setvbuf(stdout, outbuf, isatty(STDOUT_FILENO) ? _IOLBF :
	    _IOFBF, sizeof(outbuf));
	openlog("lp-enroll-totp", LOG_PID, LOG_AUTHPRIV);

	r = run(&o);

	if (fflush(stdout) == EOF && r == 0)
		r = -EIO;
	lp_wipe_obj(&sec);
	lp_wipe_array(outbuf);
	closelog();

	/*
	 * A prompt ended by a signal ends the program as the signal would
	 * have, now that echo is back and the secrets are wiped, so that a
	 * calling shell sees the interrupt.  Stop signals just refuse.
	 */
	if (got_signal == SIGHUP || got_signal == SIGINT ||
	    got_signal == SIGQUIT || got_signal == SIGTERM) {
		(void)signal(got_signal, SIG_DFL);
		(void)raise(got_signal);
	}
	return r == 0 ? EXIT_SUCCESS : EXIT_REFUSED;
}
