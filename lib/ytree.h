/*
 * A small, bounded YAML reader: builds a tree of mappings, sequences and
 * scalars from libyaml's event stream, each node knowing where it was
 * written.  It refuses what a policy file never needs and an attacker
 * might use: aliases and anchors, explicit tags, several documents, deep
 * nesting and huge node counts.
 */
#ifndef LP_YTREE_H
#define LP_YTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

#define LP_YAML_DEPTH_MAX	32
#define LP_YAML_NODES_MAX	100000

enum lp_ynode_type {
	LP_YNODE_SCALAR = 1,
	LP_YNODE_SEQUENCE,
	LP_YNODE_MAPPING,
};

struct lp_ynode {
	enum lp_ynode_type type;
	unsigned long	 line;	/* counted from 1 */
	unsigned long	 col;	/* counted from 1, in characters */
	char		*value;	/* a scalar's text, NUL-terminated */
	size_t		 len;	/* strlen(value): a scalar has no NUL */
	bool		 plain;	/* a scalar written without quotes */
	struct lp_ynode	**items; /* a sequence's items; a mapping's */
	size_t		 nitems; /* key, value, key, value, ... */
	size_t		 cap;
};

/*
 * Parses len bytes of UTF-8 YAML text (NULL reads as empty); name is used
 * in messages.  Returns 0 and sets *ret_root (NULL when the text holds no
 * document), or -EINVAL with one message appended to diag (may be NULL)
 * naming name, line and column, or -ENOMEM.  The caller frees the tree
 * with lp_yaml_free().  Logs nothing.
 */
int	lp_yaml_parse(const char *name, const char *buf, size_t len,
	    struct lp_ynode **ret_root, struct lp_diag *diag);

/* The pairs of a mapping: how many, and the key and value of pair i. */
#define lp_yaml_npairs(n)	((n)->nitems / 2)
#define lp_yaml_key(n, i)	((n)->items[2 * (i)])
#define lp_yaml_val(n, i)	((n)->items[2 * (i) + 1])

/* "a scalar", "a sequence" or "a mapping", for messages. */
const char *lp_yaml_type_name(enum lp_ynode_type type);

/* Frees a tree from lp_yaml_parse(); accepts NULL. */
void	lp_yaml_free(struct lp_ynode *root);

#endif /* LP_YTREE_H */
