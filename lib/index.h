/*
 * The compiled node index: a constant database (tinycdb) made from the
 * node registry by lp-nodes, and read by nss_lp, pam_lp_tunnel, lp-hop
 * and lp-nodes.  A lookup costs the same with ten nodes or a hundred
 * thousand.  The file is treated as hostile: every record is checked
 * before it is used.
 *
 * Records (key -> value), all text:
 *	"@version"		"lp-nodes-index 1"
 *	"@count"		number of nodes, decimal
 *	"@tunnel_user"		the tunnel account
 *	"@listen"		the tunnel listen address
 *	"n:" NAME		"PORT ENABLED GROUPS" (ENABLED 0 or 1, GROUPS
 *				comma-separated, "-" for none)
 *	"p:" PORT		NAME
 *	"k:" TYPE " " BASE64	NAME (a key names its node)
 *	"K:" NAME		the node's keys, "TYPE BASE64[ comment]" lines
 *	"#" N			NAME of the node in position N, 0 to count - 1
 */
#ifndef LP_INDEX_H
#define LP_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

#define LP_INDEX_VERSION	"lp-nodes-index 1"
#define LP_INDEX_SIZE_MAX	(1024u * 1024 * 1024)

struct lp_index;

/* A node as the index describes it; pointers are into the mapped file. */
struct lp_index_node {
	char		 name[LP_NODE_NAME_MAX + 1];
	unsigned	 port;
	bool		 enabled;
	const char	*groups;	/* comma-separated, not terminated */
	size_t		 groups_len;	/* 0 when the node has none */
};

/*
 * Writes the index of cfg's nodes to path atomically: a temporary file
 * beside it (mode 0644), fsync, rename, fsync of the directory.  On
 * failure path is untouched and the temporary file removed.  Returns 0
 * or a negative errno.  Logs nothing.
 */
int	lp_index_write(const struct lp_cfg *cfg, const char *path);

/*
 * Opens and maps the index at path.  The file must be a regular file
 * owned by root, not writable by group or others, not a link, at most
 * LP_INDEX_SIZE_MAX bytes, with the expected version record.  Returns 0
 * and sets *ret_idx, or -ENOENT, -ELOOP, -EPERM, -EINVAL (not a regular
 * file), -EFBIG, -EPROTO (corrupt, or another version), -ENOMEM.  The
 * descriptor is O_CLOEXEC.  Lookups move a cursor inside idx, so one
 * lp_index must not be used by two threads at once; opening one per
 * lookup is cheap (a few syscalls).
 */
int	lp_index_open(const char *path, struct lp_index **ret_idx);

/* Unmaps and closes; accepts NULL. */
void	lp_index_close(struct lp_index *idx);

/* The number of nodes. */
size_t	lp_index_count(struct lp_index *idx);

/*
 * Looks a node up by name, by port, by position (0 to count - 1), or by
 * one of its keys ("TYPE BASE64", no comment).  Returns 0 and fills
 * *ret, -ENOENT when there is no such node, or -EPROTO when the record is
 * corrupt.
 */
int	lp_index_node(struct lp_index *idx, const char *name,
	    struct lp_index_node *ret);
int	lp_index_node_by_port(struct lp_index *idx, unsigned port,
	    struct lp_index_node *ret);
int	lp_index_node_at(struct lp_index *idx, size_t pos,
	    struct lp_index_node *ret);
int	lp_index_node_by_key(struct lp_index *idx, const char *key,
	    struct lp_index_node *ret);

/*
 * Points *ret_keys at the node's key lines ('\n'-separated, the last one
 * ending in '\n'), inside the mapping.  Returns 0, -ENOENT or -EPROTO.
 */
int	lp_index_keys(struct lp_index *idx, const char *name,
	    const char **ret_keys, size_t *ret_len);

/* The tunnel account and listen address; owned by idx. */
const char *lp_index_tunnel_user(struct lp_index *idx);
const char *lp_index_listen(struct lp_index *idx);

/*
 * Checks the len bytes at s (s may be NULL when len is 0) as a node name
 * as the registry allows it: 1 to LP_NODE_NAME_MAX lower-case letters,
 * digits and '-', neither first nor last (a DNS label).  Such a name is
 * also safe as a file name: never ".", "..", a dot file or a path.
 * Returns 0, or -EINVAL.  The registry (lib/cfg.c) also refuses a name
 * that reads as an IPv4 address; a reader need not.
 */
int	lp_index_node_name_check(const char *s, size_t len);

/* Returns 1 when group is one of node's groups, 0 otherwise. */
int	lp_index_node_has_group(const struct lp_index_node *node,
	    const char *group);

#endif /* LP_INDEX_H */
