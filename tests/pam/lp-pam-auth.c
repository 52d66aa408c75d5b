/*
 * Runs one pam_authenticate, answering the prompt with the first line of
 * standard input (so the code never appears in argv), and prints the PAM
 * result name.  Service files come from CONFDIR through
 * pam_start_confdir(3), so no wrapper is needed and a process killed at
 * any moment leaves nothing behind but what the module wrote.  Used by
 * the race and crash tests.
 * Exit status: 0 success, 1 refused, 2 usage or setup error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

static char answer[256];

static int
conv_fn(int num, const struct pam_message **msg, struct pam_response **resp,
    void *data)
{
	struct pam_response *r;
	int i;

	(void)data;
	r = calloc((size_t)num, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < num; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		r[i].resp = strdup(answer);
		if (r[i].resp == NULL) {
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

int
main(int argc, char **argv)
{
	struct pam_conv conv = { conv_fn, NULL };
	pam_handle_t *ph = NULL;
	int r;

	if (argc != 4) {
		fprintf(stderr,
		    "usage: lp-pam-auth CONFDIR SERVICE USER < ANSWER\n");
		return 2;
	}
	if (fgets(answer, sizeof(answer), stdin) == NULL)
		answer[0] = '\0';
	answer[strcspn(answer, "\n")] = '\0';

	r = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &ph);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "lp-pam-auth: pam_start: %d\n", r);
		return 2;
	}
	r = pam_authenticate(ph, 0);
	printf("%s\n", r == PAM_SUCCESS ? "PAM_SUCCESS" :
	    r == PAM_AUTH_ERR ? "PAM_AUTH_ERR" :
	    r == PAM_AUTHINFO_UNAVAIL ? "PAM_AUTHINFO_UNAVAIL" : "PAM_OTHER");
	(void)pam_end(ph, r);
	return r == PAM_SUCCESS ? 0 : 1;
}
