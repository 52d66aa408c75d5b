/*
 * TOTP (RFC 6238) on top of liboath: code parsing, base32, generation and
 * verification over a window of time steps.
 */
#ifndef LP_TOTP_H
#define LP_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"

#define LP_TOTP_SECRET_LEN	20	/* bytes made by enrolment */
#define LP_TOTP_SECRET_MAX	64	/* bytes accepted from a state file */
#define LP_TOTP_CODE_MAX	8	/* digits */
#define LP_BASE32_MAX		(((LP_TOTP_SECRET_MAX * 8) + 4) / 5)

/*
 * Normalises a code typed by a person: ASCII spaces are dropped, and what
 * remains must be exactly digits decimal digits ("012345" keeps its
 * leading zero).  Writes digits + 1 bytes to out.  Returns 0, or -EINVAL
 * for anything else (a sign, a letter, NBSP, too few or too many digits).
 */
int	lp_totp_code_parse(const char *input, unsigned digits,
	    char out[LP_TOTP_CODE_MAX + 1]);

/*
 * Decodes base32 text: upper or lower case, with or without '=' padding,
 * ASCII spaces ignored.  Returns 0 and sets *ret_len, -EINVAL for text
 * that is not base32, or -ENOBUFS when out is too small.  Wipes its own
 * copies.
 */
int	lp_base32_decode(const char *in, unsigned char *out, size_t outsize,
	    size_t *ret_len);

/*
 * Encodes len bytes as upper-case base32 without padding into out,
 * NUL-terminated.  Returns 0 or -ENOBUFS.
 */
int	lp_base32_encode(const unsigned char *in, size_t len, char *out,
	    size_t outsize);

/* Returns the time step that holds now for cfg's period. */
uint64_t lp_totp_step(const struct lp_totp_cfg *cfg, time_t now);

/*
 * Writes the code of time step `step' for secret into out, with
 * cfg->digits digits and cfg->algo.  Returns 0 or -EINVAL.
 */
int	lp_totp_generate(const unsigned char *secret, size_t len,
	    const struct lp_totp_cfg *cfg, uint64_t step,
	    char out[LP_TOTP_CODE_MAX + 1]);

/*
 * Checks a normalised code against every step from now - window to
 * now + window, computing and comparing each in constant time so that the
 * work does not depend on where (or whether) the code matches.  Returns 0
 * and sets *ret_step to the latest matching step, -ENOENT when no step
 * matches, or another negative errno.  Wipes the codes it computed.
 */
int	lp_totp_verify(const unsigned char *secret, size_t len,
	    const struct lp_totp_cfg *cfg, time_t now, const char *code,
	    uint64_t *ret_step);

#endif /* LP_TOTP_H */
