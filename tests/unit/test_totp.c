/*
 * Unit tests for lib/totp.c: RFC 6238 vectors, oathtool as an independent
 * oracle, window edges, code parsing, base32 and wiping.
 */

/*
 * The wipe spy below must replace explicit_bzero(3) itself, so this file
 * must not turn calls to it into fortified inline wrappers.
 */
#undef _FORTIFY_SOURCE

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lp_util.h"
#include "totp.h"

/* ---------------------------------------------------------------- spy */

/*
 * The library wipes through explicit_bzero(3).  This definition takes the
 * place of libc's in the test program: it wipes as well, and records
 * each call, so that a test can see what was wiped and that it held a
 * code just before.
 */
struct wipe_call {
	const void	*p;
	size_t		 len;
	int		 held_code;	/* spy_digits digits, then NUL */
};

static struct wipe_call	wipes[256];
static size_t		nwipes;
static unsigned		spy_digits;

static int
holds_code(const unsigned char *p, size_t len, unsigned digits)
{
	size_t i;

	if (digits == 0 || len < digits + 1)
		return 0;
	for (i = 0; i < digits; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return p[digits] == '\0';
}

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
	struct wipe_call *w;

	if (nwipes < LP_ARRAY_SIZE(wipes)) {
		w = &wipes[nwipes++];
		w->p = p;
		w->len = len;
		w->held_code = holds_code(launder(p), len, spy_digits);
	}
	memset(p, 0, len);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* A libc built with _FORTIFY_SOURCE routes the library's calls here. */
void	__explicit_bzero_chk(void *p, size_t len, size_t destlen);

void
__explicit_bzero_chk(void *p, size_t len, size_t destlen)
{
	(void)destlen;
	explicit_bzero(p, len);
}

static void
spy_reset(unsigned digits)
{
	memset(wipes, 0, sizeof(wipes));
	nwipes = 0;
	spy_digits = digits;
}

/* ---------------------------------------------------------------- fixture */

struct fixture {
	struct lp_totp_cfg	cfg;
	char			dir[64];
};

static int
setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	(void)strcpy(f->cfg.issuer, "LocalPrompt");
	f->cfg.digits = 6;
	f->cfg.period = 30;
	f->cfg.algo = LP_TOTP_SHA1;
	f->cfg.window = 1;
	f->cfg.max_failures = 5;
	f->cfg.lockout = 300;
	(void)strcpy(f->dir, "/tmp/lp-test-totp.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	spy_reset(0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	(void)snprintf(path, sizeof(path), "%s/key", f->dir);
	(void)unlink(path);
	(void)rmdir(f->dir);
	free(f);
	return 0;
}

/* ---------------------------------------------------------------- data */

/* RFC 6238 Appendix B: seeds are ASCII digits repeated to the key size. */
static const char seed_sha1[] = "12345678901234567890";
static const char seed_sha256[] = "12345678901234567890123456789012";
static const char seed_sha512[] =
    "1234567890123456789012345678901234567890123456789012345678901234";

static const time_t rfc_times[] = {
	59, 1111111109, 1111111111, 1234567890, 2000000000, 20000000000,
};

static const char *const rfc_sha1[] = {
	"94287082", "07081804", "14050471", "89005924", "69279037", "65353130",
};
static const char *const rfc_sha256[] = {
	"46119246", "68084774", "67062674", "91819424", "90698825", "77737706",
};
static const char *const rfc_sha512[] = {
	"90693936", "25091201", "99943326", "93441116", "38618901", "47863826",
};

/*
 * Found by a search over steps with the SHA1 seed and 6 digits: steps
 * 50424280 and 50424281 give the same code, and so do 50897033 and
 * 50897035.  Step 50000012 gives a code with a leading zero.
 */
#define STEP_SAME_AS_NEXT	50424280ULL
#define STEP_SAME_AS_NEXT2	50897033ULL
#define STEP_LEADING_ZERO	50000012ULL

static const unsigned char *
seed_of(enum lp_totp_algo algo, size_t *ret_len)
{
	const char *s = algo == LP_TOTP_SHA256 ? seed_sha256 :
	    algo == LP_TOTP_SHA512 ? seed_sha512 : seed_sha1;

	*ret_len = strlen(s);
	return (const unsigned char *)s;
}

static time_t
mid_step(const struct lp_totp_cfg *cfg, uint64_t step)
{
	return (time_t)(step * cfg->period + cfg->period / 2);
}

static void
check_rfc_vectors(struct fixture *f, enum lp_totp_algo algo,
    const char *const *want)
{
	const unsigned char *seed;
	char code[LP_TOTP_CODE_MAX + 1];
	uint64_t step;
	size_t i, len;

	f->cfg.algo = algo;
	f->cfg.digits = 8;
	seed = seed_of(algo, &len);
	for (i = 0; i < LP_ARRAY_SIZE(rfc_times); i++) {
		step = lp_totp_step(&f->cfg, rfc_times[i]);
		assert_int_equal(step, (uint64_t)rfc_times[i] / 30);
		assert_int_equal(lp_totp_generate(seed, len, &f->cfg, step,
		    code), 0);
		assert_string_equal(code, want[i]);

		/* The same code verifies at that time, in that step. */
		step = 0;
		assert_int_equal(lp_totp_verify(seed, len, &f->cfg,
		    rfc_times[i], want[i], &step), 0);
		assert_int_equal(step, (uint64_t)rfc_times[i] / 30);
	}
}

/* Runs oathtool on the key file of f with the given settings. */
static void
oathtool_code(struct fixture *f, enum lp_totp_algo algo, unsigned digits,
    time_t t, char *out, size_t outsize)
{
	char cmd[512];
	FILE *p;
	size_t n;

	(void)snprintf(cmd, sizeof(cmd),
	    "%s --totp=%s -b -d %u -N @%lld @%s/key", LP_OATHTOOL,
	    algo == LP_TOTP_SHA256 ? "SHA256" :
	    algo == LP_TOTP_SHA512 ? "SHA512" : "SHA1",
	    digits, (long long)t, f->dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)outsize, p));
	assert_int_equal(pclose(p), 0);
	n = strcspn(out, "\n");
	out[n] = '\0';
}

/* Writes the seed of algo, in base32, to the key file of f. */
static void
write_key_file(struct fixture *f, enum lp_totp_algo algo)
{
	char b32[LP_BASE32_MAX + 1], path[128];
	const unsigned char *seed;
	size_t len;
	FILE *fp;

	seed = seed_of(algo, &len);
	assert_int_equal(lp_base32_encode(seed, len, b32, sizeof(b32)), 0);
	(void)snprintf(path, sizeof(path), "%s/key", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(b32, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* ---------------------------------------------------------------- vectors */

static void
test_totp_generate_gives_rfc6238_sha1_vectors(void **state)
{
	check_rfc_vectors(*state, LP_TOTP_SHA1, rfc_sha1);
}

static void
test_totp_generate_gives_rfc6238_sha256_vectors(void **state)
{
	check_rfc_vectors(*state, LP_TOTP_SHA256, rfc_sha256);
}

static void
test_totp_generate_gives_rfc6238_sha512_vectors(void **state)
{
	check_rfc_vectors(*state, LP_TOTP_SHA512, rfc_sha512);
}

static void
test_totp_generate_agrees_with_oathtool(void **state)
{
	static const enum lp_totp_algo algos[] = {
		LP_TOTP_SHA1, LP_TOTP_SHA256, LP_TOTP_SHA512,
	};
	static const unsigned digits[] = { 6, 8 };
	struct fixture *f = *state;
	const unsigned char *seed;
	char code[LP_TOTP_CODE_MAX + 1], want[32];
	time_t times[LP_ARRAY_SIZE(rfc_times) + 1];
	size_t a, d, i, len;

	memcpy(times, rfc_times, sizeof(rfc_times));
	times[LP_ARRAY_SIZE(rfc_times)] = mid_step(&f->cfg, STEP_LEADING_ZERO);
	for (a = 0; a < LP_ARRAY_SIZE(algos); a++) {
		write_key_file(f, algos[a]);
		seed = seed_of(algos[a], &len);
		f->cfg.algo = algos[a];
		for (d = 0; d < LP_ARRAY_SIZE(digits); d++) {
			f->cfg.digits = digits[d];
			for (i = 0; i < LP_ARRAY_SIZE(times); i++) {
				oathtool_code(f, algos[a], digits[d], times[i],
				    want, sizeof(want));
				assert_int_equal(lp_totp_generate(seed, len,
				    &f->cfg, lp_totp_step(&f->cfg, times[i]),
				    code), 0);
				assert_string_equal(code, want);
			}
		}
	}
}

static void
test_totp_generate_refuses_bad_arguments(void **state)
{
	struct fixture *f = *state;
	const unsigned char *seed;
	char code[LP_TOTP_CODE_MAX + 1];
	size_t len;

	seed = seed_of(LP_TOTP_SHA1, &len);
	assert_int_equal(lp_totp_generate(NULL, len, &f->cfg, 1, code),
	    -EINVAL);
	assert_int_equal(lp_totp_generate(seed, 0, &f->cfg, 1, code), -EINVAL);
	assert_int_equal(lp_totp_generate(seed, LP_TOTP_SECRET_MAX + 1,
	    &f->cfg, 1, code), -EINVAL);
	assert_int_equal(lp_totp_generate(seed, len, NULL, 1, code), -EINVAL);
	f->cfg.digits = 5;
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, 1, code),
	    -EINVAL);
	f->cfg.digits = 9;
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, 1, code),
	    -EINVAL);
	f->cfg.digits = 6;
	f->cfg.period = 0;
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, 1, code),
	    -EINVAL);
	f->cfg.period = 30;
	/* A step whose start does not fit in a time_t. */
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, UINT64_MAX / 2,
	    code), -EINVAL);
}

static void
test_totp_step_counts_periods_since_the_epoch(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(lp_totp_step(&f->cfg, 0), 0);
	assert_int_equal(lp_totp_step(&f->cfg, 29), 0);
	assert_int_equal(lp_totp_step(&f->cfg, 30), 1);
	assert_int_equal(lp_totp_step(&f->cfg, 1111111109), 37037036);
	f->cfg.period = 60;
	assert_int_equal(lp_totp_step(&f->cfg, 119), 1);
	assert_int_equal(lp_totp_step(&f->cfg, -1), 0);
}

/* ---------------------------------------------------------------- window */

/* Checks that the code of step now+delta is accepted or refused. */
static void
check_window(struct fixture *f, uint64_t now_step, int delta, int accepted)
{
	const unsigned char *seed;
	char code[LP_TOTP_CODE_MAX + 1];
	uint64_t s = now_step + (uint64_t)(int64_t)delta, got = 0;
	size_t len;

	seed = seed_of(f->cfg.algo, &len);
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, s, code), 0);
	if (accepted) {
		assert_int_equal(lp_totp_verify(seed, len, &f->cfg,
		    mid_step(&f->cfg, now_step), code, &got), 0);
		assert_int_equal(got, s);
	} else {
		got = 7;
		assert_int_equal(lp_totp_verify(seed, len, &f->cfg,
		    mid_step(&f->cfg, now_step), code, &got), -ENOENT);
		assert_int_equal(got, 7);
	}
}

static void
test_totp_verify_with_window_1_accepts_one_step_each_side(void **state)
{
	struct fixture *f = *state;
	uint64_t now = 1111111109 / 30;

	f->cfg.window = 1;
	check_window(f, now, -1, 1);
	check_window(f, now, 0, 1);
	check_window(f, now, 1, 1);
	check_window(f, now, -2, 0);
	check_window(f, now, 2, 0);
}

static void
test_totp_verify_with_window_0_accepts_only_the_current_step(void **state)
{
	struct fixture *f = *state;
	uint64_t now = 1234567890 / 30;

	f->cfg.window = 0;
	check_window(f, now, 0, 1);
	check_window(f, now, -1, 0);
	check_window(f, now, 1, 0);
}

static void
test_totp_verify_with_window_2_accepts_two_steps_each_side(void **state)
{
	struct fixture *f = *state;
	uint64_t now = 2000000000 / 30;

	f->cfg.window = 2;
	check_window(f, now, -2, 1);
	check_window(f, now, -1, 1);
	check_window(f, now, 0, 1);
	check_window(f, now, 1, 1);
	check_window(f, now, 2, 1);
	check_window(f, now, -3, 0);
	check_window(f, now, 3, 0);
}

static void
test_totp_verify_reports_the_latest_matching_step(void **state)
{
	struct fixture *f = *state;
	const unsigned char *seed;
	char a[LP_TOTP_CODE_MAX + 1], b[LP_TOTP_CODE_MAX + 1];
	uint64_t got = 0;
	size_t len;

	seed = seed_of(LP_TOTP_SHA1, &len);

	/* Two neighbouring steps with the same code. */
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg,
	    STEP_SAME_AS_NEXT, a), 0);
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg,
	    STEP_SAME_AS_NEXT + 1, b), 0);
	assert_string_equal(a, b);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg,
	    mid_step(&f->cfg, STEP_SAME_AS_NEXT), a, &got), 0);
	assert_int_equal(got, STEP_SAME_AS_NEXT + 1);

	/* Both edges of the window. */
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg,
	    STEP_SAME_AS_NEXT2, a), 0);
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg,
	    STEP_SAME_AS_NEXT2 + 2, b), 0);
	assert_string_equal(a, b);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg,
	    mid_step(&f->cfg, STEP_SAME_AS_NEXT2 + 1), a, &got), 0);
	assert_int_equal(got, STEP_SAME_AS_NEXT2 + 2);
}

static void
test_totp_verify_skips_steps_before_the_epoch(void **state)
{
	struct fixture *f = *state;
	const unsigned char *seed;
	char code[LP_TOTP_CODE_MAX + 1];
	uint64_t got = 9;
	size_t len;

	seed = seed_of(LP_TOTP_SHA1, &len);
	f->cfg.window = 3;
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, 0, code), 0);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg, 31, code, &got),
	    0);
	assert_int_equal(got, 0);
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, 4, code), 0);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg, 0, code, &got),
	    -ENOENT);

	/* A clock before 1970 is refused rather than guessed at. */
	got = 9;
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg, -1, code, &got),
	    -EINVAL);
	assert_int_equal(got, 9);
}

static void
test_totp_verify_skips_steps_past_the_end_of_time(void **state)
{
	struct fixture *f = *state;
	const unsigned char *seed;
	char code[LP_TOTP_CODE_MAX + 1];
	uint64_t last, got = 0;
	time_t end = (time_t)INT64_MAX;
	size_t len;

	seed = seed_of(LP_TOTP_SHA1, &len);
	last = lp_totp_step(&f->cfg, end);
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, last, code), 0);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg, end, code, &got),
	    0);
	assert_int_equal(got, last);
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, last + 1, code),
	    -EINVAL);
}

static void
test_totp_verify_refuses_a_code_of_the_wrong_length(void **state)
{
	struct fixture *f = *state;
	const unsigned char *seed;
	uint64_t got = 3;
	size_t len;

	seed = seed_of(LP_TOTP_SHA1, &len);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg, 59, "94287082",
	    &got), -EINVAL);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg, 59, "28708",
	    &got), -EINVAL);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg, 59, NULL, &got),
	    -EINVAL);
	assert_int_equal(got, 3);
}

static void
test_totp_verify_refuses_a_wrong_code(void **state)
{
	struct fixture *f = *state;
	const unsigned char *seed;
	uint64_t got = 3;
	size_t len;

	seed = seed_of(LP_TOTP_SHA1, &len);
	f->cfg.digits = 8;
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg, 59, "94287083",
	    &got), -ENOENT);
	assert_int_equal(got, 3);
}

/* ---------------------------------------------------------------- parse */

static void
check_parse(const char *input, unsigned digits, const char *want)
{
	char out[LP_TOTP_CODE_MAX + 1];

	memset(out, 'x', sizeof(out));
	if (want != NULL) {
		assert_int_equal(lp_totp_code_parse(input, digits, out), 0);
		assert_string_equal(out, want);
	} else {
		assert_int_equal(lp_totp_code_parse(input, digits, out),
		    -EINVAL);
		/* Nothing is written on failure. */
		assert_memory_equal(out, "xxxxxxxxx", sizeof(out));
	}
}

static void
test_totp_code_parse_keeps_leading_zeros(void **state)
{
	struct fixture *f = *state;
	const unsigned char *seed;
	char code[LP_TOTP_CODE_MAX + 1], norm[LP_TOTP_CODE_MAX + 1];
	uint64_t got = 0;
	size_t len;

	check_parse("012345", 6, "012345");
	check_parse("12345", 6, NULL);
	check_parse("00000000", 8, "00000000");

	/* A real code with a leading zero verifies only with its zero. */
	seed = seed_of(LP_TOTP_SHA1, &len);
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg,
	    STEP_LEADING_ZERO, code), 0);
	assert_int_equal(code[0], '0');
	assert_int_equal(lp_totp_code_parse(code, 6, norm), 0);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg,
	    mid_step(&f->cfg, STEP_LEADING_ZERO), norm, &got), 0);
	assert_int_equal(got, STEP_LEADING_ZERO);
	assert_int_equal(lp_totp_code_parse(code + 1, 6, norm), -EINVAL);
}

static void
test_totp_code_parse_ignores_ascii_spaces(void **state)
{
	(void)state;
	check_parse("123 456", 6, "123456");
	check_parse(" 123456 ", 6, "123456");
	check_parse("1 2 3 4 5 6", 6, "123456");
	check_parse("1234 5678", 8, "12345678");
}

static void
test_totp_code_parse_refuses_anything_else(void **state)
{
	(void)state;
	check_parse("", 6, NULL);
	check_parse("      ", 6, NULL);
	check_parse("12345", 6, NULL);
	check_parse("1234567", 6, NULL);
	check_parse("123456", 8, NULL);
	check_parse("+12345", 6, NULL);
	check_parse("-12345", 6, NULL);
	check_parse("+123456", 6, NULL);
	check_parse("12345a", 6, NULL);
	check_parse("abcdef", 6, NULL);
	check_parse("123\xc2\xa0" "456", 6, NULL);
	check_parse("123\t456", 6, NULL);
	check_parse("123456\n", 6, NULL);
	check_parse("123\0" "456", 6, NULL);
	check_parse("\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6", 6,
	    NULL);
	check_parse("123456", 5, NULL);
	check_parse("123456", 9, NULL);
	check_parse(NULL, 6, NULL);
}

static void
test_totp_code_parse_refuses_a_mebibyte_of_digits(void **state)
{
	size_t n = 1024 * 1024;
	char *big, out[LP_TOTP_CODE_MAX + 1];

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, '1', n);
	big[n] = '\0';
	assert_int_equal(lp_totp_code_parse(big, 6, out), -EINVAL);
	memset(big, ' ', n - 6);
	assert_int_equal(lp_totp_code_parse(big, 6, out), 0);
	assert_string_equal(out, "111111");
	free(big);
}

/* ---------------------------------------------------------------- base32 */

static void
test_base32_decode_accepts_case_padding_and_spaces(void **state)
{
	static const char *const forms[] = {
		"GEZDGNBVGY======", "GEZDGNBVGY", "gezdgnbvgy======",
		"gezdgnbvgy", "GEZD GNBV GY", "GeZdGnBvGy===  ===",
	};
	unsigned char out[LP_TOTP_SECRET_MAX];
	size_t i, len;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(forms); i++) {
		len = 0;
		assert_int_equal(lp_base32_decode(forms[i], out, sizeof(out),
		    &len), 0);
		assert_int_equal(len, 6);
		assert_memory_equal(out, "123456", 6);
	}
	assert_int_equal(lp_base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
	    out, sizeof(out), &len), 0);
	assert_int_equal(len, 20);
	assert_memory_equal(out, seed_sha1, 20);
}

static void
test_base32_decode_refuses_what_is_not_base32(void **state)
{
	static const char *const bad[] = {
		"", "GEZDGNBV1", "GEZDGNB!", "GEZDGNBVGY3A\xc2\xa0",
		"GEZD\tGNBV", "=GEZDGNBV", "8888888888888888",
	};
	unsigned char out[LP_TOTP_SECRET_MAX];
	size_t i, len = 77;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(bad); i++)
		assert_int_equal(lp_base32_decode(bad[i], out, sizeof(out),
		    &len), -EINVAL);
	assert_int_equal(lp_base32_decode(NULL, out, sizeof(out), &len),
	    -EINVAL);
	assert_int_equal(len, 77);
}

static void
test_base32_decode_reports_a_small_buffer(void **state)
{
	unsigned char out[LP_TOTP_SECRET_MAX];
	size_t len = 77;

	(void)state;
	assert_int_equal(lp_base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
	    out, 19, &len), -ENOBUFS);
	assert_int_equal(len, 77);
	assert_int_equal(lp_base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
	    out, 20, &len), 0);
	assert_int_equal(len, 20);
}

static void
test_base32_encode_writes_upper_case_without_padding(void **state)
{
	unsigned char back[LP_TOTP_SECRET_MAX];
	char out[LP_BASE32_MAX + 1];
	size_t len;

	(void)state;
	assert_int_equal(lp_base32_encode((const unsigned char *)"123456", 6,
	    out, sizeof(out)), 0);
	assert_string_equal(out, "GEZDGNBVGY");
	assert_int_equal(lp_base32_encode((const unsigned char *)seed_sha1,
	    20, out, sizeof(out)), 0);
	assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");

	/* The largest secret fits LP_BASE32_MAX and decodes back. */
	assert_int_equal(lp_base32_encode((const unsigned char *)seed_sha512,
	    64, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), LP_BASE32_MAX);
	assert_int_equal(lp_base32_decode(out, back, sizeof(back), &len), 0);
	assert_int_equal(len, 64);
	assert_memory_equal(back, seed_sha512, 64);

	/* 32 characters and a NUL do not fit in 32 bytes. */
	assert_int_equal(lp_base32_encode((const unsigned char *)seed_sha1,
	    20, out, 32), -ENOBUFS);
}

/* ---------------------------------------------------------------- wiping */

static void
test_wipe_macros_zero_the_whole_object(void **state)
{
	static const unsigned char zero[64];
	struct { char code[9]; uint64_t step; } obj;
	unsigned char arr[64];
	char str[] = "123456";

	(void)state;
	memset(arr, 0xa5, sizeof(arr));
	lp_wipe_array(arr);
	assert_memory_equal(arr, zero, sizeof(arr));

	memset(&obj, 0xa5, sizeof(obj));
	lp_wipe_obj(&obj);
	assert_memory_equal(&obj, zero, sizeof(obj));

	lp_wipe_str(str);
	assert_memory_equal(str, zero, sizeof(str));
	lp_wipe_str(NULL);
}

static void
test_freezero_wipes_the_whole_buffer_before_freeing(void **state)
{
	unsigned char *p;

	(void)state;
	p = malloc(48);
	assert_non_null(p);
	memset(p, 0xa5, 48);
	spy_reset(0);
	lp_freezero(p, 48);
	/* Only the call is seen: the memory itself is gone. */
	assert_int_equal(nwipes, 1);
	assert_ptr_equal(wipes[0].p, p);
	assert_int_equal(wipes[0].len, 48);

	spy_reset(0);
	lp_freezero(NULL, 48);
	assert_int_equal(nwipes, 0);
}

static void
test_totp_verify_wipes_every_code_it_computed(void **state)
{
	struct fixture *f = *state;
	const unsigned char *seed;
	char code[LP_TOTP_CODE_MAX + 1], copy[LP_TOTP_CODE_MAX + 1];
	uint64_t got;
	size_t i, len, held = 0;

	seed = seed_of(LP_TOTP_SHA1, &len);
	f->cfg.window = 2;
	memset(code, 0, sizeof(code));
	assert_int_equal(lp_totp_generate(seed, len, &f->cfg, 1000, code), 0);
	memcpy(copy, code, sizeof(code));

	spy_reset(f->cfg.digits);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg,
	    mid_step(&f->cfg, 1000), code, &got), 0);
	/*
	 * Each of the 5 steps was computed into a stack array that was
	 * wiped while it still held the code, and verify's own copy of the
	 * last one was wiped too.
	 */
	for (i = 0; i < nwipes; i++)
		if (wipes[i].held_code) {
			assert_int_equal(wipes[i].len, LP_TOTP_CODE_MAX + 1);
			held++;
		}
	assert_int_equal(held, 2 * f->cfg.window + 1 + 1);
	/* The caller's code is left alone. */
	assert_memory_equal(code, copy, sizeof(code));

	/* A wrong code wipes as much. */
	spy_reset(f->cfg.digits);
	assert_int_equal(lp_totp_verify(seed, len, &f->cfg,
	    mid_step(&f->cfg, 2000), code, &got), -ENOENT);
	for (i = 0, held = 0; i < nwipes; i++)
		held += (size_t)wipes[i].held_code;
	assert_int_equal(held, 2 * f->cfg.window + 1 + 1);
}

static void
test_totp_code_parse_wipes_its_copy(void **state)
{
	char out[LP_TOTP_CODE_MAX + 1];
	size_t i, held = 0;

	(void)state;
	spy_reset(6);
	assert_int_equal(lp_totp_code_parse("123 456", 6, out), 0);
	for (i = 0; i < nwipes; i++)
		held += (size_t)wipes[i].held_code;
	assert_int_equal(held, 1);
	assert_string_equal(out, "123456");
}

/* ---------------------------------------------------------------- main */

#define T(name)	cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_totp_generate_gives_rfc6238_sha1_vectors),
		T(test_totp_generate_gives_rfc6238_sha256_vectors),
		T(test_totp_generate_gives_rfc6238_sha512_vectors),
		T(test_totp_generate_agrees_with_oathtool),
		T(test_totp_generate_refuses_bad_arguments),
		T(test_totp_step_counts_periods_since_the_epoch),
		T(test_totp_verify_with_window_1_accepts_one_step_each_side),
		T(test_totp_verify_with_window_0_accepts_only_the_current_step),
		T(test_totp_verify_with_window_2_accepts_two_steps_each_side),
		T(test_totp_verify_reports_the_latest_matching_step),
		T(test_totp_verify_skips_steps_before_the_epoch),
		T(test_totp_verify_skips_steps_past_the_end_of_time),
		T(test_totp_verify_refuses_a_code_of_the_wrong_length),
		T(test_totp_verify_refuses_a_wrong_code),
		T(test_totp_code_parse_keeps_leading_zeros),
		T(test_totp_code_parse_ignores_ascii_spaces),
		T(test_totp_code_parse_refuses_anything_else),
		T(test_totp_code_parse_refuses_a_mebibyte_of_digits),
		T(test_base32_decode_accepts_case_padding_and_spaces),
		T(test_base32_decode_refuses_what_is_not_base32),
		T(test_base32_decode_reports_a_small_buffer),
		T(test_base32_encode_writes_upper_case_without_padding),
		T(test_wipe_macros_zero_the_whole_object),
		T(test_freezero_wipes_the_whole_buffer_before_freeing),
		T(test_totp_verify_wipes_every_code_it_computed),
		T(test_totp_code_parse_wipes_its_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
