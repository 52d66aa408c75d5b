/*
 * Diagnostics collected while checking a file, so that a tool can report
 * every problem at once and a module can log the first.
 */
#ifndef LP_DIAG_H
#define LP_DIAG_H

#include <stddef.h>

struct lp_diag {
	char	**msgs;		/* "FILE:LINE:COL: text", owned */
	size_t	  n;
};

/* Appends a printf-formatted message.  Returns 0 or -ENOMEM. */
int	lp_diag_add(struct lp_diag *d, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Appends "FILE:LINE:COL: " followed by the formatted text.  Line and
 * column count from 1.  Returns 0 or -ENOMEM.
 */
int	lp_diag_at(struct lp_diag *d, const char *file, unsigned long line,
	    unsigned long col, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* Frees every message and leaves d empty; accepts NULL. */
void	lp_diag_clear(struct lp_diag *d);

#endif /* LP_DIAG_H */
