/*
 * Strict line records: the reading shared by the text files of lp-bastion
 * (a TOTP state, a live tunnel record).  Such a text is a version line,
 * then "KEY VALUE" lines in a fixed order, each ending in '\n', then an
 * end line with nothing after it.  Each format keeps its own keys and
 * checks its own values; these calls only move a cursor over the text
 * and refuse anything that is not exactly the line asked for, so that a
 * text has one reading and a text cut at any byte is refused.
 *
 * Nothing is copied: values point into the caller's text.  Nothing is
 * wiped and nothing is logged.
 */
#ifndef LP_RECORD_H
#define LP_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* The most digits of a uint64_t in decimal. */
#define LP_REC_U64_DIGITS	20

/* A cursor over the text being read; p moves towards end. */
struct lp_rec {
	const char	*p;
	const char	*end;
};

/*
 * Starts reading the len bytes at buf.  Returns 0, or -EBADMSG when buf
 * is NULL or holds a NUL byte (a text never does).  *c is set either way.
 */
int	lp_rec_init(struct lp_rec *c, const char *buf, size_t len);

/*
 * Takes the next line if it is exactly line followed by '\n' (line is
 * given without it).  Returns 0, or -EBADMSG with the cursor unmoved.
 */
int	lp_rec_take_fixed(struct lp_rec *c, const char *line);

/*
 * Takes the next line if it starts with key and a space, and points
 * *ret_val at the value (inside the text, not NUL-terminated) and
 * *ret_len at its length, without the '\n'.  The value may be empty.
 * Returns 0, or -EBADMSG with the cursor unmoved when there is no
 * complete line or it has another key.
 */
int	lp_rec_take_line(struct lp_rec *c, const char *key,
	    const char **ret_val, size_t *ret_len);

/*
 * Parses the len bytes at s as canonical decimal digits (no sign, no
 * space, no leading zero, at most LP_REC_U64_DIGITS) of a value in
 * [min, max].  Returns 0 and sets *ret_val, or -EBADMSG.
 */
int	lp_rec_parse_u64(const char *s, size_t len, uint64_t min, uint64_t max,
	    uint64_t *ret_val);

/*
 * lp_rec_take_line() of key, then lp_rec_parse_u64() of its value.
 * Returns 0 and sets *ret_val, or -EBADMSG (the cursor may then have
 * moved past the line).
 */
int	lp_rec_take_u64(struct lp_rec *c, const char *key, uint64_t min,
	    uint64_t max, uint64_t *ret_val);

/*
 * Tells whether the len bytes at s are one word: at least one byte, each
 * of them printable ASCII other than the space.  Returns 1 or 0.  For
 * values that are text (a hash, an address), which a format bounds and
 * checks further.
 */
int	lp_rec_is_word(const char *s, size_t len);

/*
 * Tells whether the rest of the text is exactly line and '\n', the end
 * line with nothing after it.  Returns 1 or 0; the cursor does not move.
 */
int	lp_rec_at_end(const struct lp_rec *c, const char *line);

#endif /* LP_RECORD_H */
