/* A strict reading of SSH_AUTH_INFO_0; the rules are in authinfo.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "authinfo.h"
#include "lp_util.h"

#define METHOD_PUBKEY	"publickey "
#define METHOD_KBDINT	"keyboard-interactive/pam"
#define CERT_SUFFIX	"-cert-v01@openssh.com"
/* The blob's first bytes: its length-prefixed type, and one more. */
#define HEAD_MAX	64

/* The key types of the node registry (lib/cfg.c accepts the same). */
static const char *const key_types[] = {
	"ssh-ed25519",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"ssh-rsa",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
};

static int
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Checks that s is canonical base64: padded to a multiple of four, '='
 * only as padding, no stray bits in the last group.  The first bytes it
 * decodes to go into head (hsize bytes); *ret_len is the whole length.
 */
static int
b64_check(const char *s, size_t len, unsigned char *head, size_t hsize,
    size_t *ret_len)
{
	unsigned char b[3];
	size_t i, j, o = 0, pad = 0;
	int v[4] = { 0 };

	if (len == 0 || len % 4 != 0)
		return -EBADMSG;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len; i += 4) {
		for (j = 0; j < 4; j++) {
			v[j] = i + j < len - pad ?
			    b64_value((unsigned char)s[i + j]) : 0;
			if (v[j] < 0)
				return -EBADMSG;
		}
		b[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		b[1] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
		b[2] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
		for (j = 0; j < 3; j++, o++)
			if (o < hsize)
				head[o] = b[j];
	}
	if ((pad == 1 && (v[2] & 0x03) != 0) ||
	    (pad == 2 && (v[1] & 0x0f) != 0))
		return -EBADMSG;
	*ret_len = o - pad;
	return 0;
}

static int
known_type(const char *type, size_t len)
{
	size_t i;

	for (i = 0; i < LP_ARRAY_SIZE(key_types); i++)
		if (strlen(key_types[i]) == len &&
		    memcmp(key_types[i], type, len) == 0)
			return 1;
	return 0;
}

/*
 * Checks "TYPE BASE64", the rest of a publickey line (len bytes, no
 * '\n'): a type of the registry, then a blob that says the same type
 * and holds a key after it.
 */
static int
check_key(const char *s, size_t len)
{
	unsigned char head[HEAD_MAX];
	const char *sp, *b64;
	size_t tlen, blen, n;
	uint32_t inner;

	sp = memchr(s, ' ', len);
	tlen = sp != NULL ? (size_t)(sp - s) : len;
	if (tlen == 0)
		return -EBADMSG;
	if (tlen >= sizeof(CERT_SUFFIX) - 1 &&
	    memcmp(s + tlen - (sizeof(CERT_SUFFIX) - 1), CERT_SUFFIX,
	    sizeof(CERT_SUFFIX) - 1) == 0)
		return -EPROTONOSUPPORT;
	if (!known_type(s, tlen))
		return -EPROTONOSUPPORT;
	if (sp == NULL)
		return -EBADMSG;
	b64 = sp + 1;
	blen = len - tlen - 1;
	/* A space inside is not base64: this refuses any further field. */
	if (b64_check(b64, blen, head, sizeof(head), &n) != 0)
		return -EBADMSG;
	if (n < 4)
		return -EBADMSG;
	inner = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
	    (uint32_t)head[2] << 8 | head[3];
	if (inner != tlen || n - 4 <= tlen || 4 + tlen > sizeof(head) ||
	    memcmp(head + 4, s, tlen) != 0)
		return -EBADMSG;
	return 0;
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
