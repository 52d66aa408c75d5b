/*
 * What lp-hop needs that can be tested without sshd: reading the
 * person's request (SSH_ORIGINAL_COMMAND), the group check against a
 * node's groups from the index, and the relay that carries bytes between
 * the person's session and the node's tunnel port.
 */
#ifndef LP_HOP_H
#define LP_HOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* The longest request read; anything longer is refused, not cut. */
#define LP_HOP_REQUEST_MAX	255

/* Why a request was refused. */
enum lp_hop_req_error {
	LP_HOP_REQ_OK = 0,
	LP_HOP_REQ_EMPTY,	/* nothing, or only blanks */
	LP_HOP_REQ_WORDS,	/* more than one word */
	LP_HOP_REQ_CHARS,	/* a byte a node name cannot hold */
	LP_HOP_REQ_LONG,	/* longer than a node name or the request max */
};

/*
 * Reads a request: one node name, optionally with blanks (space or tab)
 * around it, nothing else.  A node name is a DNS label as the node
 * registry requires (letters, digits and '-', not at either end, at most
 * LP_NODE_NAME_MAX bytes), taken in lower case.  req may be NULL (no
 * command: LP_HOP_REQ_EMPTY).  Returns LP_HOP_REQ_OK and writes the name
 * into ret_node, or the error; ret_node is untouched on error.
 */
enum lp_hop_req_error lp_hop_parse_request(const char *req,
	    char ret_node[LP_NODE_NAME_MAX + 1]);

/* A fixed word for err ("empty", "extra_words", "bad_characters", ...). */
const char *lp_hop_req_error_word(enum lp_hop_req_error err);

/*
 * Tells whether a person whose groups are the names in person_groups
 * (ngroups of them) may reach a node whose groups are the comma-separated
 * list node_groups of node_groups_len bytes (not NUL-terminated, as the
 * index gives it).  A node with no groups admits nobody.  Returns 1 or 0.
 */
int	lp_hop_group_allowed(const char *node_groups, size_t node_groups_len,
	    char *const *person_groups, size_t ngroups);

/* Why a relay ended. */
enum lp_relay_end {
	LP_RELAY_BOTH_CLOSED = 0,	/* both sides sent EOF */
	LP_RELAY_CLIENT_ERROR,		/* reading or writing the person's
					   side failed */
	LP_RELAY_NODE_ERROR,		/* the same on the node's side */
	LP_RELAY_SIGNAL,		/* a stop signal arrived */
	LP_RELAY_IDLE,			/* no byte either way for too long */
	LP_RELAY_CLIENT_CLOSED,		/* the person's side stopped reading
					   while the node still sent */
};

struct lp_relay_stats {
	uint64_t	sent;		/* bytes from the person to the node */
	uint64_t	received;	/* bytes from the node to the person */
	enum lp_relay_end end;
};

/*
 * Carries bytes from in_fd to sock and from sock to out_fd until both
 * directions have seen EOF.  EOF on in_fd shuts sock down for writing
 * and the relay goes on reading sock; EOF on sock shuts out_fd down for
 * writing (shutdown(2) on a socket; close(2) otherwise) and the relay
 * goes on reading in_fd.  in_fd and out_fd may be the same descriptor.
 * Ends early on an error of either side, when *stop becomes nonzero (a
 * signal handler sets it; the relay wakes within a second), or after
 * idle_s seconds without a byte either way (0: never).  Fills *st in
 * every case.  Returns 0 when both sides closed, or when the person's
 * side stopped reading (EPIPE writing out_fd: LP_RELAY_CLIENT_CLOSED),
 * else a negative errno (-EINTR for a stop, -ETIMEDOUT for idle, the
 * failing call's error).
 * Nothing is logged; the descriptors stay open but for the writes shut
 * down as above (a closed out_fd gets /dev/null in its place, so that
 * its number stays taken).  While it runs the descriptors are
 * non-blocking and SIGPIPE is blocked (a closed reader is an EPIPE);
 * their flags and the signal mask are restored before it returns.  A
 * pipe among them may be left grown to 1 MiB.
 */
int	lp_relay(int in_fd, int out_fd, int sock, unsigned idle_s,
	    volatile sig_atomic_t *stop, struct lp_relay_stats *st);

/* A fixed word for end ("closed", "client_error", ...). */
const char *lp_relay_end_word(enum lp_relay_end end);

#endif /* LP_HOP_H */
