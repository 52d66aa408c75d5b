/*
 * nss_lp: node names through the name service switch.  The services
 * database maps a node's name to its tunnel port and back, the hosts
 * database maps it to the tunnel listen address, so that getaddrinfo(3)
 * of a node name and service gives the whole tunnel endpoint.
 *
 * The process keeps one index open and mapped between calls, under a
 * mutex.  Each lookup first asks lstat(2) whether the index path still
 * names the file that was opened; when it does not, or names nothing,
 * the open index is dropped and the path opened again.  So a lookup costs
 * one system call and a constant number of probes whatever the number of
 * nodes, and a replaced index is seen by the next lookup.  Only enabled
 * nodes are answered: a disabled node has no tunnel, so its port leads
 * nowhere it should.
 *
 * The module runs inside every process that resolves a name, so it never
 * logs, never changes the caller's errno, and treats the index as hostile
 * (lib/index.c checks every record; this file checks what it copies out).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nss.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "index.h"

/* Tests and administrators point the module at another index with it. */
#define LP_NSS_ENV	"LP_NSS_INDEX"
#define LP_NSS_PROTO	"tcp"
#define LP_NAME_CHARS	"abcdefghijklmnopqrstuvwxyz0123456789-"

nss_getservbyname_r	_nss_lp_getservbyname_r;
nss_getservbyport_r	_nss_lp_getservbyport_r;
nss_setservent		_nss_lp_setservent;
nss_getservent_r	_nss_lp_getservent_r;
nss_endservent		_nss_lp_endservent;
nss_gethostbyname4_r	_nss_lp_gethostbyname4_r;
nss_gethostbyname3_r	_nss_lp_gethostbyname3_r;
nss_gethostbyname2_r	_nss_lp_gethostbyname2_r;
nss_gethostbyname_r	_nss_lp_gethostbyname_r;

enum lp_by {
	LP_BY_NAME,
	LP_BY_PORT,
	LP_BY_POS,		/* the first enabled node at pos or after */
};

struct lp_query {
	enum lp_by	 by;
	const char	*name;
	unsigned	 port;
	size_t		 pos;
};

/* An enabled node and its endpoint, copied out of the index. */
struct lp_answer {
	char		 name[LP_NODE_NAME_MAX + 1];
	unsigned	 port;
	size_t		 pos;		/* where LP_BY_POS found it */
	int		 family;	/* of the listen address */
	unsigned char	 addr[sizeof(struct in6_addr)];
	size_t		 addrlen;
};

/* The caller's buffer, handed out front to back. */
struct lp_buf {
	char	*p;
	size_t	 left;
};

/*
 * The open index, the path it was opened by, and what lstat(2) said of
 * that path just before the open.  A file put in place after that lstat
 * differs from it, so the next lookup opens again: the cache can be one
 * open too many, never one too few.
 *
 * XXX: lib/index.c keeps the index's descriptor until lp_index_close(),
 * though lookups read only the mapping.  A process that closes every
 * descriptor without forking, then opens a file that gets the same
 * number, would have that file closed by the next reopen here.  Children
 * are covered (reset_in_child()), which is the common daemon case; this
 * ends when lp_index_open() closes its descriptor once the file is mapped
 * and checked.
 */
struct lp_cache {
	struct lp_index	*idx;
	char		 path[PATH_MAX];
	struct stat	 st;
};

/*
 * Lock order: serv_lock, then cache_lock (getservent_r holds the first
 * while it looks up).  The fork handlers take both in that order.
 */
static pthread_mutex_t	cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lp_cache	cache;

/* The position of the next node getservent_r returns. */
static pthread_mutex_t	serv_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t		serv_pos;

static pthread_once_t	fork_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------ index */

/*
 * secure_getenv(3) ignores the variable in set-user-ID and capability
 * programs, so that a user cannot feed them an index of his own.
 */
static const char *
index_path(void)
{
	const char *p = secure_getenv(LP_NSS_ENV);

	return p != NULL && p[0] == '/' ? p : LP_INDEX_PATH;
}

/* A node name as lp.yaml allows it; anything else in the index is corrupt. */
static bool
is_node_name(const char *s)
{
	size_t len = strnlen(s, LP_NODE_NAME_MAX + 1);

	return len > 0 && len <= LP_NODE_NAME_MAX &&
	    strspn(s, LP_NAME_CHARS) == len && s[0] != '-' && s[len - 1] != '-';
}

static int
find_enabled_from(struct lp_index *idx, size_t pos, struct lp_index_node *ret,
    size_t *ret_pos)
{
	struct lp_index_node n;
	size_t count = lp_index_count(idx);
	int r;

	for (; pos < count; pos++) {
		if ((r = lp_index_node_at(idx, pos, &n)) != 0)
			return r;
		if (n.enabled) {
			*ret = n;
			*ret_pos = pos;
			return 0;
		}
	}
	return -ENOENT;
}

static int
ask_index(struct lp_index *idx, const struct lp_query *q,
    struct lp_index_node *ret, size_t *ret_pos)
{
	struct lp_index_node n;
	int r;

	switch (q->by) {
	case LP_BY_NAME:
		r = lp_index_node(idx, q->name, &n);
		break;
	case LP_BY_PORT:
		r = lp_index_node_by_port(idx, q->port, &n);
		break;
	case LP_BY_POS:
		return find_enabled_from(idx, q->pos, ret, ret_pos);
	default:
		return -EINVAL;
	}
	if (r != 0)
		return r;
	if (!n.enabled)
		return -ENOENT;
	*ret = n;
	*ret_pos = q->pos;
	return 0;
}

static int
parse_listen(const char *s, struct lp_answer *a)
{
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = AF_INET;
		a->addrlen = sizeof(struct in_addr);
	} else if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = AF_INET6;
		a->addrlen = sizeof(struct in6_addr);
	} else
		return -EPROTO;
	return 0;
}

static int
make_answer(struct lp_index *idx, const struct lp_index_node *n, size_t pos,
    struct lp_answer *ret)
{
	struct lp_answer a;

	memset(&a, 0, sizeof(a));
	if (!is_node_name(n->name) || n->port == 0 || n->port > 65535)
		return -EPROTO;
	memcpy(a.name, n->name, sizeof(a.name));
	a.port = n->port;
	a.pos = pos;
	if (parse_listen(lp_index_listen(idx), &a) != 0)
		return -EPROTO;
	*ret = a;
	return 0;
}

/* ------------------------------------------------------------ cache */

/*
 * Everything lp_open_secret() checks, and what changes when the file is
 * replaced or rewritten.  Mode, owner and links are compared as well as
 * the change time, so that a chmod(2) in the same clock tick as the last
 * write is still noticed.
 */
static bool
is_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mode == b->st_mode &&
	    a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
	    a->st_nlink == b->st_nlink &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* With cache_lock held. */
static void
drop_cache(void)
{
	lp_index_close(cache.idx);
	cache.idx = NULL;
	cache.path[0] = '\0';
}

/*
 * With cache_lock held, st being what lstat(2) said of path just before:
 * the open index if it was opened by path and path's lstat then equals
 * st; otherwise the index at path, opened now, the old one closed first.
 * Returns 0 and sets *ret_idx (owned by the cache, valid while
 * cache_lock is held), or lp_index_open()'s error with nothing cached.
 */
static int
get_index(const char *path, const struct stat *st, struct lp_index **ret_idx)
{
	size_t len = strlen(path);
	int r;

	if (cache.idx != NULL && strcmp(cache.path, path) == 0 &&
	    is_same_file(&cache.st, st)) {
		*ret_idx = cache.idx;
		return 0;
	}
	drop_cache();
	if (len >= sizeof(cache.path))
		return -ENAMETOOLONG;
	if ((r = lp_index_open(path, &cache.idx)) != 0)
		return r;
	memcpy(cache.path, path, len + 1);
	cache.st = *st;
	*ret_idx = cache.idx;
	return 0;
}

static void
lock_all(void)
{
	(void)pthread_mutex_lock(&serv_lock);
	(void)pthread_mutex_lock(&cache_lock);
}

static void
unlock_all(void)
{
	(void)pthread_mutex_unlock(&cache_lock);
	(void)pthread_mutex_unlock(&serv_lock);
}

/*
 * The child starts without the parent's index: a child that closes every
 * descriptor it inherited, as daemons do, would otherwise leave the cache
 * holding a number that its next open(2) reuses, for lp_index_close() to
 * close later.  The descriptor and mapping are the child's own copies, so
 * closing them here leaves the parent's alone; its first lookup opens the
 * index again.  posix_spawn(3) and vfork(2) run no handlers, and need
 * none: their child execs or exits.
 */
static void
reset_in_child(void)
{
	int saved = errno;

	drop_cache();
	unlock_all();
	errno = saved;
}

/*
 * A fork(2) waits for a lookup or getservent_r in progress, so that no
 * child inherits a lock held by a thread it does not have.  glibc drops
 * the handlers when the module is unloaded.
 */
static void
register_fork_handlers(void)
{
	(void)pthread_atfork(lock_all, unlock_all, reset_in_child);
}

/*
 * At dlclose(3) or exit(3): unmap and close the index, so that unloading
 * the module leaves neither behind.  A lookup running in another thread
 * at exit is waited for; one that starts after this opens the index
 * again, which exit(3) then discards with the rest of the process.
 */
__attribute__((destructor))
static void
close_cached_index(void)
{
	int saved = errno;

	(void)pthread_mutex_lock(&cache_lock);
	drop_cache();
	(void)pthread_mutex_unlock(&cache_lock);
	errno = saved;
}

/*
 * Answers q from the index.  Returns NSS_STATUS_SUCCESS and fills *ret,
 * NSS_STATUS_NOTFOUND when the index holds no enabled node for q, or
 * NSS_STATUS_UNAVAIL with *ret_err set when the index is missing,
 * unreadable, unsafe or corrupt.  lstat(2) runs before the lock, so that
 * threads wait for one another only while they read the mapping.
 */
static enum nss_status
lookup(const struct lp_query *q, struct lp_answer *ret, int *ret_err)
{
	const char *path = index_path();
	enum nss_status status = NSS_STATUS_UNAVAIL;
	struct lp_index *idx;
	struct lp_index_node n;
	struct stat st;
	size_t pos = 0;
	int r;

	(void)pthread_once(&fork_once, register_fork_handlers);
	r = lstat(path, &st) == 0 ? 0 : -errno;

	(void)pthread_mutex_lock(&cache_lock);
	if (r != 0)
		drop_cache();	/* removed: no answers from what it was */
	else if ((r = get_index(path, &st, &idx)) == 0) {
		if ((r = ask_index(idx, q, &n, &pos)) == 0)
			r = make_answer(idx, &n, pos, ret);
		/* A missing index was UNAVAIL above; here, a missing node. */
		if (r == -ENOENT)
			status = NSS_STATUS_NOTFOUND;
	}
	(void)pthread_mutex_unlock(&cache_lock);

	if (r == 0)
		return NSS_STATUS_SUCCESS;
	if (status == NSS_STATUS_UNAVAIL)
		*ret_err = -r;
	return status;
}

/*
 * Host names compare without regard to case, as DNS names do; node names
 * are lower case.  A name too long for a node is one the index lacks.
 */
static enum nss_status
lookup_host(const char *name, struct lp_answer *ret, int *ret_err)
{
	char folded[LP_NODE_NAME_MAX + 1];
	const struct lp_query q = { .by = LP_BY_NAME, .name = folded };
	size_t i;

	if (name == NULL || name[0] == '\0')
		return NSS_STATUS_NOTFOUND;
	for (i = 0; name[i] != '\0'; i++) {
		if (i >= LP_NODE_NAME_MAX)
			return NSS_STATUS_NOTFOUND;
		folded[i] = name[i] >= 'A' && name[i] <= 'Z' ?
		    (char)(name[i] - 'A' + 'a') : name[i];
	}
	folded[i] = '\0';
	return lookup(&q, ret, ret_err);
}

/* ------------------------------------------------------------ buffer */

/*
 * Takes size bytes aligned to align (a power of two) from the caller's
 * buffer, or returns NULL and takes nothing when they do not fit.
 */
static void *
buf_alloc(struct lp_buf *b, size_t size, size_t align)
{
	size_t pad = (size_t)(-(uintptr_t)b->p & (align - 1));
	void *p;

	if (b->left < pad || b->left - pad < size)
		return NULL;
	p = b->p + pad;
	b->p += pad + size;
	b->left -= pad + size;
	return p;
}

static char *
buf_str(struct lp_buf *b, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p;

	if ((p = buf_alloc(b, len, 1)) != NULL)
		memcpy(p, s, len);
	return p;
}

static enum nss_status
too_small(int *ret_err)
{
	*ret_err = ERANGE;
	return NSS_STATUS_TRYAGAIN;
}

/* ------------------------------------------------------------ results */

static enum nss_status
fill_servent(const struct lp_answer *a, struct servent *s, char *buffer,
    size_t buflen, int *ret_err)
{
	struct lp_buf b = { buffer, buflen };
	char **aliases, *name, *proto;

	aliases = buf_alloc(&b, sizeof(char *), alignof(char *));
	name = buf_str(&b, a->name);
	proto = buf_str(&b, LP_NSS_PROTO);
	if (aliases == NULL || name == NULL || proto == NULL)
		return too_small(ret_err);

	aliases[0] = NULL;
	s->s_name = name;
	s->s_aliases = aliases;
	s->s_port = htons((uint16_t)a->port);
	s->s_proto = proto;
	return NSS_STATUS_SUCCESS;
}

static enum nss_status
fill_hostent(const struct lp_answer *a, struct hostent *h, char *buffer,
    size_t buflen, int *ret_err)
{
	struct lp_buf b = { buffer, buflen };
	char **aliases, **addrs, *addr, *name;

	aliases = buf_alloc(&b, sizeof(char *), alignof(char *));
	addrs = buf_alloc(&b, 2 * sizeof(char *), alignof(char *));
	addr = buf_alloc(&b, a->addrlen, alignof(struct in6_addr));
	name = buf_str(&b, a->name);
	if (aliases == NULL || addrs == NULL || addr == NULL || name == NULL)
		return too_small(ret_err);

	memcpy(addr, a->addr, a->addrlen);
	aliases[0] = NULL;
	addrs[0] = addr;
	addrs[1] = NULL;
	h->h_name = name;
	h->h_aliases = aliases;
	h->h_addrtype = a->family;
	h->h_length = (int)a->addrlen;
	h->h_addr_list = addrs;
	return NSS_STATUS_SUCCESS;
}

/*
 * glibc's getaddrinfo passes *pat NULL and takes the tuple from the
 * buffer; a caller that passes a tuple of its own gets it filled instead,
 * as nss_files does.
 */
static enum nss_status
fill_tuple(const struct lp_answer *a, struct gaih_addrtuple **pat,
    char *buffer, size_t buflen, int *ret_err)
{
	struct lp_buf b = { buffer, buflen };
	struct gaih_addrtuple *t = *pat;
	char *name;

	if (t == NULL)
		t = buf_alloc(&b, sizeof(*t), alignof(struct gaih_addrtuple));
	name = buf_str(&b, a->name);
	if (t == NULL || name == NULL)
		return too_small(ret_err);

	memset(t, 0, sizeof(*t));
	t->name = name;
	t->family = a->family;
	memcpy(t->addr, a->addr, a->addrlen);
	*pat = t;
	return NSS_STATUS_SUCCESS;
}

/* A node whose listen address is of another family has no data for af. */
static enum nss_status
check_family(const struct lp_answer *a, int af, int *ret_err)
{
	if (a->family == af)
		return NSS_STATUS_SUCCESS;
	*ret_err = EAFNOSUPPORT;
	return NSS_STATUS_NOTFOUND;
}

/*
 * The one place results turn into what NSS callers expect: the caller's
 * errno back as it was, then *errnop only for a failure with a cause.
 * NOTFOUND leaves *errnop alone, since glibc passes &errno.
 */
static enum nss_status
finish(enum nss_status st, int err, int saved_errno, int *errnop)
{
	errno = saved_errno;
	if (st == NSS_STATUS_TRYAGAIN || st == NSS_STATUS_UNAVAIL)
		*errnop = err;
	return st;
}

static enum nss_status
finish_host(enum nss_status st, int err, int saved_errno, int *errnop,
    int *herrnop)
{
	switch (st) {
	case NSS_STATUS_SUCCESS:
		break;
	case NSS_STATUS_NOTFOUND:
		*herrnop = err == EAFNOSUPPORT ? NO_DATA : HOST_NOT_FOUND;
		break;
	case NSS_STATUS_TRYAGAIN:
		*herrnop = NETDB_INTERNAL;
		break;
	default:
		*herrnop = NO_RECOVERY;
		break;
	}
	return finish(st, err, saved_errno, errnop);
}

static bool
is_tcp(const char *proto)
{
	return proto == NULL || strcmp(proto, LP_NSS_PROTO) == 0;
}

/* ------------------------------------------------------------ services */

enum nss_status
_nss_lp_getservbyname_r(const char *name, const char *proto,
    struct servent *result, char *buffer, size_t buflen, int *errnop)
{
	const struct lp_query q = { .by = LP_BY_NAME, .name = name };
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct lp_answer a;
	int saved = errno, err = 0;

	if (is_tcp(proto))
		st = lookup(&q, &a, &err);
	if (st == NSS_STATUS_SUCCESS)
		st = fill_servent(&a, result, buffer, buflen, &err);
	return finish(st, err, saved, errnop);
}

/* port is in network byte order, as in struct servent. */
enum nss_status
_nss_lp_getservbyport_r(int port, const char *proto, struct servent *result,
    char *buffer, size_t buflen, int *errnop)
{
	const struct lp_query q = { .by = LP_BY_PORT,
	    .port = ntohs((uint16_t)port) };
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct lp_answer a;
	int saved = errno, err = 0;

	if (is_tcp(proto))
		st = lookup(&q, &a, &err);
	if (st == NSS_STATUS_SUCCESS)
		st = fill_servent(&a, result, buffer, buflen, &err);
	return finish(st, err, saved, errnop);
}

/* The index stays open between calls anyway, so stayopen changes nothing. */
enum nss_status
_nss_lp_setservent(int stayopen)
{
	int saved = errno;

	(void)stayopen;
	(void)pthread_once(&fork_once, register_fork_handlers);
	(void)pthread_mutex_lock(&serv_lock);
	serv_pos = 0;
	(void)pthread_mutex_unlock(&serv_lock);
	errno = saved;
	return NSS_STATUS_SUCCESS;
}

/*
 * The position moves only past a node that reached the caller, so a
 * buffer too small gives the same node again once it has grown.  An
 * index replaced during an enumeration is read from the same position
 * on: the caller sees each node of one version or the other.
 */
enum nss_status
_nss_lp_getservent_r(struct servent *result, char *buffer, size_t buflen,
    int *errnop)
{
	struct lp_query q = { .by = LP_BY_POS };
	enum nss_status st;
	struct lp_answer a;
	int saved = errno, err = 0;

	(void)pthread_once(&fork_once, register_fork_handlers);
	(void)pthread_mutex_lock(&serv_lock);
	q.pos = serv_pos;
	st = lookup(&q, &a, &err);
	if (st == NSS_STATUS_SUCCESS)
		st = fill_servent(&a, result, buffer, buflen, &err);
	if (st == NSS_STATUS_SUCCESS)
		serv_pos = a.pos + 1;
	(void)pthread_mutex_unlock(&serv_lock);
	return finish(st, err, saved, errnop);
}

enum nss_status
_nss_lp_endservent(void)
{
	return _nss_lp_setservent(0);
}

/* ------------------------------------------------------------ hosts */

/*
 * The address of any family, for getaddrinfo(3): glibc itself drops or
 * maps (AI_V4MAPPED) what the caller did not ask for.  ttlp is left
 * alone: the index has no time to live, and nscd keeps its default.
 */
enum nss_status
_nss_lp_gethostbyname4_r(const char *name, struct gaih_addrtuple **pat,
    char *buffer, size_t buflen, int *errnop, int *herrnop, int32_t *ttlp)
{
	enum nss_status st;
	struct lp_answer a;
	int saved = errno, err = 0;

	(void)ttlp;
	st = lookup_host(name, &a, &err);
	if (st == NSS_STATUS_SUCCESS)
		st = fill_tuple(&a, pat, buffer, buflen, &err);
	return finish_host(st, err, saved, errnop, herrnop);
}

enum nss_status
_nss_lp_gethostbyname3_r(const char *name, int af, struct hostent *result,
    char *buffer, size_t buflen, int *errnop, int *herrnop, int32_t *ttlp,
    char **canonp)
{
	enum nss_status st;
	struct lp_answer a;
	int saved = errno, err = 0;

	(void)ttlp;
	st = lookup_host(name, &a, &err);
	if (st == NSS_STATUS_SUCCESS)
		st = check_family(&a, af, &err);
	if (st == NSS_STATUS_SUCCESS)
		st = fill_hostent(&a, result, buffer, buflen, &err);
	if (st == NSS_STATUS_SUCCESS && canonp != NULL)
		*canonp = result->h_name;
	return finish_host(st, err, saved, errnop, herrnop);
}

enum nss_status
_nss_lp_gethostbyname2_r(const char *name, int af, struct hostent *result,
    char *buffer, size_t buflen, int *errnop, int *herrnop)
{
	return _nss_lp_gethostbyname3_r(name, af, result, buffer, buflen,
	    errnop, herrnop, NULL, NULL);
}

enum nss_status
_nss_lp_gethostbyname_r(const char *name, struct hostent *result,
    char *buffer, size_t buflen, int *errnop, int *herrnop)
{
	return _nss_lp_gethostbyname3_r(name, AF_INET, result, buffer, buflen,
	    errnop, herrnop, NULL, NULL);
}
