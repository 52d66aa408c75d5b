/*
 * libFuzzer target for lp_tunnel_rec_parse() and lp_tunnel_rec_format(),
 * the live tunnel records of lib/tunnel.c.  Both ways round:
 *	- any input is refused with the output untouched, or accepted;
 *	  an accepted text is exactly what lp_tunnel_rec_format() writes
 *	  for the record it parsed to, and that text parses again to the
 *	  same record;
 *	- a record made from the input's bytes is refused by the
 *	  formatter, or formatted into a text that parses back to it, and
 *	  only a buffer of the text's length plus one holds it.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "tunnel.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* As REC_TEXT_MAX in lib/tunnel.c, and a little more. */
#define TEXT_MAX	600
#define POISON		0xa5

static void
check_same(const struct lp_tunnel_rec *a, const struct lp_tunnel_rec *b)
{
	if (strcmp(a->node, b->node) != 0 || a->port != b->port ||
	    strcmp(a->peer, b->peer) != 0 || a->pid != b->pid ||
	    a->since != b->since)
		__builtin_trap();
}

static void
check_untouched(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != POISON)
			__builtin_trap();
}

/* The input read as a record's text. */
static void
parse_input(const uint8_t *data, size_t size)
{
	struct lp_tunnel_rec rec, back;
	char text[TEXT_MAX];
	size_t len = 0;
	int r;

	memset(&rec, POISON, sizeof(rec));
	r = lp_tunnel_rec_parse((const char *)data, size, &rec);
	if (r != 0) {
		if (r != -EBADMSG)
			__builtin_trap();
		check_untouched(&rec, sizeof(rec));
		return;
	}
	if (lp_tunnel_rec_format(&rec, text, sizeof(text), &len) != 0)
		__builtin_trap();
	if (len != size || memcmp(text, data, size) != 0)
		__builtin_trap();
	if (lp_tunnel_rec_parse(text, len, &back) != 0)
		__builtin_trap();
	check_same(&rec, &back);
}

/* Takes n bytes of the input as a string, or as many as there are. */
static void
take_str(const uint8_t **p, const uint8_t *end, char *out, size_t size)
{
	size_t n = 0;

	if (*p < end) {
		n = **p % size;
		(*p)++;
	}
	if (n > (size_t)(end - *p))
		n = (size_t)(end - *p);
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
}

static uint64_t
take_u64(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8 && *p < end; i++, (*p)++)
		v = v << 8 | **p;
	return v;
}

/* A record made from the input's bytes, written and read back. */
static void
format_input(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct lp_tunnel_rec rec, back;
	char text[TEXT_MAX];
	size_t len = 0;
	int r;

	memset(&rec, 0, sizeof(rec));
	take_str(&p, end, rec.node, sizeof(rec.node));
	take_str(&p, end, rec.peer, sizeof(rec.peer));
	rec.port = (unsigned)take_u64(&p, end);
	rec.pid = (pid_t)take_u64(&p, end);
	rec.since = (int64_t)take_u64(&p, end);

	r = lp_tunnel_rec_format(&rec, text, sizeof(text), &len);
	if (r != 0) {
		if (r != -EINVAL)
			__builtin_trap();
		return;
	}
	if (len == 0 || len >= sizeof(text) || text[len] != '\0')
		__builtin_trap();
	memset(&back, POISON, sizeof(back));
	if (lp_tunnel_rec_parse(text, len, &back) != 0)
		__builtin_trap();
	check_same(&rec, &back);
	/* The text and its NUL fit exactly; one byte less does not. */
	if (lp_tunnel_rec_format(&rec, text, len + 1, NULL) != 0 ||
	    lp_tunnel_rec_format(&rec, text, len, NULL) != -ENOBUFS)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_input(data, size);
	format_input(data, size);
	if (lp_tunnel_rec_parse((const char *)data, size, NULL) != -EINVAL)
		__builtin_trap();
	return 0;
}
