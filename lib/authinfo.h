/*
 * SSH_AUTH_INFO_0: what sshd puts in the PAM environment about the
 * methods a connection passed, one line per completed method, each
 * ending in '\n'.  The line of the publickey method names the key that
 * passed it ("publickey TYPE BASE64"), which is how pam_lp_tunnel learns
 * which key a node or a person used.
 *
 * The text comes from sshd, but a wrong reading would let a key pass as
 * another, so it is read strictly, and anything this reading was not
 * made for is refused rather than guessed at:
 *	- NULL or "" holds nothing (-ENODATA);
 *	- more than LP_AUTHINFO_MAX bytes, a byte outside printable ASCII
 *	  other than the '\n' that ends each line, a last line without
 *	  '\n', an empty line, or two spaces in a row is malformed;
 *	- a line is "publickey TYPE BASE64" or exactly
 *	  "keyboard-interactive/pam"; any other method (password,
 *	  hostbased, gssapi, another keyboard-interactive device) is
 *	  malformed, since the bastion's sshd is set up to offer none;
 *	- a second publickey line is malformed: with two keys (as with
 *	  AuthenticationMethods publickey,publickey) there is no one key
 *	  to judge; so is a second keyboard-interactive/pam line;
 *	- TYPE must be a type the node registry accepts: ssh-ed25519,
 *	  ecdsa-sha2-nistp256/384/521, ssh-rsa, sk-ssh-ed25519@openssh.com
 *	  or sk-ecdsa-sha2-nistp256@openssh.com.  A certificate
 *	  (TYPE ending in -cert-v01@openssh.com, which sshd follows with
 *	  its ID, serial and CA) and any other type are -EPROTONOSUPPORT:
 *	  well formed, perhaps, but never a key of the registry;
 *	- BASE64 is canonical base64 (padded, no stray bits) of a blob
 *	  that starts with TYPE as an SSH string and holds more after it,
 *	  so that a key has one spelling and matches the index as text;
 *	- nothing may follow BASE64 on its line.
 */
#ifndef LP_AUTHINFO_H
#define LP_AUTHINFO_H

#include <stddef.h>

#include "sshkey.h"

/* The longest SSH_AUTH_INFO_0 read; sshd's is far shorter. */
#define LP_AUTHINFO_MAX		(64u * 1024)
/* Room for "TYPE BASE64" and its NUL: the registry's longest key line. */
#define LP_AUTHINFO_KEY_MAX	(LP_SSHKEY_LINE_MAX + 1)

/*
 * Finds the key of the publickey line in info, the value of
 * SSH_AUTH_INFO_0.  Returns 0 and writes "TYPE BASE64" (NUL-terminated)
 * into out, of size bytes; -ENODATA when info is NULL or empty; -ENOENT
 * when info is well formed and has no publickey line; -EBADMSG when it
 * is malformed; -EPROTONOSUPPORT for a certificate or a key type the
 * registry does not accept; -ENOBUFS when the key does not fit in out;
 * -EINVAL when out is NULL.  out is written only on success.  Public
 * keys are no secret: nothing is wiped.  Logs nothing.
 */
int	lp_authinfo_publickey(const char *info, char *out, size_t size);

#endif /* LP_AUTHINFO_H */
