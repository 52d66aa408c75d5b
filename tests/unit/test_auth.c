/*
 * Unit tests for lib/auth.c: the decision of one attempt against a real
 * state directory, at fixed times.
 */

/* The wipe spy must replace explicit_bzero(3) itself; see test_totp.c. */
#undef _FORTIFY_SOURCE

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "auth.h"
#include "file.h"
#include "lp_util.h"
#include "recovery.h"
#include "state.h"
#include "totp.h"

/* A fixed clock: the middle of step STEP. */
#define STEP		56666666ULL
#define NOW		((time_t)(STEP * 30 + 10))
#define NCODES		2

/* RFC 6238's SHA1 seed. */
static const char seed[] = "12345678901234567890";

/* ---------------------------------------------------------------- spy */

/* Counts wipes of spy_len bytes that still held something (test_totp.c). */
static size_t	spy_len;
static size_t	spy_hits;

/*
 * libc declares explicit_bzero's buffer write-only; reading it here is
 * the point, so the pointer is passed through an empty asm that the
 * compiler cannot see into.
 */
static const void *
launder(const void *p)
{
	__asm__ __volatile__("" : "+r"(p));
	return p;
}

void
explicit_bzero(void *p, size_t len)
{
	static const unsigned char zero[sizeof(struct lp_totp_state)];

	if (spy_len != 0 && len == spy_len && len <= sizeof(zero) &&
	    memcmp(launder(p), zero, len) != 0)
		spy_hits++;
	memset(p, 0, len);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

void	__explicit_bzero_chk(void *p, size_t len, size_t destlen);

void
__explicit_bzero_chk(void *p, size_t len, size_t destlen)
{
	(void)destlen;
	explicit_bzero(p, len);
}

/* Makes every write(2) of lp_file_replace() fail. */
static int
fail_write(enum lp_file_step step)
{
	return step == LP_FILE_STEP_WRITE ? -EIO : 0;
}

/* ---------------------------------------------------------------- fixture */

struct fixture {
	char			dir[64];
	struct lp_store		*store;
	struct lp_totp_cfg	cfg;
	char			codes[NCODES][LP_RECOVERY_LEN + 1];
};

static void
write_state(struct fixture *f, const char *user,
    const struct lp_totp_state *st)
{
	struct lp_store_lock *lk = NULL;

	assert_int_equal(lp_store_lock(f->store, user, &lk), 0);
	assert_int_equal(lp_store_write(lk, st), 0);
	lp_store_unlock(lk);
}

/* Reads user's state, which must parse. */
static void
read_state(struct fixture *f, const char *user, struct lp_totp_state *st)
{
	struct lp_store_lock *lk = NULL;

	assert_int_equal(lp_store_lock(f->store, user, &lk), 0);
	assert_int_equal(lp_store_read(lk, st), 0);
	lp_store_unlock(lk);
}

/* Enrols alice with the RFC seed and NCODES recovery codes. */
static int
setup(void **state)
{
	char hashes[NCODES][LP_RECOVERY_HASH_MAX];
	struct lp_totp_state st;
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	(void)strcpy(f->dir, "/tmp/lp-test-auth.XXXXXX");
	if (mkdtemp(f->dir) == NULL || chmod(f->dir, 0700) != 0 ||
	    lp_store_open(f->dir, &f->store) != 0) {
		free(f);
		return -1;
	}
	(void)strcpy(f->cfg.issuer, "LocalPrompt");
	f->cfg.digits = 6;
	f->cfg.period = 30;
	f->cfg.algo = LP_TOTP_SHA1;
	f->cfg.window = 1;
	f->cfg.max_failures = 5;
	f->cfg.lockout = 300;

	memset(&st, 0, sizeof(st));
	memcpy(st.secret, seed, sizeof(seed) - 1);
	st.secret_len = sizeof(seed) - 1;
	st.enrolled = (int64_t)NOW - 86400;
	if (lp_recovery_generate(NCODES, f->codes, hashes) != 0)
		return -1;
	memcpy(st.recovery, hashes, sizeof(hashes));
	st.nrecovery = NCODES;
	write_state(f, "alice", &st);
	lp_wipe_obj(&st);
	lp_wipe_array(hashes);

	lp_file_fault = NULL;
	spy_len = 0;
	spy_hits = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	DIR *d;

	lp_file_fault = NULL;
	lp_store_free(f->store);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) != 0)
				(void)unlinkat(dirfd(d), de->d_name,
				    AT_REMOVEDIR);
		}
		(void)closedir(d);
	}
	(void)rmdir(f->dir);
	lp_wipe_obj(f);
	free(f);
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static void
code_at(struct fixture *f, uint64_t step, char out[LP_TOTP_CODE_MAX + 1])
{
	assert_int_equal(lp_totp_generate((const unsigned char *)seed,
	    sizeof(seed) - 1, &f->cfg, step, out), 0);
}

/* One attempt; alice's state must still parse afterwards. */
static struct lp_auth_outcome
attempt(struct fixture *f, const char *user, const char *input, time_t now)
{
	struct lp_auth_outcome out;
	struct lp_totp_state st;

	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(lp_auth_attempt(f->store, &f->cfg, user, input, now,
	    &out), 0);
	read_state(f, "alice", &st);
	lp_wipe_obj(&st);
	return out;
}

static void
stat_state(struct fixture *f, const char *user, struct stat *sb)
{
	char path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", f->dir, user);
	assert_int_equal(lstat(path, sb), 0);
}

static size_t
read_bytes(struct fixture *f, const char *user, char *buf, size_t size)
{
	char path[512];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", f->dir, user);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	assert_true(fd >= 0);
	n = read(fd, buf, size);
	assert_true(n >= 0 && (size_t)n < size);
	assert_int_equal(close(fd), 0);
	return (size_t)n;
}

static void
write_bytes(struct fixture *f, const char *user, const char *buf,
    size_t len, mode_t mode)
{
	char path[512];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", f->dir, user);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Makes n wrong attempts, checking the count after each. */
static void
fail_times(struct fixture *f, unsigned n, unsigned first, time_t now)
{
	struct lp_auth_outcome out;
	unsigned i;

	for (i = 0; i < n; i++) {
		out = attempt(f, "alice", "000000", now);
		assert_int_equal(out.result, LP_AUTH_BAD_CODE);
		assert_int_equal(out.failures, first + i + 1);
		assert_int_equal(out.locked_now, 0);
	}
}

static double
cpu_ms(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- codes */

static void
test_auth_accepts_a_right_code_and_agrees_with_oathtool(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	struct lp_totp_state st;
	char code[LP_TOTP_CODE_MAX + 1], want[32], cmd[1024], path[512];
	char b32[LP_BASE32_MAX + 1];
	FILE *p;

	code_at(f, STEP, code);

	/* oathtool, given the key in a file, computes the same code. */
	assert_int_equal(lp_base32_encode((const unsigned char *)seed,
	    sizeof(seed) - 1, b32, sizeof(b32)), 0);
	write_bytes(f, "oathtool.key", b32, strlen(b32), 0600);
	(void)snprintf(path, sizeof(path), "%s/oathtool.key", f->dir);
	(void)snprintf(cmd, sizeof(cmd), "%s --totp -b -N @%lld @%s",
	    LP_OATHTOOL, (long long)NOW, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(want, sizeof(want), p));
	assert_int_equal(pclose(p), 0);
	want[strcspn(want, "\n")] = '\0';
	assert_string_equal(code, want);

	out = attempt(f, "alice", code, NOW);
	assert_int_equal(out.result, LP_AUTH_OK);
	assert_int_equal(out.error, 0);
	assert_int_equal(out.failures, 0);
	assert_int_equal(out.locked_now, 0);
	assert_int_equal(out.recovery_left, NCODES);
	read_state(f, "alice", &st);
	assert_int_equal(st.last_step, STEP);
	assert_int_equal(st.last_success, (int64_t)NOW);
	assert_int_equal(st.failures, 0);
	lp_wipe_obj(&st);
}

static void
test_auth_refuses_the_same_code_twice_as_replayed(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char code[LP_TOTP_CODE_MAX + 1], spaced[16];

	code_at(f, STEP, code);
	assert_int_equal(attempt(f, "alice", code, NOW).result, LP_AUTH_OK);

	out = attempt(f, "alice", code, NOW);
	assert_int_equal(out.result, LP_AUTH_REPLAYED);
	assert_int_equal(out.failures, 1);

	/* Typed differently, it is still the same step. */
	(void)snprintf(spaced, sizeof(spaced), "%.3s %.3s", code, code + 3);
	out = attempt(f, "alice", spaced, NOW + 15);
	assert_int_equal(out.result, LP_AUTH_REPLAYED);
	assert_int_equal(out.failures, 2);
}

static void
test_auth_refuses_an_earlier_step_after_a_later_one(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char later[LP_TOTP_CODE_MAX + 1], earlier[LP_TOTP_CODE_MAX + 1];
	char back[LP_TOTP_CODE_MAX + 1];

	code_at(f, STEP + 1, later);
	code_at(f, STEP - 1, earlier);
	code_at(f, STEP - 20, back);
	assert_int_equal(attempt(f, "alice", later, NOW).result, LP_AUTH_OK);

	/* Inside the window, but before the step just used. */
	out = attempt(f, "alice", earlier, NOW);
	assert_int_equal(out.result, LP_AUTH_REPLAYED);

	/* The clock moved back ten minutes: its code is still old. */
	out = attempt(f, "alice", back, NOW - 600);
	assert_int_equal(out.result, LP_AUTH_REPLAYED);
	assert_int_equal(out.failures, 2);
}

static void
test_auth_refuses_a_wrong_or_malformed_code(void **state)
{
	struct fixture *f = *state;
	char code[LP_TOTP_CODE_MAX + 1];

	code_at(f, STEP + 2, code);
	assert_int_equal(attempt(f, "alice", code, NOW).result,
	    LP_AUTH_BAD_CODE);
	assert_int_equal(attempt(f, "alice", "12345", NOW).result,
	    LP_AUTH_BAD_CODE);
	assert_int_equal(attempt(f, "alice", "", NOW).result,
	    LP_AUTH_BAD_CODE);
	assert_int_equal(attempt(f, "alice", "hunter2", NOW).failures, 4);
}

/* ---------------------------------------------------------------- lockout */

static void
test_auth_locks_the_account_after_max_failures(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	struct lp_totp_state st;

	fail_times(f, f->cfg.max_failures - 1, 0, NOW);
	out = attempt(f, "alice", "000000", NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_CODE);
	assert_int_equal(out.locked_now, 1);
	assert_int_equal(out.failures, 0);
	read_state(f, "alice", &st);
	assert_int_equal(st.locked_until, (int64_t)NOW + f->cfg.lockout);
	assert_int_equal(st.failures, 0);
	lp_wipe_obj(&st);
}

static void
test_auth_counts_replays_towards_the_lockout(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char code[LP_TOTP_CODE_MAX + 1];
	unsigned i;

	memset(&out, 0, sizeof(out));
	f->cfg.max_failures = 3;
	code_at(f, STEP, code);
	assert_int_equal(attempt(f, "alice", code, NOW).result, LP_AUTH_OK);
	for (i = 0; i < 3; i++)
		out = attempt(f, "alice", code, NOW);
	assert_int_equal(out.result, LP_AUTH_REPLAYED);
	assert_int_equal(out.locked_now, 1);
}

static void
test_auth_locked_refuses_a_right_code_and_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char code[LP_TOTP_CODE_MAX + 1];
	char before[LP_STATE_SIZE_MAX], after[LP_STATE_SIZE_MAX];
	struct stat sb1, sb2;
	size_t n1, n2;
	unsigned i;

	fail_times(f, f->cfg.max_failures - 1, 0, NOW);
	assert_int_equal(attempt(f, "alice", "000000", NOW).locked_now, 1);
	n1 = read_bytes(f, "alice", before, sizeof(before));
	stat_state(f, "alice", &sb1);

	code_at(f, STEP + 1, code);
	out = attempt(f, "alice", code, NOW + 30);
	assert_int_equal(out.result, LP_AUTH_LOCKED);
	assert_int_equal(out.locked_now, 0);

	/* Failures while locked neither count nor extend the lock. */
	for (i = 0; i < 2 * f->cfg.max_failures; i++) {
		out = attempt(f, "alice", "000000", NOW + 60);
		assert_int_equal(out.result, LP_AUTH_LOCKED);
		assert_int_equal(out.failures, 0);
		assert_int_equal(out.locked_now, 0);
	}
	assert_int_equal(attempt(f, "alice", f->codes[0], NOW + 90).result,
	    LP_AUTH_LOCKED);

	n2 = read_bytes(f, "alice", after, sizeof(after));
	stat_state(f, "alice", &sb2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	assert_int_equal(sb1.st_ino, sb2.st_ino);
	explicit_bzero(before, sizeof(before));
	explicit_bzero(after, sizeof(after));
}

static void
test_auth_lockout_ends_after_the_lockout_seconds(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	struct lp_totp_state st;
	char code[LP_TOTP_CODE_MAX + 1];
	time_t end = NOW + (time_t)f->cfg.lockout;

	fail_times(f, f->cfg.max_failures - 1, 0, NOW);
	assert_int_equal(attempt(f, "alice", "000000", NOW).locked_now, 1);

	code_at(f, lp_totp_step(&f->cfg, end - 1), code);
	assert_int_equal(attempt(f, "alice", code, end - 1).result,
	    LP_AUTH_LOCKED);
	code_at(f, lp_totp_step(&f->cfg, end), code);
	out = attempt(f, "alice", code, end);
	assert_int_equal(out.result, LP_AUTH_OK);
	read_state(f, "alice", &st);
	assert_int_equal(st.locked_until, 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.last_step, lp_totp_step(&f->cfg, end));
	lp_wipe_obj(&st);
}

static void
test_auth_success_resets_the_failure_count(void **state)
{
	struct fixture *f = *state;
	char code[LP_TOTP_CODE_MAX + 1];

	fail_times(f, f->cfg.max_failures - 1, 0, NOW);
	code_at(f, STEP, code);
	assert_int_equal(attempt(f, "alice", code, NOW).failures, 0);
	/* Counting starts again from zero: not locked after four more. */
	fail_times(f, f->cfg.max_failures - 1, 0, NOW);
}

/* ---------------------------------------------------------------- recovery */

static void
test_auth_accepts_a_recovery_code_once(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	struct lp_totp_state st;
	char typed[32];
	char *p;

	fail_times(f, 2, 0, NOW);
	/* As printed, then as a person might type it. */
	(void)snprintf(typed, sizeof(typed), "%.4s %.4s %.4s", f->codes[1],
	    f->codes[1] + 5, f->codes[1] + 10);
	for (p = typed; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');

	out = attempt(f, "alice", typed, NOW);
	assert_int_equal(out.result, LP_AUTH_RECOVERY_OK);
	assert_int_equal(out.failures, 0);
	assert_int_equal(out.recovery_left, NCODES - 1);
	read_state(f, "alice", &st);
	assert_int_equal(st.nrecovery, NCODES - 1);
	assert_int_equal(st.last_success, (int64_t)NOW);
	assert_int_equal(st.failures, 0);
	lp_wipe_obj(&st);

	out = attempt(f, "alice", f->codes[1], NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_CODE);
	assert_int_equal(out.failures, 1);

	/* The other code still works. */
	out = attempt(f, "alice", f->codes[0], NOW);
	assert_int_equal(out.result, LP_AUTH_RECOVERY_OK);
	assert_int_equal(out.recovery_left, 0);
}

/* ---------------------------------------------------------------- users */

static void
test_auth_treats_unknown_and_hostile_users_as_not_enrolled(void **state)
{
	static const char *const names[] = {
		"bob", "alice.tmp", "", ".", "..", "../alice", "alice/../alice",
		"/etc/passwd", "-alice", ".alice", ".alice.lock", "alice\n",
		"al ice", "al\tice", "alice\xc2\xa0", "ALICE\x7f",
	};
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char code[LP_TOTP_CODE_MAX + 1], name[300];
	struct dirent *de;
	size_t i;
	DIR *d;

	code_at(f, STEP, code);
	for (i = 0; i < LP_ARRAY_SIZE(names); i++) {
		out = attempt(f, names[i], code, NOW);
		assert_int_equal(out.result, LP_AUTH_NOT_ENROLLED);
		assert_int_equal(out.error, 0);
		assert_int_equal(out.failures, 0);
	}
	/* Too long for the rules, and too long for the file system. */
	memset(name, 'a', sizeof(name));
	name[256] = '\0';
	assert_int_equal(attempt(f, name, code, NOW).result,
	    LP_AUTH_NOT_ENROLLED);
	name[250] = '\0';
	assert_int_equal(attempt(f, name, f->codes[0], NOW).result,
	    LP_AUTH_NOT_ENROLLED);

	/*
	 * Nothing but lock files and the dummy was made, and alice's code
	 * is unused.
	 */
	d = opendir(f->dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    strcmp(de->d_name, LP_AUTH_DUMMY_USER) != 0)
			assert_string_equal(de->d_name, "alice");
	(void)closedir(d);
	assert_int_equal(attempt(f, "alice", code, NOW).result, LP_AUTH_OK);
}

static void
test_auth_unknown_user_costs_as_much_as_a_wrong_recovery(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	double t0, t, known = 1e9, unknown = 1e9;
	const char *wrong = "abcd-efgh-jkmn";
	size_t round;

	/*
	 * CPU time, so that other work on the machine does not count, and
	 * the best of two rounds each, to damp the rest.
	 */
	for (round = 0; round < 2; round++) {
		t0 = cpu_ms();
		assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "alice",
		    wrong, NOW, &out), 0);
		t = cpu_ms() - t0;
		known = t < known ? t : known;
		assert_int_equal(out.result, LP_AUTH_BAD_CODE);

		t0 = cpu_ms();
		assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "nobody",
		    wrong, NOW, &out), 0);
		t = cpu_ms() - t0;
		unknown = t < unknown ? t : unknown;
		assert_int_equal(out.result, LP_AUTH_NOT_ENROLLED);
	}
	print_message("recovery-shaped attempt: %.1f ms enrolled, "
	    "%.1f ms unknown\n", known, unknown);
	assert_true(unknown > known * 0.6 && unknown < known * 1.6);
}

/* ---------------------------------------------------------------- dummy */

/* Reads the dummy's file: its bytes and its inode. */
static size_t
read_dummy(struct fixture *f, char *buf, size_t size, struct stat *sb)
{
	stat_state(f, LP_AUTH_DUMMY_USER, sb);
	return read_bytes(f, LP_AUTH_DUMMY_USER, buf, size);
}

static void
test_auth_rewrites_the_dummy_unchanged_for_an_unknown_user(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char before[LP_STATE_SIZE_MAX], after[LP_STATE_SIZE_MAX];
	struct stat sb1, sb2;
	size_t n1, n2;

	out = attempt(f, NULL, "000000", NOW);
	assert_int_equal(out.result, LP_AUTH_NOT_ENROLLED);
	assert_int_equal(out.error, 0);
	assert_int_equal(out.failures, 0);
	n1 = read_dummy(f, before, sizeof(before), &sb1);
	assert_int_equal(sb1.st_mode & 07777, 0600);

	/* Written again (a new inode), with the same bytes. */
	out = attempt(f, NULL, "000000", NOW + 60);
	assert_int_equal(out.result, LP_AUTH_NOT_ENROLLED);
	n2 = read_dummy(f, after, sizeof(after), &sb2);
	assert_true(sb1.st_ino != sb2.st_ino);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
}

static void
test_auth_refuses_an_unenrolled_user_without_enrolling_him(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	struct stat sb;
	char path[512];

	out = attempt(f, "bob", "000000", NOW);
	assert_int_equal(out.result, LP_AUTH_NOT_ENROLLED);
	assert_int_equal(out.error, 0);
	(void)snprintf(path, sizeof(path), "%s/bob", f->dir);
	assert_int_equal(lstat(path, &sb), -1);
	stat_state(f, LP_AUTH_DUMMY_USER, &sb);
	assert_true(S_ISREG(sb.st_mode));
}

static void
test_auth_refuses_the_dummy_code_under_any_name(void **state)
{
	struct fixture *f = *state;
	struct lp_totp_state st;
	char code[LP_TOTP_CODE_MAX + 1];

	assert_int_equal(attempt(f, NULL, "000000", NOW).result,
	    LP_AUTH_NOT_ENROLLED);
	read_state(f, LP_AUTH_DUMMY_USER, &st);
	assert_int_equal(st.nrecovery, LP_RECOVERY_COUNT);
	assert_int_equal(lp_totp_generate(st.secret, st.secret_len, &f->cfg,
	    STEP, code), 0);
	lp_wipe_obj(&st);

	/* The dummy's right code is no use, even by the dummy's name. */
	assert_int_equal(attempt(f, NULL, code, NOW).result,
	    LP_AUTH_NOT_ENROLLED);
	assert_int_equal(attempt(f, "bob", code, NOW).result,
	    LP_AUTH_NOT_ENROLLED);
	assert_int_equal(attempt(f, LP_AUTH_DUMMY_USER, code, NOW).result,
	    LP_AUTH_NOT_ENROLLED);
	read_state(f, LP_AUTH_DUMMY_USER, &st);
	assert_int_equal(st.last_step, 0);
	assert_int_equal(st.failures, 0);
	lp_wipe_obj(&st);
}

static void
test_auth_locked_refusal_rewrites_the_dummy_not_the_user(void **state)
{
	struct fixture *f = *state;
	struct stat sb1, sb2, alice1, alice2;

	fail_times(f, f->cfg.max_failures - 1, 0, NOW);
	assert_int_equal(attempt(f, "alice", "000000", NOW).locked_now, 1);
	assert_int_equal(attempt(f, NULL, "000000", NOW).result,
	    LP_AUTH_NOT_ENROLLED);
	stat_state(f, LP_AUTH_DUMMY_USER, &sb1);
	stat_state(f, "alice", &alice1);

	assert_int_equal(attempt(f, "alice", "000000", NOW + 30).result,
	    LP_AUTH_LOCKED);
	stat_state(f, LP_AUTH_DUMMY_USER, &sb2);
	stat_state(f, "alice", &alice2);
	assert_true(sb1.st_ino != sb2.st_ino);
	assert_int_equal(alice1.st_ino, alice2.st_ino);
}

static void
test_auth_replaces_a_corrupt_dummy_and_still_refuses(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	struct lp_totp_state st;

	write_bytes(f, LP_AUTH_DUMMY_USER, "lp-totp-state 1\n", 16, 0644);
	out = attempt(f, NULL, "000000", NOW);
	assert_int_equal(out.result, LP_AUTH_NOT_ENROLLED);
	assert_int_equal(out.error, 0);
	read_state(f, LP_AUTH_DUMMY_USER, &st);
	assert_int_equal(st.secret_len, LP_TOTP_SECRET_LEN);
	lp_wipe_obj(&st);
}

static void
test_auth_refuses_when_the_dummy_cannot_be_written(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	struct stat sb;
	char path[512];

	lp_file_fault = fail_write;
	out = attempt(f, NULL, "000000", NOW);
	assert_int_equal(out.result, LP_AUTH_NOT_ENROLLED);
	assert_int_equal(out.error, 0);
	out = attempt(f, "bob", f->codes[0], NOW);
	assert_int_equal(out.result, LP_AUTH_NOT_ENROLLED);
	assert_int_equal(out.error, 0);
	lp_file_fault = NULL;
	(void)snprintf(path, sizeof(path), "%s/%s", f->dir,
	    LP_AUTH_DUMMY_USER);
	assert_int_equal(lstat(path, &sb), -1);
}

/* ---------------------------------------------------------------- state */

static void
test_auth_refuses_a_malformed_state_file_as_bad_state(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char code[LP_TOTP_CODE_MAX + 1], buf[LP_STATE_SIZE_MAX];
	size_t n;

	code_at(f, STEP, code);
	write_bytes(f, "carol", "lp-totp-state 1\nsecret !!\n", 26, 0600);
	out = attempt(f, "carol", code, NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_STATE);
	assert_int_equal(out.error, -EBADMSG);

	/* Alice's file, cut in the middle of a line. */
	n = read_bytes(f, "alice", buf, sizeof(buf));
	write_bytes(f, "dave", buf, n / 3, 0600);
	out = attempt(f, "dave", code, NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_STATE);
	assert_int_equal(out.error, -EBADMSG);

	write_bytes(f, "erin", "", 0, 0600);
	assert_int_equal(attempt(f, "erin", code, NOW).result,
	    LP_AUTH_BAD_STATE);
	explicit_bzero(buf, sizeof(buf));
}

static void
test_auth_refuses_a_world_readable_state_file_as_bad_state(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char path[512], code[LP_TOTP_CODE_MAX + 1];

	code_at(f, STEP, code);
	(void)snprintf(path, sizeof(path), "%s/alice", f->dir);
	assert_int_equal(chmod(path, 0644), 0);
	memset(&out, 0, sizeof(out));
	assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "alice", code,
	    NOW, &out), 0);
	assert_int_equal(out.result, LP_AUTH_BAD_STATE);
	assert_int_equal(out.error, -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(attempt(f, "alice", code, NOW).result, LP_AUTH_OK);
}

static void
test_auth_refuses_a_symlinked_state_file_as_bad_state(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char path[512], code[LP_TOTP_CODE_MAX + 1];

	code_at(f, STEP, code);
	(void)snprintf(path, sizeof(path), "%s/mallory", f->dir);
	assert_int_equal(symlink("alice", path), 0);
	out = attempt(f, "mallory", code, NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_STATE);
	assert_int_equal(out.error, -ELOOP);
}

static void
test_auth_refuses_a_success_that_cannot_be_recorded(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	struct lp_totp_state st;
	char code[LP_TOTP_CODE_MAX + 1];

	code_at(f, STEP, code);
	lp_file_fault = fail_write;
	out = attempt(f, "alice", code, NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_STATE);
	assert_int_equal(out.error, -EIO);

	out = attempt(f, "alice", f->codes[0], NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_STATE);
	assert_int_equal(out.error, -EIO);
	lp_file_fault = NULL;

	/* Nothing was used up. */
	read_state(f, "alice", &st);
	assert_int_equal(st.last_step, 0);
	assert_int_equal(st.nrecovery, NCODES);
	lp_wipe_obj(&st);
}

static void
test_auth_refuses_a_failure_that_cannot_be_recorded_as_bad_state(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char code[LP_TOTP_CODE_MAX + 1];

	code_at(f, STEP, code);
	assert_int_equal(attempt(f, "alice", code, NOW).result, LP_AUTH_OK);
	lp_file_fault = fail_write;
	/* A failure that is not counted is a state error, not a bad code. */
	out = attempt(f, "alice", "000000", NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_STATE);
	assert_int_equal(out.error, -EIO);
	out = attempt(f, "alice", code, NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_STATE);
	assert_int_equal(out.error, -EIO);
	lp_file_fault = NULL;
	/* Nothing was counted meanwhile. */
	out = attempt(f, "alice", "000000", NOW);
	assert_int_equal(out.result, LP_AUTH_BAD_CODE);
	assert_int_equal(out.failures, 1);
}

static void
test_auth_wipes_the_state_it_read(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;
	char code[LP_TOTP_CODE_MAX + 1];

	code_at(f, STEP, code);
	spy_len = sizeof(struct lp_totp_state);

	/* Once per attempt, with the secret still in it. */
	spy_hits = 0;
	assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "alice", code,
	    NOW, &out), 0);
	assert_int_equal(out.result, LP_AUTH_OK);
	assert_int_equal(spy_hits, 1);

	spy_hits = 0;
	f->cfg.max_failures = 1;
	assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "alice", "000000",
	    NOW, &out), 0);
	assert_int_equal(out.locked_now, 1);
	assert_int_equal(spy_hits, 1);

	spy_hits = 0;
	assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "alice", code,
	    NOW, &out), 0);
	assert_int_equal(out.result, LP_AUTH_LOCKED);
	assert_int_equal(spy_hits, 1);
}

/* ---------------------------------------------------------------- misc */

static void
test_auth_reason_gives_the_log_words(void **state)
{
	(void)state;
	assert_string_equal(lp_auth_reason(LP_AUTH_OK), "ok");
	assert_string_equal(lp_auth_reason(LP_AUTH_RECOVERY_OK),
	    "recovery_code_used");
	assert_string_equal(lp_auth_reason(LP_AUTH_BAD_CODE), "bad_code");
	assert_string_equal(lp_auth_reason(LP_AUTH_REPLAYED),
	    "replayed_code");
	assert_string_equal(lp_auth_reason(LP_AUTH_LOCKED), "locked");
	assert_string_equal(lp_auth_reason(LP_AUTH_NOT_ENROLLED),
	    "not_enrolled");
	assert_string_equal(lp_auth_reason(LP_AUTH_BAD_STATE), "bad_state");
	assert_string_equal(lp_auth_reason((enum lp_auth_result)99),
	    "bad_state");
}

static void
test_auth_attempt_refuses_missing_arguments(void **state)
{
	struct fixture *f = *state;
	struct lp_auth_outcome out;

	assert_int_equal(lp_auth_attempt(NULL, &f->cfg, "alice", "123456",
	    NOW, &out), -EINVAL);
	assert_int_equal(lp_auth_attempt(f->store, NULL, "alice", "123456",
	    NOW, &out), -EINVAL);
	assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "alice", NULL,
	    NOW, &out), -EINVAL);
	assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "alice", "123456",
	    NOW, NULL), -EINVAL);
	f->cfg.max_failures = 0;
	assert_int_equal(lp_auth_attempt(f->store, &f->cfg, "alice", "123456",
	    NOW, &out), -EINVAL);
}

/* ---------------------------------------------------------------- main */

#define T(name)	cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_auth_accepts_a_right_code_and_agrees_with_oathtool),
		T(test_auth_refuses_the_same_code_twice_as_replayed),
		T(test_auth_refuses_an_earlier_step_after_a_later_one),
		T(test_auth_refuses_a_wrong_or_malformed_code),
		T(test_auth_locks_the_account_after_max_failures),
		T(test_auth_counts_replays_towards_the_lockout),
		T(test_auth_locked_refuses_a_right_code_and_writes_nothing),
		T(test_auth_lockout_ends_after_the_lockout_seconds),
		T(test_auth_success_resets_the_failure_count),
		T(test_auth_accepts_a_recovery_code_once),
		T(test_auth_treats_unknown_and_hostile_users_as_not_enrolled),
		T(test_auth_unknown_user_costs_as_much_as_a_wrong_recovery),
		T(test_auth_rewrites_the_dummy_unchanged_for_an_unknown_user),
		T(test_auth_refuses_an_unenrolled_user_without_enrolling_him),
		T(test_auth_refuses_the_dummy_code_under_any_name),
		T(test_auth_locked_refusal_rewrites_the_dummy_not_the_user),
		T(test_auth_replaces_a_corrupt_dummy_and_still_refuses),
		T(test_auth_refuses_when_the_dummy_cannot_be_written),
		T(test_auth_refuses_a_malformed_state_file_as_bad_state),
		T(test_auth_refuses_a_world_readable_state_file_as_bad_state),
		T(test_auth_refuses_a_symlinked_state_file_as_bad_state),
		T(test_auth_refuses_a_success_that_cannot_be_recorded),
		T(test_auth_refuses_a_failure_that_cannot_be_recorded_as_bad_state),
		T(test_auth_wipes_the_state_it_read),
		T(test_auth_reason_gives_the_log_words),
		T(test_auth_attempt_refuses_missing_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
