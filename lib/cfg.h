/*
 * The policy file, /etc/lp/lp.yaml: TOTP settings, the tunnel account and
 * the node registry.  Every part of the suite that reads policy reads it
 * through lp_cfg_load(); libnss_lp reads only the compiled node index.
 */
#ifndef LP_CFG_H
#define LP_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

/* Bound on the policy file's size, so that a huge file is refused. */
#define LP_CFG_SIZE_MAX		(4u * 1024 * 1024)

#define LP_ISSUER_MAX		64
#define LP_NODE_NAME_MAX	63
#define LP_ADDR_MAX		45

enum lp_totp_algo {
	LP_TOTP_SHA1 = 0,
	LP_TOTP_SHA256,
	LP_TOTP_SHA512,
};

struct lp_totp_cfg {
	char		issuer[LP_ISSUER_MAX + 1];	/* default LocalPrompt */
	unsigned	digits;			/* 6 or 8, default 6 */
	unsigned	period;			/* 10..300 s, default 30 */
	enum lp_totp_algo algo;			/* default sha1 */
	unsigned	window;			/* 0..10 steps, default 1 */
	unsigned	max_failures;		/* 1..1000, default 5 */
	unsigned	lockout;		/* 1..86400 s, default 300 */
};

struct lp_tunnel_cfg {
	char		user[33];		/* default lp-tunnel */
	char		listen_address[LP_ADDR_MAX + 1]; /* default 127.0.0.1 */
};

struct lp_node {
	char		 name[LP_NODE_NAME_MAX + 1];
	unsigned	 port;			/* 1024..65535, unique */
	char		**keys;			/* "TYPE BASE64 [comment]" */
	size_t		 nkeys;
	char		**groups;
	size_t		 ngroups;
	bool		 enabled;		/* default true */
	unsigned long	 line;			/* where the node is defined */
};

struct lp_cfg {
	char		*path;			/* the file it came from */
	struct lp_totp_cfg totp;
	struct lp_tunnel_cfg tunnel;
	struct lp_node	*nodes;
	size_t		 nnodes;
};

/* Fills the defaults of the totp: and tunnel: sections. */
void	lp_cfg_defaults(struct lp_cfg *cfg);

/*
 * Loads the policy file at path.  The file must be a regular file, not a
 * symbolic link, owned by root, not writable by group or others, and at
 * most LP_CFG_SIZE_MAX bytes.  Returns 0 and sets *ret_cfg, or a negative
 * errno with one message or more appended to diag (may be NULL), each
 * naming the file, and for policy errors the line and column: -ENOENT,
 * -ELOOP (a symbolic link), -EPERM (owner or mode), -EINVAL (not a
 * regular file, hard-linked, or not valid policy), -EFBIG, -ENOMEM.
 * Logs nothing.
 */
int	lp_cfg_load(const char *path, struct lp_cfg **ret_cfg,
	    struct lp_diag *diag);

/*
 * Parses len bytes of policy text; name is used in messages.  Keeps going
 * after an error so that diag lists every problem.  Returns as
 * lp_cfg_load() does, without the file checks.
 */
int	lp_cfg_parse(const char *name, const char *buf, size_t len,
	    struct lp_cfg **ret_cfg, struct lp_diag *diag);

/* Returns the node called name, or NULL. */
const struct lp_node *lp_cfg_node(const struct lp_cfg *cfg, const char *name);

/* Name of an algorithm as written in the policy: "sha1", "sha256", "sha512". */
const char *lp_totp_algo_name(enum lp_totp_algo algo);

/* Frees cfg and everything it owns; accepts NULL. */
void	lp_cfg_free(struct lp_cfg *cfg);

#endif /* LP_CFG_H */
