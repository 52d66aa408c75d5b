/*
 * lib/audit.c: the exact text of every record the suite makes, seen
 * through the sink seam; how acct is encoded; what is refused; the real
 * write path to the kernel; and the syslog line written when the kernel
 * has no audit.  That last is made real in a child whose /dev/log is the
 * test's socket: either socket(AF_NETLINK) fails, as on a kernel built
 * without audit, or the child is in a user namespace, from which the
 * kernel refuses records as if it had no audit.
 */
#include "config.h"

#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libaudit.h>

#include "audit.h"

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH	AUDIT_ARCH_AARCH64
#else
#error "the fallback test needs this architecture's AUDIT_ARCH value"
#endif

#define TEXT_MAX	4096

/* What the sink saw. */
struct seen {
	int	calls;
	int	type;
	char	text[TEXT_MAX];
	int	ret;		/* what the sink returns */
};

static int
sink(int type, const char *text, void *ctx)
{
	struct seen *s = ctx;

	s->calls++;
	s->type = type;
	(void)snprintf(s->text, sizeof(s->text), "%s", text);
	return s->ret;
}

static int
setup(void **state)
{
	struct seen *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	lp_audit_set_sink(sink, s);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	lp_audit_set_sink(NULL, NULL);
	free(*state);
	return 0;
}

/* Writes rec through the sink and checks its type and whole text. */
static void
assert_record(struct seen *s, const struct lp_audit_rec *rec, int type,
    const char *text)
{
	s->calls = 0;
	assert_int_equal(lp_audit_write(rec), 0);
	assert_int_equal(s->calls, 1);
	assert_int_equal(s->type, type);
	assert_string_equal(s->text, text);
}

/* The message part alone, or the error of lp_audit_format(). */
static int
format(const struct lp_audit_rec *rec, char *buf, size_t size)
{
	memset(buf, 'X', size);
	return lp_audit_format(rec, buf, size);
}

/* ------------------------------------------------- records of the suite */

/* pam_lp_totp's record of one decision, as the module fills it. */
static void
totp_rec(struct lp_audit_rec *r, const char *acct, const char *reason,
    bool ok)
{
	lp_audit_rec_init(r, AUDIT_USER_AUTH, "lp-totp");
	r->acct = acct;
	r->reason = reason;
	r->hostname = "198.51.100.7";
	r->addr = "198.51.100.7";
	r->terminal = "ssh";
	r->success = ok;
}

static void
test_audit_totp_success_record_reads_exactly(void **state)
{
	struct lp_audit_rec r;

	totp_rec(&r, "alice", "ok", true);
	assert_record(*state, &r, AUDIT_USER_AUTH,
	    "op=lp-totp acct=\"alice\" reason=ok hostname=198.51.100.7 "
	    "addr=198.51.100.7 terminal=ssh res=success");
	totp_rec(&r, "alice", "recovery_code_used", true);
	assert_record(*state, &r, AUDIT_USER_AUTH,
	    "op=lp-totp acct=\"alice\" reason=recovery_code_used "
	    "hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=success");
}

static void
test_audit_totp_failure_records_name_each_reason(void **state)
{
	static const char *const reasons[] = {
		"bad_code", "replayed_code", "locked", "not_enrolled",
		"bad_state", "no_answer",
	};
	struct lp_audit_rec r;
	char want[256];
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		totp_rec(&r, "alice", reasons[i], false);
		(void)snprintf(want, sizeof(want),
		    "op=lp-totp acct=\"alice\" reason=%s "
		    "hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh "
		    "res=failed", reasons[i]);
		assert_record(*state, &r, AUDIT_USER_AUTH, want);
	}
}

static void
test_audit_totp_failure_of_an_unknown_user_has_no_acct(void **state)
{
	struct lp_audit_rec r;

	totp_rec(&r, NULL, "not_enrolled", false);
	assert_record(*state, &r, AUDIT_USER_AUTH,
	    "op=lp-totp reason=not_enrolled hostname=198.51.100.7 "
	    "addr=198.51.100.7 terminal=ssh res=failed");
}

static void
test_audit_lockout_record_is_anom_login_failures(void **state)
{
	struct lp_audit_rec r;

	totp_rec(&r, "alice", "locked", false);
	r.type = AUDIT_ANOM_LOGIN_FAILURES;
	assert_record(*state, &r, AUDIT_ANOM_LOGIN_FAILURES,
	    "op=lp-totp acct=\"alice\" reason=locked hostname=198.51.100.7 "
	    "addr=198.51.100.7 terminal=ssh res=failed");
}

static void
tunnel_rec(struct lp_audit_rec *r, int type, const char *reason, bool ok)
{
	lp_audit_rec_init(r, type, "lp-tunnel");
	r->acct = "lp-tunnel";
	r->node = "gpu01";
	r->port = 22001;
	r->reason = reason;
	r->hostname = "198.18.0.2";
	r->addr = "198.18.0.2";
	r->terminal = "ssh";
	r->success = ok;
}

static void
test_audit_tunnel_up_and_down_records_read_exactly(void **state)
{
	struct lp_audit_rec r;

	tunnel_rec(&r, AUDIT_USER_START, NULL, true);
	assert_record(*state, &r, AUDIT_USER_START,
	    "op=lp-tunnel acct=\"lp-tunnel\" node=gpu01 port=22001 "
	    "hostname=198.18.0.2 addr=198.18.0.2 terminal=ssh res=success");
	tunnel_rec(&r, AUDIT_USER_START, "tty_refused", false);
	assert_record(*state, &r, AUDIT_USER_START,
	    "op=lp-tunnel acct=\"lp-tunnel\" node=gpu01 port=22001 "
	    "reason=tty_refused hostname=198.18.0.2 addr=198.18.0.2 "
	    "terminal=ssh res=failed");
	tunnel_rec(&r, AUDIT_USER_END, NULL, true);
	r.duration_ms = 86400000;
	assert_record(*state, &r, AUDIT_USER_END,
	    "op=lp-tunnel acct=\"lp-tunnel\" node=gpu01 port=22001 "
	    "duration_ms=86400000 hostname=198.18.0.2 addr=198.18.0.2 "
	    "terminal=ssh res=success");
	tunnel_rec(&r, AUDIT_USER_END, "replaced", true);
	r.duration_ms = 12;
	assert_record(*state, &r, AUDIT_USER_END,
	    "op=lp-tunnel acct=\"lp-tunnel\" node=gpu01 port=22001 "
	    "reason=replaced duration_ms=12 hostname=198.18.0.2 "
	    "addr=198.18.0.2 terminal=ssh res=success");
}

static void
test_audit_tunnel_refused_for_an_unknown_key_has_no_node(void **state)
{
	struct lp_audit_rec r;

	tunnel_rec(&r, AUDIT_USER_START, "unknown_key", false);
	r.node = NULL;
	r.port = 0;
	assert_record(*state, &r, AUDIT_USER_START,
	    "op=lp-tunnel acct=\"lp-tunnel\" reason=unknown_key "
	    "hostname=198.18.0.2 addr=198.18.0.2 terminal=ssh res=failed");
}

static void
hop_rec(struct lp_audit_rec *r, int type, const char *reason, bool ok)
{
	lp_audit_rec_init(r, type, "lp-hop");
	r->acct = "alice";
	r->node = "gpu01";
	r->port = 22001;
	r->reason = reason;
	r->addr = "198.51.100.7";
	r->success = ok;
}

static void
test_audit_hop_start_and_refusal_records_read_exactly(void **state)
{
	struct lp_audit_rec r;

	hop_rec(&r, AUDIT_USER_START, NULL, true);
	assert_record(*state, &r, AUDIT_USER_START,
	    "op=lp-hop acct=\"alice\" node=gpu01 port=22001 "
	    "hostname=? addr=198.51.100.7 terminal=? res=success");
	hop_rec(&r, AUDIT_USER_START, "not_allowed", false);
	r.terminal = "/dev/pts/3";
	assert_record(*state, &r, AUDIT_USER_START,
	    "op=lp-hop acct=\"alice\" node=gpu01 port=22001 "
	    "reason=not_allowed hostname=? addr=198.51.100.7 "
	    "terminal=/dev/pts/3 res=failed");
}

static void
test_audit_hop_end_record_carries_bytes_and_duration(void **state)
{
	struct lp_audit_rec r;

	hop_rec(&r, AUDIT_USER_END, "closed", true);
	r.sent = 4096;
	r.received = 1048576;
	r.duration_ms = 61250;
	assert_record(*state, &r, AUDIT_USER_END,
	    "op=lp-hop acct=\"alice\" node=gpu01 port=22001 reason=closed "
	    "sent=4096 received=1048576 duration_ms=61250 "
	    "hostname=? addr=198.51.100.7 terminal=? res=success");
	/* Zero is a count like any other, not "none". */
	r.sent = 0;
	r.received = 0;
	r.duration_ms = 0;
	assert_record(*state, &r, AUDIT_USER_END,
	    "op=lp-hop acct=\"alice\" node=gpu01 port=22001 reason=closed "
	    "sent=0 received=0 duration_ms=0 "
	    "hostname=? addr=198.51.100.7 terminal=? res=success");
}

static void
test_audit_enrolment_records_are_user_mgmt(void **state)
{
	static const char *const reasons[] = {
		"enrolled", "replaced", "removed", "new_recovery_codes",
		"unlocked",
	};
	struct lp_audit_rec r;
	char want[256];
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		lp_audit_rec_init(&r, AUDIT_USER_MGMT, "lp-enroll-totp");
		r.acct = "first.last@example.org";
		r.reason = reasons[i];
		r.terminal = "/dev/pts/0";
		r.success = true;
		(void)snprintf(want, sizeof(want),
		    "op=lp-enroll-totp acct=\"first.last@example.org\" "
		    "reason=%s hostname=? addr=? terminal=/dev/pts/0 "
		    "res=success", reasons[i]);
		assert_record(*state, &r, AUDIT_USER_MGMT, want);
	}
}

static void
test_audit_index_rebuild_record_counts_nodes(void **state)
{
	struct lp_audit_rec r;

	lp_audit_rec_init(&r, AUDIT_USYS_CONFIG, "lp-nodes");
	r.reason = "compiled";
	r.nodes = 3;
	r.success = true;
	assert_record(*state, &r, AUDIT_USYS_CONFIG,
	    "op=lp-nodes reason=compiled nodes=3 hostname=? addr=? "
	    "terminal=? res=success");
	lp_audit_rec_init(&r, AUDIT_USYS_CONFIG, "lp-nodes");
	r.reason = "invalid_policy";
	assert_record(*state, &r, AUDIT_USYS_CONFIG,
	    "op=lp-nodes reason=invalid_policy hostname=? addr=? "
	    "terminal=? res=failed");
	lp_audit_rec_init(&r, AUDIT_USYS_CONFIG, "lp-nodes");
	r.reason = "write_failed";
	r.nodes = 0;
	r.terminal = "/dev/pts/0";
	assert_record(*state, &r, AUDIT_USYS_CONFIG,
	    "op=lp-nodes reason=write_failed nodes=0 hostname=? addr=? "
	    "terminal=/dev/pts/0 res=failed");
}

/* Runs lp_audit_write_admin() with fd as standard input. */
static void
write_admin_with_stdin(struct seen *s, int fd)
{
	struct lp_audit_rec r;
	int saved;

	saved = dup(STDIN_FILENO);
	assert_true(saved != -1);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	lp_audit_rec_init(&r, AUDIT_USER_MGMT, "lp-enroll-totp");
	r.acct = "alice";
	r.reason = "enrolled";
	r.success = true;
	s->calls = 0;
	assert_int_equal(lp_audit_write_admin(&r), 0);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	(void)close(saved);
	assert_int_equal(s->calls, 1);
}

static void
test_audit_admin_record_names_the_terminal_on_stdin(void **state)
{
	struct seen *s = *state;
	char want[TEXT_MAX];
	const char *pts;
	int m, fd;

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd != -1);
	write_admin_with_stdin(s, fd);
	(void)close(fd);
	assert_string_equal(s->text, "op=lp-enroll-totp acct=\"alice\" "
	    "reason=enrolled hostname=? addr=? terminal=? res=success");

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m == -1)
		skip();
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	assert_non_null(pts = ptsname(m));
	(void)snprintf(want, sizeof(want), "op=lp-enroll-totp acct=\"alice\" "
	    "reason=enrolled hostname=? addr=? terminal=%s res=success", pts);
	fd = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(fd != -1);
	write_admin_with_stdin(s, fd);
	(void)close(fd);
	(void)close(m);
	assert_string_equal(s->text, want);
}

static void
test_audit_sink_return_value_is_the_write_result(void **state)
{
	struct seen *s = *state;
	struct lp_audit_rec r;

	lp_audit_rec_init(&r, AUDIT_USER_START, "lp-hop");
	s->ret = -EPERM;
	assert_int_equal(lp_audit_write(&r), -EPERM);
	s->ret = 1;
	assert_int_equal(lp_audit_write(&r), 1);
	assert_int_equal(s->calls, 2);
}

/* ------------------------------------------------------------------ acct */

static void
assert_acct(const char *acct, const char *want)
{
	struct lp_audit_rec r;
	char buf[LP_AUDIT_MSG_MAX];

	lp_audit_rec_init(&r, AUDIT_USER_AUTH, "lp-totp");
	r.acct = acct;
	assert_int_equal(format(&r, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void
test_audit_acct_of_plain_name_is_quoted(void **state)
{
	(void)state;
	assert_acct("alice", "op=lp-totp acct=\"alice\"");
	assert_acct("first.last@example.org",
	    "op=lp-totp acct=\"first.last@example.org\"");
	/* libaudit quotes these too: only '"' among the printables is hex. */
	assert_acct("o'brien=x\\y", "op=lp-totp acct=\"o'brien=x\\y\"");
	assert_acct("", "op=lp-totp acct=\"\"");
}

static void
test_audit_acct_with_space_quote_or_non_ascii_is_hex(void **state)
{
	(void)state;
	/* "a b" */
	assert_acct("a b", "op=lp-totp acct=612062");
	/* a"b */
	assert_acct("a\"b", "op=lp-totp acct=612262");
	/* "zoë" in UTF-8: upper-case hex of every byte. */
	assert_acct("zo\xc3\xab", "op=lp-totp acct=7A6FC3AB");
	/* A tab, a newline and DEL would break the record's line. */
	assert_acct("a\tb", "op=lp-totp acct=610962");
	assert_acct("x\ny", "op=lp-totp acct=780A79");
	assert_acct("\x7f", "op=lp-totp acct=7F");
}

static void
test_audit_acct_encoding_agrees_with_libaudit(void **state)
{
	static const char *const names[] = {
		"alice", "a b", "a\"b", "zo\xc3\xab", "a\tb", "\x7f", "~x!",
	};
	struct lp_audit_rec r;
	char buf[LP_AUDIT_MSG_MAX], want[LP_AUDIT_MSG_MAX];
	char *nv;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		lp_audit_rec_init(&r, AUDIT_USER_AUTH, "x");
		r.acct = names[i];
		assert_int_equal(format(&r, buf, sizeof(buf)), 0);
		nv = audit_encode_nv_string("acct", names[i], 0);
		assert_non_null(nv);
		(void)snprintf(want, sizeof(want), "op=x %s", nv);
		free(nv);
		assert_string_equal(buf, want);
	}
}

/* ------------------------------------------------------------- refusals */

static void
assert_refused(const struct lp_audit_rec *r)
{
	char buf[LP_AUDIT_MSG_MAX];
	struct seen *s;

	assert_int_equal(format(r, buf, sizeof(buf)), -EINVAL);
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	lp_audit_set_sink(sink, s);
	assert_int_equal(lp_audit_write(r), -EINVAL);
	assert_int_equal(s->calls, 0);
	lp_audit_set_sink(NULL, NULL);
	free(s);
}

static void
test_audit_refuses_words_that_are_not_words(void **state)
{
	static const char *const bad[] = {
		"", "a b", "a=b", "a\"b", "a'b", "a\\b", "a\tb", "a\nb",
		"zo\xc3\xab", "\x7f",
	};
	struct lp_audit_rec r;
	size_t i;

	(void)state;
	lp_audit_rec_init(&r, AUDIT_USER_START, NULL);
	assert_refused(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lp_audit_rec_init(&r, AUDIT_USER_START, bad[i]);
		assert_refused(&r);
		lp_audit_rec_init(&r, AUDIT_USER_START, "lp-hop");
		r.node = bad[i];
		assert_refused(&r);
		lp_audit_rec_init(&r, AUDIT_USER_START, "lp-hop");
		r.reason = bad[i];
		assert_refused(&r);
	}
}

static void
test_audit_refuses_over_long_remote_fields(void **state)
{
	char longest[LP_AUDIT_FIELD_MAX + 1], over[LP_AUDIT_FIELD_MAX + 2];
	struct lp_audit_rec r;
	char buf[LP_AUDIT_MSG_MAX];

	(void)state;
	memset(longest, 'h', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memset(over, 'h', sizeof(over) - 1);
	over[sizeof(over) - 1] = '\0';

	lp_audit_rec_init(&r, AUDIT_USER_START, "lp-hop");
	r.hostname = longest;
	r.addr = longest;
	r.terminal = longest;
	assert_int_equal(format(&r, buf, sizeof(buf)), 0);
	r.hostname = over;
	assert_refused(&r);
	r.hostname = NULL;
	r.addr = over;
	assert_refused(&r);
	r.addr = NULL;
	r.terminal = over;
	assert_refused(&r);
}

static void
test_audit_refuses_spaces_controls_and_fields_in_remote_fields(void **state)
{
	static const char *const bad[] = {
		"a\nb", "a\rb", "\x1b[2J", "a b", "a\x7f", "h\xc3\xab",
		"x res=success", "res=success", "a'b", "a\"b", "a\\b",
	};
	struct lp_audit_rec r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lp_audit_rec_init(&r, AUDIT_USER_AUTH, "lp-totp");
		r.hostname = bad[i];
		assert_refused(&r);
		lp_audit_rec_init(&r, AUDIT_USER_AUTH, "lp-totp");
		r.addr = bad[i];
		assert_refused(&r);
		lp_audit_rec_init(&r, AUDIT_USER_AUTH, "lp-totp");
		r.terminal = bad[i];
		assert_refused(&r);
	}
}

static void
test_audit_refuses_bad_counts_ports_and_types(void **state)
{
	struct lp_audit_rec r;

	(void)state;
	lp_audit_rec_init(&r, AUDIT_USER_END, "lp-hop");
	r.sent = -2;
	assert_refused(&r);
	lp_audit_rec_init(&r, AUDIT_USER_END, "lp-hop");
	r.received = INT64_MIN;
	assert_refused(&r);
	lp_audit_rec_init(&r, AUDIT_USER_END, "lp-hop");
	r.duration_ms = -5;
	assert_refused(&r);
	lp_audit_rec_init(&r, AUDIT_USYS_CONFIG, "lp-nodes");
	r.nodes = -3;
	assert_refused(&r);
	lp_audit_rec_init(&r, AUDIT_USER_START, "lp-hop");
	r.port = 65536;
	assert_refused(&r);
	lp_audit_rec_init(&r, AUDIT_USER_LOGIN, "lp-hop");
	assert_refused(&r);
	lp_audit_rec_init(&r, 0, "lp-hop");
	assert_refused(&r);
	assert_int_equal(lp_audit_write(NULL), -EINVAL);
}

static void
test_audit_format_reports_a_small_buffer_as_enobufs(void **state)
{
	static const char want[] = "op=lp-hop acct=\"alice\" node=gpu01 "
	    "port=22001 reason=closed sent=1 received=2 duration_ms=3";
	struct lp_audit_rec r;
	char buf[sizeof(want)];
	size_t size;

	(void)state;
	lp_audit_rec_init(&r, AUDIT_USER_END, "lp-hop");
	r.acct = "alice";
	r.node = "gpu01";
	r.port = 22001;
	r.reason = "closed";
	r.sent = 1;
	r.received = 2;
	r.duration_ms = 3;
	assert_int_equal(format(&r, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	for (size = 0; size < sizeof(want); size++) {
		assert_int_equal(format(&r, buf, size), -ENOBUFS);
		if (size > 0)
			assert_string_equal(buf, "");
	}
}

static void
test_audit_write_refuses_a_message_longer_than_the_maximum(void **state)
{
	char acct[LP_AUDIT_MSG_MAX / 2];
	struct seen *s = *state;
	struct lp_audit_rec r;

	/* Every byte becomes two hex digits: twice the buffer. */
	memset(acct, ' ', sizeof(acct) - 1);
	acct[sizeof(acct) - 1] = '\0';
	lp_audit_rec_init(&r, AUDIT_USER_AUTH, "lp-totp");
	r.acct = acct;
	assert_int_equal(lp_audit_write(&r), -ENOBUFS);
	assert_int_equal(s->calls, 0);
}

/* ----------------------------------------------------------- type names */

static void
test_audit_type_names_are_libaudits(void **state)
{
	static const int types[] = {
		AUDIT_USER_AUTH, AUDIT_ANOM_LOGIN_FAILURES, AUDIT_USER_START,
		AUDIT_USER_END, AUDIT_USER_MGMT, AUDIT_USYS_CONFIG,
	};
	const char *name;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		name = lp_audit_type_name(types[i]);
		assert_non_null(name);
		assert_string_equal(name, audit_msg_type_to_name(types[i]));
		assert_int_equal(lp_audit_type_by_name(name), types[i]);
	}
	assert_null(lp_audit_type_name(AUDIT_USER_LOGIN));
	assert_int_equal(lp_audit_type_by_name("USER_LOGIN"), -1);
	assert_int_equal(lp_audit_type_by_name("user_auth"), -1);
	assert_int_equal(lp_audit_type_by_name("1100"), -1);
	assert_int_equal(lp_audit_type_by_name(""), -1);
	assert_int_equal(lp_audit_type_by_name(NULL), -1);
}

/* ------------------------------------------------------------ real write */

static void
test_audit_write_without_sink_goes_to_the_kernel_while_audit_is_on(void **state)
{
	struct lp_audit_rec r;
	int ret;

	(void)state;
	lp_audit_set_sink(NULL, NULL);
	lp_audit_rec_init(&r, AUDIT_USER_START, "lp-audit-unit-test");
	r.reason = "test";
	r.success = true;
	ret = lp_audit_write(&r);
	/*
	 * Root may write: the kernel takes the record while its audit is
	 * on, and syslog gets it while audit is off, which only root can
	 * ask.  Anybody else lacks CAP_AUDIT_WRITE, unless the kernel has
	 * no audit for this process (a user namespace) and syslog gets the
	 * record.
	 */
	if (getuid() == 0) {
		int fd = audit_open(), on;

		assert_true(fd >= 0);
		on = audit_is_enabled(fd);
		audit_close(fd);
		assert_int_equal(ret, on == 0 ? 1 : 0);
	} else
		assert_true(ret == -EPERM || ret == 1);
}

/* ------------------------------------------------------ syslog fallback */

/* Makes socket(AF_NETLINK, ...) fail as on a kernel without audit. */
static int
forbid_netlink(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static int
write_file(const char *path, const char *text)
{
	FILE *f;
	int r;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	r = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

/*
 * Enters a user namespace where this process keeps its uid and gid, so
 * that it can still create files (an unmapped uid cannot).
 */
static int
enter_user_ns(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0 ||
	    write_file("/proc/self/setgroups", "deny") != 0)
		return -1;
	(void)snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) != 0)
		return -1;
	(void)snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	return write_file("/proc/self/gid_map", map);
}

/*
 * In a private mount namespace, a tmpfs over /dev holds a datagram
 * socket at /dev/log, where syslog(3) sends.  Returns the socket or -1.
 */
static int
private_dev_log(bool user_ns)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	int fd;

	if (user_ns ? enter_user_ns() != 0 : unshare(CLONE_NEWNS) != 0)
		return -1;
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("lp-test", "/dev", "tmpfs", 0, "size=64k,mode=0755") != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "/dev/log");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The child's report to the parent: lp_audit_write()'s result, how many
 * lines /dev/log received, and the first of them.
 */
struct report {
	int	stage;		/* 0 once the child got to the write */
	int	ret;
	int	lines;
	char	line[TEXT_MAX];
};

/* How a child makes the kernel's audit unreachable. */
enum no_audit {
	NO_NETLINK,	/* socket(AF_NETLINK) fails: audit_open() fails */
	IN_USER_NS,	/* the kernel refuses records from a user namespace */
};

static void
run_without_audit(enum no_audit how, const struct lp_audit_rec *r,
    struct report *rep)
{
	char extra[TEXT_MAX];
	ssize_t n;
	int fd;

	rep->stage = 1;
	fd = private_dev_log(how == IN_USER_NS || geteuid() != 0);
	if (fd < 0)
		return;
	rep->stage = 2;
	if (how == NO_NETLINK && forbid_netlink() != 0)
		return;
	rep->stage = 0;
	rep->ret = lp_audit_write(r);
	n = recv(fd, rep->line, sizeof(rep->line) - 1, 0);
	if (n < 0)
		return;
	rep->line[n] = '\0';
	rep->lines = 1;
	/* A second line would mean libaudit or this unit said more. */
	if (recv(fd, extra, sizeof(extra), MSG_DONTWAIT) >= 0)
		rep->lines++;
}

/*
 * Writes r in a child made by how, and checks that lp_audit_write()
 * returned 1 and that /dev/log received exactly one line, want after the
 * time and ident.
 */
static void
assert_syslog_fallback(enum no_audit how, const struct lp_audit_rec *r,
    const char *want)
{
	struct report rep;
	const char *body;
	int p[2], status;
	ssize_t n;
	pid_t pid;

	lp_audit_set_sink(NULL, NULL);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		memset(&rep, 0, sizeof(rep));
		close(p[0]);
		run_without_audit(how, r, &rep);
		n = write(p[1], &rep, sizeof(rep));
		_exit(n == (ssize_t)sizeof(rep) ? 0 : 1);
	}
	close(p[1]);
	memset(&rep, 0, sizeof(rep));
	n = read(p[0], &rep, sizeof(rep));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(n, (ssize_t)sizeof(rep));

	assert_int_equal(rep.stage, 0);
	assert_int_equal(rep.ret, 1);
	assert_int_equal(rep.lines, 1);
	/* "<85>": LOG_AUTHPRIV | LOG_NOTICE; then time and ident. */
	assert_memory_equal(rep.line, "<85>", 4);
	body = strstr(rep.line, ": lp-audit: ");
	assert_non_null(body);
	assert_string_equal(body + 2, want);
}

static void
test_audit_write_without_kernel_audit_logs_one_syslog_line(void **state)
{
	struct lp_audit_rec r;

	(void)state;
	lp_audit_rec_init(&r, AUDIT_USER_AUTH, "lp-totp");
	r.acct = "a b";
	r.reason = "bad_code";
	r.hostname = "gw.example.org";
	r.addr = "198.51.100.7";
	r.terminal = "ssh";
	assert_syslog_fallback(NO_NETLINK, &r,
	    "lp-audit: type=USER_AUTH op=lp-totp acct=612062 reason=bad_code "
	    "hostname=gw.example.org addr=198.51.100.7 terminal=ssh "
	    "res=failed");
}

static void
test_audit_write_refused_by_the_kernel_logs_one_syslog_line(void **state)
{
	struct lp_audit_rec r;

	(void)state;
	lp_audit_rec_init(&r, AUDIT_USER_END, "lp-hop");
	r.acct = "alice";
	r.node = "gpu01";
	r.port = 22001;
	r.sent = 10;
	r.received = 20;
	r.duration_ms = 30;
	r.success = true;
	assert_syslog_fallback(IN_USER_NS, &r,
	    "lp-audit: type=USER_END op=lp-hop acct=\"alice\" node=gpu01 "
	    "port=22001 sent=10 received=20 duration_ms=30 hostname=? "
	    "addr=? terminal=? res=success");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_audit_totp_success_record_reads_exactly),
		T(test_audit_totp_failure_records_name_each_reason),
		T(test_audit_totp_failure_of_an_unknown_user_has_no_acct),
		T(test_audit_lockout_record_is_anom_login_failures),
		T(test_audit_tunnel_up_and_down_records_read_exactly),
		T(test_audit_tunnel_refused_for_an_unknown_key_has_no_node),
		T(test_audit_hop_start_and_refusal_records_read_exactly),
		T(test_audit_hop_end_record_carries_bytes_and_duration),
		T(test_audit_enrolment_records_are_user_mgmt),
		T(test_audit_index_rebuild_record_counts_nodes),
		T(test_audit_admin_record_names_the_terminal_on_stdin),
		T(test_audit_sink_return_value_is_the_write_result),
		T(test_audit_acct_of_plain_name_is_quoted),
		T(test_audit_acct_with_space_quote_or_non_ascii_is_hex),
		T(test_audit_acct_encoding_agrees_with_libaudit),
		T(test_audit_refuses_words_that_are_not_words),
		T(test_audit_refuses_over_long_remote_fields),
		T(test_audit_refuses_spaces_controls_and_fields_in_remote_fields),
		T(test_audit_refuses_bad_counts_ports_and_types),
		T(test_audit_format_reports_a_small_buffer_as_enobufs),
		T(test_audit_write_refuses_a_message_longer_than_the_maximum),
		T(test_audit_type_names_are_libaudits),
		T(test_audit_write_without_sink_goes_to_the_kernel_while_audit_is_on),
		T(test_audit_write_without_kernel_audit_logs_one_syslog_line),
		T(test_audit_write_refused_by_the_kernel_logs_one_syslog_line),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
