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


/* A bad state's log words: the error, then what the admin must look at. */
#define BAD_STATE(err, hint)	"reason=bad_state error=" err " " hint
#define HINT_OWNER	"(the state file must be owned by root, mode 0600)"
#define HINT_FILE	"(the state file must be a regular file with one link)"
#define HINT_DAMAGED	"(the state file is damaged: see lp-enroll-totp --status)"
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

/* ------------------------------------------------------ hostile input */

/*
 * Reads the enrolled user's state file whole, so that a test can show
 * that a refusal left it byte for byte as it was.
 */
static char *
read_state(size_t *ret_len)
{
	char path[512], *buf;
	size_t len;
	FILE *f;

	lp_pt_state_path(ENROLLED, path, sizeof(path));
	f = fopen(path, "r");
	assert_non_null(f);
	buf = calloc(1, 8192);
	assert_non_null(buf);
	len = fread(buf, 1, 8191, f);
	fclose(f);
	*ret_len = len;
	return buf;
}

static void
assert_state_unchanged(const char *before, size_t len)
{
	size_t now_len;
	char *now = read_state(&now_len);

	assert_int_equal(now_len, len);
	assert_memory_equal(now, before, len);
	free(now);
}

/*
 * A user name that cannot be an account is refused like an unknown user:
 * the same prompt and message, "user=<unknown> reason=not_enrolled" in
 * the log without the name, and no file made anywhere for it.
 */
static void
assert_hostile_user_refused(const char *user)
{
	struct lp_pt_conv c;
	char code[16], path[512];
	size_t len;
	char *before = read_state(&len);

	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", user, code, &c), PAM_AUTH_ERR);
	assert_int_equal(c.nprompts, 1);
	assert_string_equal(c.prompts[0], "Verification code: ");
	assert_int_equal(c.nerrors, 1);
	assert_string_equal(c.errors[0], MSG_FAILED);
	assert_logged(&c, "user=<unknown>", code);
	assert_logged(&c, "reason=not_enrolled", code);
	if (*user != '\0' && strstr(c.log, user) != NULL)
		fail_msg("the hostile name was logged");
	snprintf(path, sizeof(path), "%s/.x.lock", lp_pt_base());
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/x", lp_pt_base());
	assert_int_equal(access(path, F_OK), -1);
	assert_state_unchanged(before, len);
	free(before);
	lp_pt_conv_free(&c);
}

static void
test_user_name_with_dot_dot_is_refused_as_unknown(void **state)
{
	(void)state;
	assert_hostile_user_refused("../x");
	assert_hostile_user_refused("../" ENROLLED);
}

static void
test_user_name_with_a_slash_is_refused_as_unknown(void **state)
{
	(void)state;
	assert_hostile_user_refused("a/b");
	assert_hostile_user_refused("state/" ENROLLED);
}

static void
test_user_name_of_4_kib_is_refused_as_unknown(void **state)
{
	char name[4097];

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_hostile_user_refused(name);
}

static void
test_user_name_with_control_characters_is_refused_as_unknown(void **state)
{
	(void)state;
	assert_hostile_user_refused(ENROLLED "\n");
	assert_hostile_user_refused("dae\x1b[2Jmon");
	assert_hostile_user_refused("x\rreason=ok");
}

static void
test_user_name_of_invalid_utf8_is_refused_as_unknown(void **state)
{
	(void)state;
	assert_hostile_user_refused("\xff\xfe");
	assert_hostile_user_refused("daemo\xc3");
	assert_hostile_user_refused("d\xc0\xaf" "aemon");
}

static void
test_empty_user_name_is_refused_as_unknown(void **state)
{
	(void)state;
	assert_hostile_user_refused("");
}

/*
 * An answer that is no code is refused as a wrong code: the person's
 * message, "reason=bad_code failures=1" in the log, and the answer
 * never logged.
 */
static void
assert_refused_as_bad_code(const char *answer, const char *secret)
{
	struct lp_pt_conv c;

	assert_int_equal(auth_with("lp_totp", ENROLLED, answer, &c),
	    PAM_AUTH_ERR);
	assert_int_equal(c.nerrors, 1);
	assert_string_equal(c.errors[0], MSG_FAILED);
	assert_logged(&c, "reason=bad_code failures=1", secret);
	lp_pt_conv_free(&c);
	/* Each case starts again from no failure. */
	lp_pt_enroll(ENROLLED, SEED_B32, NULL);
}

static void
test_empty_code_is_refused_as_bad_code(void **state)
{
	char code[16];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_refused_as_bad_code("", code);
	assert_refused_as_bad_code("   ", code);
}

static void
test_code_of_seven_digits_is_refused_as_bad_code(void **state)
{
	char code[16], longer[24];

	(void)state;
	code_at(0, code, sizeof(code));
	snprintf(longer, sizeof(longer), "%s0", code);
	assert_refused_as_bad_code(longer, code);
	snprintf(longer, sizeof(longer), "0%s", code);
	assert_refused_as_bad_code(longer, code);
}

static void
test_code_with_a_plus_sign_is_refused_as_bad_code(void **state)
{
	char code[16], signed_code[24];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_refused_as_bad_code("+12345", code);
	/* Not even in front of the right code. */
	snprintf(signed_code, sizeof(signed_code), "+%s", code);
	assert_refused_as_bad_code(signed_code, code);
}

static void
test_code_with_a_minus_sign_is_refused_as_bad_code(void **state)
{
	char code[16], signed_code[24];

	(void)state;
	code_at(0, code, sizeof(code));
	assert_refused_as_bad_code("-12345", code);
	snprintf(signed_code, sizeof(signed_code), "-%s", code);
	assert_refused_as_bad_code(signed_code, code);
}

static void
test_code_with_a_no_break_space_is_refused_as_bad_code(void **state)
{
	char code[16], spaced[32];

	(void)state;
	code_at(0, code, sizeof(code));
	/* U+00A0 where an ASCII space would be accepted. */
	snprintf(spaced, sizeof(spaced), "%.3s\xc2\xa0%s", code, code + 3);
	assert_refused_as_bad_code(spaced, code);
	snprintf(spaced, sizeof(spaced), "%s\xc2\xa0", code);
	assert_refused_as_bad_code(spaced, code);
}

static void
test_mebibyte_of_digits_is_refused_as_bad_code(void **state)
{
	size_t n = 1024 * 1024;
	char code[16], *big;

	(void)state;
	code_at(0, code, sizeof(code));
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, '7', n);
	big[n] = '\0';
	assert_refused_as_bad_code(big, code);
	/* The right code first, then the rest of the mebibyte. */
	memcpy(big, code, strlen(code));
	assert_refused_as_bad_code(big, code);
	free(big);
}

/*
 * A conversation answer is a C string: a NUL ends it, so what follows
 * never reaches the module, and the digits before it are too few.
 */
static void
test_code_cut_by_a_nul_is_refused_as_bad_code(void **state)
{
	char code[16], cut[24];

	(void)state;
	code_at(0, code, sizeof(code));
	memcpy(cut, code, 3);
	cut[3] = '\0';
	memcpy(cut + 4, code + 3, 4);
	assert_refused_as_bad_code(cut, code);
}

/* A state file the module will not trust: refused, logged, left alone. */
static void
assert_state_refused(const char *logged)
{
	struct lp_pt_conv c;
	char code[16];
	size_t len;
	char *before = read_state(&len);

	code_at(0, code, sizeof(code));
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_AUTHINFO_UNAVAIL);
	assert_int_equal(c.nerrors, 1);
	assert_string_equal(c.errors[0], MSG_FAILED);
	assert_logged(&c, logged, code);
	assert_state_unchanged(before, len);
	free(before);
	lp_pt_conv_free(&c);
}

static void
put_state_text(const char *text, size_t len)
{
	char path[512];
	FILE *f;

	lp_pt_state_path(ENROLLED, path, sizeof(path));
	(void)unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static void
test_empty_state_file_is_refused_as_bad_message(void **state)
{
	(void)state;
	put_state_text("", 0);
	assert_state_refused(BAD_STATE("Bad message", HINT_DAMAGED));
}

static void
test_state_file_cut_at_every_byte_is_refused_as_bad_message(void **state)
{
	size_t len, cut;
	char *full;

	(void)state;
	full = read_state(&len);
	for (cut = 0; cut < len; cut++) {
		put_state_text(full, cut);
		assert_state_refused(BAD_STATE("Bad message", HINT_DAMAGED));
	}
	free(full);
}

static void
test_state_file_with_extra_field_is_refused_as_bad_message(void **state)
{
	static const char text[] = "lp-totp-state 1\nsecret " SEED_B32 "\n"
	    "last_step 0\nfailures 0\nlocked_until 0\nlast_success 0\n"
	    "enrolled 1\nadmin 1\nend\n";

	(void)state;
	put_state_text(text, sizeof(text) - 1);
	assert_state_refused(BAD_STATE("Bad message", HINT_DAMAGED));
}

static void
test_state_file_of_another_owner_is_refused_as_not_permitted(void **state)
{
	char path[512];

	(void)state;
	lp_pt_state_path(ENROLLED, path, sizeof(path));
	assert_int_equal(chown(path, 1, 0), 0);
	assert_state_refused(BAD_STATE("Operation not permitted", HINT_OWNER));
}

static void
test_state_file_of_mode_0644_is_refused_as_not_permitted(void **state)
{
	char path[512];

	(void)state;
	lp_pt_state_path(ENROLLED, path, sizeof(path));
	assert_int_equal(chmod(path, 0644), 0);
	assert_state_refused(BAD_STATE("Operation not permitted", HINT_OWNER));
}

static void
test_state_fifo_is_refused_without_blocking(void **state)
{
	struct lp_pt_conv c;
	char path[512], code[16];

	(void)state;
	lp_pt_state_path(ENROLLED, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	code_at(0, code, sizeof(code));
	(void)alarm(20);
	assert_int_equal(auth_with("lp_totp", ENROLLED, code, &c),
	    PAM_AUTHINFO_UNAVAIL);
	(void)alarm(0);
	assert_logged(&c, BAD_STATE("Invalid argument", HINT_FILE), code);
	lp_pt_conv_free(&c);
}

static void
test_hard_linked_state_file_is_refused(void **state)
{
	char path[512], other[600];

	(void)state;
	lp_pt_state_path(ENROLLED, path, sizeof(path));
	snprintf(other, sizeof(other), "%s/other", lp_pt_base());
	assert_int_equal(link(path, other), 0);
	assert_state_refused(BAD_STATE("Invalid argument", HINT_FILE));
	assert_int_equal(unlink(other), 0);
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
		T(test_user_name_with_dot_dot_is_refused_as_unknown),
		T(test_user_name_with_a_slash_is_refused_as_unknown),
		T(test_user_name_of_4_kib_is_refused_as_unknown),
		T(test_user_name_with_control_characters_is_refused_as_unknown),
		T(test_user_name_of_invalid_utf8_is_refused_as_unknown),
		T(test_empty_user_name_is_refused_as_unknown),
		T(test_empty_code_is_refused_as_bad_code),
		T(test_code_of_seven_digits_is_refused_as_bad_code),
		T(test_code_with_a_plus_sign_is_refused_as_bad_code),
		T(test_code_with_a_minus_sign_is_refused_as_bad_code),
		T(test_code_with_a_no_break_space_is_refused_as_bad_code),
		T(test_mebibyte_of_digits_is_refused_as_bad_code),
		T(test_code_cut_by_a_nul_is_refused_as_bad_code),
		T(test_empty_state_file_is_refused_as_bad_message),
		T(test_state_file_cut_at_every_byte_is_refused_as_bad_message),
		T(test_state_file_with_extra_field_is_refused_as_bad_message),
		T(test_state_file_of_another_owner_is_refused_as_not_permitted),
		T(test_state_file_of_mode_0644_is_refused_as_not_permitted),
		T(test_state_fifo_is_refused_without_blocking),
		T(test_hard_linked_state_file_is_refused),
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
