/* Strict line records; the rules are in record.h. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "record.h"

int
lp_rec_init(struct lp_rec *c, const char *buf, size_t len)
{
	c->p = buf;
	c->end = buf != NULL ? buf + len : NULL;
	if (buf == NULL || memchr(buf, '\0', len) != NULL)
		return -EBADMSG;
	return 0;
}

int
lp_rec_take_fixed(struct lp_rec *c, const char *line)
{
	size_t len = strlen(line);

	if ((size_t)(c->end - c->p) <= len || memcmp(c->p, line, len) != 0 ||
	    c->p[len] != '\n')
		return -EBADMSG;
	c->p += len + 1;
	return 0;
}

int
lp_rec_take_line(struct lp_rec *c, const char *key, const char **ret_val,
    size_t *ret_len)
{
	const char *nl, *val;
	size_t klen = strlen(key);

	if (c->p >= c->end)
		return -EBADMSG;
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	if (nl == NULL)
		return -EBADMSG;
	if ((size_t)(nl - c->p) <= klen || memcmp(c->p, key, klen) != 0 ||
	    c->p[klen] != ' ')
		return -EBADMSG;
	val = c->p + klen + 1;

	*ret_val = val;
	*ret_len = (size_t)(nl - val);
	c->p = nl + 1;
	return 0;
}

int
lp_rec_parse_u64(const char *s, size_t len, uint64_t min, uint64_t max,
    uint64_t *ret_val)
{
	uint64_t v = 0;
	size_t i;
	unsigned d;

	if (len == 0 || len > LP_REC_U64_DIGITS || (s[0] == '0' && len > 1))
		return -EBADMSG;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		d = (unsigned)(s[i] - '0');
		/* v * 10 + d > max, asked without overflowing. */
		if (max < d || v > (max - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	if (v < min)
		return -EBADMSG;

	*ret_val = v;
	return 0;
}

int
lp_rec_take_u64(struct lp_rec *c, const char *key, uint64_t min,
    uint64_t max, uint64_t *ret_val)
{
	const char *val;
	size_t vlen;

	if (lp_rec_take_line(c, key, &val, &vlen) != 0)
		return -EBADMSG;
	return lp_rec_parse_u64(val, vlen, min, max, ret_val);
}

int
lp_rec_is_word(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

int
lp_rec_at_end(const struct lp_rec *c, const char *line)
{
	size_t len = strlen(line);

	return (size_t)(c->end - c->p) == len + 1 &&
	    memcmp(c->p, line, len) == 0 && c->p[len] == '\n';
}
