/* A growing list of diagnostic messages. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

/* A runaway file must not make a tool print millions of lines. */
#define LP_DIAG_MAX	1000

static int
append(struct lp_diag *d, char *msg)
{
	char **v;

	if (d->n >= LP_DIAG_MAX) {
		free(msg);
		return 0;
	}
	v = realloc(d->msgs, (d->n + 1) * sizeof(*v));
	if (v == NULL) {
		free(msg);
		return -ENOMEM;
	}
	d->msgs = v;
	d->msgs[d->n++] = msg;
	return 0;
}

int
lp_diag_add(struct lp_diag *d, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int r;

	if (d == NULL)
		return 0;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return append(d, msg);
}

int
lp_diag_at(struct lp_diag *d, const char *file, unsigned long line,
    unsigned long col, const char *fmt, ...)
{
	va_list ap;
	char *text, *msg;
	int r;

	if (d == NULL)
		return 0;
	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = asprintf(&msg, "%s:%lu:%lu: %s", file, line, col, text);
	free(text);
	if (r < 0)
		return -ENOMEM;
	return append(d, msg);
}

void
lp_diag_clear(struct lp_diag *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = 0;
}
