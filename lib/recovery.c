/* One-time recovery codes, hashed with yescrypt through libxcrypt. */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lp_util.h"
#include "recovery.h"

/*
 * Lower-case letters and digits without the look-alikes 0/o and 1/l/i.
 * That leaves 31 symbols, not a power of two, so symbols are drawn by
 * rejection, which keeps every symbol equally likely: 12 symbols carry
 * 59.4 bits.
 */
static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
#define NSYMBOLS	(sizeof(alphabet) - 1)
#define NGROUPS		3
#define GROUP_LEN	4
#define NSYMBOLS_CODE	(NGROUPS * GROUP_LEN)
/* The largest multiple of NSYMBOLS that a byte can hold. */
#define BYTE_LIMIT	(256 - 256 % NSYMBOLS)

/*
 * yescrypt cost.  The default (5, 16 MiB) took 24 ms a hash here, so the
 * 16 hashes of every recovery attempt took about 390 ms, and each attempt
 * of an unknown user pays the same.  Cost 3 (4 MiB) takes about 6.5 ms,
 * 105 ms for 16.  The codes are random (59 bits), not chosen passwords,
 * so the hash cost adds little against an offline search, and the state
 * file that holds the hashes also holds the TOTP secret in the clear.
 */
#define HASH_COST	3

/*
 * Stands in for empty slots so that lp_recovery_match() always hashes
 * LP_RECOVERY_MAX times at HASH_COST.  It is the hash of a random code
 * that was discarded; nothing can match it, since an empty slot's result
 * is ignored.
 */
static const char dummy_hash[] =
    "$y$j7T$P9kV4/TpxK6Xt0OvyQx1N.$"
    "CxYDlCZBb3IJtv9BAcUABRPIsBXjFpUwX7BQDwrnGq/";

static int
is_symbol(char c)
{
	return c != '\0' && strchr(alphabet, c) != NULL;
}

/* Draws one code into out, in the normalised "xxxx-xxxx-xxxx" form. */
static int
make_code(char out[LP_RECOVERY_LEN + 1])
{
	unsigned char rnd[64];
	size_t i = 0, n = 0, pos = 0;
	int r;

	/*
	 * 64 bytes fall short of 12 accepted ones with a probability far
	 * below 2^-100; that case fails rather than loop.
	 */
	if ((r = lp_random_fill(rnd, sizeof(rnd))) != 0)
		goto out;
	for (i = 0; i < sizeof(rnd) && n < NSYMBOLS_CODE; i++) {
		if (rnd[i] >= BYTE_LIMIT)
			continue;
		if (n > 0 && n % GROUP_LEN == 0)
			out[pos++] = '-';
		out[pos++] = alphabet[rnd[i] % NSYMBOLS];
		n++;
	}
	if (n != NSYMBOLS_CODE) {
		r = -EAGAIN;
		goto out;
	}
	out[pos] = '\0';
	r = 0;
out:
	lp_wipe_array(rnd);
	return r;
}

/* Hashes code with a fresh salt into out.  Wipes data's copies. */
static int
hash_code(const char *code, struct crypt_data *data,
    char out[LP_RECOVERY_HASH_MAX])
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *h;
	int r = -EINVAL;

	errno = 0;
	if (crypt_gensalt_rn("$y$", HASH_COST, NULL, 0, setting,
	    (int)sizeof(setting)) == NULL) {
		r = errno != 0 ? -errno : -EINVAL;
		goto out;
	}
	h = crypt_rn(code, setting, data, (int)sizeof(*data));
	if (h == NULL || strncmp(h, "$y$", 3) != 0 ||
	    strlen(h) >= LP_RECOVERY_HASH_MAX)
		goto out;

	memcpy(out, h, strlen(h) + 1);
	r = 0;
out:
	explicit_bzero(data, sizeof(*data));
	lp_wipe_array(setting);
	return r;
}

int
lp_recovery_generate(size_t n, char codes[][LP_RECOVERY_LEN + 1],
    char hashes[][LP_RECOVERY_HASH_MAX])
{
	struct crypt_data *data = NULL;
	size_t i;
	int r = -EINVAL;

	if (n > LP_RECOVERY_MAX || (n > 0 && (codes == NULL || hashes == NULL)))
		return -EINVAL;
	/* About 32 KiB: too much for the stack of a thread in a module. */
	if ((data = calloc(1, sizeof(*data))) == NULL) {
		r = -ENOMEM;
		goto out;
	}

	for (i = 0; i < n; i++) {
		if ((r = make_code(codes[i])) != 0)
			goto out;
		if ((r = hash_code(codes[i], data, hashes[i])) != 0)
			goto out;
	}
	r = 0;
out:
	if (r != 0 && n > 0) {
		explicit_bzero(codes, n * sizeof(codes[0]));
		explicit_bzero(hashes, n * sizeof(hashes[0]));
	}
	lp_freezero(data, sizeof(*data));
	return r;
}

int
lp_recovery_parse(const char *input, char out[LP_RECOVERY_LEN + 1])
{
	char buf[LP_RECOVERY_LEN + 1];
	const char *p;
	size_t n = 0, pos = 0;
	int dash = 0, r = -EINVAL;
	char c;

	if (input == NULL || out == NULL)
		return -EINVAL;

	/*
	 * A dash may stand only between two groups, once; spaces may stand
	 * anywhere.  The scan stops at the first surplus symbol.
	 */
	for (p = input; *p != '\0'; p++) {
		c = *p;
		if (c == ' ')
			continue;
		if (c == '-') {
			if (dash || n == 0 || n % GROUP_LEN != 0 ||
			    n == NSYMBOLS_CODE)
				goto out;
			dash = 1;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!is_symbol(c) || n == NSYMBOLS_CODE)
			goto out;
		if (n > 0 && n % GROUP_LEN == 0)
			buf[pos++] = '-';
		buf[pos++] = c;
		n++;
		dash = 0;
	}
	if (n != NSYMBOLS_CODE || dash)
		goto out;
	buf[pos] = '\0';

	memcpy(out, buf, sizeof(buf));
	r = 0;
out:
	lp_wipe_array(buf);
	return r;
}

/* Whether code is in the "xxxx-xxxx-xxxx" form lp_recovery_parse() gives. */
static int
is_normalised(const char *code)
{
	size_t i;

	if (code == NULL ||
	    strnlen(code, LP_RECOVERY_LEN + 1) != LP_RECOVERY_LEN)
		return 0;
	for (i = 0; i < LP_RECOVERY_LEN; i++) {
		if ((i + 1) % (GROUP_LEN + 1) == 0) {
			if (code[i] != '-')
				return 0;
		} else if (!is_symbol(code[i]))
			return 0;
	}
	return 1;
}

/*
 * Hashes code with the settings of hash (or of dummy_hash when hash is
 * not even a string) and compares in constant time.  Returns 1 on a
 * match, 0 otherwise.  Wipes data.
 */
static unsigned
check_hash(const char *code, const char *hash, struct crypt_data *data)
{
	const char *h;
	size_t hlen, olen;
	unsigned eq = 0, usable = 1;

	hlen = strnlen(hash, LP_RECOVERY_HASH_MAX);
	if (hlen == LP_RECOVERY_HASH_MAX) {
		hash = dummy_hash;
		hlen = strlen(hash);
		usable = 0;
	}
	h = crypt_rn(code, hash, data, (int)sizeof(*data));
	if (h != NULL) {
		olen = strlen(h);
		eq = (unsigned)lp_timingsafe_eq(h, hash,
		    olen < hlen ? olen : hlen) & (olen == hlen) & usable;
	}
	explicit_bzero(data, sizeof(*data));
	return eq;
}

int
lp_recovery_match(const struct lp_totp_state *st, const char *code,
    size_t *ret_index)
{
	struct crypt_data *data = NULL;
	size_t i, index = 0;
	unsigned real, eq, found = 0;
	int r = -EINVAL;

	if (st == NULL || ret_index == NULL || !is_normalised(code))
		return -EINVAL;
	if ((data = calloc(1, sizeof(*data))) == NULL) {
		r = -ENOMEM;
		goto out;
	}

	/*
	 * Every slot costs one hash at the stored cost, empty ones against
	 * dummy_hash.  A slot that does not hold a usable hash simply does
	 * not match; the state parser is where malformed files are caught.
	 */
	for (i = 0; i < LP_RECOVERY_MAX; i++) {
		real = i < st->nrecovery && st->recovery[i][0] != '\0';
		eq = check_hash(code, real ? st->recovery[i] : dummy_hash,
		    data) & real;
		if (eq && !found)
			index = i;
		found |= eq;
	}
	if (!found) {
		r = -ENOENT;
		goto out;
	}

	*ret_index = index;
	r = 0;
out:
	lp_freezero(data, sizeof(*data));
	return r;
}

void
lp_recovery_remove(struct lp_totp_state *st, size_t i)
{
	if (st == NULL || i >= st->nrecovery || st->nrecovery > LP_RECOVERY_MAX)
		return;
	explicit_bzero(st->recovery[i], sizeof(st->recovery[i]));
	memmove(st->recovery[i], st->recovery[i + 1],
	    (st->nrecovery - i - 1) * sizeof(st->recovery[0]));
	explicit_bzero(st->recovery[st->nrecovery - 1],
	    sizeof(st->recovery[0]));
	st->nrecovery--;
}
