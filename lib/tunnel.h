/*
 * Live tunnel records under /run/lp/tunnels: one file per node that has
 * a tunnel up, written by pam_lp_tunnel when the tunnel's session opens
 * and removed when it closes, read by lp-nodes and lp-hop.
 *
 * The text of a record, one field a line, each line ending in '\n':
 *	lp-tunnel 1
 *	node NAME
 *	port N
 *	peer ADDRESS		(the node's address as sshd saw it)
 *	pid N			(the sshd process that holds the tunnel)
 *	since N			(epoch seconds)
 *	end
 */
#ifndef LP_TUNNEL_H
#define LP_TUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfg.h"

#define LP_PEER_MAX	63

struct lp_tunnel_rec {
	char	node[LP_NODE_NAME_MAX + 1];
	unsigned port;
	char	peer[LP_PEER_MAX + 1];
	pid_t	pid;
	int64_t	since;
};

/* Parses a record's text strictly.  Returns 0 or -EBADMSG. */
int	lp_tunnel_rec_parse(const char *buf, size_t len,
	    struct lp_tunnel_rec *ret);

/* Formats a record into buf.  Returns 0, -EINVAL or -ENOBUFS. */
int	lp_tunnel_rec_format(const struct lp_tunnel_rec *rec, char *buf,
	    size_t size, size_t *ret_len);

/*
 * Writes rec as dir/NODE atomically, creating dir (root, 0755) when it
 * is missing, unless the record there names another process that still
 * runs (a node holds one tunnel at a time): then -EEXIST, with that
 * record in *ret_holder when it is not NULL.  The check and the write
 * are made under the node's lock, so of two sessions opening at once
 * only one gets the node.  A record that cannot be read, or whose
 * process is gone (see lp_tunnel_rec_read()), is replaced.  Removes the
 * node's down marker.  Returns 0 or a negative errno.
 */
int	lp_tunnel_rec_write(const char *dir, const struct lp_tunnel_rec *rec,
	    struct lp_tunnel_rec *ret_holder);

/*
 * Reads dir/NODE (root-owned, not writable by group or others, not a
 * link).  Returns 0, -ENOENT when the node has no record, -EBADMSG, or
 * another negative errno.  A record whose pid no longer runs is
 * -ESTALE: the tunnel is down even though its record was not removed.
 * So is a record whose pid now names a process that /proc says started
 * after since: the pid was given to another process.
 */
int	lp_tunnel_rec_read(const char *dir, const char *node,
	    struct lp_tunnel_rec *ret);

/*
 * Removes dir/NODE when it still names pid, so that the end of an old
 * session never removes the record of a newer tunnel.  Returns 0,
 * -ENOENT, -ESRCH (the record belongs to another pid) or -errno.
 */
int	lp_tunnel_rec_remove(const char *dir, const char *node, pid_t pid);

/*
 * When a tunnel's session closes, pam_lp_tunnel leaves dir/NODE.down
 * (a node name holds no '.', so the two never meet), so that lp-hop and
 * lp-nodes can tell since when a node is unreachable:
 *	lp-tunnel-down 1
 *	node NAME
 *	since N			(epoch seconds)
 *	end
 * Written atomically like a record, creating dir when it is missing;
 * lp_tunnel_rec_write() removes it with the node's next record.
 * Returns 0 or a negative errno.
 */
int	lp_tunnel_down_write(const char *dir, const char *node, int64_t since);

/*
 * Reads dir/NODE.down with the same checks as a record.  Returns 0 and
 * sets *ret_since, -ENOENT, -EBADMSG or another negative errno.
 */
int	lp_tunnel_down_read(const char *dir, const char *node,
	    int64_t *ret_since);

#endif /* LP_TUNNEL_H */
