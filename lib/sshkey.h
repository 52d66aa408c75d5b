/*
 * OpenSSH public keys as the node registry holds them: "TYPE BASE64",
 * where TYPE is one of the registry's key types and BASE64 the canonical
 * base64 (padded, no stray bits) of a blob that starts with TYPE as an
 * SSH string (a 32-bit big-endian length, then the bytes) and holds the
 * key after it.  One spelling per key, so that keys compare as text.
 *
 * The policy loader (lib/cfg.c) and the reader of SSH_AUTH_INFO_0
 * (lib/authinfo.c) both check keys here, so that sshd's key and the
 * registry's are judged by the same rules.  Public keys are no secret:
 * nothing is wiped.  Nothing is logged.
 */
#ifndef LP_SSHKEY_H
#define LP_SSHKEY_H

#include <stddef.h>

/* The longest "TYPE BASE64 [comment]" line; far above a 16384-bit RSA key. */
#define LP_SSHKEY_LINE_MAX	8192
/* The blob's first bytes worth decoding: a length and a type of 64 bytes. */
#define LP_SSHKEY_HEAD_MAX	(4 + 64)

/*
 * Returns 1 when the len bytes at type name a key type of the registry:
 * ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa,
 * sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com;
 * 0 otherwise (a certificate type among them).
 */
int	lp_sshkey_type_known(const char *type, size_t len);

/*
 * Checks that the len bytes at s are canonical base64: a multiple of four
 * characters of A-Z a-z 0-9 + /, '=' only as one or two padding
 * characters at the end, and no stray bits before the padding.  Writes
 * the first hsize bytes it decodes to into head (which may be written
 * even on failure) and sets *ret_len to the whole decoded length.
 * Returns 0, or -EBADMSG.
 */
int	lp_sshkey_b64_decode(const char *s, size_t len, unsigned char *head,
	    size_t hsize, size_t *ret_len);

/*
 * Reads the type a blob names: head holds the first hlen bytes of a blob
 * of len bytes (hlen <= len).  Returns 0 and points *ret_type at the
 * type's bytes (inside head, not NUL-terminated) and *ret_tlen at their
 * number; or -EBADMSG when the blob is shorter than four bytes or than
 * its length says, or when the type does not lie within head.
 */
int	lp_sshkey_blob_type(const unsigned char *head, size_t hlen, size_t len,
	    const unsigned char **ret_type, size_t *ret_tlen);

/*
 * Checks that a blob (head, hlen, len as for lp_sshkey_blob_type()) names
 * the tlen bytes at type and holds more after them.  Returns 0, -ENODATA
 * when the blob ends right after its type, or -EBADMSG when it names
 * another type or none.
 */
int	lp_sshkey_blob_check(const char *type, size_t tlen,
	    const unsigned char *head, size_t hlen, size_t len);

/*
 * Checks a key given as its two fields, TYPE (tlen bytes) and BASE64
 * (blen bytes): all of the above in one call.  Returns 0,
 * -EPROTONOSUPPORT when TYPE is not a type of the registry, -EBADMSG
 * when BASE64 is not canonical base64 of a blob that names TYPE, or
 * -ENODATA when the blob holds nothing after its type.
 */
int	lp_sshkey_check(const char *type, size_t tlen, const char *b64,
	    size_t blen);

#endif /* LP_SSHKEY_H */
