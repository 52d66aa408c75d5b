/*
 * lib/state.c: the strict state text (round trips, every malformed form
 * refused, truncations refused, wiping) and the per-user store (checks on
 * the directory and files, locking, atomic writes, hostile names).  Runs
 * as root: files are given to uid 1 to test owners.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "lp_util.h"
#include "state.h"
#include "user.h"

/* The RFC 6238 test seed "12345678901234567890". */
#define SECRET_TEXT	"12345678901234567890"
#define SECRET_B32	"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define HASH1		"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o7a6ZLXs.2"
#define HASH2		"$y$j9T$Q2Bq8b7Uj1Y4$yP0d3PqD8xr0cAZ3eE7gS5vN.1"

#define L_VER		"lp-totp-state 1\n"
#define L_SEC		"secret " SECRET_B32 "\n"
#define L_STEP		"last_step 56666666\n"
#define L_FAIL		"failures 2\n"
#define L_LOCK		"locked_until 0\n"
#define L_SUCC		"last_success 1700000000\n"
#define L_ENR		"enrolled 1690000000\n"
#define L_REC1		"recovery " HASH1 "\n"
#define L_REC2		"recovery " HASH2 "\n"
#define L_END		"end\n"
#define L_NUMS		L_STEP L_FAIL L_LOCK L_SUCC L_ENR
#define GOOD_TEXT	L_VER L_SEC L_NUMS L_REC1 L_REC2 L_END

/* A whole text for a given secret line, to vary the secret alone. */
#define WITH_SECRET(b32)	L_VER "secret " b32 "\n" L_NUMS L_END

#define CHILDREN	4	/* processes updating one state at once */
#define ROUNDS		25	/* updates by each of them */
#define WAIT_MS		30000	/* bound on any wait for children */

struct fx {
	char		 dir[64];
	int		 dirfd;
	mode_t		 umask;
	struct lp_store	*store;
};

static int
setup(void **state)
{
	struct fx *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	(void)strcpy(fx->dir, "/tmp/lp-test-state.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	fx->dirfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fx->umask = umask(022);
	lp_file_fault = NULL;
	*state = fx;
	if (fx->dirfd == -1 || lp_store_open(fx->dir, &fx->store) != 0)
		return -1;
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
	struct fx *fx = *state;

	lp_file_fault = NULL;
	lp_store_free(fx->store);
	(void)umask(fx->umask);
	(void)close(fx->dirfd);
	(void)nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void
put_text(int dirfd, const char *name, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static int
exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Number of entries in dir besides "." and "..". */
static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}

static void
make_state(struct lp_totp_state *st)
{
	memset(st, 0, sizeof(*st));
	memcpy(st->secret, SECRET_TEXT, strlen(SECRET_TEXT));
	st->secret_len = strlen(SECRET_TEXT);
	st->last_step = 56666666;
	st->failures = 2;
	st->locked_until = 0;
	st->last_success = 1700000000;
	st->enrolled = 1690000000;
	(void)strcpy(st->recovery[0], HASH1);
	(void)strcpy(st->recovery[1], HASH2);
	st->nrecovery = 2;
}

static void
assert_state_equal(const struct lp_totp_state *a,
    const struct lp_totp_state *b)
{
	size_t i;

	assert_int_equal(a->secret_len, b->secret_len);
	assert_memory_equal(a->secret, b->secret, a->secret_len);
	assert_true(a->last_step == b->last_step);
	assert_int_equal(a->failures, b->failures);
	assert_true(a->locked_until == b->locked_until);
	assert_true(a->last_success == b->last_success);
	assert_true(a->enrolled == b->enrolled);
	assert_int_equal(a->nrecovery, b->nrecovery);
	for (i = 0; i < a->nrecovery; i++)
		assert_string_equal(a->recovery[i], b->recovery[i]);
}

static void
assert_all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != 0)
			fail_msg("byte %zu of %zu is not zero", i, len);
}

/* Formats st, and checks that the text parses back to st. */
static void
assert_round_trip(const struct lp_totp_state *st)
{
	struct lp_totp_state back;
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(lp_state_format(st, &buf, &len), 0);
	assert_int_equal(lp_state_parse(buf, len, &back), 0);
	assert_state_equal(st, &back);
	lp_freezero(buf, len);
	lp_wipe_obj(&back);
}

/* ------------------------------------------------------ parse and format */

static void
test_state_parse_reads_every_field(void **state)
{
	struct lp_totp_state st, want;

	(void)state;
	make_state(&want);
	assert_int_equal(lp_state_parse(GOOD_TEXT, strlen(GOOD_TEXT), &st), 0);
	assert_state_equal(&st, &want);
	lp_wipe_obj(&st);
}

static void
test_state_format_writes_the_exact_text(void **state)
{
	struct lp_totp_state st;
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	make_state(&st);
	assert_int_equal(lp_state_format(&st, &buf, &len), 0);
	assert_int_equal(len, strlen(GOOD_TEXT));
	assert_memory_equal(buf, GOOD_TEXT, len);
	lp_freezero(buf, len);

	/* The end line is written even when there is no recovery line. */
	st.nrecovery = 0;
	assert_int_equal(lp_state_format(&st, &buf, &len), 0);
	assert_int_equal(len, strlen(L_VER L_SEC L_NUMS L_END));
	assert_memory_equal(buf, L_VER L_SEC L_NUMS L_END, len);
	lp_freezero(buf, len);
}

static void
test_state_format_then_parse_round_trips_extremes(void **state)
{
	struct lp_totp_state st;
	size_t i, j;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.secret_len = 10;
	assert_round_trip(&st);

	for (i = 0; i < LP_TOTP_SECRET_MAX; i++)
		st.secret[i] = (unsigned char)(255 - i);
	st.secret_len = LP_TOTP_SECRET_MAX;
	st.last_step = UINT64_MAX;
	st.failures = UINT_MAX;
	st.locked_until = INT64_MAX;
	st.last_success = INT64_MAX;
	st.enrolled = INT64_MAX;
	for (i = 0; i < LP_RECOVERY_MAX; i++) {
		/* The longest hash: every printable byte but the space. */
		st.recovery[i][0] = '$';
		for (j = 1; j < LP_RECOVERY_HASH_MAX - 1; j++)
			st.recovery[i][j] = (char)('!' + (i + j) % 94);
		st.recovery[i][j] = '\0';
	}
	st.nrecovery = LP_RECOVERY_MAX;
	assert_round_trip(&st);

	for (i = 10; i <= LP_TOTP_SECRET_MAX; i++) {
		st.secret_len = i;
		assert_round_trip(&st);
	}
}

static void
test_state_format_refuses_state_that_would_not_parse(void **state)
{
	struct lp_totp_state st;
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	make_state(&st);
	st.secret_len = 9;
	assert_int_equal(lp_state_format(&st, &buf, &len), -EINVAL);
	st.secret_len = LP_TOTP_SECRET_MAX + 1;
	assert_int_equal(lp_state_format(&st, &buf, &len), -EINVAL);

	make_state(&st);
	st.nrecovery = LP_RECOVERY_MAX + 1;
	assert_int_equal(lp_state_format(&st, &buf, &len), -EINVAL);

	make_state(&st);
	(void)strcpy(st.recovery[1], "no-dollar");
	assert_int_equal(lp_state_format(&st, &buf, &len), -EINVAL);
	(void)strcpy(st.recovery[1], "$with space");
	assert_int_equal(lp_state_format(&st, &buf, &len), -EINVAL);
	memset(st.recovery[1], 'x', sizeof(st.recovery[1]));
	st.recovery[1][0] = '$';
	assert_int_equal(lp_state_format(&st, &buf, &len), -EINVAL);

	make_state(&st);
	st.locked_until = -1;
	assert_int_equal(lp_state_format(&st, &buf, &len), -EINVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
}

static void
test_state_parse_accepts_secret_of_10_to_64_bytes(void **state)
{
	static const char ten[] = WITH_SECRET("AEBAGBAFAYDQQCIK");
	static const char max[] = WITH_SECRET("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYU"
	    "CULBOGAZDINRYHI6D4QCCIRDEQSSMJZIFEVCWLBNFYXTAMJSGM2DKNRXHA4TUOZ4"
	    "HU7D6QA");
	struct lp_totp_state st;

	(void)state;
	assert_int_equal(lp_state_parse(ten, strlen(ten), &st), 0);
	assert_int_equal(st.secret_len, 10);
	assert_int_equal(st.secret[0], 1);
	assert_int_equal(st.secret[9], 10);
	assert_int_equal(st.nrecovery, 0);
	assert_int_equal(lp_state_parse(max, strlen(max), &st), 0);
	assert_int_equal(st.secret_len, 64);
	assert_int_equal(st.secret[63], 64);
	lp_wipe_obj(&st);
}

struct bad {
	const char	*why;
	const char	*text;
	size_t		 len;	/* 0: strlen(text) */
};

static const struct bad bad_texts[] = {
	{ "empty", "", 0 },
	{ "version only", L_VER, 0 },
	{ "end only", L_END, 0 },
	{ "version and end only", L_VER L_END, 0 },
	{ "other version", "lp-totp-state 2\n" L_SEC L_NUMS L_END, 0 },
	{ "version with a space", "lp-totp-state 1 \n" L_SEC L_NUMS L_END, 0 },
	{ "version indented", " " L_VER L_SEC L_NUMS L_END, 0 },
	{ "no version", L_SEC L_NUMS L_END, 0 },
	{ "missing secret", L_VER L_NUMS L_END, 0 },
	{ "missing last_step", L_VER L_SEC L_FAIL L_LOCK L_SUCC L_ENR L_END,
	    0 },
	{ "missing failures", L_VER L_SEC L_STEP L_LOCK L_SUCC L_ENR L_END, 0 },
	{ "missing locked_until", L_VER L_SEC L_STEP L_FAIL L_SUCC L_ENR L_END,
	    0 },
	{ "missing last_success", L_VER L_SEC L_STEP L_FAIL L_LOCK L_ENR L_END,
	    0 },
	{ "missing enrolled", L_VER L_SEC L_STEP L_FAIL L_LOCK L_SUCC L_END,
	    0 },
	{ "missing end", L_VER L_SEC L_NUMS, 0 },
	{ "missing end after recovery", L_VER L_SEC L_NUMS L_REC1 L_REC2, 0 },
	{ "end without newline", L_VER L_SEC L_NUMS L_REC1 "end", 0 },
	{ "end with a trailing space", L_VER L_SEC L_NUMS "end \n", 0 },
	{ "end with a value", L_VER L_SEC L_NUMS "end 1\n", 0 },
	{ "end in upper case", L_VER L_SEC L_NUMS "END\n", 0 },
	{ "end indented", L_VER L_SEC L_NUMS " end\n", 0 },
	{ "end with CR", L_VER L_SEC L_NUMS "end\r\n", 0 },
	{ "text after end", L_VER L_SEC L_NUMS L_END "x", 0 },
	{ "line after end", L_VER L_SEC L_NUMS L_END "comment 1\n", 0 },
	{ "blank line after end", L_VER L_SEC L_NUMS L_END "\n", 0 },
	{ "two end lines", L_VER L_SEC L_NUMS L_END L_END, 0 },
	{ "recovery after end", L_VER L_SEC L_NUMS L_REC1 L_END L_REC2, 0 },
	{ "end before recovery", L_VER L_SEC L_NUMS L_END L_REC1 L_REC2, 0 },
	{ "end before enrolled",
	    L_VER L_SEC L_STEP L_FAIL L_LOCK L_SUCC L_END L_ENR, 0 },
	{ "end before secret", L_VER L_END L_SEC L_NUMS, 0 },
	{ "duplicate failures",
	    L_VER L_SEC L_STEP L_FAIL L_FAIL L_LOCK L_SUCC L_ENR L_END, 0 },
	{ "duplicate secret", L_VER L_SEC L_SEC L_NUMS L_END, 0 },
	{ "duplicate version", L_VER L_VER L_SEC L_NUMS L_END, 0 },
	{ "duplicate enrolled", L_VER L_SEC L_NUMS L_ENR L_END, 0 },
	{ "fields swapped",
	    L_VER L_SEC L_FAIL L_STEP L_LOCK L_SUCC L_ENR L_END, 0 },
	{ "recovery before enrolled",
	    L_VER L_SEC L_STEP L_FAIL L_LOCK L_SUCC L_REC1 L_ENR L_END, 0 },
	{ "unknown field before end", L_VER L_SEC L_NUMS "comment 1\n" L_END,
	    0 },
	{ "unknown field inside", L_VER L_SEC "x 1\n" L_NUMS L_END, 0 },
	{ "unknown field after recovery",
	    L_VER L_SEC L_NUMS L_REC1 "extra 1\n" L_END, 0 },
	{ "key in upper case", L_VER L_SEC L_STEP "Failures 2\n" L_LOCK L_SUCC
	    L_ENR L_END, 0 },
	{ "last field without newline",
	    L_VER L_SEC L_STEP L_FAIL L_LOCK L_SUCC "enrolled 1690000000", 0 },
	{ "recovery without newline",
	    L_VER L_SEC L_NUMS "recovery " HASH1, 0 },
	{ "NUL inside a value",
	    L_VER L_SEC L_STEP "failures 2\0\n" L_LOCK L_SUCC L_ENR L_END,
	    sizeof(L_VER L_SEC L_STEP "failures 2\0\n" L_LOCK L_SUCC L_ENR
	    L_END) - 1 },
	{ "NUL after end", L_VER L_SEC L_NUMS L_END "\0",
	    sizeof(L_VER L_SEC L_NUMS L_END "\0") - 1 },
	{ "NUL inside end", L_VER L_SEC L_NUMS "en\0d\n",
	    sizeof(L_VER L_SEC L_NUMS "en\0d\n") - 1 },
	{ "CR before newline",
	    L_VER L_SEC L_STEP "failures 2\r\n" L_LOCK L_SUCC L_ENR L_END, 0 },
	{ "CRLF everywhere", "lp-totp-state 1\r\n" L_SEC L_NUMS L_END, 0 },
	{ "blank line inside", L_VER L_SEC "\n" L_NUMS L_END, 0 },
	{ "blank line before end", L_VER L_SEC L_NUMS "\n" L_END, 0 },
	{ "trailing space", L_VER L_SEC L_STEP "failures 2 \n" L_LOCK L_SUCC
	    L_ENR L_END, 0 },
	{ "two spaces", L_VER L_SEC L_STEP "failures  2\n" L_LOCK L_SUCC
	    L_ENR L_END, 0 },
	{ "tab", L_VER L_SEC L_STEP "failures\t2\n" L_LOCK L_SUCC L_ENR L_END,
	    0 },
	{ "no value", L_VER L_SEC L_STEP "failures \n" L_LOCK L_SUCC L_ENR
	    L_END, 0 },
	{ "no space", L_VER L_SEC L_STEP "failures\n" L_LOCK L_SUCC L_ENR
	    L_END, 0 },
	{ "leading zero", L_VER L_SEC L_STEP "failures 02\n" L_LOCK L_SUCC
	    L_ENR L_END, 0 },
	{ "double zero", L_VER L_SEC L_STEP "failures 00\n" L_LOCK L_SUCC
	    L_ENR L_END, 0 },
	{ "plus sign", L_VER L_SEC L_STEP "failures +2\n" L_LOCK L_SUCC
	    L_ENR L_END, 0 },
	{ "minus sign", L_VER L_SEC L_STEP L_FAIL "locked_until -1\n" L_SUCC
	    L_ENR L_END, 0 },
	{ "hex", L_VER L_SEC L_STEP "failures 0x2\n" L_LOCK L_SUCC L_ENR
	    L_END, 0 },
	{ "letter after digits", L_VER L_SEC L_STEP "failures 2a\n" L_LOCK
	    L_SUCC L_ENR L_END, 0 },
	{ "failures over UINT_MAX", L_VER L_SEC L_STEP "failures 4294967296\n"
	    L_LOCK L_SUCC L_ENR L_END, 0 },
	{ "last_step over UINT64_MAX",
	    L_VER L_SEC "last_step 18446744073709551616\n" L_FAIL L_LOCK
	    L_SUCC L_ENR L_END, 0 },
	{ "last_step far over UINT64_MAX",
	    L_VER L_SEC "last_step 184467440737095516150\n" L_FAIL L_LOCK
	    L_SUCC L_ENR L_END, 0 },
	{ "locked_until over INT64_MAX",
	    L_VER L_SEC L_STEP L_FAIL "locked_until 9223372036854775808\n"
	    L_SUCC L_ENR L_END, 0 },
	{ "enrolled over INT64_MAX", L_VER L_SEC L_STEP L_FAIL L_LOCK L_SUCC
	    "enrolled 18446744073709551615\n" L_END, 0 },
	{ "secret empty", WITH_SECRET(""), 0 },
	{ "secret in lower case",
	    WITH_SECRET("gezdgnbvgy3tqojqgezdgnbvgy3tqojq"), 0 },
	{ "secret padded", WITH_SECRET("AEBAGBAFAYDQQCIKBM======"), 0 },
	{ "secret with a space",
	    WITH_SECRET("GEZDGNBVGY3TQOJQ GEZDGNBVGY3TQOJQ"), 0 },
	{ "secret with a digit outside base32",
	    WITH_SECRET("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1"), 0 },
	{ "secret of 9 bytes", WITH_SECRET("AEBAGBAFAYDQQCI"), 0 },
	{ "secret of 65 bytes", WITH_SECRET("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYU"
	    "CULBOGAZDINRYHI6D4QCCIRDEQSSMJZIFEVCWLBNFYXTAMJSGM2DKNRXHA4TUOZ4"
	    "HU7D6QCB"), 0 },
	{ "secret with unused bits set", WITH_SECRET("AEBAGBAFAYDQQCIKBN"), 0 },
	{ "secret of impossible length", WITH_SECRET("AEBAGBAFAYDQQCIKB"), 0 },
	{ "recovery without dollar",
	    L_VER L_SEC L_NUMS "recovery abc\n" L_END, 0 },
	{ "recovery empty", L_VER L_SEC L_NUMS "recovery \n" L_END, 0 },
	{ "recovery with a space",
	    L_VER L_SEC L_NUMS "recovery $a b\n" L_END, 0 },
	{ "recovery with a tab",
	    L_VER L_SEC L_NUMS "recovery $a\tb\n" L_END, 0 },
	{ "recovery with DEL",
	    L_VER L_SEC L_NUMS "recovery $a\177\n" L_END, 0 },
	{ "recovery with a high byte",
	    L_VER L_SEC L_NUMS "recovery $caf\303\251\n" L_END, 0 },
	{ "recovery of 128 bytes", L_VER L_SEC L_NUMS "recovery $"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "012345678901234567890123456789012345678901234567890123456789012"
	    "\n" L_END, 0 },
	{ "17 recovery lines", L_VER L_SEC L_NUMS
	    L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1
	    L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1
	    L_REC1 L_END, 0 },
};

static void
test_state_parse_refuses_every_malformed_text(void **state)
{
	struct lp_totp_state st;
	size_t i, len;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(bad_texts); i++) {
		len = bad_texts[i].len != 0 ? bad_texts[i].len :
		    strlen(bad_texts[i].text);
		memset(&st, 0xa5, sizeof(st));
		if (lp_state_parse(bad_texts[i].text, len, &st) != -EBADMSG)
			fail_msg("accepted: %s", bad_texts[i].why);
		assert_all_zero(&st, sizeof(st));
	}
}

static void
test_state_parse_accepts_the_limits_its_refusals_border(void **state)
{
	static const char *const good[] = {
		L_VER L_SEC "last_step 18446744073709551615\n" L_FAIL L_LOCK
		    L_SUCC L_ENR L_END,
		L_VER L_SEC L_STEP "failures 4294967295\n" L_LOCK L_SUCC L_ENR
		    L_END,
		L_VER L_SEC L_STEP L_FAIL "locked_until 9223372036854775807\n"
		    L_SUCC L_ENR L_END,
		L_VER L_SEC "last_step 0\nfailures 0\nlocked_until 0\n"
		    "last_success 0\nenrolled 0\n" L_END,
		L_VER L_SEC L_NUMS L_END,
		L_VER L_SEC L_NUMS "recovery $\n" L_END,
		/* A hash that reads "end" after its '$' is still a hash. */
		L_VER L_SEC L_NUMS "recovery $end\n" L_END,
		L_VER L_SEC L_NUMS "recovery $"
		    "0123456789012345678901234567890123456789012345678901234567890123"
		    "01234567890123456789012345678901234567890123456789012345678901"
		    "\n" L_END,
		L_VER L_SEC L_NUMS
		    L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1
		    L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1 L_REC1
		    L_END,
		WITH_SECRET("AEBAGBAFAYDQQCIKBM"),
	};
	struct lp_totp_state st;
	size_t i;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(good); i++)
		if (lp_state_parse(good[i], strlen(good[i]), &st) != 0)
			fail_msg("refused good text %zu", i);
	lp_wipe_obj(&st);
}

/* Checks that every proper prefix of text is refused, and wiped. */
static void
assert_every_truncation_refused(const char *text, size_t full)
{
	struct lp_totp_state st;
	size_t len;

	for (len = 0; len < full; len++) {
		memset(&st, 0xa5, sizeof(st));
		if (lp_state_parse(text, len, &st) != -EBADMSG)
			fail_msg("accepted the first %zu of %zu bytes", len,
			    full);
		assert_all_zero(&st, sizeof(st));
	}
	assert_int_equal(lp_state_parse(text, full, &st), 0);
	lp_wipe_obj(&st);
}

static void
test_state_parse_refuses_every_truncation(void **state)
{
	static const char text[] = L_VER L_SEC L_NUMS L_END;

	(void)state;
	assert_every_truncation_refused(text, sizeof(text) - 1);
}

/*
 * The end line is what makes a cut just after a recovery line visible:
 * without it such a prefix would read as a state with fewer codes.
 */
static void
test_state_parse_refuses_every_truncation_with_codes_present(void **state)
{
	static const char text[] = GOOD_TEXT;
	struct lp_totp_state st;
	char *buf = NULL;
	size_t i, len = 0;

	(void)state;
	assert_every_truncation_refused(text, sizeof(text) - 1);

	/* The formatter's own text, with every recovery slot used. */
	make_state(&st);
	for (i = 0; i < LP_RECOVERY_MAX; i++)
		(void)strcpy(st.recovery[i], i % 2 == 0 ? HASH1 : HASH2);
	st.nrecovery = LP_RECOVERY_MAX;
	assert_int_equal(lp_state_format(&st, &buf, &len), 0);
	assert_every_truncation_refused(buf, len);
	lp_freezero(buf, len);
	lp_wipe_obj(&st);
}

static void
test_state_parse_wipes_state_after_failure(void **state)
{
	/* The secret decodes before the bad line is reached. */
	static const char text[] = L_VER L_SEC L_STEP "failures x\n" L_LOCK
	    L_SUCC L_ENR L_END;
	struct lp_totp_state st;

	(void)state;
	assert_int_equal(lp_state_parse(GOOD_TEXT, strlen(GOOD_TEXT), &st), 0);
	assert_int_equal(st.secret_len, strlen(SECRET_TEXT));
	assert_int_equal(lp_state_parse(text, strlen(text), &st), -EBADMSG);
	assert_all_zero(st.secret, sizeof(st.secret));
	assert_all_zero(&st, sizeof(st));

	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(lp_state_parse(NULL, 0, &st), -EBADMSG);
	assert_all_zero(&st, sizeof(st));
}

/* ---------------------------------------------------------------- store */

static void
test_store_open_refuses_unsafe_directories(void **state)
{
	static const mode_t modes[] = { 0750, 0710, 0705, 0701, 0777 };
	struct fx *fx = *state;
	struct lp_store *store = NULL;
	char path[128], link[128];
	size_t i;

	(void)snprintf(path, sizeof(path), "%s/d", fx->dir);
	(void)snprintf(link, sizeof(link), "%s/l", fx->dir);
	assert_int_equal(lp_store_open(path, &store), -ENOENT);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(lp_store_open(link, &store), -ELOOP);
	for (i = 0; i < LP_ARRAY_SIZE(modes); i++) {
		assert_int_equal(chmod(path, modes[i]), 0);
		assert_int_equal(lp_store_open(path, &store), -EPERM);
	}
	assert_int_equal(chmod(path, 0700), 0);
	assert_int_equal(chown(path, 1, 0), 0);
	assert_int_equal(lp_store_open(path, &store), -EPERM);
	assert_null(store);

	put_text(fx->dirfd, "f", "x", 0600);
	(void)snprintf(path, sizeof(path), "%s/f", fx->dir);
	assert_int_equal(lp_store_open(path, &store), -ENOTDIR);
	assert_null(store);
	lp_store_free(NULL);
}

static void
test_store_write_then_read_round_trips(void **state)
{
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st, back;
	struct stat sb;

	(void)umask(0);
	make_state(&st);
	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	assert_int_equal(lp_store_write(lk, &st), 0);
	assert_int_equal(lp_store_read(lk, &back), 0);
	assert_state_equal(&st, &back);
	lp_store_unlock(lk);
	lp_store_unlock(NULL);

	assert_int_equal(fstatat(fx->dirfd, "alice", &sb, AT_SYMLINK_NOFOLLOW),
	    0);
	assert_int_equal(sb.st_mode, S_IFREG | 0600);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(sb.st_size, (off_t)strlen(GOOD_TEXT));
	assert_true(exists(fx->dirfd, ".alice.lock"));
	assert_false(exists(fx->dirfd, ".alice.tmp"));
	lp_wipe_obj(&back);
}

static void
test_store_read_reports_unenrolled_user(void **state)
{
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st;

	assert_int_equal(lp_store_lock(fx->store, "bob", &lk), 0);
	assert_int_equal(lp_store_read(lk, &st), -ENOENT);
	assert_int_equal(lp_store_remove(lk), -ENOENT);
	lp_store_unlock(lk);
}

/* Puts text as alice's state, then reads it under her lock. */
static int
read_alice(struct fx *fx)
{
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st;
	int r;

	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	r = lp_store_read(lk, &st);
	lp_store_unlock(lk);
	lp_wipe_obj(&st);
	return r;
}

static void
test_store_read_refuses_symlinked_state(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "bob", GOOD_TEXT, 0600);
	assert_int_equal(symlinkat("bob", fx->dirfd, "alice"), 0);
	assert_int_equal(read_alice(fx), -ELOOP);
}

static void
test_store_read_refuses_state_of_another_owner(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "alice", GOOD_TEXT, 0600);
	assert_int_equal(read_alice(fx), 0);
	assert_int_equal(fchownat(fx->dirfd, "alice", 1, 0, 0), 0);
	assert_int_equal(read_alice(fx), -EPERM);
}

static void
test_store_read_refuses_group_or_world_bits(void **state)
{
	static const mode_t modes[] = { 0640, 0604, 0644, 0660, 0606 };
	struct fx *fx = *state;
	size_t i;

	put_text(fx->dirfd, "alice", GOOD_TEXT, 0600);
	for (i = 0; i < LP_ARRAY_SIZE(modes); i++) {
		assert_int_equal(fchmodat(fx->dirfd, "alice", modes[i], 0), 0);
		assert_int_equal(read_alice(fx), -EPERM);
	}
}

static void
test_store_read_refuses_non_regular_or_linked_state(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(mkdirat(fx->dirfd, "alice", 0700), 0);
	assert_int_equal(read_alice(fx), -EINVAL);
	assert_int_equal(unlinkat(fx->dirfd, "alice", AT_REMOVEDIR), 0);

	assert_int_equal(mkfifoat(fx->dirfd, "alice", 0600), 0);
	(void)alarm(10);
	assert_int_equal(read_alice(fx), -EINVAL);
	(void)alarm(0);
	assert_int_equal(unlinkat(fx->dirfd, "alice", 0), 0);

	put_text(fx->dirfd, "alice", GOOD_TEXT, 0600);
	assert_int_equal(linkat(fx->dirfd, "alice", fx->dirfd, "copy", 0), 0);
	assert_int_equal(read_alice(fx), -EINVAL);
}

static void
test_store_read_refuses_malformed_or_oversized_state(void **state)
{
	struct fx *fx = *state;
	char *big;

	put_text(fx->dirfd, "alice", L_VER L_SEC L_NUMS "oops\n" L_END, 0600);
	assert_int_equal(read_alice(fx), -EBADMSG);
	put_text(fx->dirfd, "alice", L_VER L_SEC L_NUMS L_REC1, 0600);
	assert_int_equal(read_alice(fx), -EBADMSG);

	big = malloc(LP_STATE_SIZE_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', LP_STATE_SIZE_MAX + 1);
	big[LP_STATE_SIZE_MAX + 1] = '\0';
	put_text(fx->dirfd, "alice", big, 0600);
	free(big);
	assert_int_equal(read_alice(fx), -EFBIG);
}

/* Writes st for alice and checks it reads back and left no temp file. */
static void
write_alice(struct fx *fx)
{
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st, back;

	make_state(&st);
	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	assert_int_equal(lp_store_write(lk, &st), 0);
	assert_int_equal(lp_store_read(lk, &back), 0);
	assert_state_equal(&st, &back);
	lp_store_unlock(lk);
	assert_false(exists(fx->dirfd, ".alice.tmp"));
	lp_wipe_obj(&back);
}

static void
test_store_write_is_not_blocked_by_stale_tmp(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, ".alice.tmp", "lp-totp-st", 0644);
	write_alice(fx);

	put_text(fx->dirfd, "elsewhere", "keep", 0600);
	assert_int_equal(symlinkat("elsewhere", fx->dirfd, ".alice.tmp"), 0);
	write_alice(fx);
	assert_true(exists(fx->dirfd, "elsewhere"));

	assert_int_equal(mkdirat(fx->dirfd, ".alice.tmp", 0700), 0);
	write_alice(fx);
}

static int
fail_rename(enum lp_file_step step)
{
	return step == LP_FILE_STEP_RENAME ? -EIO : 0;
}

static void
test_store_write_failure_keeps_previous_state(void **state)
{
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st, back;

	write_alice(fx);
	make_state(&st);
	st.failures = 3;
	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	lp_file_fault = fail_rename;
	assert_int_equal(lp_store_write(lk, &st), -EIO);
	lp_file_fault = NULL;
	assert_int_equal(lp_store_read(lk, &back), 0);
	assert_int_equal(back.failures, 2);
	lp_store_unlock(lk);
	assert_false(exists(fx->dirfd, ".alice.tmp"));
	lp_wipe_obj(&back);
}

static void
test_store_remove_deletes_state_and_stale_tmp(void **state)
{
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st;

	write_alice(fx);
	put_text(fx->dirfd, ".alice.tmp", "lp-totp-st", 0600);
	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	assert_int_equal(lp_store_remove(lk), 0);
	assert_int_equal(lp_store_read(lk, &st), -ENOENT);
	assert_int_equal(lp_store_remove(lk), -ENOENT);
	lp_store_unlock(lk);
	assert_false(exists(fx->dirfd, "alice"));
	assert_false(exists(fx->dirfd, ".alice.tmp"));
}

static void
test_store_lock_refuses_hostile_user_names(void **state)
{
	static const char *const names[] = {
		"", ".", "..", "../alice", "a/b", "/etc/passwd", "-rf",
		".alice", ".alice.lock", "a..b", "a b", "a\tb", "a\nb", "a\rb",
		"a\033b", "a\177", "caf\303\251", "a:b", "a*", "a$b", "a\\b",
	};
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL;
	char longname[LP_USER_NAME_MAX + 2];
	size_t i;

	for (i = 0; i < LP_ARRAY_SIZE(names); i++)
		if (lp_store_lock(fx->store, names[i], &lk) != -EINVAL)
			fail_msg("accepted name %zu", i);
	assert_int_equal(lp_store_lock(fx->store, NULL, &lk), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(lp_store_lock(fx->store, longname, &lk), -EINVAL);
	assert_null(lk);
	assert_int_equal(count_entries(fx->dir), 0);
}

static void
test_store_lock_accepts_names_with_dot_dash_and_at(void **state)
{
	static const char *const names[] = {
		"first.last", "alice@example.org", "a-b_c", "x",
	};
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st;
	size_t i;

	make_state(&st);
	for (i = 0; i < LP_ARRAY_SIZE(names); i++) {
		assert_int_equal(lp_store_lock(fx->store, names[i], &lk), 0);
		assert_int_equal(lp_store_write(lk, &st), 0);
		lp_store_unlock(lk);
		assert_true(exists(fx->dirfd, names[i]));
	}
}

/*
 * The lock name adds six bytes to the user name: the longest name the
 * check accepts still makes a lock file, and one byte more is refused.
 */
static void
test_store_lock_takes_the_longest_valid_name(void **state)
{
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL;
	char name[LP_USER_NAME_MAX + 2];

	memset(name, 'a', 249);
	name[249] = '\0';
	assert_int_equal(lp_store_lock(fx->store, name, &lk), 0);
	lp_store_unlock(lk);
	lk = NULL;
	memset(name, 'a', 250);
	name[250] = '\0';
	assert_int_equal(lp_store_lock(fx->store, name, &lk), -EINVAL);
	assert_null(lk);
}

/* Waits for every child up to WAIT_MS; kills and fails on a straggler. */
static void
wait_children(const pid_t *pids, size_t n)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	size_t i, left = n;
	int status, ms, bad = 0;
	int done[CHILDREN + 1] = { 0 };

	for (ms = 0; left > 0 && ms < WAIT_MS; ms += 10) {
		for (i = 0; i < n; i++) {
			if (done[i] || waitpid(pids[i], &status, WNOHANG) <= 0)
				continue;
			done[i] = 1;
			left--;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				bad++;
		}
		if (left > 0)
			(void)nanosleep(&ts, NULL);
	}
	for (i = 0; i < n; i++) {
		if (!done[i]) {
			(void)kill(pids[i], SIGKILL);
			(void)waitpid(pids[i], NULL, 0);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* One child's work: ROUNDS read-increment-write cycles, each locked. */
static int
bump_failures(struct lp_store *store)
{
	struct lp_store_lock *lk;
	struct lp_totp_state st;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		if (lp_store_lock(store, "alice", &lk) != 0)
			return 1;
		if (lp_store_read(lk, &st) != 0)
			return 1;
		st.failures++;
		if (lp_store_write(lk, &st) != 0)
			return 1;
		lp_store_unlock(lk);
	}
	lp_wipe_obj(&st);
	return 0;
}

static void
test_store_lock_serialises_concurrent_updates(void **state)
{
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL;
	struct lp_totp_state st;
	pid_t pids[CHILDREN];
	size_t i;

	make_state(&st);
	st.failures = 0;
	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	assert_int_equal(lp_store_write(lk, &st), 0);
	lp_store_unlock(lk);

	for (i = 0; i < CHILDREN; i++) {
		pids[i] = fork();
		assert_true(pids[i] != -1);
		if (pids[i] == 0)
			_exit(bump_failures(fx->store));
	}
	wait_children(pids, CHILDREN);

	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	assert_int_equal(lp_store_read(lk, &st), 0);
	assert_int_equal(st.failures, CHILDREN * ROUNDS);
	lp_store_unlock(lk);
	lp_wipe_obj(&st);
}

static void
test_store_lock_excludes_second_locker_of_same_user(void **state)
{
	struct fx *fx = *state;
	struct lp_store_lock *lk = NULL, *other = NULL;
	struct pollfd pfd;
	pid_t pid;
	int p[2];
	char c = 0;

	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		(void)close(p[0]);
		c = lp_store_lock(fx->store, "alice", &other) == 0 ? 'y' : 'n';
		_exit(write(p[1], &c, 1) == 1 ? 0 : 1);
	}
	(void)close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 300), 0);
	lp_store_unlock(lk);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	(void)close(p[0]);
	wait_children(&pid, 1);

	/* Another user's lock is independent. */
	assert_int_equal(lp_store_lock(fx->store, "alice", &lk), 0);
	assert_int_equal(lp_store_lock(fx->store, "bob", &other), 0);
	lp_store_unlock(other);
	lp_store_unlock(lk);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_state_parse_reads_every_field),
		T(test_state_format_writes_the_exact_text),
		T(test_state_format_then_parse_round_trips_extremes),
		T(test_state_format_refuses_state_that_would_not_parse),
		T(test_state_parse_accepts_secret_of_10_to_64_bytes),
		T(test_state_parse_refuses_every_malformed_text),
		T(test_state_parse_accepts_the_limits_its_refusals_border),
		T(test_state_parse_refuses_every_truncation),
		T(test_state_parse_refuses_every_truncation_with_codes_present),
		T(test_state_parse_wipes_state_after_failure),
		T(test_store_open_refuses_unsafe_directories),
		T(test_store_write_then_read_round_trips),
		T(test_store_read_reports_unenrolled_user),
		T(test_store_read_refuses_symlinked_state),
		T(test_store_read_refuses_state_of_another_owner),
		T(test_store_read_refuses_group_or_world_bits),
		T(test_store_read_refuses_non_regular_or_linked_state),
		T(test_store_read_refuses_malformed_or_oversized_state),
		T(test_store_write_is_not_blocked_by_stale_tmp),
		T(test_store_write_failure_keeps_previous_state),
		T(test_store_remove_deletes_state_and_stale_tmp),
		T(test_store_lock_refuses_hostile_user_names),
		T(test_store_lock_accepts_names_with_dot_dash_and_at),
		T(test_store_lock_takes_the_longest_valid_name),
		T(test_store_lock_serialises_concurrent_updates),
		T(test_store_lock_excludes_second_locker_of_same_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
