/*
 * What the PAM modules share: the "who" part of their log lines (user=,
 * rhost=, tty=, service=), bounded and made safe to log, and the one
 * key=value line per decision built from it.  Compiled into each module;
 * the modules' version scripts keep these names out of their exports.
 */
#ifndef LP_PAM_H
#define LP_PAM_H

#include <stdbool.h>

#include <security/pam_modules.h>

/* The parts of a log line that come from outside, made safe to print. */
struct lp_who {
	char	user[65];
	char	rhost[65];
	char	tty[33];
	char	service[33];
};

/*
 * Returns the string item of pamh (PAM_RHOST, PAM_TTY, ...), or "" when
 * it is unset.  The string belongs to PAM.
 */
const char *lp_pam_item(pam_handle_t *pamh, int item);

/*
 * Fills w for pamh's log lines: user when show_user is true and user is
 * not NULL, else "<unknown>" (a name that does not resolve is often a
 * mistyped password, which is logged only on request); then PAM_RHOST,
 * PAM_TTY and PAM_SERVICE.  Each is bounded (64 or 32 bytes) and has
 * spaces, control characters and bytes outside ASCII replaced by '?'.
 */
void	lp_pam_who(pam_handle_t *pamh, const char *user, bool show_user,
	    struct lp_who *w);

/*
 * Logs one decision through pam_syslog(3) at prio:
 * "user=U rhost=R tty=T service=S reason=WORD" and then what fmt makes
 * of the rest, which starts with a space when it is not empty.  The rest
 * is cut at 255 bytes.  reason is one of the module's fixed words.
 */
void	lp_pam_log(pam_handle_t *pamh, int prio, const struct lp_who *w,
	    const char *reason, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

#endif /* LP_PAM_H */
