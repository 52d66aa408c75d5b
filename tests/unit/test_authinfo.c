/*
 * lib/authinfo.c: SSH_AUTH_INFO_0 as sshd writes it is read, and every
 * other text (empty, cut, malformed, several keys, certificates, other
 * methods, control characters, oversized) is refused with its code.
 * Blobs for FIDO keys and certificates are built by the test, since
 * ssh-keygen makes neither without a token or a CA.
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

#include <cmocka.h>

#include "authinfo.h"

/* An ed25519 key's base64, cut where the tests change a character. */
#define ED_HEAD	"AAAAC3NzaC1lZDI1NTE5AAAAIGNlU4CNQLQ7"
#define ED_TAIL	"YWEPJS/0kINslrXq8cx2LuuOVLVXexT"
#define ED_KEY	"ssh-ed25519 " ED_HEAD "D" ED_TAIL
#define ED_KEY2	"ssh-ed25519 " \
	"AAAAC3NzaC1lZDI1NTE5AAAAIN7ESi46ePlgSAjehpnMYih1nv2IETuunIc6PncGpk4u"
/* An ECDSA key's base64 but its last group, "xQA=". */
#define EC_BODY	\
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPXeC4LrdtH/Wjw+" \
	"kMg3Mdpqh9DCObKrMrCj1J94JPJmmNydcbrNVBXqnq0FQqX/kzmZQV30qfOsTskDgbb3"
#define EC_KEY	"ecdsa-sha2-nistp256 " EC_BODY "xQA="
#define RSA_KEY	"ssh-rsa " \
	"AAAAB3NzaC1yc2EAAAADAQABAAABgQDjF3zi3w3e1Zs1pGOtU8FRY0HAjMyioLiwCQ2v" \
	"8PpvAVjGc6knxixEuINBiBgbWAkK6ig9qags2qYbdiwTBo4Ua7ShhdTo4wnU7RCNFKY3" \
	"cn6ievkV25uWxtfOWUptAi0DOpjvKFq0yro9zrJMdpAJEOK2jckK1E8AmNI7RWblE7qH" \
	"stI5JoUlokNQ4fk2oMDYPmsjAPLSuZOX7d+XYiRooMNqen43NXH4V+vfOcNz2qfgdGZ0" \
	"NFRxfW6V4g1J1TpnyGPLj51doVfSfOq4i7qDzQWrjyv8ckMG30fhIWOogKEOtsqvsZMM" \
	"bMY05Mev9VSNEc4IZamyDHCePu75Uoe22Nd0OAmIM9NDjzgG07uU71qs3Oc6XN/7pgOg" \
	"kK8QtEBsavu+StIXhzcKQV18WsmRuW/V4sTVekhNiO6r9m3NXEEfUX4gEiwcKcAWuU5D" \
	"aJa7Q3iztt7a71TE93fzPDb/YR2V0LfwiMoJtWFXQeDX1ob3GMtHA4pUiiF0ogyOGhc="
#define KBD	"keyboard-interactive/pam\n"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
b64_encode(const unsigned char *in, size_t len, char *out, size_t size)
{
	size_t i, o = 0;
	uint32_t v;

	assert_true((len + 2) / 3 * 4 < size);
	for (i = 0; i < len; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
}

/*
 * "publickey TYPE BASE64\n" for a blob that names inner as its type and
 * holds extra bytes after it (nothing when extra is 0).
 */
static void
make_line(const char *type, const char *inner, size_t extra, char *out,
    size_t size)
{
	unsigned char blob[256];
	char b64[512];
	size_t tlen = strlen(inner), i, n = 0;

	assert_true(4 + tlen + extra <= sizeof(blob));
	blob[n++] = (unsigned char)(tlen >> 24);
	blob[n++] = (unsigned char)(tlen >> 16);
	blob[n++] = (unsigned char)(tlen >> 8);
	blob[n++] = (unsigned char)tlen;
	memcpy(blob + n, inner, tlen);
	n += tlen;
	for (i = 0; i < extra; i++)
		blob[n++] = (unsigned char)(i * 7 + 1);
	b64_encode(blob, n, b64, sizeof(b64));
	assert_true(snprintf(out, size, "publickey %s %s\n", type, b64) <
	    (int)size);
}

static int
parse(const char *info, char *out, size_t size)
{
	return lp_authinfo_publickey(info, out, size);
}

static void
assert_key(const char *info, const char *want)
{
	char out[LP_AUTHINFO_KEY_MAX];

	assert_int_equal(parse(info, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void
assert_refused(const char *info, int want)
{
	char out[LP_AUTHINFO_KEY_MAX];
	int r;

	(void)strcpy(out, "untouched");
	r = parse(info, out, sizeof(out));
	if (r != want)
		fail_msg("got %d, not %d, for \"%s\"", r, want, info);
	assert_string_equal(out, "untouched");
}

static void
test_authinfo_reads_the_key_of_key_only_login(void **state)
{
	(void)state;
	assert_key("publickey " ED_KEY "\n", ED_KEY);
	assert_key("publickey " EC_KEY "\n", EC_KEY);
	assert_key("publickey " RSA_KEY "\n", RSA_KEY);
}

static void
test_authinfo_reads_key_of_key_and_code_login(void **state)
{
	(void)state;
	assert_key("publickey " ED_KEY "\n" KBD, ED_KEY);
	assert_key(KBD "publickey " ED_KEY "\n", ED_KEY);
}

static void
test_authinfo_reads_fido_keys(void **state)
{
	char line[512], want[512];

	(void)state;
	make_line("sk-ssh-ed25519@openssh.com", "sk-ssh-ed25519@openssh.com",
	    50, line, sizeof(line));
	(void)snprintf(want, sizeof(want), "%.*s",
	    (int)(strlen(line) - strlen("publickey ") - 1),
	    line + strlen("publickey "));
	assert_key(line, want);
	make_line("sk-ecdsa-sha2-nistp256@openssh.com",
	    "sk-ecdsa-sha2-nistp256@openssh.com", 90, line, sizeof(line));
	(void)snprintf(want, sizeof(want), "%.*s",
	    (int)(strlen(line) - strlen("publickey ") - 1),
	    line + strlen("publickey "));
	assert_key(line, want);
}

static void
test_authinfo_reports_nothing_for_empty_value(void **state)
{
	(void)state;
	assert_refused(NULL, -ENODATA);
	assert_refused("", -ENODATA);
}

static void
test_authinfo_reports_no_key_for_code_only(void **state)
{
	(void)state;
	assert_refused(KBD, -ENOENT);
}

static void
test_authinfo_refuses_text_without_final_newline(void **state)
{
	(void)state;
	assert_refused("publickey " ED_KEY, -EBADMSG);
	assert_refused("publickey " ED_KEY "\n" "keyboard-interactive/pam",
	    -EBADMSG);
	assert_refused("keyboard-interactive/pam", -EBADMSG);
	assert_refused("x", -EBADMSG);
}

static void
test_authinfo_refuses_every_truncation(void **state)
{
	const char *full = "publickey " ED_KEY "\n" KBD;
	char buf[512], out[LP_AUTHINFO_KEY_MAX];
	size_t len, n = strlen(full);
	int r;

	(void)state;
	for (len = 1; len < n; len++) {
		memcpy(buf, full, len);
		buf[len] = '\0';
		r = parse(buf, out, sizeof(out));
		/* Cut just after the first line: a whole, shorter text. */
		if (len == strlen("publickey " ED_KEY "\n")) {
			assert_int_equal(r, 0);
			continue;
		}
		if (r == 0)
			fail_msg("cut at %zu accepted", len);
		assert_true(r == -EBADMSG || r == -EPROTONOSUPPORT);
	}
}

static void
test_authinfo_refuses_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"\n",
		"\n\n",
		"publickey " ED_KEY "\n\n",
		"\npublickey " ED_KEY "\n",
		"publickey\n",
		"publickey \n",
		"publickey  " ED_KEY "\n",
		"publickey " ED_KEY " \n",
		"publickey " ED_KEY " comment\n",
		"publickey ssh-ed25519  " ED_HEAD "D" ED_TAIL "\n",
		"publickey ssh-ed25519\n",
		"publickey ssh-ed25519 \n",
		" publickey " ED_KEY "\n",
		"Publickey " ED_KEY "\n",
		"publickey\t" ED_KEY "\n",
		"publickey " ED_KEY "\r\n",
		"publickey " ED_KEY "\n" "keyboard-interactive/pam \n",
		"publickey " ED_KEY "\n" "keyboard-interactive\n",
		"publickey " ED_KEY "\n" "keyboard-interactive/bsdauth\n",
		"publickey " ED_KEY "\n" "password\n",
		"password\n",
		"hostbased " ED_KEY "\n",
		"gssapi-with-mic\n",
		"none\n",
		"publickey " ED_KEY "\n" KBD KBD,
		/* two keys: no one key to judge, even the same one twice */
		"publickey " ED_KEY "\n" "publickey " ED_KEY2 "\n",
		"publickey " ED_KEY "\n" "publickey " ED_KEY "\n",
		"publickey " ED_KEY "\n" KBD "publickey " ED_KEY2 "\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], -EBADMSG);
}

static void
test_authinfo_refuses_non_canonical_base64(void **state)
{
	static const char *const bad[] = {
		/* no padding, stray bits, short, '=' inside, bad chars */
		"publickey ecdsa-sha2-nistp256 " EC_BODY "xQA\n",
		"publickey ecdsa-sha2-nistp256 " EC_BODY "xQB=\n",
		"publickey ssh-ed25519 " ED_HEAD
		    "DYWEPJS/0kINslrXq8cx2LuuOVLVXex\n",
		"publickey ssh-ed25519 " ED_HEAD "=" ED_TAIL "\n",
		"publickey ssh-ed25519 " ED_HEAD "-" ED_TAIL "\n",
		"publickey ssh-ed25519 " ED_HEAD "_" ED_TAIL "\n",
		"publickey ssh-ed25519 ====\n",
		"publickey ssh-ed25519 A===\n",
		"publickey ssh-ed25519 AAAA\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], -EBADMSG);
}

static void
test_authinfo_refuses_blob_of_another_type(void **state)
{
	char line[512];

	(void)state;
	/* The text says ed25519, the blob says RSA. */
	make_line("ssh-ed25519", "ssh-rsa", 40, line, sizeof(line));
	assert_refused(line, -EBADMSG);
	/* Right type, but no key after it. */
	make_line("ssh-ed25519", "ssh-ed25519", 0, line, sizeof(line));
	assert_refused(line, -EBADMSG);
	/* A type prefix, or a length that runs past the blob. */
	make_line("ssh-ed25519", "ssh-ed2551", 40, line, sizeof(line));
	assert_refused(line, -EBADMSG);
	assert_refused("publickey ssh-ed25519 AAAAAA==\n", -EBADMSG);
	assert_refused("publickey ssh-ed25519 /////w==\n", -EBADMSG);
	assert_refused("publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n",
	    -EBADMSG);
	/* A FIDO type named in the text, a plain key in the blob. */
	make_line("sk-ssh-ed25519@openssh.com", "ssh-ed25519", 40, line,
	    sizeof(line));
	assert_refused(line, -EBADMSG);
}

static void
test_authinfo_refuses_certificates(void **state)
{
	static const char *const certs[] = {
		"ssh-ed25519-cert-v01@openssh.com",
		"ecdsa-sha2-nistp256-cert-v01@openssh.com",
		"ssh-rsa-cert-v01@openssh.com",
		"sk-ssh-ed25519-cert-v01@openssh.com",
	};
	char line[512], withinfo[768];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		make_line(certs[i], certs[i], 80, line, sizeof(line));
		assert_refused(line, -EPROTONOSUPPORT);
		/* As sshd writes it: the ID, serial and CA follow. */
		line[strlen(line) - 1] = '\0';
		(void)snprintf(withinfo, sizeof(withinfo), "%s ID node "
		    "(serial 7) CA ssh-ed25519 SHA256:abc\n" KBD, line);
		assert_refused(withinfo, -EPROTONOSUPPORT);
	}
}

static void
test_authinfo_refuses_key_types_the_registry_does_not_take(void **state)
{
	char line[512];

	(void)state;
	make_line("ssh-dss", "ssh-dss", 80, line, sizeof(line));
	assert_refused(line, -EPROTONOSUPPORT);
	make_line("ssh-ed448", "ssh-ed448", 57, line, sizeof(line));
	assert_refused(line, -EPROTONOSUPPORT);
	make_line("rsa-sha2-512", "rsa-sha2-512", 80, line, sizeof(line));
	assert_refused(line, -EPROTONOSUPPORT);
	assert_refused("publickey SSH-ED25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNlU4CNQ"
	    "LQ7DYWEPJS/0kINslrXq8cx2LuuOVLVXexT\n", -EPROTONOSUPPORT);
}

static void
test_authinfo_refuses_control_and_non_ascii_bytes(void **state)
{
	char buf[256];
	size_t i, len;
	int ch;

	(void)state;
	(void)snprintf(buf, sizeof(buf), "publickey %s\n", ED_KEY);
	len = strlen(buf);
	for (ch = 1; ch < 256; ch++) {
		if (ch >= ' ' && ch <= '~')
			continue;
		if (ch == '\n')
			continue;
		for (i = 0; i < len; i += 13) {
			char copy[256];

			memcpy(copy, buf, len + 1);
			copy[i] = (char)ch;
			assert_refused(copy, -EBADMSG);
		}
	}
	assert_refused("publickey " ED_KEY "\n" "keyboard-interactive/pam"
	    "\x1b\n", -EBADMSG);
	assert_refused("publickey " ED_KEY "\n" "\xc3\xa9\n", -EBADMSG);
}

static void
test_authinfo_refuses_text_over_64_kib(void **state)
{
	size_t n = LP_AUTHINFO_MAX + 1, i;
	char *big, out[LP_AUTHINFO_KEY_MAX];

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	/* Whole lines of "keyboard-interactive/pam" would be refused too. */
	for (i = 0; i < n; i++)
		big[i] = 'a';
	big[n - 1] = '\n';
	big[n] = '\0';
	assert_int_equal(parse(big, out, sizeof(out)), -EBADMSG);
	/* Far longer, without NUL inside the first 64 KiB + 1. */
	big[n - 1] = 'a';
	assert_int_equal(parse(big, out, sizeof(out)), -EBADMSG);
	free(big);
}

static void
test_authinfo_reports_small_output_buffer(void **state)
{
	char out[sizeof(ED_KEY)];

	(void)state;
	(void)strcpy(out, "untouched");
	assert_int_equal(parse("publickey " ED_KEY "\n", out, sizeof(out) - 1),
	    -ENOBUFS);
	assert_string_equal(out, "untouched");
	assert_int_equal(parse("publickey " ED_KEY "\n", out, 0), -ENOBUFS);
	assert_int_equal(parse("publickey " ED_KEY "\n", out, sizeof(out)), 0);
	assert_string_equal(out, ED_KEY);
	assert_int_equal(parse("publickey " ED_KEY "\n", NULL, 10), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authinfo_reads_the_key_of_key_only_login),
		cmocka_unit_test(test_authinfo_reads_key_of_key_and_code_login),
		cmocka_unit_test(test_authinfo_reads_fido_keys),
		cmocka_unit_test(test_authinfo_reports_nothing_for_empty_value),
		cmocka_unit_test(test_authinfo_reports_no_key_for_code_only),
		cmocka_unit_test(
		    test_authinfo_refuses_text_without_final_newline),
		cmocka_unit_test(test_authinfo_refuses_every_truncation),
		cmocka_unit_test(test_authinfo_refuses_malformed_lines),
		cmocka_unit_test(test_authinfo_refuses_non_canonical_base64),
		cmocka_unit_test(test_authinfo_refuses_blob_of_another_type),
		cmocka_unit_test(test_authinfo_refuses_certificates),
		cmocka_unit_test(
		    test_authinfo_refuses_key_types_the_registry_does_not_take),
		cmocka_unit_test(
		    test_authinfo_refuses_control_and_non_ascii_bytes),
		cmocka_unit_test(test_authinfo_refuses_text_over_64_kib),
		cmocka_unit_test(test_authinfo_reports_small_output_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
