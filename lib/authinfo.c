/* A strict reading of SSH_AUTH_INFO_0; the rules are in authinfo.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "authinfo.h"
#include "lp_util.h"
#include "sshkey.h"

#define METHOD_PUBKEY	"publickey "
#define METHOD_KBDINT	"keyboard-interactive/pam"
#define CERT_SUFFIX	"-cert-v01@openssh.com"

/*
 * Checks "TYPE BASE64", the rest of a publickey line (len bytes, no
 * '\n'): a type of the registry, then a blob that says the same type
 * and holds a key after it (lib/sshkey.h, as lib/cfg.c checks the
 * registry's keys).  A certificate is refused by its type, before the
 * type list is asked.
 */
static int
check_key(const char *s, size_t len)
{
	const char *sp, *b64;
	size_t tlen, blen;
	int r;

	sp = memchr(s, ' ', len);
	tlen = sp != NULL ? (size_t)(sp - s) : len;
	if (tlen == 0)
		return -EBADMSG;
	if (tlen >= sizeof(CERT_SUFFIX) - 1 &&
	    memcmp(s + tlen - (sizeof(CERT_SUFFIX) - 1), CERT_SUFFIX,
	    sizeof(CERT_SUFFIX) - 1) == 0)
		return -EPROTONOSUPPORT;
	/* No BASE64 at all is no base64: the check refuses "". */
	b64 = sp != NULL ? sp + 1 : s + len;
	blen = sp != NULL ? len - tlen - 1 : 0;
	/* A space inside is not base64: this refuses any further field. */
	r = lp_sshkey_check(s, tlen, b64, blen);
	if (r == -ENODATA)
		r = -EBADMSG;
	return r;
}

/* Every byte is printable ASCII or '\n', and the last one is '\n'. */
static int
check_bytes(const char *s, size_t len)
{
	size_t i;

	if (s[len - 1] != '\n')
		return -EBADMSG;
	for (i = 0; i < len; i++)
		if (s[i] != '\n' && (s[i] < ' ' || s[i] > '~'))
			return -EBADMSG;
	return 0;
}

int
lp_authinfo_publickey(const char *info, char *out, size_t size)
{
	const char *p, *end, *nl, *key = NULL;
	size_t len, llen, klen = 0;
	int nkbd = 0, r = -EINVAL;

	if (out == NULL)
		goto out;
	r = -ENODATA;
	if (info == NULL || (len = strnlen(info, LP_AUTHINFO_MAX + 1)) == 0)
		goto out;
	r = -EBADMSG;
	if (len > LP_AUTHINFO_MAX || check_bytes(info, len) != 0)
		goto out;

	for (p = info, end = info + len; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = (size_t)(nl - p);
		r = -EBADMSG;
		if (llen == sizeof(METHOD_KBDINT) - 1 &&
		    memcmp(p, METHOD_KBDINT, llen) == 0) {
			if (nkbd++ > 0)
				goto out;
		} else if (llen > sizeof(METHOD_PUBKEY) - 1 &&
		    memcmp(p, METHOD_PUBKEY, sizeof(METHOD_PUBKEY) - 1) == 0) {
			if (key != NULL)
				goto out;
			key = p + sizeof(METHOD_PUBKEY) - 1;
			klen = llen - (sizeof(METHOD_PUBKEY) - 1);
			if ((r = check_key(key, klen)) != 0)
				goto out;
		} else
			goto out;
	}
	r = -ENOENT;
	if (key == NULL)
		goto out;
	r = -ENOBUFS;
	if (klen >= size)
		goto out;

	memcpy(out, key, klen);
	out[klen] = '\0';
	r = 0;
out:
	return r;
}
