/* lp_user_name_check: which names may become a state file name. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* "by=" and the name of the real user ID, as the test runs. */
static const char *
by_me(char *buf, size_t size)
{
	const struct passwd *pw = getpwuid(getuid());

	assert_non_null(pw);
	snprintf(buf, size, "by=%s", pw->pw_name);
	return buf;
}

static void
test_user_caller_names_the_real_user_and_a_valid_sudo_user(void **state)
{
	char buf[600], me[300], want[600];

	(void)state;
	by_me(me, sizeof(me));
	assert_int_equal(setenv("SUDO_USER", "admin1", 1), 0);
	lp_user_caller(buf, sizeof(buf));
	snprintf(want, sizeof(want), "%s sudo_user=admin1", me);
	assert_string_equal(buf, want);
	assert_int_equal(unsetenv("SUDO_USER"), 0);
	lp_user_caller(buf, sizeof(buf));
	assert_string_equal(buf, me);
}

static void
test_user_caller_drops_a_sudo_user_that_could_forge_a_field(void **state)
{
	char buf[600], me[300];

	(void)state;
	by_me(me, sizeof(me));
	assert_int_equal(setenv("SUDO_USER", "mallory action=removed", 1), 0);
	lp_user_caller(buf, sizeof(buf));
	assert_string_equal(buf, me);
	assert_int_equal(setenv("SUDO_USER", "a=b", 1), 0);
	lp_user_caller(buf, sizeof(buf));
	assert_string_equal(buf, me);
	assert_int_equal(unsetenv("SUDO_USER"), 0);
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
		cmocka_unit_test(
		    test_user_caller_names_the_real_user_and_a_valid_sudo_user),
		cmocka_unit_test(
		    test_user_caller_drops_a_sudo_user_that_could_forge_a_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
