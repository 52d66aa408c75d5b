/* TOTP (RFC 6238) through liboath. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>

#include "lp_util.h"
#include "totp.h"

int
lp_base32_decode(const char *in, unsigned char *out, size_t outsize,
    size_t *ret_len)
{
	char *bin = NULL;
	size_t len = 0;
	int r = -EINVAL;

	if (in == NULL || *in == '\0')
		return -EINVAL;
	if (oath_init() != OATH_OK)
		return -EIO;
	/* liboath folds case, skips spaces and accepts missing padding. */
	if (oath_base32_decode(in, strlen(in), &bin, &len) != OATH_OK)
		goto out;
	if (len == 0)
		goto out;
	if (len > outsize) {
		r = -ENOBUFS;
		goto out;
	}
	memcpy(out, bin, len);
	*ret_len = len;
	r = 0;
out:
	lp_freezero(bin, len);
	return r;
}

int
lp_base32_encode(const unsigned char *in, size_t len, char *out,
    size_t outsize)
{
	char *text = NULL;
	size_t tlen = 0;
	int r = -EINVAL;

	if (oath_init() != OATH_OK)
		return -EIO;
	if (oath_base32_encode((const char *)in, len, &text, &tlen) != OATH_OK)
		goto out;
	/* otpauth URIs and state files carry base32 without padding. */
	while (tlen > 0 && text[tlen - 1] == '=')
		tlen--;
	if (tlen + 1 > outsize) {
		r = -ENOBUFS;
		goto out;
	}
	memcpy(out, text, tlen);
	out[tlen] = '\0';
	r = 0;
out:
	if (text != NULL)
		lp_freezero_str(text);
	return r;
}

/* liboath computes 6 to 8 digits; the policy allows 6 or 8. */
#define TOTP_DIGITS_MIN	6
/* Matches the policy's bound, so that a verification stays cheap. */
#define TOTP_WINDOW_MAX	10

static int
check_cfg(const struct lp_totp_cfg *cfg)
{
	if (cfg == NULL)
		return -EINVAL;
	if (cfg->digits < TOTP_DIGITS_MIN || cfg->digits > LP_TOTP_CODE_MAX)
		return -EINVAL;
	if (cfg->period == 0 || cfg->window > TOTP_WINDOW_MAX)
		return -EINVAL;
	if (cfg->algo != LP_TOTP_SHA1 && cfg->algo != LP_TOTP_SHA256 &&
	    cfg->algo != LP_TOTP_SHA512)
		return -EINVAL;
	return 0;
}

int
lp_totp_code_parse(const char *input, unsigned digits,
    char out[LP_TOTP_CODE_MAX + 1])
{
	char buf[LP_TOTP_CODE_MAX + 1];
	const char *p;
	unsigned n = 0;
	int r = -EINVAL;

	if (input == NULL || out == NULL || digits < TOTP_DIGITS_MIN ||
	    digits > LP_TOTP_CODE_MAX)
		return -EINVAL;

	/* Stops at the first surplus digit, so a huge input costs little. */
	for (p = input; *p != '\0'; p++) {
		if (*p == ' ')
			continue;
		if (*p < '0' || *p > '9' || n == digits)
			goto out;
		buf[n++] = *p;
	}
	if (n != digits)
		goto out;
	buf[n] = '\0';

	memcpy(out, buf, n + 1);
	r = 0;
out:
	lp_wipe_array(buf);
	return r;
}

uint64_t
lp_totp_step(const struct lp_totp_cfg *cfg, time_t now)
{
	/* Before the epoch there is no step; lp_totp_verify() refuses. */
	if (cfg == NULL || cfg->period == 0 || now < 0)
		return 0;
	return (uint64_t)now / cfg->period;
}

/* The largest time_t, whatever its width. */
#define TOTP_TIME_MAX \
	((((uint64_t)1 << (sizeof(time_t) * CHAR_BIT - 2)) - 1) * 2 + 1)

/* The last step whose start time still fits in a time_t. */
static uint64_t
max_step(const struct lp_totp_cfg *cfg)
{
	return TOTP_TIME_MAX / cfg->period;
}

static int
oath_flags(enum lp_totp_algo algo)
{
	switch (algo) {
	case LP_TOTP_SHA256:
		return OATH_TOTP_HMAC_SHA256;
	case LP_TOTP_SHA512:
		return OATH_TOTP_HMAC_SHA512;
	default:
		return 0;
	}
}

int
lp_totp_generate(const unsigned char *secret, size_t len,
    const struct lp_totp_cfg *cfg, uint64_t step,
    char out[LP_TOTP_CODE_MAX + 1])
{
	char buf[LP_TOTP_CODE_MAX + 1];
	int r = -EINVAL;

	if (secret == NULL || len == 0 || len > LP_TOTP_SECRET_MAX ||
	    out == NULL || check_cfg(cfg) != 0 || step > max_step(cfg))
		return -EINVAL;
	if (oath_init() != OATH_OK)
		return -EIO;

	memset(buf, 0, sizeof(buf));
	if (oath_totp_generate2((const char *)secret, len,
	    (time_t)(step * cfg->period), cfg->period,
	    OATH_TOTP_DEFAULT_START_TIME, cfg->digits, oath_flags(cfg->algo),
	    buf) != OATH_OK)
		goto out;
	if (strnlen(buf, sizeof(buf)) != cfg->digits)
		goto out;

	memcpy(out, buf, cfg->digits + 1);
	r = 0;
out:
	lp_wipe_array(buf);
	return r;
}

int
lp_totp_verify(const unsigned char *secret, size_t len,
    const struct lp_totp_cfg *cfg, time_t now, const char *code,
    uint64_t *ret_step)
{
	char buf[LP_TOTP_CODE_MAX + 1];
	uint64_t cur, lo, hi, step, best = 0, mask;
	unsigned found = 0, eq;
	int r = -EINVAL;

	/* A clock before 1970 is broken; refuse rather than guess. */
	if (check_cfg(cfg) != 0 || code == NULL || ret_step == NULL ||
	    now < 0 || strnlen(code, LP_TOTP_CODE_MAX + 1) != cfg->digits)
		return -EINVAL;

	/* Steps before the epoch or past the end of time_t do not exist. */
	cur = lp_totp_step(cfg, now);
	lo = cur >= cfg->window ? cur - cfg->window : 0;
	hi = max_step(cfg) - cur >= cfg->window ? cur + cfg->window :
	    max_step(cfg);

	/*
	 * Every step of the window is computed and compared, and the match
	 * is recorded without a branch, so that the time taken does not
	 * tell which step (if any) the code belongs to.  The latest match
	 * wins, which is what replay protection needs.
	 */
	for (step = lo; step <= hi; step++) {
		if ((r = lp_totp_generate(secret, len, cfg, step, buf)) != 0)
			goto out;
		eq = (unsigned)lp_timingsafe_eq(buf, code, cfg->digits);
		mask = (uint64_t)0 - eq;
		best = (best & ~mask) | (step & mask);
		found |= eq;
	}
	if (!found) {
		r = -ENOENT;
		goto out;
	}

	*ret_step = best;
	r = 0;
out:
	lp_wipe_array(buf);
	return r;
}
