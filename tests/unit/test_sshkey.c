/*
 * lib/sshkey.c: the key types of the registry, canonical base64, and the
 * type a key's blob names, as lib/cfg.c and lib/authinfo.c use them.
 * Blobs are written out byte by byte, and their base64 was made with
 * another encoder, so that no test reads its own encoding back.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sshkey.h"

/* An ed25519 key, and its type's blob with nothing after the type. */
#define ED_B64	"AAAAC3NzaC1lZDI1NTE5AAAAIGNlU4CNQLQ7" \
		"DYWEPJS/0kINslrXq8cx2LuuOVLVXexT"
#define ED_BARE	"AAAAC3NzaC1lZDI1NTE5"
/* An ssh-rsa blob ending one byte after its type. */
#define RSA_B64	"AAAAB3NzaC1yc2EB"
/* A blob naming "ssh-ed2551", one byte short of ssh-ed25519. */
#define SHORT_B64 "AAAACnNzaC1lZDI1NTF4eQ=="

/* Checks s in full, into a head as large as the callers use. */
static int
decode(const char *s, unsigned char *head, size_t *ret_len)
{
	return lp_sshkey_b64_decode(s, strlen(s), head, LP_SSHKEY_HEAD_MAX,
	    ret_len);
}

static int
check(const char *type, const char *b64)
{
	return lp_sshkey_check(type, strlen(type), b64, strlen(b64));
}

static void
test_sshkey_type_known_takes_exactly_the_registry_types(void **state)
{
	static const char *const yes[] = {
		"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521", "ssh-rsa",
		"sk-ssh-ed25519@openssh.com",
		"sk-ecdsa-sha2-nistp256@openssh.com",
	};
	static const char *const no[] = {
		"ssh-dss", "ssh-ed25519-cert-v01@openssh.com", "SSH-RSA",
		"ssh-rs", "ssh-rsa ", "ecdsa-sha2-nistp255", "",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_int_equal(lp_sshkey_type_known(yes[i], strlen(yes[i])),
		    1);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(lp_sshkey_type_known(no[i], strlen(no[i])),
		    0);
	/* The length decides: a prefix of a longer text is no type. */
	assert_int_equal(lp_sshkey_type_known("ssh-rsa-x", 7), 1);
	assert_int_equal(lp_sshkey_type_known("ssh-rsa", 6), 0);
	assert_int_equal(lp_sshkey_type_known(NULL, 0), 0);
}

static void
test_sshkey_b64_decode_reads_each_padding(void **state)
{
	unsigned char head[LP_SSHKEY_HEAD_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(decode("TWFu", head, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(head, "Man", 3);
	assert_int_equal(decode("TWE=", head, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(head, "Ma", 2);
	assert_int_equal(decode("TQ==", head, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(head, "M", 1);
	assert_int_equal(decode("+/+/", head, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(head, "\xfb\xff\xbf", 3);
}

static void
test_sshkey_b64_decode_fills_only_the_head_but_counts_all(void **state)
{
	unsigned char head[4] = { 0, 0, 0, 0 };
	size_t n = 0;

	(void)state;
	assert_int_equal(lp_sshkey_b64_decode("TWFuTWFu", 8, head, 2, &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(head, "Ma\0\0", 4);
	assert_int_equal(lp_sshkey_b64_decode("TWFu", 4, NULL, 0, &n), 0);
	assert_int_equal(n, 3);
}

static void
test_sshkey_b64_decode_refuses_other_spellings(void **state)
{
	static const char *const bad[] = {
		"",		/* nothing */
		"TWF",		/* not a multiple of four */
		"TWFuT",
		"TR==",		/* bits past the padding */
		"TWF=",
		"T===",		/* three padding characters */
		"====",
		"TW=u",		/* padding inside */
		"TW==TWFu",
		"TW u",		/* a space */
		"TWFu\n",
		"-_ab",		/* the URL-safe alphabet */
	};
	unsigned char head[LP_SSHKEY_HEAD_MAX];
	size_t i, n = 77;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode(bad[i], head, &n), -EBADMSG);
	/* A NUL byte inside the text is no base64 either. */
	assert_int_equal(lp_sshkey_b64_decode("TWFu\0AAA", 8, head,
	    sizeof(head), &n), -EBADMSG);
	assert_int_equal(lp_sshkey_b64_decode(NULL, 4, head, sizeof(head),
	    &n), -EBADMSG);
	assert_int_equal(n, 77);
}

static void
test_sshkey_blob_type_reads_the_leading_ssh_string(void **state)
{
	static const unsigned char blob[] =
	    "\0\0\0\x07ssh-rsa\x01\x02";
	const unsigned char *t = NULL;
	size_t tlen = 0;

	(void)state;
	assert_int_equal(lp_sshkey_blob_type(blob, 13, 13, &t, &tlen), 0);
	assert_int_equal(tlen, 7);
	assert_ptr_equal(t, blob + 4);
	/* The head may end right after the type; the blob may go on. */
	assert_int_equal(lp_sshkey_blob_type(blob, 11, 4096, &t, &tlen), 0);
	assert_int_equal(tlen, 7);
}

static void
test_sshkey_blob_type_refuses_a_string_past_the_end(void **state)
{
	static const unsigned char blob[] = "\0\0\0\x07ssh-rsa";
	static const unsigned char huge[] = "\xff\xff\xff\xfessh-rsa";
	const unsigned char *t = NULL;
	size_t tlen = 99;

	(void)state;
	/* Shorter than its length. */
	assert_int_equal(lp_sshkey_blob_type(blob, 10, 10, &t, &tlen),
	    -EBADMSG);
	/* Longer than the head that holds it. */
	assert_int_equal(lp_sshkey_blob_type(blob, 10, 4096, &t, &tlen),
	    -EBADMSG);
	/* Shorter than a length. */
	assert_int_equal(lp_sshkey_blob_type(blob, 3, 3, &t, &tlen),
	    -EBADMSG);
	/* A length near 2^32 does not wrap. */
	assert_int_equal(lp_sshkey_blob_type(huge, 11, 11, &t, &tlen),
	    -EBADMSG);
	/* A head longer than the blob is a caller's mistake. */
	assert_int_equal(lp_sshkey_blob_type(blob, 11, 10, &t, &tlen),
	    -EBADMSG);
	assert_null(t);
	assert_int_equal(tlen, 99);
}

static void
test_sshkey_blob_check_wants_the_type_and_more(void **state)
{
	static const unsigned char blob[] = "\0\0\0\x07ssh-rsa\x01";

	(void)state;
	assert_int_equal(lp_sshkey_blob_check("ssh-rsa", 7, blob, 12, 12), 0);
	assert_int_equal(lp_sshkey_blob_check("ssh-rsa", 7, blob, 11, 11),
	    -ENODATA);
	assert_int_equal(lp_sshkey_blob_check("ssh-rs", 6, blob, 12, 12),
	    -EBADMSG);
	assert_int_equal(lp_sshkey_blob_check("ssh-rsa2", 8, blob, 12, 12),
	    -EBADMSG);
	assert_int_equal(lp_sshkey_blob_check("ssh-dss", 7, blob, 12, 12),
	    -EBADMSG);
	assert_int_equal(lp_sshkey_blob_check(NULL, 0, blob, 12, 12),
	    -EBADMSG);
}

static void
test_sshkey_check_accepts_well_formed_keys(void **state)
{
	(void)state;
	assert_int_equal(check("ssh-ed25519", ED_B64), 0);
	assert_int_equal(check("ssh-rsa", RSA_B64), 0);
}

static void
test_sshkey_check_names_each_fault(void **state)
{
	(void)state;
	assert_int_equal(check("ssh-dss", ED_B64), -EPROTONOSUPPORT);
	assert_int_equal(check("ssh-ed25519-cert-v01@openssh.com", ED_B64),
	    -EPROTONOSUPPORT);
	assert_int_equal(check("ssh-ed25519", ""), -EBADMSG);
	assert_int_equal(check("ssh-ed25519", ED_B64 "="), -EBADMSG);
	assert_int_equal(check("ssh-ed25519", "AAAA"), -EBADMSG);
	assert_int_equal(check("ssh-rsa", ED_B64), -EBADMSG);
	assert_int_equal(check("ssh-ed25519", SHORT_B64), -EBADMSG);
	assert_int_equal(check("ssh-ed25519", ED_BARE), -ENODATA);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_sshkey_type_known_takes_exactly_the_registry_types),
		cmocka_unit_test(test_sshkey_b64_decode_reads_each_padding),
		cmocka_unit_test(
		    test_sshkey_b64_decode_fills_only_the_head_but_counts_all),
		cmocka_unit_test(
		    test_sshkey_b64_decode_refuses_other_spellings),
		cmocka_unit_test(
		    test_sshkey_blob_type_reads_the_leading_ssh_string),
		cmocka_unit_test(
		    test_sshkey_blob_type_refuses_a_string_past_the_end),
		cmocka_unit_test(
		    test_sshkey_blob_check_wants_the_type_and_more),
		cmocka_unit_test(test_sshkey_check_accepts_well_formed_keys),
		cmocka_unit_test(test_sshkey_check_names_each_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
