/* OpenSSH public keys of the node registry; the rules are in sshkey.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lp_util.h"
#include "sshkey.h"

static const char *const key_types[] = {
	"ssh-ed25519",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"ssh-rsa",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
};

int
lp_sshkey_type_known(const char *type, size_t len)
{
	size_t i;

	if (type == NULL)
		return 0;
	for (i = 0; i < LP_ARRAY_SIZE(key_types); i++)
		if (strlen(key_types[i]) == len &&
		    memcmp(key_types[i], type, len) == 0)
			return 1;
	return 0;
}

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

int
lp_sshkey_b64_decode(const char *s, size_t len, unsigned char *head,
    size_t hsize, size_t *ret_len)
{
	unsigned char b[3];
	size_t i, j, o = 0, pad = 0;
	int v[4] = { 0 };

	if (s == NULL || len == 0 || len % 4 != 0)
		return -EBADMSG;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len; i += 4) {
		/* Padding decodes as zero bits; '=' elsewhere is refused. */
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
	/* Bits that the padding drops must be zero: one spelling per blob. */
	if ((pad == 1 && (v[2] & 0x03) != 0) ||
	    (pad == 2 && (v[1] & 0x0f) != 0))
		return -EBADMSG;

	*ret_len = o - pad;
	return 0;
}

int
lp_sshkey_blob_type(const unsigned char *head, size_t hlen, size_t len,
    const unsigned char **ret_type, size_t *ret_tlen)
{
	uint32_t tlen;

	if (head == NULL || hlen < 4 || hlen > len)
		return -EBADMSG;
	tlen = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 |
	    (uint32_t)head[2] << 8 | head[3];
	if (tlen > len - 4 || tlen > hlen - 4)
		return -EBADMSG;

	*ret_type = head + 4;
	*ret_tlen = tlen;
	return 0;
}

int
lp_sshkey_blob_check(const char *type, size_t tlen,
    const unsigned char *head, size_t hlen, size_t len)
{
	const unsigned char *inner;
	size_t ilen;

	if (type == NULL ||
	    lp_sshkey_blob_type(head, hlen, len, &inner, &ilen) != 0 ||
	    ilen != tlen || memcmp(inner, type, tlen) != 0)
		return -EBADMSG;
	if (len - 4 == tlen)
		return -ENODATA;
	return 0;
}

int
lp_sshkey_check(const char *type, size_t tlen, const char *b64,
    size_t blen)
{
	unsigned char head[LP_SSHKEY_HEAD_MAX];
	size_t n;

	if (!lp_sshkey_type_known(type, tlen))
		return -EPROTONOSUPPORT;
	if (lp_sshkey_b64_decode(b64, blen, head, sizeof(head), &n) != 0)
		return -EBADMSG;
	return lp_sshkey_blob_check(type, tlen, head,
	    n < sizeof(head) ? n : sizeof(head), n);
}
