/* The compiled node index, on tinycdb.  See index.h for the records. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cdb.h>

#include "file.h"
#include "index.h"
#include "lp_util.h"
#include "record.h"
#include "sshkey.h"
#include "user.h"

/* "k:" and the longest key line */
#define KEY_MAX		(2 + LP_SSHKEY_LINE_MAX)

struct lp_index {
	struct cdb	cdb;
	int		fd;
	size_t		count;
	char		tunnel_user[sizeof(((struct lp_tunnel_cfg *)0)->user)];
	char		listen[LP_ADDR_MAX + 1];
};

/* ---------------------------------------------------------------- read */

static int
get(struct lp_index *idx, const char *key, size_t klen, const char **ret_val,
    size_t *ret_len)
{
	const void *v;
	int r;

	if (klen > UINT_MAX)
		return -ENOENT;
	r = cdb_find(&idx->cdb, key, (unsigned)klen);
	if (r < 0)
		return -EPROTO;
	if (r == 0)
		return -ENOENT;
	v = cdb_getdata(&idx->cdb);
	if (v == NULL)
		return -EPROTO;
	*ret_val = v;
	*ret_len = cdb_datalen(&idx->cdb);
	return 0;
}

/* Copies a record into a NUL-terminated buffer; a record too long is corrupt. */
static int
get_str(struct lp_index *idx, const char *key, char *out, size_t size)
{
	const char *v;
	size_t len;
	int r;

	if ((r = get(idx, key, strlen(key), &v, &len)) != 0)
		return r == -ENOENT ? -EPROTO : r;
	if (len == 0 || len >= size || memchr(v, '\0', len) != NULL)
		return -EPROTO;
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

static bool
valid_address(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1;
}

/*
 * Names become file names under the tunnel run directory, so a name read
 * back from the file is checked as well as one asked for.
 */
int
lp_index_node_name_check(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > LP_NODE_NAME_MAX || s[0] == '-' ||
	    s[len - 1] == '-')
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return -EINVAL;
	return 0;
}

/* Printable ASCII only: no control character, no byte above 0x7e. */
static bool
printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/*
 * The table of contents gives the place and size of the 256 hash
 * tables, which a cdb file ends with.  Each must lie inside the file and
 * the last must end where the file does, so that a file cut short or
 * grown is refused at open, not only by the lookups that happen to land
 * in its damaged part.  256 entries: the cost does not grow with the
 * index.
 */
static int
check_toc(struct lp_index *idx)
{
	const unsigned char *toc;
	unsigned long long pos, n, end, last = 2048;
	struct stat st;
	unsigned t;

	if (fstat(idx->fd, &st) != 0 || st.st_size < 2048)
		return -EPROTO;
	if ((toc = cdb_get(&idx->cdb, 2048, 0)) == NULL)
		return -EPROTO;
	for (t = 0; t < 256; t++) {
		pos = cdb_unpack(toc + t * 8);
		n = cdb_unpack(toc + t * 8 + 4);
		end = pos + n * 8;
		if (pos < 2048 || end > (unsigned long long)st.st_size)
			return -EPROTO;
		if (end > last)
			last = end;
	}
	return last == (unsigned long long)st.st_size ? 0 : -EPROTO;
}

static int
read_header(struct lp_index *idx)
{
	char buf[32];
	uint64_t count;
	int r;

	if ((r = get_str(idx, "@version", buf, sizeof(buf))) != 0)
		return r;
	if (strcmp(buf, LP_INDEX_VERSION) != 0)
		return -EPROTO;
	if ((r = get_str(idx, "@count", buf, sizeof(buf))) != 0)
		return r;
	if (lp_rec_parse_u64(buf, strlen(buf), 0, UINT_MAX, &count) != 0)
		return -EPROTO;
	idx->count = (size_t)count;
	if ((r = get_str(idx, "@tunnel_user", idx->tunnel_user,
	    sizeof(idx->tunnel_user))) != 0)
		return r;
	if ((r = get_str(idx, "@listen", idx->listen,
	    sizeof(idx->listen))) != 0)
		return r;
	/* Both end up in sshd's options and in paths: only sane values. */
	if (lp_user_name_check(idx->tunnel_user) != 0 ||
	    !valid_address(idx->listen))
		return -EPROTO;
	return 0;
}

int
lp_index_open(const char *path, struct lp_index **ret_idx)
{
	struct lp_index *idx;
	int fd = -1, r;

	r = lp_open_secret(AT_FDCWD, path, 0, 022, LP_INDEX_SIZE_MAX, &fd);
	if (r != 0)
		return r;
	if ((idx = calloc(1, sizeof(*idx))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	idx->fd = fd;
	if (cdb_init(&idx->cdb, fd) != 0) {
		/* Read errno before close(2) can change it. */
		r = errno == ENOMEM ? -ENOMEM : -EPROTO;
		close(fd);
		free(idx);
		return r;
	}
	if ((r = check_toc(idx)) != 0 || (r = read_header(idx)) != 0) {
		lp_index_close(idx);
		return r;
	}
	*ret_idx = idx;
	return 0;
}

void
lp_index_close(struct lp_index *idx)
{
	if (idx == NULL)
		return;
	cdb_free(&idx->cdb);
	close(idx->fd);
	free(idx);
}

size_t
lp_index_count(struct lp_index *idx)
{
	return idx->count;
}

const char *
lp_index_tunnel_user(struct lp_index *idx)
{
	return idx->tunnel_user;
}

const char *
lp_index_listen(struct lp_index *idx)
{
	return idx->listen;
}

/* Parses "PORT ENABLED GROUPS" into ret (name already set). */
static int
parse_node(const char *v, size_t len, struct lp_index_node *ret)
{
	const char *sp, *end = v + len;
	uint64_t port;

	sp = memchr(v, ' ', len);
	if (sp == NULL ||
	    lp_rec_parse_u64(v, (size_t)(sp - v), 1, 65535, &port) != 0)
		return -EPROTO;
	if (end - sp < 4 || (sp[1] != '0' && sp[1] != '1') || sp[2] != ' ')
		return -EPROTO;
	ret->port = (unsigned)port;
	ret->enabled = sp[1] == '1';
	ret->groups = sp + 3;
	ret->groups_len = (size_t)(end - ret->groups);
	if (!printable(ret->groups, ret->groups_len) ||
	    memchr(ret->groups, ' ', ret->groups_len) != NULL)
		return -EPROTO;
	if (ret->groups_len == 1 && ret->groups[0] == '-')
		ret->groups_len = 0;
	return 0;
}

static int
find_node(struct lp_index *idx, const char *name, size_t nlen,
    struct lp_index_node *ret)
{
	char key[2 + LP_NODE_NAME_MAX + 1];
	struct lp_index_node n;
	const char *v;
	size_t len;
	int r;

	if (lp_index_node_name_check(name, nlen) != 0)
		return -ENOENT;
	memcpy(key, "n:", 2);
	memcpy(key + 2, name, nlen);
	if ((r = get(idx, key, 2 + nlen, &v, &len)) != 0)
		return r;
	memset(&n, 0, sizeof(n));
	memcpy(n.name, name, nlen);
	if ((r = parse_node(v, len, &n)) != 0)
		return r;
	*ret = n;
	return 0;
}

int
lp_index_node(struct lp_index *idx, const char *name,
    struct lp_index_node *ret)
{
	if (name == NULL)
		return -ENOENT;
	return find_node(idx, name, strnlen(name, LP_NODE_NAME_MAX + 1), ret);
}

/* Follows a record whose value is a node name, and checks it back. */
static int
follow(struct lp_index *idx, const char *key, size_t klen,
    struct lp_index_node *ret)
{
	char name[LP_NODE_NAME_MAX + 1];
	const char *v;
	size_t len;
	int r;

	if ((r = get(idx, key, klen, &v, &len)) != 0)
		return r;
	if (len == 0 || len > LP_NODE_NAME_MAX)
		return -EPROTO;
	memcpy(name, v, len);
	r = find_node(idx, name, len, ret);
	return r == -ENOENT ? -EPROTO : r;
}

int
lp_index_node_by_port(struct lp_index *idx, unsigned port,
    struct lp_index_node *ret)
{
	struct lp_index_node n;
	char key[16];
	int r;

	if (port == 0 || port > 65535)
		return -ENOENT;
	(void)snprintf(key, sizeof(key), "p:%u", port);
	if ((r = follow(idx, key, strlen(key), &n)) != 0)
		return r;
	if (n.port != port)
		return -EPROTO;
	*ret = n;
	return 0;
}

int
lp_index_node_at(struct lp_index *idx, size_t pos, struct lp_index_node *ret)
{
	char key[32];
	int r;

	if (pos >= idx->count)
		return -ENOENT;
	(void)snprintf(key, sizeof(key), "#%zu", pos);
	/* @count promised this position: its absence is corruption. */
	r = follow(idx, key, strlen(key), ret);
	return r == -ENOENT ? -EPROTO : r;
}

int
lp_index_node_by_key(struct lp_index *idx, const char *key,
    struct lp_index_node *ret)
{
	char k[KEY_MAX];
	size_t len;

	if (key == NULL)
		return -ENOENT;
	len = strnlen(key, sizeof(k) - 2);
	if (len == 0 || len >= sizeof(k) - 2)
		return -ENOENT;
	memcpy(k, "k:", 2);
	memcpy(k + 2, key, len);
	return follow(idx, k, 2 + len, ret);
}

/*
 * Key lines become authorized_keys lines: each must be non-empty
 * printable ASCII, and the list must end in a newline.
 */
static int
check_key_lines(const char *v, size_t len)
{
	const char *p = v, *end = v + len, *nl;

	if (len == 0 || v[len - 1] != '\n')
		return -EPROTO;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == p || !printable(p, (size_t)(nl - p)))
			return -EPROTO;
		p = nl + 1;
	}
	return 0;
}

int
lp_index_keys(struct lp_index *idx, const char *name, const char **ret_keys,
    size_t *ret_len)
{
	char key[2 + LP_NODE_NAME_MAX + 1];
	const char *v;
	size_t nlen, len;
	int r;

	nlen = name == NULL ? 0 : strnlen(name, LP_NODE_NAME_MAX + 1);
	if (lp_index_node_name_check(name, nlen) != 0)
		return -ENOENT;
	memcpy(key, "K:", 2);
	memcpy(key + 2, name, nlen);
	if ((r = get(idx, key, 2 + nlen, &v, &len)) != 0)
		return r;
	if ((r = check_key_lines(v, len)) != 0)
		return r;
	*ret_keys = v;
	*ret_len = len;
	return 0;
}

int
lp_index_node_has_group(const struct lp_index_node *node, const char *group)
{
	const char *p = node->groups, *end = node->groups + node->groups_len;
	size_t glen = strlen(group);

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t len = (size_t)((comma != NULL ? comma : end) - p);

		if (len == glen && memcmp(p, group, len) == 0)
			return 1;
		p += len + 1;
	}
	return 0;
}

/* --------------------------------------------------------------- write */

static int
add(struct cdb_make *cm, const char *key, size_t klen, const char *val,
    size_t vlen)
{
	errno = 0;
	if (cdb_make_add(cm, key, (unsigned)klen, val, (unsigned)vlen) != 0)
		return errno != 0 ? -errno : -EIO;
	return 0;
}

static int
add_str(struct cdb_make *cm, const char *key, const char *val)
{
	return add(cm, key, strlen(key), val, strlen(val));
}

/* Builds a malloc'd string from parts; returns NULL when out of memory. */
static char *
join(char *const *parts, size_t n, const char *sep, const char *last)
{
	size_t i, len = 1;
	char *s, *p;

	for (i = 0; i < n; i++)
		len += strlen(parts[i]) + strlen(sep);
	if ((s = malloc(len + strlen(last))) == NULL)
		return NULL;
	for (p = s, i = 0; i < n; i++)
		p += sprintf(p, "%s%s", parts[i], i + 1 < n ? sep : last);
	*p = '\0';
	return s;
}

static int
add_node(struct cdb_make *cm, const struct lp_node *n, size_t pos)
{
	char key[KEY_MAX], *groups = NULL, *keys = NULL, *val = NULL;
	size_t i;
	int r = -EINVAL;

	/* Write nothing that the reader would call corrupt. */
	if (lp_index_node_name_check(n->name,
	    strnlen(n->name, sizeof(n->name))) != 0 ||
	    n->port == 0 || n->port > 65535 || n->nkeys == 0)
		goto out;
	for (i = 0; i < n->nkeys; i++)
		if (n->keys[i][0] == '\0' ||
		    !printable(n->keys[i], strlen(n->keys[i])))
			goto out;
	r = -ENOMEM;
	groups = n->ngroups > 0 ? join(n->groups, n->ngroups, ",", "") :
	    strdup("-");
	keys = join(n->keys, n->nkeys, "\n", "\n");
	if (groups == NULL || keys == NULL ||
	    asprintf(&val, "%u %d %s", n->port, n->enabled, groups) < 0) {
		val = NULL;
		goto out;
	}
	(void)snprintf(key, sizeof(key), "n:%s", n->name);
	if ((r = add_str(cm, key, val)) != 0)
		goto out;
	(void)snprintf(key, sizeof(key), "p:%u", n->port);
	if ((r = add_str(cm, key, n->name)) != 0)
		goto out;
	(void)snprintf(key, sizeof(key), "#%zu", pos);
	if ((r = add_str(cm, key, n->name)) != 0)
		goto out;
	(void)snprintf(key, sizeof(key), "K:%s", n->name);
	if ((r = add_str(cm, key, keys)) != 0)
		goto out;
	for (i = 0; i < n->nkeys; i++) {
		/* The key's identity is its type and blob, not its comment. */
		const char *sp = strchr(n->keys[i], ' ');
		const char *sp2 = sp != NULL ? strchr(sp + 1, ' ') : NULL;
		size_t klen = sp2 != NULL ? (size_t)(sp2 - n->keys[i]) :
		    strlen(n->keys[i]);

		if (klen + 2 >= sizeof(key)) {
			r = -EINVAL;
			goto out;
		}
		memcpy(key, "k:", 2);
		memcpy(key + 2, n->keys[i], klen);
		if ((r = add(cm, key, klen + 2, n->name, strlen(n->name))) != 0)
			goto out;
	}
	r = 0;
out:
	free(groups);
	free(keys);
	free(val);
	return r;
}

/* Writes the index of cfg into fd, for lp_file_replace_with(). */
static int
fill(int fd, const void *arg)
{
	const struct lp_cfg *cfg = arg;
	struct cdb_make cm;
	char count[32];
	size_t i;
	int r;

	if (lp_user_name_check(cfg->tunnel.user) != 0 ||
	    !valid_address(cfg->tunnel.listen_address))
		return -EINVAL;
	if (cdb_make_start(&cm, fd) != 0)
		return -errno;
	(void)snprintf(count, sizeof(count), "%zu", cfg->nnodes);
	if ((r = add_str(&cm, "@version", LP_INDEX_VERSION)) != 0 ||
	    (r = add_str(&cm, "@count", count)) != 0 ||
	    (r = add_str(&cm, "@tunnel_user", cfg->tunnel.user)) != 0 ||
	    (r = add_str(&cm, "@listen", cfg->tunnel.listen_address)) != 0)
		goto out;
	for (i = 0; i < cfg->nnodes; i++)
		if ((r = add_node(&cm, &cfg->nodes[i], i)) != 0)
			goto out;
	errno = 0;
	if (cdb_make_finish(&cm) != 0)
		return errno != 0 ? -errno : -EIO;
	return 0;
out:
	(void)cdb_make_finish(&cm);
	return r;
}

/* Splits path into its directory and base name. */
static int
split_path(const char *path, char *dir, size_t dsize, const char **ret_base)
{
	const char *slash = strrchr(path, '/');
	size_t dlen;

	if (slash == NULL) {
		(void)snprintf(dir, dsize, ".");
		*ret_base = path;
		return 0;
	}
	dlen = slash == path ? 1 : (size_t)(slash - path);
	if (dlen >= dsize || slash[1] == '\0')
		return -EINVAL;
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	*ret_base = slash + 1;
	return 0;
}

int
lp_index_write(const struct lp_cfg *cfg, const char *path)
{
	char dir[PATH_MAX], tmp[NAME_MAX + 1], lock[NAME_MAX + 1];
	const char *base;
	int dirfd = -1, lockfd = -1, r;

	if ((r = split_path(path, dir, sizeof(dir), &base)) != 0)
		return r;
	if ((r = lp_file_dotname(tmp, sizeof(tmp), base, ".tmp")) != 0 ||
	    (r = lp_file_dotname(lock, sizeof(lock), base, ".lock")) != 0)
		return r;
	if ((r = lp_dir_open_checked(dir, 0, 022, &dirfd)) != 0)
		return r;
	/* The lock keeps two compiles from sharing the temporary file. */
	if ((r = lp_lock_take(dirfd, lock, &lockfd)) != 0)
		goto out;
	r = lp_file_replace_with(dirfd, base, tmp, 0644, fill, cfg);
out:
	lp_lock_release(lockfd);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}
