/*
 * Unit tests for lib/recovery.c: making, parsing, matching and removing
 * one-time recovery codes.
 */

/* The wipe spy must replace explicit_bzero(3) itself; see test_totp.c. */
#undef _FORTIFY_SOURCE

#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lp_util.h"
#include "recovery.h"

#define ALPHABET	"abcdefghjkmnpqrstuvwxyz23456789"
#define LOOK_ALIKES	"0o1liIO"

/* ---------------------------------------------------------------- spy */

/* Counts the library's wipes of a given size (see test_totp.c). */
static size_t	spy_len;
static size_t	spy_hits;

void
explicit_bzero(void *p, size_t len)
{
	if (spy_len != 0 && len == spy_len)
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

/* ---------------------------------------------------------------- fixture */

struct fixture {
	char		codes[LP_RECOVERY_MAX][LP_RECOVERY_LEN + 1];
	char		hashes[LP_RECOVERY_MAX][LP_RECOVERY_HASH_MAX];
	struct lp_totp_state st;
};

static int
setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	spy_len = 0;
	spy_hits = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	lp_wipe_obj(f);
	free(f);
	return 0;
}

/* Makes n codes into f and puts all their hashes into f->st. */
static void
make_codes(struct fixture *f, size_t n)
{
	size_t i;

	assert_int_equal(lp_recovery_generate(n, f->codes, f->hashes), 0);
	memset(&f->st, 0, sizeof(f->st));
	for (i = 0; i < n; i++)
		memcpy(f->st.recovery[i], f->hashes[i], LP_RECOVERY_HASH_MAX);
	f->st.nrecovery = n;
}

static double
cpu_ms(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- generate */

static void
test_recovery_generate_makes_codes_of_three_groups_of_four(void **state)
{
	struct fixture *f = *state;
	size_t i, j;

	make_codes(f, LP_RECOVERY_COUNT);
	for (i = 0; i < LP_RECOVERY_COUNT; i++) {
		assert_int_equal(strlen(f->codes[i]), LP_RECOVERY_LEN);
		for (j = 0; j < LP_RECOVERY_LEN; j++) {
			if (j == 4 || j == 9)
				assert_int_equal(f->codes[i][j], '-');
			else
				assert_non_null(strchr(ALPHABET,
				    f->codes[i][j]));
		}
	}
}

static void
test_recovery_generate_makes_yescrypt_hashes_at_one_cost(void **state)
{
	struct fixture *f = *state;
	const char *params;
	size_t i;

	make_codes(f, LP_RECOVERY_MAX);
	/* "$y$PARAMS$SALT$HASH": the same params everywhere. */
	params = f->hashes[0] + 3;
	for (i = 0; i < LP_RECOVERY_MAX; i++) {
		assert_memory_equal(f->hashes[i], "$y$", 3);
		assert_int_equal(strcspn(f->hashes[i] + 3, "$"),
		    strcspn(params, "$"));
		assert_memory_equal(f->hashes[i] + 3, params,
		    strcspn(params, "$"));
		assert_null(strstr(f->hashes[i], f->codes[i]));
	}
}

static void
test_recovery_generate_makes_distinct_codes_and_salts(void **state)
{
	struct fixture *f = *state;
	size_t i, j;

	make_codes(f, LP_RECOVERY_MAX);
	for (i = 0; i < LP_RECOVERY_MAX; i++)
		for (j = i + 1; j < LP_RECOVERY_MAX; j++) {
			assert_string_not_equal(f->codes[i], f->codes[j]);
			assert_string_not_equal(f->hashes[i], f->hashes[j]);
		}
}

static void
test_recovery_alphabet_has_no_look_alikes(void **state)
{
	struct fixture *f = *state;
	unsigned seen[256];
	char code[] = "abcd-efgh-jkmn";
	char out[LP_RECOVERY_LEN + 1];
	size_t i, j, round;

	memset(seen, 0, sizeof(seen));
	/* 960 symbols: every one of 31 shows up but for odds of 1e-12. */
	for (round = 0; round < 5; round++) {
		make_codes(f, LP_RECOVERY_MAX);
		for (i = 0; i < LP_RECOVERY_MAX; i++)
			for (j = 0; j < LP_RECOVERY_LEN; j++)
				seen[(unsigned char)f->codes[i][j]]++;
	}
	for (i = 1; i < 256; i++) {
		if (i == '-')
			continue;
		if (strchr(ALPHABET, (int)i) != NULL)
			assert_true(seen[i] > 0);
		else
			assert_int_equal(seen[i], 0);
	}
	for (i = 0; i < strlen(LOOK_ALIKES); i++) {
		assert_null(strchr(ALPHABET, LOOK_ALIKES[i]));
		/* And a typed look-alike is not silently taken for another. */
		code[0] = LOOK_ALIKES[i];
		assert_int_equal(lp_recovery_parse(code, out), -EINVAL);
	}
}

static void
test_recovery_generate_refuses_more_than_the_slots(void **state)
{
	struct fixture *f = *state;
	char codes[LP_RECOVERY_MAX + 1][LP_RECOVERY_LEN + 1];
	char hashes[LP_RECOVERY_MAX + 1][LP_RECOVERY_HASH_MAX];

	(void)f;
	assert_int_equal(lp_recovery_generate(LP_RECOVERY_MAX + 1, codes,
	    hashes), -EINVAL);
	assert_int_equal(lp_recovery_generate(0, codes, hashes), 0);
}

/* ---------------------------------------------------------------- parse */

static void
check_parse(const char *input, const char *want)
{
	char out[LP_RECOVERY_LEN + 1];

	memset(out, 'x', sizeof(out));
	if (want != NULL) {
		assert_int_equal(lp_recovery_parse(input, out), 0);
		assert_string_equal(out, want);
	} else {
		assert_int_equal(lp_recovery_parse(input, out), -EINVAL);
		assert_memory_equal(out, "xxxxxxxxxxxxxxx", sizeof(out));
	}
}

static void
test_recovery_parse_folds_case_and_drops_spaces_and_dashes(void **state)
{
	(void)state;
	check_parse("abcd-efgh-jkmn", "abcd-efgh-jkmn");
	check_parse("ABCD-EFGH-JKMN", "abcd-efgh-jkmn");
	check_parse("ABCD EFGH JKMN", "abcd-efgh-jkmn");
	check_parse("abcdefghjkmn", "abcd-efgh-jkmn");
	check_parse("abcdefgh-jkmn", "abcd-efgh-jkmn");
	check_parse("  pqrs - tuvw - 2345  ", "pqrs-tuvw-2345");
	check_parse("xyz6 789a bcde", "xyz6-789a-bcde");
}

static void
test_recovery_parse_refuses_what_cannot_be_a_code(void **state)
{
	(void)state;
	check_parse("", NULL);
	check_parse("   ", NULL);
	check_parse("abcd-efgh-jkm", NULL);
	check_parse("abcd-efgh-jkmnp", NULL);
	check_parse("abcd-efgh-jkm0", NULL);
	check_parse("abcd-efgh-jkml", NULL);
	check_parse("abcd--efgh-jkmn", NULL);
	check_parse("-abcd-efgh-jkmn", NULL);
	check_parse("abcd-efgh-jkmn-", NULL);
	check_parse("ab-cd-efgh-jkmn", NULL);
	check_parse("abcd_efgh_jkmn", NULL);
	check_parse("abcd\tefgh-jkmn", NULL);
	check_parse("abcd\xc2\xa0" "efgh-jkmn", NULL);
	check_parse("abcd-efgh-jkmn\n", NULL);
	check_parse("abcd-ef\0gh-jkmn", NULL);
	check_parse("123456", NULL);
	check_parse(NULL, NULL);
}

static void
test_recovery_parse_refuses_a_mebibyte_of_symbols(void **state)
{
	size_t n = 1024 * 1024;
	char *big, out[LP_RECOVERY_LEN + 1];

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	assert_int_equal(lp_recovery_parse(big, out), -EINVAL);
	free(big);
}

static void
test_recovery_parse_wipes_its_copy(void **state)
{
	char out[LP_RECOVERY_LEN + 1];

	(void)state;
	spy_len = LP_RECOVERY_LEN + 1;
	spy_hits = 0;
	assert_int_equal(lp_recovery_parse("ABCD EFGH JKMN", out), 0);
	assert_int_equal(spy_hits, 1);
}

/* ---------------------------------------------------------------- match */

static void
test_recovery_match_finds_each_code_in_its_own_slot(void **state)
{
	struct fixture *f = *state;
	char norm[LP_RECOVERY_LEN + 1], typed[32], *p;
	size_t i, idx;

	make_codes(f, 4);
	for (i = 0; i < 4; i++) {
		/* As a person might type it. */
		(void)snprintf(typed, sizeof(typed), "%.4s %.4s %.4s",
		    f->codes[i], f->codes[i] + 5, f->codes[i] + 10);
		for (p = typed; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		assert_int_equal(lp_recovery_parse(typed, norm), 0);
		assert_string_equal(norm, f->codes[i]);
		idx = 99;
		assert_int_equal(lp_recovery_match(&f->st, norm, &idx), 0);
		assert_int_equal(idx, i);
	}
}

static void
test_recovery_match_refuses_a_code_whose_hash_is_absent(void **state)
{
	struct fixture *f = *state;
	struct lp_totp_state other;
	size_t i, j, idx = 99;

	make_codes(f, 4);
	for (i = 0; i < 4; i++) {
		/* Every hash but the code's own. */
		memset(&other, 0, sizeof(other));
		for (j = 0; j < 4; j++)
			if (j != i)
				memcpy(other.recovery[other.nrecovery++],
				    f->hashes[j], LP_RECOVERY_HASH_MAX);
		assert_int_equal(lp_recovery_match(&other, f->codes[i], &idx),
		    -ENOENT);
		assert_int_equal(idx, 99);
	}
	lp_wipe_obj(&other);
}

static void
test_recovery_match_refuses_everything_on_an_empty_state(void **state)
{
	struct fixture *f = *state;
	size_t idx = 99;

	make_codes(f, 1);
	f->st.nrecovery = 0;
	memset(f->st.recovery, 0, sizeof(f->st.recovery));
	assert_int_equal(lp_recovery_match(&f->st, f->codes[0], &idx),
	    -ENOENT);
	assert_int_equal(idx, 99);
}

static void
test_recovery_match_refuses_a_code_not_normalised(void **state)
{
	struct fixture *f = *state;
	size_t idx = 99;

	make_codes(f, 1);
	assert_int_equal(lp_recovery_match(&f->st, "ABCD-EFGH-JKMN", &idx),
	    -EINVAL);
	assert_int_equal(lp_recovery_match(&f->st, "abcdefghjkmn", &idx),
	    -EINVAL);
	assert_int_equal(lp_recovery_match(&f->st, NULL, &idx), -EINVAL);
	assert_int_equal(lp_recovery_match(NULL, f->codes[0], &idx), -EINVAL);
	assert_int_equal(idx, 99);
}

static void
test_recovery_match_survives_slots_that_are_not_hashes(void **state)
{
	struct fixture *f = *state;
	size_t idx = 99;

	make_codes(f, 3);
	(void)strcpy(f->st.recovery[0], "not a hash");
	/* No NUL anywhere in the slot. */
	memset(f->st.recovery[1], 'y', LP_RECOVERY_HASH_MAX);
	assert_int_equal(lp_recovery_match(&f->st, f->codes[0], &idx),
	    -ENOENT);
	assert_int_equal(lp_recovery_match(&f->st, f->codes[1], &idx),
	    -ENOENT);
	assert_int_equal(lp_recovery_match(&f->st, f->codes[2], &idx), 0);
	assert_int_equal(idx, 2);
}

static void
test_recovery_match_costs_the_same_with_no_codes_left(void **state)
{
	struct fixture *f = *state;
	struct lp_totp_state empty;
	double t0, t, full = 1e9, none = 1e9;
	size_t idx, round;

	make_codes(f, LP_RECOVERY_MAX);
	memset(&empty, 0, sizeof(empty));

	/*
	 * CPU time, so that other work on the machine does not count, and
	 * the best of two rounds each, to damp the rest.
	 */
	for (round = 0; round < 2; round++) {
		t0 = cpu_ms();
		assert_int_equal(lp_recovery_match(&f->st, f->codes[0], &idx),
		    0);
		t = cpu_ms() - t0;
		full = t < full ? t : full;
		t0 = cpu_ms();
		assert_int_equal(lp_recovery_match(&empty, f->codes[0], &idx),
		    -ENOENT);
		t = cpu_ms() - t0;
		none = t < none ? t : none;
	}
	print_message("match: %.1f ms with %d codes, %.1f ms with none\n",
	    full, LP_RECOVERY_MAX, none);
	/* A dummy of another cost would be twice or more off. */
	assert_true(none > full * 0.6 && none < full * 1.6);
}

static void
test_recovery_match_wipes_the_crypt_work_area(void **state)
{
	struct fixture *f = *state;
	size_t idx;

	make_codes(f, 2);
	spy_len = sizeof(struct crypt_data);
	spy_hits = 0;
	assert_int_equal(lp_recovery_match(&f->st, f->codes[1], &idx), 0);
	/* Once after each hash, once before it is freed. */
	assert_int_equal(spy_hits, LP_RECOVERY_MAX + 1);
}

/* ---------------------------------------------------------------- remove */

static void
test_recovery_code_no_longer_matches_once_removed(void **state)
{
	struct fixture *f = *state;
	static const char zero[LP_RECOVERY_HASH_MAX];
	size_t idx = 99;

	make_codes(f, 3);
	assert_int_equal(lp_recovery_match(&f->st, f->codes[1], &idx), 0);
	assert_int_equal(idx, 1);
	lp_recovery_remove(&f->st, idx);

	assert_int_equal(f->st.nrecovery, 2);
	assert_memory_equal(f->st.recovery[2], zero, sizeof(zero));
	idx = 99;
	assert_int_equal(lp_recovery_match(&f->st, f->codes[1], &idx),
	    -ENOENT);
	assert_int_equal(idx, 99);
	assert_int_equal(lp_recovery_match(&f->st, f->codes[0], &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(lp_recovery_match(&f->st, f->codes[2], &idx), 0);
	assert_int_equal(idx, 1);
}

static void
test_recovery_remove_ignores_a_slot_out_of_range(void **state)
{
	struct fixture *f = *state;

	make_codes(f, 2);
	lp_recovery_remove(&f->st, 2);
	lp_recovery_remove(&f->st, (size_t)-1);
	lp_recovery_remove(NULL, 0);
	assert_int_equal(f->st.nrecovery, 2);
	assert_string_equal(f->st.recovery[1], f->hashes[1]);
	lp_recovery_remove(&f->st, 1);
	lp_recovery_remove(&f->st, 0);
	assert_int_equal(f->st.nrecovery, 0);
	lp_recovery_remove(&f->st, 0);
	assert_int_equal(f->st.nrecovery, 0);
}

/* ---------------------------------------------------------------- main */

#define T(name)	cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_recovery_generate_makes_codes_of_three_groups_of_four),
		T(test_recovery_generate_makes_yescrypt_hashes_at_one_cost),
		T(test_recovery_generate_makes_distinct_codes_and_salts),
		T(test_recovery_alphabet_has_no_look_alikes),
		T(test_recovery_generate_refuses_more_than_the_slots),
		T(test_recovery_parse_folds_case_and_drops_spaces_and_dashes),
		T(test_recovery_parse_refuses_what_cannot_be_a_code),
		T(test_recovery_parse_refuses_a_mebibyte_of_symbols),
		T(test_recovery_parse_wipes_its_copy),
		T(test_recovery_match_finds_each_code_in_its_own_slot),
		T(test_recovery_match_refuses_a_code_whose_hash_is_absent),
		T(test_recovery_match_refuses_everything_on_an_empty_state),
		T(test_recovery_match_refuses_a_code_not_normalised),
		T(test_recovery_match_survives_slots_that_are_not_hashes),
		T(test_recovery_match_costs_the_same_with_no_codes_left),
		T(test_recovery_match_wipes_the_crypt_work_area),
		T(test_recovery_code_no_longer_matches_once_removed),
		T(test_recovery_remove_ignores_a_slot_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
