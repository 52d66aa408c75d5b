/*
 * pam_lp_tunnel through real libpam under pam_wrapper.  Each test keeps
 * one handle open across phases, as sshd does, and sets SSH_AUTH_INFO_0,
 * PAM_TTY and PAM_RHOST on it the way sshd would for the login being
 * simulated; the index is compiled from the test's lp.yaml by lib/.
 *
 * Accounts: "sys" is the tunnel account (named so in lp.yaml), "daemon"
 * and "bin" are people; both exist on every Debian system, so that
 * pam_modutil lookups work.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpamtest.h>
#include <security/pam_appl.h>

#include "cfg.h"
#include "index.h"
#include "tunnel.h"
#include "pamtest_util.h"

#define TUNNEL		"sys"
#define PERSON		"daemon"
#define PERSON2		"bin"
#define SVC		"lp_tunnel"
#define RHOST		"192.0.2.10"

#define KEY_GPU01	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAIGNlU4CNQLQ7DYWEPJS/0kINslrXq8cx2LuuOVLVXexT"
#define KEY_GPU02	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAIN7ESi46ePlgSAjehpnMYih1nv2IETuunIc6PncGpk4u"
#define KEY_GPU03	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAINt0MTLNHlMaRrQxIXNSCJaSfPiqMQkyhVJ4BDoDTGs5"
/* A FIDO key: the blob is built by hand, as no token is at hand. */
#define KEY_FIDO	"sk-ssh-ed25519@openssh.com " \
	"AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAcICQoLDA0ODxAREhMUFRYX" \
	"GBkaGxwdHh8gISIjJCUmAAAABHNzaDo="
#define KEY_PERSON	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAIHutJAp0jfS43So2Vjz5MngYW+maegWDzltrkDMjdAWZ"
#define KEY_CERT	"ssh-ed25519-cert-v01@openssh.com " \
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIAAAAAAAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZ" \
	"GhscHR4f"

/* SSH_AUTH_INFO_0 as sshd writes it, for each kind of login. */
#define PK(key)		"publickey " key "\n"
#define KBD		"keyboard-interactive/pam\n"

static const char policy[] =
	"tunnel:\n"
	"  user: " TUNNEL "\n"
	"nodes:\n"
	"  gpu01:\n"
	"    port: 22001\n"
	"    keys:\n"
	"      - " KEY_GPU01 " gpu01-tunnel\n"
	"    groups: [ml]\n"
	"  gpu02:\n"
	"    port: 22002\n"
	"    keys: [ \"" KEY_GPU02 "\" ]\n"
	"    enabled: false\n"
	"  fido01:\n"
	"    port: 22003\n"
	"    keys: [ \"" KEY_FIDO "\" ]\n";

static char run_dir[512];

/* ------------------------------------------------------------ fixture */

static void
path_in_base(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", lp_pt_base(), name);

	assert_true(n > 0 && (size_t)n < size);
}

static void
compile_index(void)
{
	struct lp_cfg *cfg = NULL;
	char yaml[512], cdb[512];

	path_in_base(yaml, sizeof(yaml), "lp.yaml");
	path_in_base(cdb, sizeof(cdb), "nodes.cdb");
	assert_int_equal(lp_cfg_load(yaml, &cfg, NULL), 0);
	assert_int_equal(lp_index_write(cfg, cdb), 0);
	lp_cfg_free(cfg);
}

static int
setup(void **state)
{
	(void)state;
	lp_pt_setup_policy(policy);
	compile_index();
	path_in_base(run_dir, sizeof(run_dir), "run/lp/tunnels");
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int
teardown(void **state)
{
	char path[512];

	(void)state;
	path_in_base(path, sizeof(path), "run");
	(void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	path_in_base(path, sizeof(path), "nodes.cdb");
	(void)unlink(path);
	lp_pt_teardown_policy();
	return 0;
}

/* ------------------------------------------------------------ helpers */

/*
 * A handle as sshd holds it for one connection: the account, the peer,
 * the "ssh" placeholder sshd puts in PAM_TTY, and SSH_AUTH_INFO_0 (left
 * unset when info is NULL).
 */
static pam_handle_t *
start(const char *service, const char *user, const char *info)
{
	pam_handle_t *ph = lp_pt_start(service, user);

	lp_pt_set_item(ph, PAM_RHOST, RHOST);
	lp_pt_set_item(ph, PAM_TTY, "ssh");
	if (info != NULL)
		lp_pt_putenv(ph, "SSH_AUTH_INFO_0", info);
	return ph;
}

static int
run(pam_handle_t *ph, const char *service, const char *user, int op,
    struct lp_pt_conv *c)
{
	lp_pt_conv_free(c);
	return lp_pt_run(ph, service, user, op, c);
}

/* The module logged a line holding each of the words, in one line. */
static void
assert_logged(const struct lp_pt_conv *c, const char *w1, const char *w2)
{
	const char *line, *nl;

	assert_non_null(c->log);
	for (line = c->log; *line != '\0'; line = nl + 1) {
		size_t len;
		char buf[1024];

		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		len = (size_t)(nl - line) < sizeof(buf) - 1 ?
		    (size_t)(nl - line) : sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (strstr(buf, w1) != NULL && (w2 == NULL ||
		    strstr(buf, w2) != NULL))
			return;
		if (*nl == '\0')
			break;
	}
	fail_msg("no line with \"%s\" and \"%s\" in:\n%s", w1,
	    w2 != NULL ? w2 : "", c->log);
}

static void
assert_not_logged(const struct lp_pt_conv *c, const char *word)
{
	assert_non_null(c->log);
	if (strstr(c->log, word) != NULL)
		fail_msg("\"%s\" logged:\n%s", word, c->log);
}

static void
assert_no_record(const char *node)
{
	struct lp_tunnel_rec rec;

	assert_int_equal(lp_tunnel_rec_read(run_dir, node, &rec), -ENOENT);
}

/*
 * The tunnel account's whole connection with info in the session:
 * account (empty, as sshd leaves it for a key-only login), then open.
 * Returns the open's code; the handle stays open in *ret_ph.
 */
static int
tunnel_open(const char *info, const char *tty, struct lp_pt_conv *c,
    pam_handle_t **ret_ph)
{
	pam_handle_t *ph = start(SVC, TUNNEL, "");

	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_ACCOUNT, c), PAM_SUCCESS);
	assert_logged(c, "user=" TUNNEL, "reason=deferred");
	if (info != NULL)
		lp_pt_putenv(ph, "SSH_AUTH_INFO_0", info);
	else
		lp_pt_putenv(ph, "SSH_AUTH_INFO_0", NULL);
	if (tty != NULL)
		lp_pt_set_item(ph, PAM_TTY, tty);
	*ret_ph = ph;
	return run(ph, SVC, TUNNEL, PAMTEST_OPEN_SESSION, c);
}

/* A session the module refuses: the word is logged, no record is left. */
static void
assert_tunnel_refused(const char *info, const char *tty, const char *reason,
    const char *node)
{
	struct lp_pt_conv c;
	pam_handle_t *ph;

	memset(&c, 0, sizeof(c));
	assert_int_equal(tunnel_open(info, tty, &c, &ph), PAM_SESSION_ERR);
	assert_logged(&c, "user=" TUNNEL, reason);
	assert_not_logged(&c, "reason=ok");
	assert_no_record(node);
	/*
	 * sshd ends the connection when the open fails; a close all the
	 * same finds nothing to remove.  libpam judges the close by what
	 * the modules said at the open, so its code is not the module's.
	 */
	(void)run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c);
	assert_not_logged(&c, "reason=");
	lp_pt_end(ph);
	lp_pt_conv_free(&c);
}

static int
account_of(const char *user, const char *info, struct lp_pt_conv *c)
{
	pam_handle_t *ph = start(SVC, user, info);
	int r;

	r = run(ph, SVC, user, PAMTEST_ACCOUNT, c);
	lp_pt_end(ph);
	return r;
}

/* ------------------------------------------------------------ tunnel */

static void
test_tunnel_session_of_node_key_is_recorded_until_close(void **state)
{
	struct lp_tunnel_rec rec;
	struct lp_pt_conv c;
	pam_handle_t *ph;
	time_t before = time(NULL);

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(tunnel_open(PK(KEY_GPU01), NULL, &c, &ph),
	    PAM_SUCCESS);
	assert_logged(&c, "reason=ok", "node=gpu01 port=22001");
	assert_logged(&c, "rhost=" RHOST, "tty=ssh");
	/* The record names this process, the one that will close. */
	assert_int_equal(lp_tunnel_rec_read(run_dir, "gpu01", &rec), 0);
	assert_string_equal(rec.node, "gpu01");
	assert_int_equal(rec.port, 22001);
	assert_string_equal(rec.peer, RHOST);
	assert_int_equal(rec.pid, getpid());
	assert_true(rec.since >= before && rec.since <= time(NULL));

	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c),
	    PAM_SUCCESS);
	assert_logged(&c, "reason=closed", "node=gpu01");
	assert_no_record("gpu01");
	lp_pt_end(ph);
	lp_pt_conv_free(&c);
}

static void
test_tunnel_session_of_fido_node_key_is_accepted(void **state)
{
	struct lp_tunnel_rec rec;
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(tunnel_open(PK(KEY_FIDO), NULL, &c, &ph),
	    PAM_SUCCESS);
	assert_logged(&c, "reason=ok", "node=fido01 port=22003");
	assert_int_equal(lp_tunnel_rec_read(run_dir, "fido01", &rec), 0);
	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c),
	    PAM_SUCCESS);
	assert_no_record("fido01");
	lp_pt_end(ph);
	lp_pt_conv_free(&c);
}

static void
test_tunnel_session_refuses_unknown_key(void **state)
{
	(void)state;
	assert_tunnel_refused(PK(KEY_GPU03), NULL, "reason=unknown_key",
	    "gpu01");
	/* A person's own key is no node's key either. */
	assert_tunnel_refused(PK(KEY_PERSON), NULL, "reason=unknown_key",
	    "gpu01");
}

static void
test_tunnel_session_refuses_disabled_node_key(void **state)
{
	(void)state;
	assert_tunnel_refused(PK(KEY_GPU02), NULL, "reason=node_disabled",
	    "gpu02");
}

static void
test_tunnel_session_refuses_empty_or_missing_authinfo(void **state)
{
	(void)state;
	assert_tunnel_refused("", NULL, "reason=empty_authinfo", "gpu01");
	assert_tunnel_refused(NULL, NULL, "reason=no_authinfo", "gpu01");
	/* A login that passed no publickey method names no key. */
	assert_tunnel_refused(KBD, NULL, "reason=no_key", "gpu01");
}

static void
test_tunnel_session_refuses_malformed_authinfo(void **state)
{
	static const char *const bad[] = {
		"publickey " KEY_GPU01,				/* no '\n' */
		PK(KEY_GPU01 " gpu01-tunnel"),			/* comment */
		PK(KEY_GPU01) PK(KEY_PERSON),			/* two keys */
		PK(KEY_GPU01) PK(KEY_GPU01),
		PK(KEY_GPU01) "password\n",			/* method */
		"password\n" PK(KEY_GPU01),
		PK(KEY_GPU01) "\n",				/* empty line */
		"publickey ssh-ed25519 AAAA\n",			/* short blob */
		"publickey ssh-ed25519\x01 AAAA\n",		/* control */
		PK(KEY_GPU01) KBD KBD,
		"garbage\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_tunnel_refused(bad[i], NULL, "reason=bad_authinfo",
		    "gpu01");
}

static void
test_tunnel_session_refuses_certificates_and_other_types(void **state)
{
	(void)state;
	assert_tunnel_refused(PK(KEY_CERT), NULL, "reason=unsupported_key",
	    "gpu01");
	assert_tunnel_refused("publickey " KEY_CERT " ID gpu01 (serial 1) "
	    "CA ssh-ed25519 SHA256:x\n", NULL, "reason=unsupported_key",
	    "gpu01");
	assert_tunnel_refused("publickey ssh-dss AAAAB3NzaC1kc3MAAAAB\n", NULL,
	    "reason=unsupported_key", "gpu01");
}

static void
test_tunnel_session_refuses_a_terminal(void **state)
{
	static const char *const ttys[] = { "/dev/pts/0", "pts/3", "tty1",
	    "/dev/tty1", ":0" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ttys) / sizeof(ttys[0]); i++)
		assert_tunnel_refused(PK(KEY_GPU01), ttys[i],
		    "reason=tty_refused", "gpu01");
}

static void
test_tunnel_session_without_tty_item_is_accepted(void **state)
{
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(tunnel_open(PK(KEY_GPU01), "", &c, &ph),
	    PAM_SUCCESS);
	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c),
	    PAM_SUCCESS);
	lp_pt_end(ph);
	assert_no_record("gpu01");
	lp_pt_conv_free(&c);
}

static void
test_tunnel_account_checks_a_key_when_sshd_shows_one(void **state)
{
	struct lp_pt_conv c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(account_of(TUNNEL, PK(KEY_GPU01), &c), PAM_SUCCESS);
	assert_logged(&c, "reason=ok", "node=gpu01");
	assert_int_equal(account_of(TUNNEL, PK(KEY_GPU02), &c),
	    PAM_PERM_DENIED);
	assert_logged(&c, "reason=node_disabled", "node=gpu02");
	assert_int_equal(account_of(TUNNEL, PK(KEY_PERSON), &c),
	    PAM_PERM_DENIED);
	assert_logged(&c, "reason=unknown_key", "key_type=ssh-ed25519");
	assert_int_equal(account_of(TUNNEL, NULL, &c), PAM_PERM_DENIED);
	assert_logged(&c, "reason=no_authinfo", NULL);
	assert_int_equal(account_of(TUNNEL, "junk", &c), PAM_PERM_DENIED);
	assert_logged(&c, "reason=bad_authinfo", NULL);
	lp_pt_conv_free(&c);
}

static void
test_tunnel_close_keeps_record_of_a_newer_tunnel(void **state)
{
	struct lp_tunnel_rec rec;
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(tunnel_open(PK(KEY_GPU01), NULL, &c, &ph),
	    PAM_SUCCESS);
	/*
	 * The node reconnected through another sshd process (pid 1 runs)
	 * once this session's record had gone: lp_tunnel_rec_write() never
	 * replaces the record of a live process.
	 */
	assert_int_equal(lp_tunnel_rec_read(run_dir, "gpu01", &rec), 0);
	assert_int_equal(lp_tunnel_rec_remove(run_dir, "gpu01", rec.pid), 0);
	rec.pid = 1;
	assert_int_equal(lp_tunnel_rec_write(run_dir, &rec, NULL), 0);
	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c),
	    PAM_SUCCESS);
	assert_logged(&c, "reason=replaced", "node=gpu01");
	assert_int_equal(lp_tunnel_rec_read(run_dir, "gpu01", &rec), 0);
	assert_int_equal(rec.pid, 1);
	lp_pt_end(ph);
	lp_pt_conv_free(&c);
}

static void
test_tunnel_session_refused_while_node_has_a_live_tunnel(void **state)
{
	struct lp_tunnel_rec rec, back;
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	/* gpu01's first tunnel, held by another sshd process (pid 1 runs). */
	memset(&rec, 0, sizeof(rec));
	(void)strcpy(rec.node, "gpu01");
	rec.port = 22001;
	(void)strcpy(rec.peer, "198.51.100.1");
	rec.pid = 1;
	rec.since = (int64_t)time(NULL);
	assert_int_equal(lp_tunnel_rec_write(run_dir, &rec, NULL), 0);
	assert_int_equal(tunnel_open(PK(KEY_GPU01), NULL, &c, &ph),
	    PAM_SESSION_ERR);
	assert_logged(&c, "reason=already_up", "node=gpu01 pid=1 ");
	assert_int_equal(lp_tunnel_rec_read(run_dir, "gpu01", &back), 0);
	assert_int_equal(back.pid, 1);
	assert_string_equal(back.peer, "198.51.100.1");
	lp_pt_end(ph);

	/* Once its process is gone, the record no longer holds the node. */
	rec.since -= 3600 * 24 * 365 * 20;
	assert_int_equal(lp_tunnel_rec_write(run_dir, &rec, NULL), 0);
	assert_int_equal(tunnel_open(PK(KEY_GPU01), NULL, &c, &ph),
	    PAM_SUCCESS);
	assert_int_equal(lp_tunnel_rec_read(run_dir, "gpu01", &back), 0);
	assert_int_equal(back.pid, getpid());
	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c),
	    PAM_SUCCESS);
	lp_pt_end(ph);
	assert_no_record("gpu01");
	lp_pt_conv_free(&c);
}

static void
test_tunnel_session_records_unusable_peer_as_unknown(void **state)
{
	struct lp_tunnel_rec rec;
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	ph = start(SVC, TUNNEL, PK(KEY_GPU01));
	lp_pt_set_item(ph, PAM_RHOST, "a-name-resolved-by-sshd-that-is-far-"
	    "longer-than-the-record-keeps.example.org");
	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_OPEN_SESSION, &c),
	    PAM_SUCCESS);
	assert_int_equal(lp_tunnel_rec_read(run_dir, "gpu01", &rec), 0);
	assert_string_equal(rec.peer, "-");
	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c),
	    PAM_SUCCESS);
	lp_pt_end(ph);
	assert_no_record("gpu01");
	lp_pt_conv_free(&c);
}

static void
test_tunnel_session_refuses_when_record_cannot_be_written(void **state)
{
	char dir[512];
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	/* A run directory others may write to is not trusted. */
	path_in_base(dir, sizeof(dir), "run");
	assert_int_equal(mkdir(dir, 0755), 0);
	path_in_base(dir, sizeof(dir), "run/lp");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(run_dir, 0777), 0);
	assert_int_equal(chmod(run_dir, 0777), 0);
	assert_int_equal(tunnel_open(PK(KEY_GPU01), NULL, &c, &ph),
	    PAM_SESSION_ERR);
	assert_logged(&c, "reason=record_failed", "node=gpu01");
	(void)run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c);
	assert_not_logged(&c, "reason=");
	lp_pt_end(ph);
	assert_int_equal(chmod(run_dir, 0755), 0);
	assert_no_record("gpu01");
	lp_pt_conv_free(&c);
}

static void
test_tunnel_session_warns_when_policy_is_newer_than_index(void **state)
{
	struct timespec ts[2];
	char yaml[512];
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	path_in_base(yaml, sizeof(yaml), "lp.yaml");
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts[0]), 0);
	ts[0].tv_sec += 60;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, yaml, ts, 0), 0);
	assert_int_equal(tunnel_open(PK(KEY_GPU01), NULL, &c, &ph),
	    PAM_SUCCESS);
	assert_logged(&c, "lp-nodes compile", "continuing");
	assert_logged(&c, "reason=ok", "node=gpu01");
	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_CLOSE_SESSION, &c),
	    PAM_SUCCESS);
	lp_pt_end(ph);
	lp_pt_conv_free(&c);
}

/* ------------------------------------------------------------ people */

static void
test_person_with_own_key_and_code_passes_account(void **state)
{
	struct lp_pt_conv c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(account_of(PERSON, PK(KEY_PERSON), &c), PAM_SUCCESS);
	assert_logged(&c, "user=" PERSON, "reason=ok");
	assert_int_equal(account_of(PERSON2, PK(KEY_PERSON) KBD, &c),
	    PAM_SUCCESS);
	assert_logged(&c, "user=" PERSON2, "reason=ok");
	/* A key the index does not know, of a type it does not hold. */
	assert_int_equal(account_of(PERSON, PK(KEY_GPU03), &c), PAM_SUCCESS);
	lp_pt_conv_free(&c);
}

static void
test_person_with_code_only_passes_account(void **state)
{
	struct lp_pt_conv c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(account_of(PERSON, KBD, &c), PAM_SUCCESS);
	assert_logged(&c, "reason=ok", "key=none");
	lp_pt_conv_free(&c);
}

static void
test_person_with_node_key_is_refused(void **state)
{
	struct lp_pt_conv c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(account_of(PERSON, PK(KEY_GPU01) KBD, &c),
	    PAM_PERM_DENIED);
	assert_logged(&c, "reason=node_key_for_person", "node=gpu01");
	/* A disabled node's key is still a node's key. */
	assert_int_equal(account_of(PERSON, PK(KEY_GPU02), &c),
	    PAM_PERM_DENIED);
	assert_logged(&c, "reason=node_key_for_person", "node=gpu02");
	assert_int_equal(account_of(PERSON2, KBD PK(KEY_FIDO), &c),
	    PAM_PERM_DENIED);
	assert_logged(&c, "reason=node_key_for_person", "node=fido01");
	lp_pt_conv_free(&c);
}

static void
test_person_without_readable_authinfo_is_refused(void **state)
{
	struct lp_pt_conv c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(account_of(PERSON, NULL, &c), PAM_PERM_DENIED);
	assert_logged(&c, "reason=no_authinfo", NULL);
	/* Empty: a key-only login, whose key sshd does not show here. */
	assert_int_equal(account_of(PERSON, "", &c), PAM_PERM_DENIED);
	assert_logged(&c, "reason=empty_authinfo", NULL);
	assert_int_equal(account_of(PERSON, PK(KEY_PERSON) PK(KEY_GPU01), &c),
	    PAM_PERM_DENIED);
	assert_logged(&c, "reason=bad_authinfo", NULL);
	assert_int_equal(account_of(PERSON, "publickey " KEY_PERSON, &c),
	    PAM_PERM_DENIED);
	assert_logged(&c, "reason=bad_authinfo", NULL);
	assert_int_equal(account_of(PERSON, PK(KEY_CERT) KBD, &c),
	    PAM_PERM_DENIED);
	assert_logged(&c, "reason=unsupported_key", NULL);
	lp_pt_conv_free(&c);
}

static void
test_person_session_is_left_to_the_account_phase(void **state)
{
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	ph = start(SVC, PERSON, PK(KEY_PERSON) KBD);
	lp_pt_set_item(ph, PAM_TTY, "/dev/pts/4");
	assert_int_equal(run(ph, SVC, PERSON, PAMTEST_OPEN_SESSION, &c),
	    PAM_SUCCESS);
	assert_not_logged(&c, "reason=");
	assert_no_record("gpu01");
	assert_int_equal(run(ph, SVC, PERSON, PAMTEST_CLOSE_SESSION, &c),
	    PAM_SUCCESS);
	assert_not_logged(&c, "reason=");
	lp_pt_end(ph);
	lp_pt_conv_free(&c);
}

/* ------------------------------------------------------------ setup */

static void
test_missing_index_refuses_everyone(void **state)
{
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	ph = start("lp_tunnel_noindex", PERSON, PK(KEY_PERSON) KBD);
	assert_int_equal(run(ph, "lp_tunnel_noindex", PERSON, PAMTEST_ACCOUNT,
	    &c), PAM_SERVICE_ERR);
	assert_logged(&c, "reason=no_index", "missing.cdb");
	lp_pt_end(ph);
	ph = start("lp_tunnel_noindex", TUNNEL, "");
	assert_int_equal(run(ph, "lp_tunnel_noindex", TUNNEL, PAMTEST_ACCOUNT,
	    &c), PAM_SERVICE_ERR);
	lp_pt_putenv(ph, "SSH_AUTH_INFO_0", PK(KEY_GPU01));
	assert_int_equal(run(ph, "lp_tunnel_noindex", TUNNEL,
	    PAMTEST_OPEN_SESSION, &c), PAM_SESSION_ERR);
	assert_logged(&c, "reason=no_index", NULL);
	lp_pt_end(ph);
	assert_no_record("gpu01");
	lp_pt_conv_free(&c);
}

static void
test_unsafe_index_refuses_everyone(void **state)
{
	char cdb[512];
	struct lp_pt_conv c;

	(void)state;
	memset(&c, 0, sizeof(c));
	path_in_base(cdb, sizeof(cdb), "nodes.cdb");
	assert_int_equal(chmod(cdb, 0666), 0);
	assert_int_equal(account_of(PERSON, PK(KEY_PERSON) KBD, &c),
	    PAM_SERVICE_ERR);
	assert_logged(&c, "reason=no_index", "owned by root");
	lp_pt_conv_free(&c);
}

static void
test_unknown_option_refuses(void **state)
{
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	ph = start("lp_tunnel_badopt", PERSON, PK(KEY_PERSON) KBD);
	assert_int_equal(run(ph, "lp_tunnel_badopt", PERSON, PAMTEST_ACCOUNT,
	    &c), PAM_SERVICE_ERR);
	assert_logged(&c, "unknown or malformed option", "rundir=");
	lp_pt_end(ph);
	ph = start("lp_tunnel_badopt", TUNNEL, PK(KEY_GPU01));
	assert_int_equal(run(ph, "lp_tunnel_badopt", TUNNEL,
	    PAMTEST_OPEN_SESSION, &c), PAM_SERVICE_ERR);
	lp_pt_end(ph);
	assert_no_record("gpu01");
	lp_pt_conv_free(&c);
}

static void
test_debug_logs_options_and_path(void **state)
{
	struct lp_pt_conv c;
	pam_handle_t *ph;

	(void)state;
	memset(&c, 0, sizeof(c));
	ph = start("lp_tunnel_debug", PERSON, PK(KEY_PERSON) KBD);
	assert_int_equal(run(ph, "lp_tunnel_debug", PERSON, PAMTEST_ACCOUNT,
	    &c), PAM_SUCCESS);
	assert_logged(&c, "config=", "index=");
	assert_logged(&c, "names " TUNNEL " as the tunnel account",
	    "a person");
	lp_pt_end(ph);
	/* Even at debug level, the key itself is never logged. */
	assert_not_logged(&c, "AAAAC3NzaC1lZDI1NTE5");
	lp_pt_conv_free(&c);
}

/* ------------------------------------------------------ hostile input */

static void
test_tunnel_session_refuses_64_kib_of_authinfo(void **state)
{
	size_t n = 64 * 1024, i;
	char *big;

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	/* A node's own key line, padded with method lines to 64 KiB. */
	memcpy(big, PK(KEY_GPU01), strlen(PK(KEY_GPU01)));
	for (i = strlen(PK(KEY_GPU01)); i < n; i++)
		big[i] = (i + 1) % 64 == 0 ? '\n' : 'a';
	big[n - 1] = '\n';
	big[n] = '\0';
	assert_tunnel_refused(big, NULL, "reason=bad_authinfo", "gpu01");
	/* One byte over the reader's limit, as one long line. */
	big = realloc(big, n + 2);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\n';
	big[n + 1] = '\0';
	assert_tunnel_refused(big, NULL, "reason=bad_authinfo", "gpu01");
	free(big);
}

/* A well-formed FIDO key line that no node owns. */
#define KEY_FIDO_OTHER	"sk-ssh-ed25519@openssh.com " \
	"AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAEBAQEBAQEBAQEBAQEBAQEB" \
	"AQEBAQEBAQEBAQEBAQEBAAAABHNzaDo="

static void
test_tunnel_session_refuses_fido_key_of_no_node(void **state)
{
	(void)state;
	assert_tunnel_refused(PK(KEY_FIDO_OTHER), NULL, "reason=unknown_key",
	    "fido01");
	/* As a person's login shows it, with the code line after it. */
	assert_tunnel_refused(PK(KEY_FIDO_OTHER) KBD, NULL,
	    "reason=unknown_key", "fido01");
}

/* Rewrites the compiled index with the first len bytes of buf. */
static void
put_index(const char *buf, size_t len)
{
	char cdb[512];
	FILE *f;

	path_in_base(cdb, sizeof(cdb), "nodes.cdb");
	f = fopen(cdb, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(cdb, 0644), 0);
}

static char *
get_index(size_t *ret_len)
{
	char cdb[512], *buf;
	struct stat st;
	FILE *f;

	path_in_base(cdb, sizeof(cdb), "nodes.cdb");
	assert_int_equal(stat(cdb, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	f = fopen(cdb, "r");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, f),
	    (size_t)st.st_size);
	fclose(f);
	*ret_len = (size_t)st.st_size;
	return buf;
}

/* Neither a person nor the tunnel account gets past a corrupt index. */
static void
assert_corrupt_index_refuses_everyone(void)
{
	struct lp_pt_conv c;
	pam_handle_t *ph;

	memset(&c, 0, sizeof(c));
	assert_int_equal(account_of(PERSON, PK(KEY_PERSON) KBD, &c),
	    PAM_SERVICE_ERR);
	assert_logged(&c, "reason=no_index", "error=Protocol error "
	    "(corrupt, or of another version: run lp-nodes compile)");
	ph = start(SVC, TUNNEL, PK(KEY_GPU01));
	assert_int_equal(run(ph, SVC, TUNNEL, PAMTEST_OPEN_SESSION, &c),
	    PAM_SESSION_ERR);
	assert_logged(&c, "reason=no_index", "error=Protocol error "
	    "(corrupt, or of another version: run lp-nodes compile)");
	lp_pt_end(ph);
	assert_no_record("gpu01");
	lp_pt_conv_free(&c);
}

static void
test_truncated_index_refuses_everyone(void **state)
{
	size_t len, cuts[4], i;
	char *buf;

	(void)state;
	buf = get_index(&len);
	cuts[0] = 1;
	cuts[1] = 2048;
	cuts[2] = len / 2;
	cuts[3] = len - 1;
	for (i = 0; i < 4; i++) {
		put_index(buf, cuts[i]);
		assert_corrupt_index_refuses_everyone();
	}
	free(buf);
}

static void
test_zero_byte_index_refuses_everyone(void **state)
{
	(void)state;
	put_index("", 0);
	assert_corrupt_index_refuses_everyone();
}

static void
test_index_of_a_newer_format_refuses_everyone(void **state)
{
	size_t len, i, found = 0;
	char *buf;

	(void)state;
	buf = get_index(&len);
	/* The version is a value, outside the hash: the file stays a cdb. */
	for (i = 0; i + strlen(LP_INDEX_VERSION) <= len; i++)
		if (memcmp(buf + i, LP_INDEX_VERSION,
		    strlen(LP_INDEX_VERSION)) == 0) {
			buf[i + strlen(LP_INDEX_VERSION) - 1] = '2';
			found++;
		}
	assert_int_equal(found, 1);
	put_index(buf, len);
	free(buf);
	assert_corrupt_index_refuses_everyone();
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_tunnel_session_of_node_key_is_recorded_until_close),
		T(test_tunnel_session_of_fido_node_key_is_accepted),
		T(test_tunnel_session_refuses_unknown_key),
		T(test_tunnel_session_refuses_disabled_node_key),
		T(test_tunnel_session_refuses_empty_or_missing_authinfo),
		T(test_tunnel_session_refuses_malformed_authinfo),
		T(test_tunnel_session_refuses_certificates_and_other_types),
		T(test_tunnel_session_refuses_a_terminal),
		T(test_tunnel_session_without_tty_item_is_accepted),
		T(test_tunnel_account_checks_a_key_when_sshd_shows_one),
		T(test_tunnel_close_keeps_record_of_a_newer_tunnel),
		T(test_tunnel_session_refused_while_node_has_a_live_tunnel),
		T(test_tunnel_session_records_unusable_peer_as_unknown),
		T(test_tunnel_session_refuses_when_record_cannot_be_written),
		T(test_tunnel_session_warns_when_policy_is_newer_than_index),
		T(test_person_with_own_key_and_code_passes_account),
		T(test_person_with_code_only_passes_account),
		T(test_person_with_node_key_is_refused),
		T(test_person_without_readable_authinfo_is_refused),
		T(test_person_session_is_left_to_the_account_phase),
		T(test_missing_index_refuses_everyone),
		T(test_unsafe_index_refuses_everyone),
		T(test_unknown_option_refuses),
		T(test_debug_logs_options_and_path),
		T(test_tunnel_session_refuses_64_kib_of_authinfo),
		T(test_tunnel_session_refuses_fido_key_of_no_node),
		T(test_truncated_index_refuses_everyone),
		T(test_zero_byte_index_refuses_everyone),
		T(test_index_of_a_newer_format_refuses_everyone),
#undef T
	};
	int r;

	lp_pt_init(argc, argv);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	lp_pt_done();
	return r;
}
