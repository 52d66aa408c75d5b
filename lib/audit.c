/*
 * The audit library: formats one record's fields and hands them to the
 * kernel through libaudit, or to syslog when the kernel has no audit.
 * See audit.h for the record layout.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <libaudit.h>

#include "audit.h"

/*
 * The whole text of a record but for exe=: the message part, the three
 * remote fields and their names, and " res=success".
 */
#define TEXT_MAX	(LP_AUDIT_MSG_MAX + 3 * LP_AUDIT_FIELD_MAX + 64)

/* libaudit adds " exe=PATH" and sends at most this much in one message. */
#if TEXT_MAX + 4096 + 16 > MAX_AUDIT_MESSAGE_LENGTH
#error "an lp-bastion record may not fit in one audit message"
#endif

struct out {
	char	*buf;
	size_t	 size;
	size_t	 len;
	bool	 full;		/* something did not fit */
};

static const struct {
	int		 type;
	const char	*name;
} types[] = {
	{ AUDIT_USER_AUTH,		"USER_AUTH" },
	{ AUDIT_ANOM_LOGIN_FAILURES,	"ANOM_LOGIN_FAILURES" },
	{ AUDIT_USER_START,		"USER_START" },
	{ AUDIT_USER_END,		"USER_END" },
	{ AUDIT_USER_MGMT,		"USER_MGMT" },
	{ AUDIT_USYS_CONFIG,		"USYS_CONFIG" },
};

static int	(*sink_fn)(int, const char *, void *);
static void	*sink_ctx;

void
lp_audit_rec_init(struct lp_audit_rec *r, int type, const char *op)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->op = op;
	r->nodes = -1;
	r->sent = -1;
	r->received = -1;
	r->duration_ms = -1;
	r->success = false;
}

const char *
lp_audit_type_name(int type)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return types[i].name;
	return NULL;
}

int
lp_audit_type_by_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return types[i].type;
	return -1;
}

void
lp_audit_set_sink(int (*fn)(int, const char *, void *), void *ctx)
{
	sink_fn = fn;
	sink_ctx = fn != NULL ? ctx : NULL;
}

/* ------------------------------------------------------------ checks */

/*
 * A word is what auparse reads back unchanged without quotes: printable
 * ASCII but for the quotes that delimit values, '=' that separates them
 * and the backslash.
 */
static bool
is_word(const char *s)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0')
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\'' ||
		    *p == '=' || *p == '\\')
			return false;
	return true;
}

/*
 * hostname, addr and terminal go into the record as they are (libaudit
 * does not encode them), so a space, '=' or a byte outside printable
 * ASCII would let the value make up fields of its own ("res=success" in
 * a failed record), and a quote would end the message early.  An empty
 * value is written as "?", as an absent one.
 */
static bool
is_field(const char *s)
{
	if (s == NULL || *s == '\0')
		return true;
	if (strlen(s) > LP_AUDIT_FIELD_MAX)
		return false;
	return is_word(s);
}

static bool
is_count(int64_t n)
{
	return n >= -1;
}

/* libaudit's rule for untrusted text: see audit_value_needs_encoding(3). */
static bool
needs_hex(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"')
			return true;
	return false;
}

static bool
rec_is_acceptable(const struct lp_audit_rec *r)
{
	if (lp_audit_type_name(r->type) == NULL || !is_word(r->op))
		return false;
	if ((r->node != NULL && !is_word(r->node)) ||
	    (r->reason != NULL && !is_word(r->reason)))
		return false;
	if (r->port > 65535)
		return false;
	if (!is_count(r->nodes) || !is_count(r->sent) ||
	    !is_count(r->received) || !is_count(r->duration_ms))
		return false;
	return is_field(r->hostname) && is_field(r->addr) &&
	    is_field(r->terminal);
}

/* ------------------------------------------------------------ format */

static void __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->full = true;
		return;
	}
	o->len += (size_t)n;
}

static void
put_acct(struct out *o, const char *acct)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	if (!needs_hex(acct)) {
		put(o, " acct=\"%s\"", acct);
		return;
	}
	put(o, " acct=");
	for (p = (const unsigned char *)acct; *p != '\0'; p++)
		put(o, "%c%c", hex[*p >> 4], hex[*p & 0x0f]);
}

static void
put_count(struct out *o, const char *name, int64_t n)
{
	if (n >= 0)
		put(o, " %s=%lld", name, (long long)n);
}

int
lp_audit_format(const struct lp_audit_rec *rec, char *buf, size_t size)
{
	struct out o = { buf, size, 0, false };

	if (rec == NULL || buf == NULL || !rec_is_acceptable(rec))
		return -EINVAL;
	if (size == 0)
		return -ENOBUFS;

	put(&o, "op=%s", rec->op);
	if (rec->acct != NULL)
		put_acct(&o, rec->acct);
	if (rec->node != NULL)
		put(&o, " node=%s", rec->node);
	if (rec->port != 0)
		put(&o, " port=%u", rec->port);
	if (rec->reason != NULL)
		put(&o, " reason=%s", rec->reason);
	put_count(&o, "nodes", rec->nodes);
	put_count(&o, "sent", rec->sent);
	put_count(&o, "received", rec->received);
	put_count(&o, "duration_ms", rec->duration_ms);

	if (o.full) {
		buf[0] = '\0';
		return -ENOBUFS;
	}
	return 0;
}

/* ------------------------------------------------------------- write */

/* libaudit reads an empty string as "find it out": here it means none. */
static const char *
or_none(const char *s)
{
	return s != NULL && *s != '\0' ? s : "?";
}

/*
 * The kernel has no audit, or it is off: one syslog line with the
 * record's text.  The
 * program's own ident and facility are left alone (no openlog()): a
 * module lives in somebody else's process.
 */
static int
write_syslog(int type, const char *msg, const char *tail)
{
	syslog(LOG_AUTHPRIV | LOG_NOTICE, "lp-audit: type=%s %s %s",
	    lp_audit_type_name(type), msg, tail);
	return 1;
}

static bool
means_no_audit(int e)
{
	return e == EPROTONOSUPPORT || e == EINVAL || e == EAFNOSUPPORT;
}

static int
write_kernel(const struct lp_audit_rec *r, const char *msg, const char *tail)
{
	int fd, n, e;

	errno = 0;
	fd = audit_open();
	e = errno;
	if (fd < 0)
		return means_no_audit(e) ? write_syslog(r->type, msg, tail) :
		    -(e != 0 ? e : EIO);

	/*
	 * A kernel whose audit is switched off takes a record and drops it.
	 * Only root may ask (AUDIT_GET needs CAP_AUDIT_CONTROL, which
	 * libaudit reports for anyone else as "off"), so the question is
	 * asked as root only: the modules and the admin tools.  lp-hop, run
	 * by the person, logs every hop with syslog itself.
	 */
	if (getuid() == 0 && audit_is_enabled(fd) == 0) {
		audit_close(fd);
		return write_syslog(r->type, msg, tail);
	}

	/*
	 * The remote fields are passed even when unknown ("?"): given NULL,
	 * libaudit would look the host name up in the DNS and the terminal
	 * up in /proc, neither of which a record should wait for.
	 */
	errno = 0;
	n = audit_log_user_message(fd, r->type, msg, or_none(r->hostname),
	    or_none(r->addr), or_none(r->terminal), r->success ? 1 : 0);
	e = errno;
	audit_close(fd);
	if (n > 0)
		return 0;

	/*
	 * libaudit returns 0, not an error, when the kernel says audit is
	 * not there for this process (ECONNREFUSED, its answer inside a user
	 * namespace) and when an unprivileged sender lacks CAP_AUDIT_WRITE
	 * (EPERM); errno tells which.  On other failures libaudit may leave
	 * errno negative.
	 */
	if (e < 0)
		e = -e;
	if (e == ECONNREFUSED)
		return write_syslog(r->type, msg, tail);
	if (e == EPERM)
		return -EPERM;
	if (e != 0)
		return -e;
	return n < 0 ? n : -EIO;
}

int
lp_audit_write(const struct lp_audit_rec *rec)
{
	char msg[LP_AUDIT_MSG_MAX];
	char tail[3 * LP_AUDIT_FIELD_MAX + 64];
	char text[TEXT_MAX];
	int n, r;

	r = lp_audit_format(rec, msg, sizeof(msg));
	if (r < 0)
		return r;

	n = snprintf(tail, sizeof(tail),
	    "hostname=%s addr=%s terminal=%s res=%s", or_none(rec->hostname),
	    or_none(rec->addr), or_none(rec->terminal),
	    rec->success ? "success" : "failed");
	if (n < 0 || (size_t)n >= sizeof(tail))
		return -ENOBUFS;

	if (sink_fn == NULL)
		return write_kernel(rec, msg, tail);
	n = snprintf(text, sizeof(text), "%s %s", msg, tail);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -ENOBUFS;
	return sink_fn(rec->type, text, sink_ctx);
}

int
lp_audit_write_admin(struct lp_audit_rec *rec)
{
	int r;

	if (rec == NULL)
		return -EINVAL;
	rec->terminal = isatty(STDIN_FILENO) ? ttyname(STDIN_FILENO) : NULL;
	r = lp_audit_write(rec);
	/* A terminal name the record cannot hold does not cost the record. */
	if (r == -EINVAL && rec->terminal != NULL) {
		rec->terminal = NULL;
		r = lp_audit_write(rec);
	}
	return r;
}
