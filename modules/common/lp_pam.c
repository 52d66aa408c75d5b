/* Log fields and decision lines of the PAM modules; see lp_pam.h. */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "lp_pam.h"
#include "lp_util.h"

const char *
lp_pam_item(pam_handle_t *pamh, int item)
{
	const void *v = NULL;

	if (pam_get_item(pamh, item, &v) != PAM_SUCCESS || v == NULL)
		return "";
	return v;
}

void
lp_pam_who(pam_handle_t *pamh, const char *user, bool show_user,
    struct lp_who *w)
{
	if (user != NULL && show_user)
		lp_log_safe(w->user, sizeof(w->user), user, 64);
	else
		lp_log_safe(w->user, sizeof(w->user), "<unknown>", 64);
	lp_log_safe(w->rhost, sizeof(w->rhost),
	    lp_pam_item(pamh, PAM_RHOST), 64);
	lp_log_safe(w->tty, sizeof(w->tty), lp_pam_item(pamh, PAM_TTY), 32);
	lp_log_safe(w->service, sizeof(w->service),
	    lp_pam_item(pamh, PAM_SERVICE), 32);
}

void
lp_pam_log(pam_handle_t *pamh, int prio, const struct lp_who *w,
    const char *reason, const char *fmt, ...)
{
	char more[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(more, sizeof(more), fmt, ap);
	va_end(ap);
	pam_syslog(pamh, prio, "user=%s rhost=%s tty=%s service=%s reason=%s%s",
	    w->user, w->rhost, w->tty, w->service, reason, more);
}
