/* lp_user_name_check: which names may become a state file name. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "user.h"

static void
test_user_name_check_accepts_ordinary_names(void **state)
{
	(void)state;
	assert_int_equal(lp_user_name_check("alice"), 0);
	assert_int_equal(lp_user_name_check("first.last"), 0);
	assert_int_equal(lp_user_name_check("alice@example.org"), 0);
	assert_int_equal(lp_user_name_check("a_b-c"), 0);
	assert_int_equal(lp_user_name_check("lp-tunnel"), 0);
	assert_int_equal(lp_user_name_check("x"), 0);
}

static void
test_user_name_check_refuses_path_tricks(void **state)
{
	(void)state;
	assert_int_equal(lp_user_name_check("../x"), -EINVAL);
	assert_int_equal(lp_user_name_check("a/b"), -EINVAL);
	assert_int_equal(lp_user_name_check("a..b"), -EINVAL);
	assert_int_equal(lp_user_name_check(".hidden"), -EINVAL);
	assert_int_equal(lp_user_name_check("."), -EINVAL);
	assert_int_equal(lp_user_name_check(".."), -EINVAL);
	assert_int_equal(lp_user_name_check("-rf"), -EINVAL);
}

static void
test_user_name_check_refuses_empty_and_null(void **state)
{
	(void)state;
	assert_int_equal(lp_user_name_check(""), -EINVAL);
	assert_int_equal(lp_user_name_check(NULL), -EINVAL);
}

static void
test_user_name_check_refuses_control_and_non_ascii(void **state)
{
	(void)state;
	assert_int_equal(lp_user_name_check("a\nb"), -EINVAL);
	assert_int_equal(lp_user_name_check("a\tb"), -EINVAL);
	assert_int_equal(lp_user_name_check("a b"), -EINVAL);
	assert_int_equal(lp_user_name_check("a\x7f"), -EINVAL);
	assert_int_equal(lp_user_name_check("caf\xc3\xa9"), -EINVAL);
	assert_int_equal(lp_user_name_check("\xff\xfe"), -EINVAL);
	assert_int_equal(lp_user_name_check("a;b"), -EINVAL);
}

static void
test_user_name_check_bounds_length_at_249_bytes(void **state)
{
	char name[4097];

	(void)state;
	memset(name, 'a', sizeof(name));
	name[249] = '\0';
	assert_int_equal(lp_user_name_check(name), 0);
	name[249] = 'a';
	name[250] = '\0';
	assert_int_equal(lp_user_name_check(name), -EINVAL);
	name[250] = 'a';
	name[4096] = '\0';
	assert_int_equal(lp_user_name_check(name), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_name_check_accepts_ordinary_names),
		cmocka_unit_test(test_user_name_check_refuses_path_tricks),
		cmocka_unit_test(test_user_name_check_refuses_empty_and_null),
		cmocka_unit_test(
		    test_user_name_check_refuses_control_and_non_ascii),
		cmocka_unit_test(
		    test_user_name_check_bounds_length_at_249_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
