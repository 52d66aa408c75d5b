/*
 * The policy loader.  The YAML tree is checked against tables of known
 * keys; every problem is reported with its place in the file and checking
 * goes on, so that an administrator sees all of them at once.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "file.h"
#include "lp_util.h"
#include "sshkey.h"
#include "user.h"
#include "ytree.h"

#define PATH_LEN	192	/* "nodes." NAME ".keys[N]" */
#define SAFE_LEN	64	/* bound on text from the file in a message */
#define ACCOUNT_MAX	32	/* user and group names; sizeof(user) - 1 */

/* A value that must be unique: a mapping key, a group, a port, a key. */
struct uniq {
	const char	*s;
	size_t		 len;
	unsigned	 num;
	size_t		 node;	/* index into cfg->nodes */
	size_t		 idx;	/* index in its list, for messages */
	size_t		 pos;	/* order in the file */
	const struct lp_ynode *at;
};

struct uniq_list {
	struct uniq	*v;
	size_t		 n;
	size_t		 cap;
};

struct ctx {
	const char	*name;
	struct lp_diag	*diag;
	struct lp_cfg	*cfg;
	size_t		 node;		/* node being checked */
	struct uniq_list ports;
	struct uniq_list keys;
	int		 invalid;
	int		 nomem;
};

/* One known key of a mapping, and how its value is checked and stored. */
struct field {
	const char	*key;
	void		(*parse)(struct ctx *, const struct lp_ynode *,
			    const char *, void *, const struct field *);
	size_t		 off;		/* of the value inside the object */
	long long	 min;
	long long	 max;
	int		 required;
	const struct field *sub;	/* a section's own keys */
};

static const char *const algo_names[] = {
	[LP_TOTP_SHA1] = "sha1",
	[LP_TOTP_SHA256] = "sha256",
	[LP_TOTP_SHA512] = "sha512",
};

/* ------------------------------------------------------------ messages */

static void complain(struct ctx *, const struct lp_ynode *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));

static void
complain(struct ctx *c, const struct lp_ynode *at, const char *path,
    const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->invalid = 1;
	if (path[0] == '\0')
		r = lp_diag_at(c->diag, c->name, at->line, at->col, "%s", text);
	else
		r = lp_diag_at(c->diag, c->name, at->line, at->col, "%s: %s",
		    path, text);
	if (r < 0)
		c->nomem = 1;
}

/* Text from the file, made safe to print; buf holds SAFE_LEN + 1. */
static const char *
safe(char *buf, const char *s)
{
	return lp_log_safe(buf, SAFE_LEN + 1, s, SAFE_LEN);
}

/* A path too long for its buffer ends in "..." and stays readable. */
static void
cut_path(char *out, int r)
{
	if (r < 0 || r >= PATH_LEN)
		memcpy(out + PATH_LEN - 4, "...", 4);
}

/* out = path.key, or path for an empty key; out holds PATH_LEN bytes. */
static void
join(char *out, const char *path, const char *key)
{
	char s[SAFE_LEN + 1];

	cut_path(out, snprintf(out, PATH_LEN, "%s%s%s", path,
	    path[0] && key[0] ? "." : "", safe(s, key)));
}

/* out = path[i]; out holds PATH_LEN bytes. */
static void
join_index(char *out, const char *path, size_t i)
{
	cut_path(out, snprintf(out, PATH_LEN, "%s[%zu]", path, i));
}

/* ---------------------------------------------------------- uniqueness */

static int
uniq_add(struct uniq_list *l, const struct uniq *u)
{
	struct uniq *v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		if ((v = reallocarray(l->v, cap, sizeof(*v))) == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = *u;
	l->v[l->n].pos = l->n;
	l->n++;
	return 0;
}

/* Orders by value, then by place in the file. */
static int
uniq_cmp(const void *a, const void *b)
{
	const struct uniq *x = a, *y = b;
	size_t len = x->len < y->len ? x->len : y->len;
	int d;

	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	if ((d = memcmp(x->s, y->s, len)) != 0)
		return d;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
uniq_same(const struct uniq *x, const struct uniq *y)
{
	return x->num == y->num && x->len == y->len &&
	    memcmp(x->s, y->s, x->len) == 0;
}

static int
uniq_pos_cmp(const void *a, const void *b)
{
	const struct uniq *x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Returns in *ret_first, for each entry of l in file order, the file
 * order of the first entry equal to it (itself when it is the first).
 * Sorting keeps this O(n log n) for a registry of many nodes; l is left
 * in file order.
 */
static int
uniq_firsts(struct uniq_list *l, size_t **ret_first)
{
	size_t *first, i, lead = 0;

	if ((first = calloc(l->n ? l->n : 1, sizeof(*first))) == NULL)
		return -ENOMEM;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), uniq_cmp);
	for (i = 0; i < l->n; i++) {
		if (!uniq_same(&l->v[i], &l->v[lead]))
			lead = i;
		first[l->v[i].pos] = l->v[lead].pos;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), uniq_pos_cmp);
	*ret_first = first;
	return 0;
}

/* Finds, for each pair of map, the first pair with the same key. */
static int
mapping_firsts(struct ctx *c, const struct lp_ynode *map, size_t **ret_first)
{
	struct uniq_list l = { 0 };
	const struct lp_ynode *k;
	size_t i;
	int r = -ENOMEM;

	for (i = 0; i < lp_yaml_npairs(map); i++) {
		k = lp_yaml_key(map, i);
		/*
		 * A key that is not a scalar is refused on its own; a number
		 * of its own keeps it from matching anything.
		 */
		if (uniq_add(&l, &(struct uniq){ .s = k->value ? k->value : "",
		    .len = k->len, .num = k->type == LP_YNODE_SCALAR ? 0 :
		    (unsigned)i + 1, .at = k }) < 0)
			goto out;
	}
	r = uniq_firsts(&l, ret_first);
out:
	if (r < 0)
		c->nomem = 1;
	free(l.v);
	return r;
}

/* ------------------------------------------------------------- scalars */

static int
is_null(const struct lp_ynode *n)
{
	return n->type == LP_YNODE_SCALAR && n->plain &&
	    (n->len == 0 || strcmp(n->value, "~") == 0 ||
	    strcmp(n->value, "null") == 0);
}

static const char *
get_string(struct ctx *c, const struct lp_ynode *n, const char *path)
{
	if (n->type != LP_YNODE_SCALAR) {
		complain(c, n, path, "must be a string, not %s",
		    lp_yaml_type_name(n->type));
		return NULL;
	}
	return n->value;
}

/* Reports every problem but a value out of range, which gives -ERANGE. */
static int
get_integer(struct ctx *c, const struct lp_ynode *n, const char *path,
    long long min, long long max, long long *ret_val)
{
	char s[SAFE_LEN + 1];
	int r;

	if (n->type != LP_YNODE_SCALAR) {
		complain(c, n, path, "must be an integer, not %s",
		    lp_yaml_type_name(n->type));
		return -EINVAL;
	}
	/* In YAML "30" is a string; 030 an octal number in YAML 1.1. */
	if (!n->plain) {
		complain(c, n, path, "must be an integer without quotes, "
		    "found '%s'", safe(s, n->value));
		return -EINVAL;
	}
	if (n->len == 0 || strspn(n->value, "0123456789") != n->len) {
		complain(c, n, path, "must be a decimal integer, found '%s'",
		    safe(s, n->value));
		return -EINVAL;
	}
	if (n->len > 1 && n->value[0] == '0') {
		complain(c, n, path, "must be written without leading zeros, "
		    "found '%s'", safe(s, n->value));
		return -EINVAL;
	}
	if ((r = lp_parse_ll(n->value, min, max, ret_val)) == -EINVAL)
		complain(c, n, path, "must be a decimal integer, found '%s'",
		    safe(s, n->value));
	return r;
}

static int
printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* -------------------------------------------------- totp: and tunnel: */

/* An integer in [f->min, f->max]; one outside is reported too. */
static int
get_in_range(struct ctx *c, const struct lp_ynode *n, const char *path,
    const struct field *f, long long *ret_val)
{
	int r;

	r = get_integer(c, n, path, f->min, f->max, ret_val);
	if (r == -ERANGE)
		complain(c, n, path, "must be between %lld and %lld", f->min,
		    f->max);
	return r;
}

static void
parse_uint(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	long long v;

	if (get_in_range(c, n, path, f, &v) == 0)
		*(unsigned *)(void *)((char *)obj + f->off) = (unsigned)v;
}

static void
parse_digits(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	long long v;
	int r;

	r = get_integer(c, n, path, 6, 8, &v);
	if (r == -ERANGE || (r == 0 && v == 7))
		complain(c, n, path, "must be 6 or 8");
	else if (r == 0)
		*(unsigned *)(void *)((char *)obj + f->off) = (unsigned)v;
}

static void
parse_algo(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	enum lp_totp_algo *algo = (void *)((char *)obj + f->off);
	char s[SAFE_LEN + 1];
	size_t i;

	if (n->type != LP_YNODE_SCALAR) {
		complain(c, n, path, "must be sha1, sha256 or sha512, not %s",
		    lp_yaml_type_name(n->type));
		return;
	}
	for (i = 0; i < LP_ARRAY_SIZE(algo_names); i++)
		if (strcmp(n->value, algo_names[i]) == 0) {
			*algo = (enum lp_totp_algo)i;
			return;
		}
	complain(c, n, path, "must be sha1, sha256 or sha512, found '%s'",
	    safe(s, n->value));
}

static void
parse_issuer(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	const char *s;

	if ((s = get_string(c, n, path)) == NULL)
		return;
	if (n->len == 0 || n->len > LP_ISSUER_MAX)
		complain(c, n, path, "must be 1 to %d characters long",
		    LP_ISSUER_MAX);
	else if (!printable_ascii(s))
		complain(c, n, path, "must hold printable ASCII characters "
		    "only");
	else if (strchr(s, ':') != NULL)
		complain(c, n, path, "must not contain ':', which ends the "
		    "issuer in an otpauth label");
	else
		memcpy((char *)obj + f->off, s, n->len + 1);
}

/* Shared by tunnel.user and the groups of a node. */
static int
check_account_name(struct ctx *c, const struct lp_ynode *n,
    const char *path, const char *what)
{
	char s[SAFE_LEN + 1];

	if (get_string(c, n, path) == NULL)
		return -EINVAL;
	if (n->len > ACCOUNT_MAX) {
		complain(c, n, path, "%s must be at most %d characters long",
		    what, ACCOUNT_MAX);
		return -EINVAL;
	}
	if (lp_user_name_check(n->value) < 0) {
		complain(c, n, path, "not a valid %s: '%s'", what,
		    safe(s, n->value));
		return -EINVAL;
	}
	return 0;
}

static void
parse_user(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	if (check_account_name(c, n, path, "user name") == 0)
		memcpy((char *)obj + f->off, n->value, n->len + 1);
}

static void
parse_address(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	struct in6_addr a6;
	struct in_addr a4;
	char s[SAFE_LEN + 1];

	if (get_string(c, n, path) == NULL)
		return;
	if (n->len > LP_ADDR_MAX || (inet_pton(AF_INET, n->value, &a4) != 1 &&
	    inet_pton(AF_INET6, n->value, &a6) != 1)) {
		complain(c, n, path, "must be an IPv4 or IPv6 address, found "
		    "'%s'", safe(s, n->value));
		return;
	}
	memcpy((char *)obj + f->off, n->value, n->len + 1);
}

static void
parse_bool(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	bool *b = (void *)((char *)obj + f->off);
	char s[SAFE_LEN + 1];

	if (n->type != LP_YNODE_SCALAR) {
		complain(c, n, path, "must be true or false, not %s",
		    lp_yaml_type_name(n->type));
		return;
	}
	/* yes, no, on, off and "true" are left out on purpose. */
	if (!n->plain)
		complain(c, n, path, "must be true or false without quotes, "
		    "found '%s'", safe(s, n->value));
	else if (strcmp(n->value, "true") == 0)
		*b = true;
	else if (strcmp(n->value, "false") == 0)
		*b = false;
	else
		complain(c, n, path, "must be true or false, found '%s'",
		    safe(s, n->value));
}

/* ------------------------------------------------------------ mappings */

static const struct field *
find_field(const struct field *tab, const char *key, size_t *ret_idx)
{
	size_t i;

	for (i = 0; tab[i].key != NULL; i++)
		if (strcmp(tab[i].key, key) == 0) {
			*ret_idx = i;
			return &tab[i];
		}
	return NULL;
}

/* Reports keys that are not scalars, and repeated keys; 0 to go on. */
static int
check_key(struct ctx *c, const struct lp_ynode *map, size_t i,
    const size_t *first, const char *path, const char *what)
{
	const struct lp_ynode *k = lp_yaml_key(map, i);
	char s[SAFE_LEN + 1];

	if (k->type != LP_YNODE_SCALAR) {
		complain(c, k, path, "a %s must be a scalar, not %s", what,
		    lp_yaml_type_name(k->type));
		return -EINVAL;
	}
	if (first[i] != i) {
		complain(c, k, path, "duplicate %s '%s', first at line %lu",
		    what, safe(s, k->value), lp_yaml_key(map, first[i])->line);
		return -EINVAL;
	}
	return 0;
}

/*
 * Checks each pair of map against tab (ended by a NULL key) and stores
 * the values into obj.  owner is where a missing key is reported.
 */
static void
walk_mapping(struct ctx *c, const struct lp_ynode *map, const char *path,
    const struct field *tab, void *obj, const struct lp_ynode *owner)
{
	const struct field *f;
	const struct lp_ynode *k;
	char sub[PATH_LEN], s[SAFE_LEN + 1];
	size_t *first, i, idx;
	unsigned long seen = 0;

	if (mapping_firsts(c, map, &first) < 0)
		return;
	for (i = 0; i < lp_yaml_npairs(map); i++) {
		k = lp_yaml_key(map, i);
		if (check_key(c, map, i, first, path, "key") < 0)
			continue;
		if ((f = find_field(tab, k->value, &idx)) == NULL) {
			complain(c, k, path, "unknown key '%s'",
			    safe(s, k->value));
			continue;
		}
		join(sub, path, f->key);
		f->parse(c, lp_yaml_val(map, i), sub, obj, f);
		seen |= 1UL << idx;
	}
	for (i = 0; tab[i].key != NULL; i++)
		if (tab[i].required && !(seen & (1UL << i)))
			complain(c, owner, path, "missing required key '%s'",
			    tab[i].key);
	free(first);
}

/* A section: absent or empty keeps its defaults. */
static void
parse_section(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	if (is_null(n))
		return;
	if (n->type != LP_YNODE_MAPPING) {
		complain(c, n, path, "must be a mapping, not %s",
		    lp_yaml_type_name(n->type));
		return;
	}
	walk_mapping(c, n, path, f->sub, (char *)obj + f->off, n);
}

/* -------------------------------------------------------------- nodes: */

/* A public key line, cut into its fields; nothing is copied. */
struct key_parts {
	const char	*type;
	size_t		 tlen;
	const char	*b64;
	size_t		 blen;
	const char	*comment;
	size_t		 clen;
};

static void
split_key(const char *s, struct key_parts *p)
{
	s += strspn(s, " ");
	p->type = s;
	p->tlen = strcspn(s, " ");
	s += p->tlen;
	s += strspn(s, " ");
	p->b64 = s;
	p->blen = strcspn(s, " ");
	s += p->blen;
	s += strspn(s, " ");
	p->comment = s;
	for (p->clen = strlen(s); p->clen > 0 && s[p->clen - 1] == ' ';)
		p->clen--;
}

/*
 * The blob starts with the key type as an SSH string and holds the key
 * after it.  head holds its first hlen bytes, of len: all of them, or
 * LP_SSHKEY_HEAD_MAX, which is 4 + SAFE_LEN, so that any type short
 * enough to be named in a message can be read from it.
 */
static int
check_blob(struct ctx *c, const struct lp_ynode *n, const char *path,
    const struct key_parts *p, const unsigned char *head, size_t hlen,
    size_t len)
{
	char inner[SAFE_LEN + 1], s[SAFE_LEN + 1];
	const unsigned char *t;
	size_t tlen;
	int r;

	if (len < 4) {
		complain(c, n, path, "key data is too short");
		return -EINVAL;
	}
	r = lp_sshkey_blob_check(p->type, p->tlen, head, hlen, len);
	if (r == 0)
		return 0;
	if (r == -ENODATA) {
		complain(c, n, path, "key data holds nothing after its type");
		return -EINVAL;
	}
	if (lp_sshkey_blob_type(head, hlen, len, &t, &tlen) != 0 ||
	    tlen > SAFE_LEN) {
		complain(c, n, path, "key data does not start with its type");
		return -EINVAL;
	}
	memcpy(inner, t, tlen);
	inner[tlen] = '\0';
	complain(c, n, path, "key data is of type '%s', not '%.*s'",
	    safe(s, inner), (int)p->tlen, p->type);
	return -EINVAL;
}

/* Checks one key line; returns the line to keep, with single spaces. */
static char *
check_key_line(struct ctx *c, const struct lp_ynode *n, const char *path)
{
	unsigned char head[LP_SSHKEY_HEAD_MAX];
	struct key_parts p;
	size_t len;
	char *line;
	int r;

	if (get_string(c, n, path) == NULL)
		return NULL;
	if (n->len > LP_SSHKEY_LINE_MAX || !printable_ascii(n->value)) {
		complain(c, n, path, "must be one line of printable ASCII, at "
		    "most %d characters", LP_SSHKEY_LINE_MAX);
		return NULL;
	}
	split_key(n->value, &p);
	if (!lp_sshkey_type_known(p.type, p.tlen)) {
		complain(c, n, path, "unknown key type '%.*s'",
		    (int)(p.tlen < SAFE_LEN ? p.tlen : SAFE_LEN), p.type);
		return NULL;
	}
	if (p.blen == 0) {
		complain(c, n, path, "has no key data after its type");
		return NULL;
	}
	if ((r = lp_sshkey_b64_decode(p.b64, p.blen, head, sizeof(head),
	    &len)) < 0)
		complain(c, n, path, "key data is not valid base64");
	else
		r = check_blob(c, n, path, &p, head,
		    len < sizeof(head) ? len : sizeof(head), len);
	if (r < 0)
		return NULL;
	if (asprintf(&line, "%.*s %.*s%s%.*s", (int)p.tlen, p.type,
	    (int)p.blen, p.b64, p.clen ? " " : "", (int)p.clen,
	    p.comment) < 0) {
		c->nomem = 1;
		return NULL;
	}
	return line;
}

static void
parse_keys(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	struct lp_node *node = obj;
	char sub[PATH_LEN], *line;
	const char *b64;
	size_t i;

	(void)f;
	if (n->type != LP_YNODE_SEQUENCE || n->nitems == 0) {
		complain(c, n, path, "must be a list of one public key or "
		    "more, not %s", n->type == LP_YNODE_SEQUENCE ?
		    "an empty one" : lp_yaml_type_name(n->type));
		return;
	}
	if ((node->keys = calloc(n->nitems, sizeof(*node->keys))) == NULL) {
		c->nomem = 1;
		return;
	}
	for (i = 0; i < n->nitems; i++) {
		join_index(sub, path, i);
		if ((line = check_key_line(c, n->items[i], sub)) == NULL)
			continue;
		node->keys[node->nkeys++] = line;
		/* The type is inside the blob: base64 alone names the key. */
		b64 = strchr(line, ' ') + 1;
		if (uniq_add(&c->keys, &(struct uniq){ .s = b64,
		    .len = strcspn(b64, " "), .node = c->node, .idx = i,
		    .at = n->items[i] }) < 0)
			c->nomem = 1;
	}
}

static void
report_repeated_groups(struct ctx *c, struct uniq_list *l, const char *path)
{
	size_t *first, i;
	char s[SAFE_LEN + 1];

	if (uniq_firsts(l, &first) < 0) {
		c->nomem = 1;
		return;
	}
	for (i = 0; i < l->n; i++)
		if (first[i] != i)
			complain(c, l->v[i].at, path, "group '%s' is listed "
			    "twice, first at line %lu", safe(s, l->v[i].s),
			    l->v[first[i]].at->line);
	free(first);
}

static void
parse_groups(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	struct lp_node *node = obj;
	struct uniq_list l = { 0 };
	const struct lp_ynode *g;
	char sub[PATH_LEN];
	size_t i;

	(void)f;
	if (n->type != LP_YNODE_SEQUENCE) {
		complain(c, n, path, "must be a list of group names, not %s",
		    lp_yaml_type_name(n->type));
		return;
	}
	node->groups = calloc(n->nitems ? n->nitems : 1,
	    sizeof(*node->groups));
	if (node->groups == NULL) {
		c->nomem = 1;
		return;
	}
	for (i = 0; i < n->nitems; i++) {
		g = n->items[i];
		join_index(sub, path, i);
		if (check_account_name(c, g, sub, "group name") < 0)
			continue;
		if ((node->groups[node->ngroups] = strdup(g->value)) == NULL ||
		    uniq_add(&l, &(struct uniq){ .s = g->value, .len = g->len,
		    .at = g }) < 0) {
			c->nomem = 1;
			break;
		}
		node->ngroups++;
	}
	report_repeated_groups(c, &l, path);
	free(l.v);
}

static void
parse_port(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	struct lp_node *node = obj;
	long long v;

	if (get_in_range(c, n, path, f, &v) != 0)
		return;
	node->port = (unsigned)v;
	if (uniq_add(&c->ports, &(struct uniq){ .s = "", .num = node->port,
	    .node = c->node, .at = n }) < 0)
		c->nomem = 1;
}

static const struct field node_fields[] = {
	{ .key = "port", .parse = parse_port, .min = 1024, .max = 65535,
	    .required = 1 },
	{ .key = "keys", .parse = parse_keys, .required = 1 },
	{ .key = "groups", .parse = parse_groups },
	{ .key = "enabled", .parse = parse_bool,
	    .off = offsetof(struct lp_node, enabled) },
	{ .key = NULL }
};

/*
 * A node name is a DNS label; it must not read as an IPv4 address, since
 * the resolver would take "1234" or "0x10" for one before asking nss_lp.
 */
static void
check_node_name(struct ctx *c, const struct lp_ynode *k, const char *path)
{
	const char *s = k->value, *why = NULL;
	struct in_addr a;

	if (k->len == 0)
		why = "must not be empty";
	else if (k->len > LP_NODE_NAME_MAX)
		why = "must be at most 63 characters long";
	else if (strcspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != k->len)
		why = "must be lower case";
	else if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != k->len)
		why = "may hold only a-z, 0-9 and '-'";
	else if (s[0] == '-' || s[k->len - 1] == '-')
		why = "must not start or end with '-'";
	else if (inet_aton(s, &a) != 0)
		why = "must not read as an IPv4 address";
	if (why != NULL)
		complain(c, k, path, "node name %s", why);
}

static void
parse_node(struct ctx *c, const struct lp_ynode *k, const struct lp_ynode *v,
    const char *path)
{
	struct lp_node *node = &c->cfg->nodes[c->cfg->nnodes];
	size_t len = k->len < LP_NODE_NAME_MAX ? k->len : LP_NODE_NAME_MAX;

	check_node_name(c, k, path);
	c->node = c->cfg->nnodes++;
	memcpy(node->name, k->value, len);
	node->name[len] = '\0';
	node->line = k->line;
	node->enabled = true;
	if (v->type != LP_YNODE_MAPPING) {
		complain(c, v, path, "must be a mapping with port and keys, "
		    "not %s", lp_yaml_type_name(v->type));
		return;
	}
	walk_mapping(c, v, path, node_fields, node, k);
}

static void
parse_nodes(struct ctx *c, const struct lp_ynode *n, const char *path,
    void *obj, const struct field *f)
{
	struct lp_cfg *cfg = obj;
	size_t *first, i, npairs;
	char sub[PATH_LEN];

	(void)f;
	if (is_null(n))
		return;
	if (n->type != LP_YNODE_MAPPING) {
		complain(c, n, path, "must be a mapping of node names to "
		    "nodes, not %s", lp_yaml_type_name(n->type));
		return;
	}
	if (mapping_firsts(c, n, &first) < 0)
		return;
	npairs = lp_yaml_npairs(n);
	if ((cfg->nodes = calloc(npairs ? npairs : 1,
	    sizeof(*cfg->nodes))) == NULL) {
		c->nomem = 1;
		goto out;
	}
	for (i = 0; i < npairs; i++) {
		if (check_key(c, n, i, first, path, "node name") < 0)
			continue;
		join(sub, path, lp_yaml_key(n, i)->value);
		parse_node(c, lp_yaml_key(n, i), lp_yaml_val(n, i), sub);
	}
out:
	free(first);
}

/* -------------------------------------------------------------- the top */

static const struct field totp_fields[] = {
	{ .key = "issuer", .parse = parse_issuer,
	    .off = offsetof(struct lp_totp_cfg, issuer) },
	{ .key = "digits", .parse = parse_digits,
	    .off = offsetof(struct lp_totp_cfg, digits) },
	{ .key = "period", .parse = parse_uint, .min = 10, .max = 300,
	    .off = offsetof(struct lp_totp_cfg, period) },
	{ .key = "algorithm", .parse = parse_algo,
	    .off = offsetof(struct lp_totp_cfg, algo) },
	{ .key = "window", .parse = parse_uint, .min = 0, .max = 10,
	    .off = offsetof(struct lp_totp_cfg, window) },
	{ .key = "max_failures", .parse = parse_uint, .min = 1, .max = 1000,
	    .off = offsetof(struct lp_totp_cfg, max_failures) },
	{ .key = "lockout", .parse = parse_uint, .min = 1, .max = 86400,
	    .off = offsetof(struct lp_totp_cfg, lockout) },
	{ .key = NULL }
};

static const struct field tunnel_fields[] = {
	{ .key = "user", .parse = parse_user,
	    .off = offsetof(struct lp_tunnel_cfg, user) },
	{ .key = "listen_address", .parse = parse_address,
	    .off = offsetof(struct lp_tunnel_cfg, listen_address) },
	{ .key = NULL }
};

static const struct field root_fields[] = {
	{ .key = "totp", .parse = parse_section, .sub = totp_fields,
	    .off = offsetof(struct lp_cfg, totp) },
	{ .key = "tunnel", .parse = parse_section, .sub = tunnel_fields,
	    .off = offsetof(struct lp_cfg, tunnel) },
	{ .key = "nodes", .parse = parse_nodes },
	{ .key = NULL }
};

/* Where a port or a key is, for messages; a key has no number. */
static void
uniq_path(const struct ctx *c, const struct uniq *u, char *path)
{
	char node[PATH_LEN], keys[PATH_LEN];

	join(node, "nodes", c->cfg->nodes[u->node].name);
	if (u->num != 0) {
		join(path, node, "port");
		return;
	}
	join(keys, node, "keys");
	join_index(path, keys, u->idx);
}

/* Ports and keys are unique across nodes; reported once all are read. */
static void
check_unique(struct ctx *c, struct uniq_list *l)
{
	const struct uniq *u, *f;
	char path[PATH_LEN], s[SAFE_LEN + 1];
	size_t *first, i;

	if (uniq_firsts(l, &first) < 0) {
		c->nomem = 1;
		return;
	}
	for (i = 0; i < l->n; i++) {
		if (first[i] == i)
			continue;
		u = &l->v[i];
		f = &l->v[first[i]];
		uniq_path(c, u, path);
		(void)safe(s, c->cfg->nodes[f->node].name);
		if (u->num != 0)
			complain(c, u->at, path, "port %u already belongs to "
			    "node '%s' at line %lu", u->num, s, f->at->line);
		else if (f->node == u->node)
			complain(c, u->at, path, "key is listed twice, first "
			    "at line %lu", f->at->line);
		else
			complain(c, u->at, path, "key already belongs to node "
			    "'%s' at line %lu", s, f->at->line);
	}
	free(first);
}

static void
check_root(struct ctx *c, const struct lp_ynode *root)
{
	if (root == NULL || is_null(root)) {
		if (lp_diag_at(c->diag, c->name, 1, 1, "the policy file is "
		    "empty") < 0)
			c->nomem = 1;
		c->invalid = 1;
		return;
	}
	if (root->type != LP_YNODE_MAPPING) {
		complain(c, root, "", "the top level must be a mapping of "
		    "sections, not %s", lp_yaml_type_name(root->type));
		return;
	}
	walk_mapping(c, root, "", root_fields, c->cfg, root);
	check_unique(c, &c->ports);
	check_unique(c, &c->keys);
}

/* ---------------------------------------------------------- interface */

void
lp_cfg_defaults(struct lp_cfg *cfg)
{
	(void)snprintf(cfg->totp.issuer, sizeof(cfg->totp.issuer), "%s",
	    "LocalPrompt");
	cfg->totp.digits = 6;
	cfg->totp.period = 30;
	cfg->totp.algo = LP_TOTP_SHA1;
	cfg->totp.window = 1;
	cfg->totp.max_failures = 5;
	cfg->totp.lockout = 300;
	(void)snprintf(cfg->tunnel.user, sizeof(cfg->tunnel.user), "%s",
	    "lp-tunnel");
	(void)snprintf(cfg->tunnel.listen_address,
	    sizeof(cfg->tunnel.listen_address), "%s", "127.0.0.1");
}

int
lp_cfg_parse(const char *name, const char *buf, size_t len,
    struct lp_cfg **ret_cfg, struct lp_diag *diag)
{
	struct ctx c = { .name = name, .diag = diag };
	struct lp_ynode *root = NULL;
	int r = -ENOMEM;

	if ((c.cfg = calloc(1, sizeof(*c.cfg))) == NULL)
		goto out;
	lp_cfg_defaults(c.cfg);
	if ((c.cfg->path = strdup(name)) == NULL)
		goto out;
	if ((r = lp_yaml_parse(name, buf, len, &root, diag)) < 0)
		goto out;

	check_root(&c, root);
	r = c.nomem ? -ENOMEM : c.invalid ? -EINVAL : 0;
	if (r < 0)
		goto out;

	*ret_cfg = c.cfg;
	c.cfg = NULL;
out:
	free(c.ports.v);
	free(c.keys.v);
	lp_yaml_free(root);
	lp_cfg_free(c.cfg);
	return r;
}

/* Says why lp_read_secret() refused path; lstat only words the message. */
static int
explain_open(const char *path, int err, struct lp_diag *diag)
{
	struct stat st;
	int r, have = lstat(path, &st) == 0;

	if (err == -ENOENT)
		r = lp_diag_add(diag, "%s: no such file", path);
	else if (err == -ELOOP)
		r = lp_diag_add(diag, "%s: is a symbolic link; the policy "
		    "must be a regular file", path);
	else if (err == -EFBIG)
		r = lp_diag_add(diag, "%s: is larger than %u bytes", path,
		    LP_CFG_SIZE_MAX);
	else if (err == -EPERM && have && st.st_uid != 0)
		r = lp_diag_add(diag, "%s: is owned by uid %lu, not by root",
		    path, (unsigned long)st.st_uid);
	else if (err == -EPERM && have && (st.st_mode & 022) != 0)
		r = lp_diag_add(diag, "%s: is writable by group or others "
		    "(mode %04o)", path, (unsigned)(st.st_mode & 07777));
	else if (err == -EINVAL && have && !S_ISREG(st.st_mode))
		r = lp_diag_add(diag, "%s: is not a regular file", path);
	else if (err == -EINVAL && have && st.st_nlink > 1)
		r = lp_diag_add(diag, "%s: has more than one hard link", path);
	else
		r = lp_diag_add(diag, "%s: %s", path, strerror(-err));
	return r < 0 ? r : err;
}

int
lp_cfg_load(const char *path, struct lp_cfg **ret_cfg, struct lp_diag *diag)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = lp_read_secret(AT_FDCWD, path, 0, 022, LP_CFG_SIZE_MAX, &buf,
	    &len);
	if (r < 0) {
		r = explain_open(path, r, diag);
		goto out;
	}
	r = lp_cfg_parse(path, buf, len, ret_cfg, diag);
out:
	if (buf != NULL)
		lp_freezero(buf, len + 1);
	return r;
}

/* A linear search: callers look up one node per run. */
const struct lp_node *
lp_cfg_node(const struct lp_cfg *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nnodes; i++)
		if (strcmp(cfg->nodes[i].name, name) == 0)
			return &cfg->nodes[i];
	return NULL;
}

const char *
lp_totp_algo_name(enum lp_totp_algo algo)
{
	if ((size_t)algo < LP_ARRAY_SIZE(algo_names))
		return algo_names[algo];
	return "unknown";
}

static void
free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
lp_cfg_free(struct lp_cfg *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nnodes; i++) {
		free_strings(cfg->nodes[i].keys, cfg->nodes[i].nkeys);
		free_strings(cfg->nodes[i].groups, cfg->nodes[i].ngroups);
	}
	free(cfg->nodes);
	free(cfg->path);
	free(cfg);
}
