/*
 * libFuzzer target for lib/authinfo.c, the reading of SSH_AUTH_INFO_0,
 * and the key checks of lib/sshkey.c under it.  Any input (cut at its
 * first NUL, as the environment would) must end in one of the documented
 * codes with the output buffer untouched, or in a key that:
 *	- stands in the input as a whole "publickey KEY" line;
 *	- passes lp_sshkey_check() on its own;
 *	- is read back the same from a text of that one line;
 *	- needs exactly strlen(KEY) + 1 bytes of output.
 * The input is also tried as a bare "TYPE BASE64" key: whatever
 * lp_sshkey_check() accepts, the publickey line made of it must give
 * back, since the registry and sshd's key are judged alike.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authinfo.h"
#include "sshkey.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define POISON	0xa5

static void
check_code(int r)
{
	if (r != 0 && r != -ENODATA && r != -ENOENT && r != -EBADMSG &&
	    r != -EPROTONOSUPPORT && r != -ENOBUFS)
		__builtin_trap();
}

static void
check_untouched(const char *out, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if ((unsigned char)out[i] != POISON)
			__builtin_trap();
}

/* Does "publickey KEY\n" stand in text as a line of its own? */
static int
has_line(const char *text, const char *key)
{
	const char *p = text;
	size_t klen = strlen(key);

	for (;;) {
		if (strncmp(p, "publickey ", 10) == 0 &&
		    strncmp(p + 10, key, klen) == 0 && p[10 + klen] == '\n')
			return 1;
		if ((p = strchr(p, '\n')) == NULL)
			return 0;
		p++;
	}
}

/* What was found must be found again, alone, in the same space. */
static void
check_key(const char *text, const char *key)
{
	char line[LP_AUTHINFO_KEY_MAX + 16], again[LP_AUTHINFO_KEY_MAX];
	const char *sp;
	size_t len = strlen(key);

	if (!has_line(text, key))
		__builtin_trap();
	if ((sp = strchr(key, ' ')) == NULL ||
	    lp_sshkey_check(key, (size_t)(sp - key), sp + 1,
	    len - (size_t)(sp - key) - 1) != 0)
		__builtin_trap();
	memcpy(line, "publickey ", 10);
	memcpy(line + 10, key, len);
	memcpy(line + 10 + len, "\n", 2);
	if (lp_authinfo_publickey(line, again, len + 1) != 0 ||
	    strcmp(again, key) != 0)
		__builtin_trap();
	memset(again, POISON, sizeof(again));
	if (lp_authinfo_publickey(line, again, len) != -ENOBUFS)
		__builtin_trap();
	check_untouched(again, sizeof(again));
}

/* The input as a bare key, judged by sshkey.c and then by authinfo.c. */
static void
check_bare_key(const char *text, size_t len)
{
	char line[LP_AUTHINFO_KEY_MAX + 16], out[LP_AUTHINFO_KEY_MAX];
	const char *sp;
	size_t tlen, i;

	if (len == 0 || len >= LP_AUTHINFO_KEY_MAX ||
	    (sp = memchr(text, ' ', len)) == NULL)
		return;
	tlen = (size_t)(sp - text);
	if (lp_sshkey_check(text, tlen, sp + 1, len - tlen - 1) != 0)
		return;
	/* Canonical base64 holds no space, no control byte. */
	for (i = tlen + 1; i < len; i++)
		if (text[i] <= ' ' || text[i] > '~')
			__builtin_trap();
	memcpy(line, "publickey ", 10);
	memcpy(line + 10, text, len);
	memcpy(line + 10 + len, "\n", 2);
	if (lp_authinfo_publickey(line, out, sizeof(out)) != 0 ||
	    strlen(out) != len || memcmp(out, text, len) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[LP_AUTHINFO_KEY_MAX];
	char *text;
	int r;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	memset(out, POISON, sizeof(out));
	r = lp_authinfo_publickey(text, out, sizeof(out));
	check_code(r);
	if (r != 0)
		check_untouched(out, sizeof(out));
	else
		check_key(text, out);
	/* Nothing is -ENODATA, and only nothing. */
	if ((r == -ENODATA) != (text[0] == '\0'))
		__builtin_trap();
	if (lp_authinfo_publickey(text, NULL, sizeof(out)) != -EINVAL)
		__builtin_trap();

	check_bare_key(text, strlen(text));
	free(text);
	return 0;
}
