/* Validation of user names before any path is built from them. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lp_util.h"
#include "user.h"

static int
is_name_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c == '.' || c == '-' || c == '_' || c == '@';
}

int
lp_user_name_check(const char *name)
{
	size_t i, len;

	if (name == NULL)
		return -EINVAL;
	len = strnlen(name, LP_USER_NAME_MAX + 1);
	if (len == 0 || len > LP_USER_NAME_MAX)
		return -EINVAL;
	if (name[0] == '-' || name[0] == '.')
		return -EINVAL;
	if (strstr(name, "..") != NULL)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!is_name_char((unsigned char)name[i]))
			return -EINVAL;
	return 0;
}

/* A name for a log value: cleaned, and with no '=' to start a field. */
static void
log_name(char *buf, size_t size, const char *s)
{
	char *p;

	lp_log_safe(buf, size, s, size - 1);
	for (p = buf; *p != '\0'; p++)
		if (*p == '=')
			*p = '?';
}

void
lp_user_caller(char *buf, size_t size)
{
	char by[LP_USER_NAME_MAX + 1], sudo[LP_USER_NAME_MAX + 1];
	const struct passwd *pw;
	const char *env;

	if ((pw = getpwuid(getuid())) != NULL && pw->pw_name != NULL)
		log_name(by, sizeof(by), pw->pw_name);
	else
		(void)snprintf(by, sizeof(by), "#%u", (unsigned)getuid());
	env = getenv("SUDO_USER");
	if (env != NULL && lp_user_name_check(env) == 0)
		log_name(sudo, sizeof(sudo), env);
	else
		sudo[0] = '\0';
	(void)snprintf(buf, size, "by=%s%s%s", by,
	    sudo[0] != '\0' ? " sudo_user=" : "", sudo);
}
