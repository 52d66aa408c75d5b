/*
 * libFuzzer target for what a person types and what enrolment stores as
 * text: lp_totp_code_parse(), lp_recovery_parse() and lp_base32_decode().
 * The first byte picks the number of digits (6, 7 or 8); the rest, up to
 * its first NUL, is the input, as PAM hands it over.
 *
 * A code is accepted exactly when the input without its spaces is that
 * many decimal digits, and then it is those digits.  A recovery code that
 * is accepted comes out as "xxxx-xxxx-xxxx" in lower case and parses to
 * itself again.  Decoded base32 re-encodes to unpadded upper-case text
 * that decodes to the same bytes.  A code that parses is also verified
 * against a fixed secret, which may only match a step of the window.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp_util.h"
#include "recovery.h"
#include "totp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The fixed clock and secret of the verification (RFC 6238's seed). */
#define FUZZ_NOW	((time_t)1700000000)
static const unsigned char secret[] = "12345678901234567890";

/* The reference for a code: input without spaces, all digits, n long. */
static int
is_code(const char *input, unsigned digits, char *ret)
{
	size_t n = 0;

	for (; *input != '\0'; input++) {
		if (*input == ' ')
			continue;
		if (*input < '0' || *input > '9' || n == digits)
			return 0;
		ret[n++] = *input;
	}
	ret[n] = '\0';
	return n == digits;
}

static void
check_code(const char *input, unsigned digits)
{
	struct lp_totp_cfg cfg;
	char code[LP_TOTP_CODE_MAX + 1], want[LP_TOTP_CODE_MAX + 1];
	char again[LP_TOTP_CODE_MAX + 1];
	uint64_t step = 0, now_step;
	int r;

	memset(code, 0x5a, sizeof(code));
	r = lp_totp_code_parse(input, digits, code);
	if (r != 0 && r != -EINVAL)
		__builtin_trap();
	if ((r == 0) != is_code(input, digits, want))
		__builtin_trap();
	if (r != 0)
		return;
	if (strlen(code) != digits || strcmp(code, want) != 0)
		__builtin_trap();

	memset(&cfg, 0, sizeof(cfg));
	cfg.digits = digits;
	cfg.period = 30;
	cfg.algo = LP_TOTP_SHA1;
	cfg.window = 1;
	r = lp_totp_verify(secret, sizeof(secret) - 1, &cfg, FUZZ_NOW, code,
	    &step);
	if (r == -ENOENT)
		return;
	now_step = lp_totp_step(&cfg, FUZZ_NOW);
	if (r != 0 || step + 1 < now_step || step > now_step + 1)
		__builtin_trap();
	if (lp_totp_generate(secret, sizeof(secret) - 1, &cfg, step,
	    again) != 0 || strcmp(again, code) != 0)
		__builtin_trap();
}

static void
check_recovery(const char *input)
{
	char out[LP_RECOVERY_LEN + 1], back[LP_RECOVERY_LEN + 1];
	size_t i;

	if (lp_recovery_parse(input, out) != 0)
		return;
	if (strlen(out) != LP_RECOVERY_LEN)
		__builtin_trap();
	for (i = 0; i < LP_RECOVERY_LEN; i++) {
		if (i == 4 || i == 9) {
			if (out[i] != '-')
				__builtin_trap();
		} else if (!((out[i] >= 'a' && out[i] <= 'z') ||
		    (out[i] >= '2' && out[i] <= '9')))
			__builtin_trap();
	}
	if (lp_recovery_parse(out, back) != 0 || strcmp(out, back) != 0)
		__builtin_trap();
}

static void
check_base32(const char *input)
{
	unsigned char bin[LP_TOTP_SECRET_MAX], again[LP_TOTP_SECRET_MAX];
	char text[LP_BASE32_MAX + 1];
	size_t len = 0, len2 = 0, i;
	int r;

	r = lp_base32_decode(input, bin, sizeof(bin), &len);
	if (r == -EINVAL || r == -ENOBUFS)
		return;
	if (r != 0 || len == 0 || len > sizeof(bin))
		__builtin_trap();
	if (lp_base32_encode(bin, len, text, sizeof(text)) != 0)
		__builtin_trap();
	if (strlen(text) != (len * 8 + 4) / 5)
		__builtin_trap();
	for (i = 0; text[i] != '\0'; i++)
		if (!((text[i] >= 'A' && text[i] <= 'Z') ||
		    (text[i] >= '2' && text[i] <= '7')))
			__builtin_trap();
	if (lp_base32_decode(text, again, sizeof(again), &len2) != 0 ||
	    len2 != len || memcmp(bin, again, len) != 0)
		__builtin_trap();
	lp_wipe_array(bin);
	lp_wipe_array(again);
	lp_wipe_array(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input;
	unsigned digits;

	if (size == 0)
		return 0;
	digits = 6 + data[0] % 3;
	/* A copy of exactly the input, so that ASan sees any overread. */
	if ((input = malloc(size)) == NULL)
		return 0;
	memcpy(input, data + 1, size - 1);
	input[size - 1] = '\0';

	check_code(input, digits);
	check_recovery(input);
	check_base32(input);
	free(input);
	return 0;
}
