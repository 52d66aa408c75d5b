/*
 * The audit library: every record lp-bastion makes goes through here, as
 * a Linux audit record of a type that ausearch and aureport already know,
 * written with libaudit.  When the kernel has no audit support, or (as
 * root can tell) its audit is switched off, the same fields go to syslog
 * (LOG_AUTHPRIV) as one line, so that a record is never silently lost.
 *
 * What each part of the suite records:
 *	pam_lp_totp	USER_AUTH op=lp-totp, ANOM_LOGIN_FAILURES op=lp-totp
 *			when a failure locks the account
 *	pam_lp_tunnel	USER_START and USER_END op=lp-tunnel
 *	lp-hop		USER_START and USER_END op=lp-hop
 *	lp-enroll-totp	USER_MGMT op=lp-enroll-totp
 *	lp-nodes	USYS_CONFIG op=lp-nodes
 *	lp-audit	whatever its arguments say, through the same calls
 *
 * The message part of a record is key=value fields in this order, each
 * present only when set:
 *	op=OP acct=ACCT node=NODE port=N reason=WORD nodes=N
 *	sent=N received=N duration_ms=N
 * libaudit then adds exe=, hostname=, addr=, terminal= and res=.  acct
 * is written the way libaudit encodes untrusted text: in double quotes
 * when it is printable ASCII without a space or a quote, else as
 * upper-case hex, which ausearch -i turns back into the name.  op, node
 * and reason must be words (printable ASCII, no space, quote, '=' or
 * backslash); so must hostname, addr and terminal, which libaudit writes
 * as they are, or be empty.  A record with anything else is refused, not
 * altered.
 *
 * This unit keeps no state between calls but the test seam below.
 */
#ifndef LP_AUDIT_H
#define LP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest message part that lp_audit_format() makes. */
#define LP_AUDIT_MSG_MAX	1024

/* Longest text accepted for hostname, addr and terminal. */
#define LP_AUDIT_FIELD_MAX	255

struct lp_audit_rec {
	int		 type;		/* AUDIT_USER_AUTH, ... (libaudit.h) */
	const char	*op;		/* required */
	const char	*acct;		/* NULL: no acct field */
	const char	*node;		/* NULL: none */
	unsigned	 port;		/* 0: none */
	const char	*reason;	/* a fixed word; NULL: none */
	int64_t		 nodes;		/* nodes in an index; -1: none */
	int64_t		 sent;		/* bytes towards the node; -1: none */
	int64_t		 received;	/* bytes from the node; -1: none */
	int64_t		 duration_ms;	/* -1: none */
	const char	*hostname;	/* remote host name; NULL: "?" */
	const char	*addr;		/* remote address; NULL: "?" */
	const char	*terminal;	/* NULL: "?" */
	bool		 success;	/* res=success or res=failed */
};

/*
 * Sets every optional field of r to "none", type and op as given, and
 * success to false.
 */
void	lp_audit_rec_init(struct lp_audit_rec *r, int type, const char *op);

/*
 * Writes r's message part (see above) into buf, NUL-terminated.  Returns
 * 0, -EINVAL when a field is not acceptable (a type not among those of
 * lp_audit_type_name(), op missing, a word that is not one, a port above
 * 65535, a negative count other than -1, a hostname, addr or terminal
 * longer than LP_AUDIT_FIELD_MAX or with a space, a control character or
 * a byte outside ASCII), or -ENOBUFS when buf is too small (buf then
 * holds "").  Logs nothing.
 */
int	lp_audit_format(const struct lp_audit_rec *r, char *buf, size_t size);

/*
 * Writes one record.  Returns 0 when the kernel took it, 1 when the
 * kernel has no audit support (audit_open() fails with EPROTONOSUPPORT,
 * EINVAL or EAFNOSUPPORT, or the kernel refuses the connection) or, for
 * a caller whose uid is 0, audit is switched off, and the record went to
 * syslog instead, as one LOG_AUTHPRIV | LOG_NOTICE line
 * "lp-audit: type=NAME TEXT" (TEXT as given to the sink below; no
 * openlog(), so the line carries the program's own ident), or a
 * negative errno when the kernel has audit and refused the record
 * (-EPERM without CAP_AUDIT_WRITE) or r is not acceptable (-EINVAL).
 * Absent hostname, addr and terminal are written as "?": libaudit is
 * never left to look them up.
 * Callers decide what a refusal means: lp-hop refuses the hop, the
 * modules log the failure and go on with their decision.
 */
int	lp_audit_write(const struct lp_audit_rec *r);

/*
 * lp_audit_write() for the administrators' tools: terminal is set to the
 * terminal on standard input, or left out when there is none or the
 * record cannot hold its name.  Returns what lp_audit_write() returns.
 */
int	lp_audit_write_admin(struct lp_audit_rec *rec);

/*
 * The test seam.  With a sink set, lp_audit_write() formats the record
 * and hands the sink the record's type and its whole text as the kernel
 * would receive it, but for exe= (which depends on the program):
 *	"MESSAGE hostname=H addr=A terminal=T res=success|failed"
 * instead of writing anywhere; the sink's return value is
 * lp_audit_write()'s.  NULL removes the sink.  Not thread-safe: for
 * tests only.
 */
void	lp_audit_set_sink(int (*fn)(int type, const char *text, void *ctx),
	    void *ctx);

/*
 * The name of a record type (libaudit's audit_msg_type_to_name()), or
 * NULL when type is not one of those above.  For lp-audit and syslog.
 */
const char *lp_audit_type_name(int type);

/* The type named name ("USER_AUTH", ...) among those above, or -1. */
int	lp_audit_type_by_name(const char *name);

#endif /* LP_AUDIT_H */
