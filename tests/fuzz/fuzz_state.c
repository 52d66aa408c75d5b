/*
 * libFuzzer target for lp_state_parse(): any input is either refused with
 * the state wiped, or accepted; an accepted text must be exactly what
 * lp_state_format() writes for the parsed state, and must parse back to
 * the same state.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp_util.h"
#include "state.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_zero(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != 0)
			__builtin_trap();
}

static void
check_same(const struct lp_totp_state *a, const struct lp_totp_state *b)
{
	size_t i;

	if (a->secret_len != b->secret_len ||
	    memcmp(a->secret, b->secret, a->secret_len) != 0 ||
	    a->last_step != b->last_step || a->failures != b->failures ||
	    a->locked_until != b->locked_until ||
	    a->last_success != b->last_success ||
	    a->enrolled != b->enrolled || a->nrecovery != b->nrecovery)
		__builtin_trap();
	for (i = 0; i < a->nrecovery; i++)
		if (strcmp(a->recovery[i], b->recovery[i]) != 0)
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_totp_state st, back;
	char *buf = NULL;
	size_t len = 0;

	memset(&st, 0xa5, sizeof(st));
	if (lp_state_parse((const char *)data, size, &st) != 0) {
		check_zero(&st, sizeof(st));
		return 0;
	}
	if (lp_state_format(&st, &buf, &len) != 0)
		__builtin_trap();
	if (len != size || memcmp(buf, data, size) != 0)
		__builtin_trap();
	if (lp_state_parse(buf, len, &back) != 0)
		__builtin_trap();
	check_same(&st, &back);
	lp_freezero(buf, len);
	lp_wipe_obj(&st);
	lp_wipe_obj(&back);
	return 0;
}
