/*
 * Helpers for the PAM tests: a private service directory for
 * pam_wrapper, a policy and state directory per test, codes from
 * oathtool, and a conversation that records what a person would see.
 */
#ifndef LP_PAMTEST_UTIL_H
#define LP_PAMTEST_UTIL_H

#include <stddef.h>

#include <security/pam_appl.h>

#define LP_PT_MAX_MSGS	8

struct lp_pt_conv {
	const char	*answers[LP_PT_MAX_MSGS];	/* NULL-terminated */
	size_t		 nanswered;
	char		*prompts[LP_PT_MAX_MSGS];
	size_t		 nprompts;
	char		*errors[LP_PT_MAX_MSGS];
	size_t		 nerrors;
	char		*infos[LP_PT_MAX_MSGS];
	size_t		 ninfos;
	char		*log;		/* what the module logged */
};

/*
 * Re-executes the test under pam_wrapper on first call, with service
 * files made from the .in templates in tests/pam/services; returns in the re-executed
 * process.  Exits 77 (skip) when the test cannot run here.
 */
void	lp_pt_init(int argc, char **argv);

/* Removes the directory made by lp_pt_init(); call before exiting. */
void	lp_pt_done(void);

/* The per-process base directory (policy at BASE/lp.yaml). */
const char *lp_pt_base(void);

/* Writes BASE/lp.yaml (root, 0644) and an empty BASE/state (0700). */
void	lp_pt_setup_policy(const char *yaml);

/* Removes BASE/lp.yaml and BASE/state. */
void	lp_pt_teardown_policy(void);

/*
 * Writes a state file for user with secret (base32), the given recovery
 * hash lines (may be NULL) and counters, root 0600.
 */
void	lp_pt_enroll(const char *user, const char *secret_b32,
	    const char *const *recovery_hashes);

/* Path of user's state file, for tests that damage it. */
void	lp_pt_state_path(const char *user, char *buf, size_t size);

/*
 * Asks oathtool for the code of secret at now + offset seconds, with the
 * given options ("--totp" or "--totp=sha256 -d 8").  Fails the test on error.
 */
void	lp_pt_oathtool(const char *secret_b32, const char *opts, long offset,
	    char *out, size_t size);

/*
 * Runs pam_authenticate for user on service, recording the conversation
 * and, in conv->log, the module's pam_syslog lines (pam_wrapper sends
 * them to standard error).  Returns the PAM code.
 */
int	lp_pt_authenticate(const char *service, const char *user,
	    struct lp_pt_conv *conv);

/*
 * For modules that run after authentication, as sshd drives them: a
 * handle started for user on service, kept open across operations so
 * that the PAM environment and module data persist between them.
 * Fails the test on error.
 */
pam_handle_t *lp_pt_start(const char *service, const char *user);

/*
 * Sets name=value in the handle's PAM environment, as sshd sets
 * SSH_AUTH_INFO_0; a NULL value removes the variable.  Fails the test on
 * error.
 */
void	lp_pt_putenv(pam_handle_t *ph, const char *name, const char *value);

/* Sets a string item (PAM_TTY, PAM_RHOST); NULL clears it. */
void	lp_pt_set_item(pam_handle_t *ph, int item, const char *value);

/*
 * Runs one libpamtest operation (PAMTEST_ACCOUNT, PAMTEST_OPEN_SESSION,
 * PAMTEST_CLOSE_SESSION, ...) on ph, with the recording conversation,
 * and leaves ph open.  The module's log lines replace conv->log.
 * Returns the PAM code.
 */
int	lp_pt_run(pam_handle_t *ph, const char *service, const char *user,
	    int op, struct lp_pt_conv *conv);

/* Ends a handle from lp_pt_start(); accepts NULL. */
void	lp_pt_end(pam_handle_t *ph);

/* Frees what the conversation recorded. */
void	lp_pt_conv_free(struct lp_pt_conv *conv);

#endif /* LP_PAMTEST_UTIL_H */
