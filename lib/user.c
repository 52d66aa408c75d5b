/* Validation of user names before any path is built from them. */
#include "config.h"

#include <errno.h>
#include <string.h>

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
