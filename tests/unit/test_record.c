/*
 * lib/record.c: the strict line reading under the state and tunnel
 * formats.  Each call takes exactly the line asked for or refuses and
 * leaves the cursor where it was; numbers have one spelling; the end
 * line must be the last bytes.  The formats themselves are tested in
 * test_state.c and test_tunnel.c.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"

/* A cursor over a C string, which holds no NUL before its end. */
static struct lp_rec
cursor(const char *s)
{
	struct lp_rec c;

	assert_int_equal(lp_rec_init(&c, s, strlen(s)), 0);
	return c;
}

static int
parse(const char *s, uint64_t min, uint64_t max, uint64_t *ret_val)
{
	return lp_rec_parse_u64(s, strlen(s), min, max, ret_val);
}

static void
test_rec_init_refuses_null_and_nul_bytes(void **state)
{
	struct lp_rec c;

	(void)state;
	assert_int_equal(lp_rec_init(&c, "a 1\n", 4), 0);
	assert_int_equal(lp_rec_init(&c, "", 0), 0);
	assert_int_equal(lp_rec_init(&c, "a\0001\n", 4), -EBADMSG);
	assert_int_equal(lp_rec_init(&c, NULL, 0), -EBADMSG);
	assert_int_equal(lp_rec_init(&c, NULL, 4), -EBADMSG);
}

static void
test_rec_take_fixed_takes_only_the_exact_line(void **state)
{
	struct lp_rec c;
	const char *start;

	(void)state;
	c = cursor("lp-x 1\nend\n");
	start = c.p;
	assert_int_equal(lp_rec_take_fixed(&c, "lp-x"), -EBADMSG);
	assert_int_equal(lp_rec_take_fixed(&c, "lp-x 11"), -EBADMSG);
	assert_int_equal(lp_rec_take_fixed(&c, "end"), -EBADMSG);
	assert_ptr_equal(c.p, start);
	assert_int_equal(lp_rec_take_fixed(&c, "lp-x 1"), 0);
	assert_ptr_equal(c.p, start + 7);
	assert_int_equal(lp_rec_take_fixed(&c, "end"), 0);
	assert_ptr_equal(c.p, c.end);
	assert_int_equal(lp_rec_take_fixed(&c, "end"), -EBADMSG);
	/* A line is not complete without its '\n'. */
	c = cursor("lp-x 1");
	assert_int_equal(lp_rec_take_fixed(&c, "lp-x 1"), -EBADMSG);
}

static void
test_rec_take_line_points_at_the_value(void **state)
{
	struct lp_rec c;
	const char *val = NULL;
	size_t vlen = 0;

	(void)state;
	c = cursor("node gpu01\npeer \nend\n");
	assert_int_equal(lp_rec_take_line(&c, "node", &val, &vlen), 0);
	assert_int_equal(vlen, 5);
	assert_memory_equal(val, "gpu01", 5);
	/* An empty value is the caller's to refuse. */
	assert_int_equal(lp_rec_take_line(&c, "peer", &val, &vlen), 0);
	assert_int_equal(vlen, 0);
	assert_true(lp_rec_at_end(&c, "end"));
}

static void
test_rec_take_line_refuses_and_stays_put(void **state)
{
	static const char *const bad[] = {
		"nodes gpu01\n",	/* another key that starts alike */
		"nod gpu01\n",
		"node\n",		/* no space, no value */
		"node\tgpu01\n",
		" node gpu01\n",
		"node gpu01",		/* no '\n' */
		"",
		"\n",
	};
	struct lp_rec c;
	const char *start, *val = "unset";
	size_t i, vlen = 42;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = cursor(bad[i]);
		start = c.p;
		assert_int_equal(lp_rec_take_line(&c, "node", &val, &vlen),
		    -EBADMSG);
		assert_ptr_equal(c.p, start);
	}
	assert_string_equal(val, "unset");
	assert_int_equal(vlen, 42);
}

static void
test_rec_parse_u64_takes_canonical_digits_up_to_the_bounds(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(parse("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse("65535", 1024, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(parse("1024", 1024, 65535, &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(parse("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse("3", 0, 3, &v), 0);
	assert_int_equal(v, 3);
}

static void
test_rec_parse_u64_refuses_other_spellings_and_values(void **state)
{
	static const char *const bad[] = {
		"", "01", "00", "+1", "-1", " 1", "1 ", "1a", "0x10", "1e3",
		"18446744073709551616", "99999999999999999999",
		"000000000000000000001",
	};
	uint64_t v = 7;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], 0, UINT64_MAX, &v), -EBADMSG);
	assert_int_equal(parse("65536", 0, 65535, &v), -EBADMSG);
	assert_int_equal(parse("1023", 1024, 65535, &v), -EBADMSG);
	assert_int_equal(parse("0", 1, 10, &v), -EBADMSG);
	/* A bound below 9 is no reason for a digit to wrap past it. */
	assert_int_equal(parse("5", 0, 3, &v), -EBADMSG);
	assert_int_equal(parse("9", 0, 0, &v), -EBADMSG);
	assert_int_equal(v, 7);
}

static void
test_rec_take_u64_reads_a_numeric_line(void **state)
{
	struct lp_rec c;
	uint64_t v = 0;

	(void)state;
	c = cursor("pid 4242\npid 0\nport 80\n");
	assert_int_equal(lp_rec_take_u64(&c, "pid", 1, INT32_MAX, &v), 0);
	assert_int_equal(v, 4242);
	assert_int_equal(lp_rec_take_u64(&c, "pid", 1, INT32_MAX, &v),
	    -EBADMSG);
	assert_int_equal(lp_rec_take_u64(&c, "port", 1024, 65535, &v),
	    -EBADMSG);
	assert_int_equal(v, 4242);
}

static void
test_rec_at_end_wants_the_end_line_and_nothing_more(void **state)
{
	struct lp_rec c;

	(void)state;
	c = cursor("end\n");
	assert_true(lp_rec_at_end(&c, "end"));
	c = cursor("end\n\n");
	assert_false(lp_rec_at_end(&c, "end"));
	c = cursor("end\nx");
	assert_false(lp_rec_at_end(&c, "end"));
	c = cursor("end");
	assert_false(lp_rec_at_end(&c, "end"));
	c = cursor("en\n");
	assert_false(lp_rec_at_end(&c, "end"));
	c = cursor("ends\n");
	assert_false(lp_rec_at_end(&c, "end"));
	c = cursor("");
	assert_false(lp_rec_at_end(&c, "end"));
}

static void
test_rec_is_word_wants_printable_bytes_without_spaces(void **state)
{
	static const char *const words[] = {
		"a", "192.0.2.1", "2001:db8::1", "$y$j9T$salt$hash", "!~",
	};
	static const char *const not_words[] = {
		"", "a b", " a", "a ", "a\tb", "a\n", "\x7f", "caf\xc3\xa9",
		"\x01",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		assert_true(lp_rec_is_word(words[i], strlen(words[i])));
	for (i = 0; i < sizeof(not_words) / sizeof(not_words[0]); i++)
		assert_false(lp_rec_is_word(not_words[i],
		    strlen(not_words[i])));
	/* The length decides: a NUL inside is no printable byte. */
	assert_false(lp_rec_is_word("ab\0cd", 5));
	assert_true(lp_rec_is_word("ab cd", 2));
	assert_false(lp_rec_is_word(NULL, 0));
}

static void
test_rec_reads_a_whole_record_in_order(void **state)
{
	struct lp_rec c;
	const char *val;
	size_t vlen;
	uint64_t v;

	(void)state;
	c = cursor("lp-x 1\nname a\nsize 3\nend\n");
	assert_int_equal(lp_rec_take_fixed(&c, "lp-x 1"), 0);
	assert_int_equal(lp_rec_take_line(&c, "name", &val, &vlen), 0);
	assert_int_equal(lp_rec_take_u64(&c, "size", 0, 10, &v), 0);
	assert_false(lp_rec_at_end(&c, "lp-x 1"));
	assert_true(lp_rec_at_end(&c, "end"));
	/* Fields out of order are refused: the format has one order. */
	c = cursor("lp-x 1\nsize 3\nname a\nend\n");
	assert_int_equal(lp_rec_take_fixed(&c, "lp-x 1"), 0);
	assert_int_equal(lp_rec_take_line(&c, "name", &val, &vlen), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_init_refuses_null_and_nul_bytes),
		cmocka_unit_test(test_rec_take_fixed_takes_only_the_exact_line),
		cmocka_unit_test(test_rec_take_line_points_at_the_value),
		cmocka_unit_test(test_rec_take_line_refuses_and_stays_put),
		cmocka_unit_test(
		    test_rec_parse_u64_takes_canonical_digits_up_to_the_bounds),
		cmocka_unit_test(
		    test_rec_parse_u64_refuses_other_spellings_and_values),
		cmocka_unit_test(test_rec_take_u64_reads_a_numeric_line),
		cmocka_unit_test(
		    test_rec_at_end_wants_the_end_line_and_nothing_more),
		cmocka_unit_test(
		    test_rec_is_word_wants_printable_bytes_without_spaces),
		cmocka_unit_test(test_rec_reads_a_whole_record_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
