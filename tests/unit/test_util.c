/*
 * lib/util.c: wiping, constant-time comparison, random bytes, numbers,
 * log safety.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lp_util.h"

static int
all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

static void
test_wipe_array_zeroes_every_byte(void **state)
{
	char secret[37];

	(void)state;
	memset(secret, 'k', sizeof(secret));
	lp_wipe_array(secret);
	assert_true(all_zero(secret, sizeof(secret)));
}

static void
test_wipe_obj_zeroes_a_struct(void **state)
{
	struct { char seed[20]; unsigned n; } s;

	(void)state;
	memset(&s, 0xa5, sizeof(s));
	lp_wipe_obj(&s);
	assert_true(all_zero(&s, sizeof(s)));
}

static void
test_wipe_str_zeroes_up_to_the_terminator(void **state)
{
	char s[16] = "123456";

	(void)state;
	s[10] = 'z';
	lp_wipe_str(s);
	assert_true(all_zero(s, 6));
	assert_int_equal(s[10], 'z');
	lp_wipe_str(NULL);
}

static void
test_freezero_accepts_null(void **state)
{
	(void)state;
	lp_freezero(NULL, 10);
	lp_freezero_str(NULL);
	lp_freezero(malloc(8), 8);
}

static void
test_timingsafe_eq_compares_every_byte(void **state)
{
	(void)state;
	assert_true(lp_timingsafe_eq("123456", "123456", 6));
	assert_false(lp_timingsafe_eq("123456", "123457", 6));
	assert_false(lp_timingsafe_eq("023456", "123456", 6));
	assert_true(lp_timingsafe_eq("", "", 0));
}

static void
test_parse_ll_accepts_bounds_and_refuses_beyond(void **state)
{
	long long v = -1;

	(void)state;
	assert_int_equal(lp_parse_ll("10", 10, 300, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(lp_parse_ll("300", 10, 300, &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(lp_parse_ll("9", 10, 300, &v), -ERANGE);
	assert_int_equal(lp_parse_ll("301", 10, 300, &v), -ERANGE);
	assert_int_equal(lp_parse_ll("99999999999999999999", 0, 300, &v),
	    -ERANGE);
	assert_int_equal(v, 300);
}

static void
test_parse_ll_refuses_what_is_not_a_plain_number(void **state)
{
	long long v = 7;

	(void)state;
	assert_int_equal(lp_parse_ll("", 0, 9, &v), -EINVAL);
	assert_int_equal(lp_parse_ll("+5", 0, 9, &v), -EINVAL);
	assert_int_equal(lp_parse_ll(" 5", 0, 9, &v), -EINVAL);
	assert_int_equal(lp_parse_ll("5 ", 0, 9, &v), -EINVAL);
	assert_int_equal(lp_parse_ll("0x5", 0, 9, &v), -EINVAL);
	assert_int_equal(lp_parse_ll("5.0", 0, 9, &v), -EINVAL);
	assert_int_equal(lp_parse_ll(NULL, 0, 9, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void
test_parse_ll_keeps_errno(void **state)
{
	long long v;

	(void)state;
	errno = 1234;
	(void)lp_parse_ll("x", 0, 9, &v);
	(void)lp_parse_ll("99", 0, 9, &v);
	assert_int_equal(errno, 1234);
}

static void
test_log_safe_replaces_controls_and_bounds_length(void **state)
{
	char out[8];

	(void)state;
	assert_string_equal(lp_log_safe(out, sizeof(out), "a\nb\x1b", 64),
	    "a?b?");
	assert_string_equal(lp_log_safe(out, sizeof(out), "abcdefghij", 64),
	    "abcdefg");
	assert_string_equal(lp_log_safe(out, sizeof(out), "abcdefghij", 3),
	    "abc");
	assert_string_equal(lp_log_safe(out, sizeof(out), "\xc3\xa9", 64),
	    "??");
	assert_string_equal(lp_log_safe(out, sizeof(out), NULL, 64), "");
	assert_string_equal(lp_log_safe(out, sizeof(out), "a b=c", 64),
	    "a?b=c");
}

static void
test_random_fill_gives_fresh_bytes_each_time(void **state)
{
	unsigned char a[64], b[64], none[4] = { 1, 2, 3, 4 };

	(void)state;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_int_equal(lp_random_fill(a, sizeof(a)), 0);
	assert_int_equal(lp_random_fill(b, sizeof(b)), 0);
	/* Either would fail by chance with a probability of 2^-512. */
	assert_false(all_zero(a, sizeof(a)));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(lp_random_fill(none, 0), 0);
	assert_memory_equal(none, "\1\2\3\4", 4);
}

/* getrandom(2) gives at most 32 MiB - 1 a call: the rest needs a loop. */
#define BIG_FILL	((size_t)32 * 1024 * 1024 + 64)

static void
test_random_fill_goes_on_after_a_short_read(void **state)
{
	unsigned char *buf;

	(void)state;
	buf = calloc(1, BIG_FILL);
	assert_non_null(buf);
	assert_int_equal(lp_random_fill(buf, BIG_FILL), 0);
	assert_false(all_zero(buf + BIG_FILL - 64, 64));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wipe_array_zeroes_every_byte),
		cmocka_unit_test(test_wipe_obj_zeroes_a_struct),
		cmocka_unit_test(test_wipe_str_zeroes_up_to_the_terminator),
		cmocka_unit_test(test_freezero_accepts_null),
		cmocka_unit_test(test_timingsafe_eq_compares_every_byte),
		cmocka_unit_test(
		    test_parse_ll_accepts_bounds_and_refuses_beyond),
		cmocka_unit_test(
		    test_parse_ll_refuses_what_is_not_a_plain_number),
		cmocka_unit_test(test_parse_ll_keeps_errno),
		cmocka_unit_test(
		    test_log_safe_replaces_controls_and_bounds_length),
		cmocka_unit_test(test_random_fill_gives_fresh_bytes_each_time),
		cmocka_unit_test(test_random_fill_goes_on_after_a_short_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
