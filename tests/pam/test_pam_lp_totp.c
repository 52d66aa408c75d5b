/*
 * pam_lp_totp through real libpam under pam_wrapper: every outcome, the
 * PAM code it returns and the text the person sees.  Codes come from
 * oathtool, an implementation independent of the module.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/pam_appl.h>

#include "lp_util.h"
#include "recovery.h"
#include "pamtest_util.h"

/* RFC 6238's SHA-1 seed, "12345678901234567890", in base32. */
#define SEED_B32	"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
/* The same seed repeated to 32 bytes, RFC 6238's SHA-256 seed. */
#define SEED256_B32 \
	"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"

#define ENROLLED	"daemon"	/* accounts every Debian system has */
#define UNENROLLED	"bin"
#define UNKNOWN		"lp-no-such-user"

#define MSG_FAILED	"Invalid or already used verification code."
#define MSG_LOCKED \
	"Too many failed verification codes: this account is locked for now."

static const char policy_default[] =
	"totp:\n"
	"  issuer: Test\n"
	"  max_failures: 3\n"
	"  lockout: 300\n";

static int
setup(void **state)
{
	(void)state;
	lp_pt_setup_policy(policy_default);
	lp_pt_enroll(ENROLLED, SEED_B32, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	lp_pt_teardown_policy();
	return 0;
}

/* Runs one authentication answering `answer'; fills c. */
static int
auth_with(const char *service, const char *user, const char *answer,
    struct lp_pt_conv *c)
{
	memset(c, 0, sizeof(*c));
	c->answers[0] = answer;
	return lp_pt_authenticate(service, user, c);
}

/* The decision was logged with this word, and the secret never was. */
static void
assert_logged(const struct lp_pt_conv *c, const char *word,
    const char *secret)
{
	assert_non_null(c->log);
	if (strstr(c->log, word) == NULL)
		fail_msg("\"%s\" not logged", word);
	if (secret != NULL && strstr(c->log, secret) != NULL)
		fail_msg("the code or recovery code was logged");
}

static void
code_at(long offset, char *out, size_t size)
{
	lp_pt_oathtool(SEED_B32, "--totp", offset, out, size);
}

static void
test_right_code_is_accepted_silently(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_SUCCESS);
	assert_int_equal(c.nprompts, 1);
	assert_string_equal(c.prompts[0], "Verification code: ");
	assert_int_equal(c.nerrors, 0);
	assert_int_equal(c.ninfos, 0);
	assert_logged(&c, "user=daemon", code);
	assert_logged(&c, "reason=ok", code);
	lp_pt_conv_free(&c);
}

static void
test_code_with_spaces_inside_is_accepted(void **state)
{
	struct lp_pt_conv c;
	char code[16], spaced[24];

	(void)state;
	code_at(0, code, sizeof(code));
	snprintf(spaced, sizeof(spaced), "%.3s %s", code, code + 3);
	assert_int_equal(auth_with("lp_totp", ENROLLED, spaced, &c),
	    PAM_SUCCESS);
	lp_pt_conv_free(&c);
}

static void
test_wrong_code_is_refused_with_message(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	code[5] = code[5] == '9' ? '0' : (char)(code[5] + 1);
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_AUTH_ERR);
	assert_int_equal(c.nerrors, 1);
	assert_string_equal(c.errors[0], MSG_FAILED);
	assert_logged(&c, "reason=bad_code failures=1", code);
	lp_pt_conv_free(&c);
}

static void
test_same_code_twice_is_refused_the_second_time(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_SUCCESS);
	lp_pt_conv_free(&c);
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_AUTH_ERR);
	assert_string_equal(c.errors[0], MSG_FAILED);
	assert_logged(&c, "reason=replayed_code", code);
	lp_pt_conv_free(&c);
}

static void
test_earlier_step_is_refused_after_a_later_one(void **state)
{
	struct lp_pt_conv c;
	char later[16], earlier[16];

	(void)state;
	code_at(30, later, sizeof(later));
	code_at(-30, earlier, sizeof(earlier));
	assert_int_equal(auth_with("lp_totp", ENROLLED, later, &c),
	    PAM_SUCCESS);
	lp_pt_conv_free(&c);
	assert_int_equal(auth_with("lp_totp", ENROLLED, earlier, &c),
	    PAM_AUTH_ERR);
	lp_pt_conv_free(&c);
}

static void
test_code_two_steps_old_is_refused(void **state)
{
	struct lp_pt_conv c;
	char code[16], now[16];

	(void)state;
	code_at(-60, code, sizeof(code));
	code_at(0, now, sizeof(now));
	/* A collision with a code inside the window would prove nothing. */
	if (strcmp(code, now) == 0)
		skip();
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_AUTH_ERR);
	lp_pt_conv_free(&c);
}

static void
test_code_missing_a_digit_is_refused(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code + 1, &c),
	    PAM_AUTH_ERR);
	assert_string_equal(c.errors[0], MSG_FAILED);
	lp_pt_conv_free(&c);
}

static void
fail_times(const char *user, int n)
{
	struct lp_pt_conv c;
	int i;

	for (i = 0; i < n; i++) {
		assert_int_equal(auth_with("lp_totp", user, "000000x", &c),
		    PAM_AUTH_ERR);
		lp_pt_conv_free(&c);
	}
}

static void
test_third_failure_locks_and_says_so(void **state)
{
	struct lp_pt_conv c;

	(void)state;
	fail_times(ENROLLED, 2);
	assert_int_equal(auth_with("lp_totp", ENROLLED, "1", &c),
	    PAM_AUTH_ERR);
	assert_int_equal(c.nerrors, 1);
	assert_string_equal(c.errors[0], MSG_LOCKED);
	assert_logged(&c, "reason=bad_code lockout=start", NULL);
	lp_pt_conv_free(&c);
}

static void
test_locked_account_refuses_a_right_code(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	fail_times(ENROLLED, 3);
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_AUTH_ERR);
	assert_string_equal(c.errors[0], MSG_LOCKED);
	/* The message says nothing of how long the lock lasts. */
	assert_null(strstr(c.errors[0], "300"));
	assert_null(strstr(c.errors[0], "minute"));
	assert_logged(&c, "reason=locked", code);
	lp_pt_conv_free(&c);
}

static void
test_success_resets_the_failure_count(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	fail_times(ENROLLED, 2);
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_SUCCESS);
	lp_pt_conv_free(&c);
	fail_times(ENROLLED, 2);
	code_at(30, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_SUCCESS);
	lp_pt_conv_free(&c);
}

static void
test_recovery_code_works_once(void **state)
{
	char codes[2][LP_RECOVERY_LEN + 1];
	char hashes[2][LP_RECOVERY_HASH_MAX];
	const char *lines[3];
	struct lp_pt_conv c;

	(void)state;
	assert_int_equal(lp_recovery_generate(2, codes, hashes), 0);
	lines[0] = hashes[0];
	lines[1] = hashes[1];
	lines[2] = NULL;
	lp_pt_enroll(ENROLLED, SEED_B32, lines);

	assert_int_equal(auth_with("lp_totp", ENROLLED, codes[1], &c),
	    PAM_SUCCESS);
	assert_int_equal(c.ninfos, 1);
	assert_string_equal(c.infos[0], "Recovery code accepted; 1 left.");
	assert_logged(&c, "reason=recovery_code_used", codes[1]);
	lp_pt_conv_free(&c);
	assert_int_equal(auth_with("lp_totp", ENROLLED, codes[1], &c),
	    PAM_AUTH_ERR);
	assert_string_equal(c.errors[0], MSG_FAILED);
	lp_pt_conv_free(&c);
	lp_wipe_array(codes);
}

static void
test_unknown_user_gets_the_same_prompt_and_refusal(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", UNKNOWN, code, &c),
	    PAM_AUTH_ERR);
	assert_int_equal(c.nprompts, 1);
	assert_string_equal(c.prompts[0], "Verification code: ");
	assert_string_equal(c.errors[0], MSG_FAILED);
	/* The name may be a mistyped password: it is not logged. */
	assert_logged(&c, "user=<unknown>", code);
	assert_logged(&c, "reason=not_enrolled", UNKNOWN);
	lp_pt_conv_free(&c);
}

static void
test_unenrolled_user_gets_the_same_prompt_and_refusal(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", UNENROLLED, code, &c),
	    PAM_AUTH_ERR);
	assert_int_equal(c.nprompts, 1);
	assert_string_equal(c.prompts[0], "Verification code: ");
	assert_string_equal(c.errors[0], MSG_FAILED);
	lp_pt_conv_free(&c);
}

/* The nullok stack ends in pam_permit, so PAM_IGNORE shows as success. */
static void
test_nullok_lets_unenrolled_user_pass_unasked(void **state)
{
	struct lp_pt_conv c;

	(void)state;
	assert_int_equal(auth_with("lp_totp_nullok", UNENROLLED, NULL, &c),
	    PAM_SUCCESS);
	assert_int_equal(c.nprompts, 0);
	assert_logged(&c, "reason=not_enrolled nullok=1", NULL);
	lp_pt_conv_free(&c);
}

static void
test_nullok_still_asks_an_enrolled_user(void **state)
{
	struct lp_pt_conv c;

	(void)state;
	assert_int_equal(auth_with("lp_totp_nullok", ENROLLED, "123456", &c),
	    PAM_AUTH_ERR);
	assert_int_equal(c.nprompts, 1);
	lp_pt_conv_free(&c);
}

static void
test_prompt_option_changes_the_prompt(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp_prompt", ENROLLED, code, &c),
	    PAM_SUCCESS);
	assert_string_equal(c.prompts[0], "Code from your phone: ");
	lp_pt_conv_free(&c);
}

static void
test_unknown_option_is_a_service_error(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp_badopt", ENROLLED, code, &c),
	    PAM_SERVICE_ERR);
	assert_int_equal(c.nprompts, 0);
	assert_logged(&c, "unknown option: \"stat_dir=", NULL);
	lp_pt_conv_free(&c);
}

static void
test_missing_policy_is_a_service_error(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp_noconfig", ENROLLED, code, &c),
	    PAM_SERVICE_ERR);
	lp_pt_conv_free(&c);
}

static void
test_malformed_policy_is_a_service_error(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	lp_pt_setup_policy("totp:\n  digits: 7\n");
	lp_pt_enroll(ENROLLED, SEED_B32, NULL);
	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_SERVICE_ERR);
	assert_logged(&c, "lp.yaml:2:11: totp.digits: must be 6 or 8", NULL);
	lp_pt_conv_free(&c);
}

static void
test_eight_digit_sha256_policy_works(void **state)
{
	struct lp_pt_conv c;
	char code[16];

	(void)state;
	lp_pt_setup_policy("totp:\n  digits: 8\n  algorithm: sha256\n");
	lp_pt_enroll(ENROLLED, SEED256_B32, NULL);
	lp_pt_oathtool(SEED256_B32, "--totp=sha256 -d 8", 0, code,
	    sizeof(code));
	assert_int_equal(strlen(code), 8);
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_SUCCESS);
	lp_pt_conv_free(&c);
	/* Six of the eight digits are not a code. */
	lp_pt_oathtool(SEED256_B32, "--totp=sha256 -d 8", 30, code,
	    sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code + 2, &c),
	    PAM_AUTH_ERR);
	lp_pt_conv_free(&c);
}

static void
refused_with_state_error(const char *logged)
{
	struct lp_pt_conv c;
	char code[16];

	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_AUTHINFO_UNAVAIL);
	assert_logged(&c, logged, code);
	lp_pt_conv_free(&c);
}

static void
test_group_readable_state_file_is_refused(void **state)
{
	char path[512];

	(void)state;
	lp_pt_state_path(ENROLLED, path, sizeof(path));
	assert_int_equal(chmod(path, 0640), 0);
	refused_with_state_error("reason=bad_state");
}

static void
test_state_file_of_another_owner_is_refused(void **state)
{
	char path[512];

	(void)state;
	lp_pt_state_path(ENROLLED, path, sizeof(path));
	assert_int_equal(chown(path, 1, 1), 0);
	refused_with_state_error("reason=bad_state");
}

static void
test_symlinked_state_file_is_refused(void **state)
{
	char path[512], target[600];

	(void)state;
	lp_pt_state_path(ENROLLED, path, sizeof(path));
	snprintf(target, sizeof(target), "%s.real", path);
	assert_int_equal(rename(path, target), 0);
	assert_int_equal(symlink(target, path), 0);
	refused_with_state_error("reason=bad_state");
}

static void
test_malformed_state_file_is_refused(void **state)
{
	char path[512];
	FILE *f;

	(void)state;
	lp_pt_state_path(ENROLLED, path, sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("lp-totp-state 1\nsecret " SEED_B32 "\n", f);
	fclose(f);
	refused_with_state_error("reason=bad_state");
}

static void
test_world_readable_state_directory_is_refused(void **state)
{
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/state", lp_pt_base());
	assert_int_equal(chmod(path, 0755), 0);
	refused_with_state_error("it must be owned by root, mode 0700");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_right_code_is_accepted_silently),
		T(test_code_with_spaces_inside_is_accepted),
		T(test_wrong_code_is_refused_with_message),
		T(test_same_code_twice_is_refused_the_second_time),
		T(test_earlier_step_is_refused_after_a_later_one),
		T(test_code_two_steps_old_is_refused),
		T(test_code_missing_a_digit_is_refused),
		T(test_third_failure_locks_and_says_so),
		T(test_locked_account_refuses_a_right_code),
		T(test_success_resets_the_failure_count),
		T(test_recovery_code_works_once),
		T(test_unknown_user_gets_the_same_prompt_and_refusal),
		T(test_unenrolled_user_gets_the_same_prompt_and_refusal),
		T(test_nullok_lets_unenrolled_user_pass_unasked),
		T(test_nullok_still_asks_an_enrolled_user),
		T(test_prompt_option_changes_the_prompt),
		T(test_unknown_option_is_a_service_error),
		T(test_missing_policy_is_a_service_error),
		T(test_malformed_policy_is_a_service_error),
		T(test_eight_digit_sha256_policy_works),
		T(test_group_readable_state_file_is_refused),
		T(test_state_file_of_another_owner_is_refused),
		T(test_symlinked_state_file_is_refused),
		T(test_malformed_state_file_is_refused),
		T(test_world_readable_state_directory_is_refused),
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
