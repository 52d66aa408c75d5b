/*
 * libnss_lp.so.2 as glibc sees it: the built module is dlopen'd and each
 * entry point is called directly, against indexes that lp_index_write()
 * makes from a synthesised policy in a directory of the test's own.
 * LP_NSS_INDEX points the module at them.  The index must be owned by
 * root, so the test needs root.  The module keeps the last index it
 * opened, so a test that counts descriptors first makes it let go
 * (forget_index()).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nss.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cdb.h>
#include <cmocka.h>

#include "cfg.h"
#include "index.h"
#include "lp_util.h"

#define ENV_INDEX	"LP_NSS_INDEX"
#define GUARD		64		/* poisoned bytes after each buffer */
#define POISON		0xa5
#define SWEEP_MAX	1024		/* largest buffer a sweep tries */
#define SWEEP_AFTER	48		/* sizes tried after success */
#define ERRNO_MARK	4242		/* errno as the caller had it */
#define ERRNOP_MARK	777		/* *errnop before the call */
/* 65 characters: more than a node name may have. */
#define TOO_LONG	\
	"gpu01-with-a-name-much-too-long-for-any-node-of-any-policy-at-all"

struct nss_lp {
	void			*dl;
	nss_getservbyname_r	*getservbyname_r;
	nss_getservbyport_r	*getservbyport_r;
	nss_setservent		*setservent;
	nss_getservent_r	*getservent_r;
	nss_endservent		*endservent;
	nss_gethostbyname4_r	*gethostbyname4_r;
	nss_gethostbyname3_r	*gethostbyname3_r;
	nss_gethostbyname2_r	*gethostbyname2_r;
	nss_gethostbyname_r	*gethostbyname_r;
};

static struct nss_lp	mod;
static char		module_path[PATH_MAX];

struct node_spec {
	const char	*name;
	unsigned	 port;
	bool		 enabled;
};

/* Positions 0..3 in the index; gpu03 is disabled. */
static const struct node_spec std_nodes[] = {
	{ "gpu01", 22001, true },
	{ "gpu02", 22002, true },
	{ "gpu03", 22003, false },
	{ "cpu-a", 22010, true },
};

struct fx {
	char	dir[64];
	char	path[128];
};

/* ------------------------------------------------------------ helpers */

static int
write_index(const char *path, const char *listen,
    const struct node_spec *nodes, size_t n)
{
	struct lp_cfg *cfg;
	size_t i;
	int r;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return -ENOMEM;
	lp_cfg_defaults(cfg);
	(void)snprintf(cfg->tunnel.listen_address,
	    sizeof(cfg->tunnel.listen_address), "%s", listen);
	if ((cfg->nodes = calloc(n + 1, sizeof(*cfg->nodes))) == NULL) {
		lp_cfg_free(cfg);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct lp_node *node = &cfg->nodes[cfg->nnodes++];

		(void)snprintf(node->name, sizeof(node->name), "%s",
		    nodes[i].name);
		node->port = nodes[i].port;
		node->enabled = nodes[i].enabled;
		/* The index wants a key for each node; any will do here. */
		if ((node->keys = calloc(1, sizeof(char *))) == NULL ||
		    asprintf(&node->keys[0], "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"
		    "AAAAI%s test", nodes[i].name) < 0) {
			lp_cfg_free(cfg);
			return -ENOMEM;
		}
		node->nkeys = 1;
	}
	r = lp_index_write(cfg, path);
	lp_cfg_free(cfg);
	return r;
}

/*
 * An index of one node written record by record, for contents that
 * lp_index_write() refuses to produce.
 */
static void
write_raw_index(const char *path, const char *listen, const char *name)
{
	struct cdb_make cm;
	char key[128];
	int fd;

	(void)unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(cdb_make_start(&cm, fd), 0);
	assert_int_equal(cdb_make_add(&cm, "@version", 8, LP_INDEX_VERSION,
	    (unsigned)strlen(LP_INDEX_VERSION)), 0);
	assert_int_equal(cdb_make_add(&cm, "@count", 6, "1", 1), 0);
	assert_int_equal(cdb_make_add(&cm, "@tunnel_user", 12, "lp-tunnel",
	    9), 0);
	assert_int_equal(cdb_make_add(&cm, "@listen", 7, listen,
	    (unsigned)strlen(listen)), 0);
	(void)snprintf(key, sizeof(key), "n:%s", name);
	assert_int_equal(cdb_make_add(&cm, key, (unsigned)strlen(key),
	    "22001 1 -", 9), 0);
	assert_int_equal(cdb_make_add(&cm, "p:22001", 7, name,
	    (unsigned)strlen(name)), 0);
	assert_int_equal(cdb_make_add(&cm, "#0", 2, name,
	    (unsigned)strlen(name)), 0);
	assert_int_equal(cdb_make_finish(&cm), 0);
	assert_int_equal(close(fd), 0);
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_true(write(fd, data, len) == (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void *
read_whole(const char *path, size_t *ret_len)
{
	struct stat st;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_true(read(fd, buf, (size_t)st.st_size) == st.st_size);
	(void)close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

static int	teardown(void **);

static int
setup_dir(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_nss_lp.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	(void)snprintf(f->path, sizeof(f->path), "%s/nodes.cdb", f->dir);
	*state = f;
	if (setenv(ENV_INDEX, f->path, 1) != 0) {
		(void)teardown(state);
		return -1;
	}
	return 0;
}

static int
setup_std(void **state)
{
	struct fx *f;

	if (setup_dir(state) != 0)
		return -1;
	f = *state;
	/* cmocka runs no teardown after a failed setup. */
	if (write_index(f->path, "127.0.0.1", std_nodes,
	    LP_ARRAY_SIZE(std_nodes)) != 0) {
		(void)teardown(state);
		return -1;
	}
	(void)mod.setservent(0);
	return 0;
}

static int
setup_v6(void **state)
{
	struct fx *f;

	if (setup_dir(state) != 0)
		return -1;
	f = *state;
	if (write_index(f->path, "::1", std_nodes,
	    LP_ARRAY_SIZE(std_nodes)) != 0) {
		(void)teardown(state);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *de;
	DIR *d;

	(void)unsetenv(ENV_INDEX);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0 &&
			    unlinkat(dirfd(d), de->d_name, 0) != 0)
				(void)unlinkat(dirfd(d), de->d_name,
				    AT_REMOVEDIR);
		(void)closedir(d);
	}
	(void)rmdir(f->dir);
	free(f);
	return 0;
}

static bool
within(const void *p, size_t n, const char *buf, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;

	return a >= b && n <= len && a - b <= len - n;
}

static bool
aligned(const void *p, size_t align)
{
	return (uintptr_t)p % align == 0;
}

static bool
is_v4(const void *addr, const char *text)
{
	struct in_addr a;

	return inet_pton(AF_INET, text, &a) == 1 &&
	    memcmp(addr, &a, sizeof(a)) == 0;
}

static bool
is_v6(const void *addr, const char *text)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, text, &a) == 1 &&
	    memcmp(addr, &a, sizeof(a)) == 0;
}

static size_t
count_fds(void)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			n++;
	(void)closedir(d);
	return n;
}

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ calls */

/* The answer's fields are copied out: the buffer is the callee's stack. */
struct serv_answer {
	enum nss_status	st;
	int		err;
	int		saved_errno;
	char		name[LP_NODE_NAME_MAX + 1];
	char		proto[8];
	int		port;
	bool		no_aliases;
};

static void
ask_serv(struct serv_answer *a, const char *name, unsigned port,
    const char *proto)
{
	struct servent s;
	char buf[512];

	memset(a, 0, sizeof(*a));
	a->err = ERRNOP_MARK;
	errno = ERRNO_MARK;
	if (name != NULL)
		a->st = mod.getservbyname_r(name, proto, &s, buf, sizeof(buf),
		    &a->err);
	else
		a->st = mod.getservbyport_r(htons((uint16_t)port), proto, &s,
		    buf, sizeof(buf), &a->err);
	a->saved_errno = errno;
	if (a->st != NSS_STATUS_SUCCESS)
		return;
	(void)snprintf(a->name, sizeof(a->name), "%s", s.s_name);
	(void)snprintf(a->proto, sizeof(a->proto), "%s", s.s_proto);
	a->port = ntohs((uint16_t)s.s_port);
	a->no_aliases = s.s_aliases != NULL && s.s_aliases[0] == NULL;
}

struct host_answer {
	enum nss_status	st;
	int		err;
	int		herr;
	int		saved_errno;
	char		name[LP_NODE_NAME_MAX + 1];
	int		family;
	unsigned char	addr[16];
	int		naddrs;
	bool		canon_is_name;
};

static void
ask_host(struct host_answer *a, const char *name, int af)
{
	struct hostent h;
	char buf[512], *canon = NULL;
	int i;

	memset(a, 0, sizeof(*a));
	a->err = ERRNOP_MARK;
	a->herr = ERRNOP_MARK;
	errno = ERRNO_MARK;
	a->st = mod.gethostbyname3_r(name, af, &h, buf, sizeof(buf), &a->err,
	    &a->herr, NULL, &canon);
	a->saved_errno = errno;
	if (a->st != NSS_STATUS_SUCCESS)
		return;
	(void)snprintf(a->name, sizeof(a->name), "%s", h.h_name);
	a->family = h.h_addrtype;
	memcpy(a->addr, h.h_addr_list[0], (size_t)h.h_length);
	for (i = 0; h.h_addr_list[i] != NULL; i++)
		a->naddrs++;
	a->canon_is_name = canon == h.h_name;
}

static void
ask_host4(struct host_answer *a, const char *name)
{
	struct gaih_addrtuple *pat = NULL;
	char buf[512];

	memset(a, 0, sizeof(*a));
	a->err = ERRNOP_MARK;
	a->herr = ERRNOP_MARK;
	errno = ERRNO_MARK;
	a->st = mod.gethostbyname4_r(name, &pat, buf, sizeof(buf), &a->err,
	    &a->herr, NULL);
	a->saved_errno = errno;
	if (a->st != NSS_STATUS_SUCCESS)
		return;
	(void)snprintf(a->name, sizeof(a->name), "%s", pat->name);
	a->family = pat->family;
	memcpy(a->addr, pat->addr, sizeof(pat->addr));
	a->naddrs = pat->next == NULL ? 1 : 2;
}

/* ------------------------------------------------------------ services */

static void
test_getservbyname_gives_the_port_for_tcp_or_no_protocol(void **state)
{
	struct serv_answer a;

	(void)state;
	ask_serv(&a, "gpu01", 0, "tcp");
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "gpu01");
	assert_int_equal(a.port, 22001);
	assert_string_equal(a.proto, "tcp");
	assert_true(a.no_aliases);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
	assert_int_equal(a.err, ERRNOP_MARK);

	ask_serv(&a, "cpu-a", 0, NULL);
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "cpu-a");
	assert_int_equal(a.port, 22010);
	assert_string_equal(a.proto, "tcp");
}

static void
test_getservbyname_answers_notfound_for_udp(void **state)
{
	struct serv_answer a;

	(void)state;
	ask_serv(&a, "gpu01", 0, "udp");
	assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
	assert_int_equal(a.err, ERRNOP_MARK);
}

/* A disabled node (gpu03) counts as one the index lacks. */
static void
test_getservbyname_is_notfound_for_names_it_lacks(void **state)
{
	static const char *const names[] = { "gpu04", "gpu03", "GPU01", "",
	    "gpu01 ", "gpu", TOO_LONG, "p:22001", "#0", "@count" };
	struct serv_answer a;
	size_t i;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(names); i++) {
		ask_serv(&a, names[i], 0, "tcp");
		assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
		assert_int_equal(a.saved_errno, ERRNO_MARK);
		assert_int_equal(a.err, ERRNOP_MARK);
	}
}

static void
test_notfound_keeps_errno_when_errnop_is_errno(void **state)
{
	struct servent s;
	struct hostent h;
	char buf[256];
	int herr = 0;

	(void)state;
	errno = ERRNO_MARK;
	assert_int_equal(mod.getservbyname_r("nosuch", NULL, &s, buf,
	    sizeof(buf), &errno), NSS_STATUS_NOTFOUND);
	assert_int_equal(errno, ERRNO_MARK);
	assert_int_equal(mod.gethostbyname2_r("gpu01", AF_INET6, &h, buf,
	    sizeof(buf), &errno, &herr), NSS_STATUS_NOTFOUND);
	assert_int_equal(errno, ERRNO_MARK);
	assert_int_equal(mod.gethostbyname2_r("nosuch", AF_INET, &h, buf,
	    sizeof(buf), &errno, &herr), NSS_STATUS_NOTFOUND);
	assert_int_equal(errno, ERRNO_MARK);
	assert_int_equal(herr, HOST_NOT_FOUND);
}

static void
test_getservbyport_gives_the_node_name(void **state)
{
	struct serv_answer a;

	(void)state;
	ask_serv(&a, NULL, 22002, NULL);
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "gpu02");
	assert_int_equal(a.port, 22002);
	assert_string_equal(a.proto, "tcp");
	assert_int_equal(a.saved_errno, ERRNO_MARK);

	ask_serv(&a, NULL, 22010, "tcp");
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "cpu-a");
}

static void
test_getservbyport_is_notfound_for_udp_unknown_disabled(void **state)
{
	static const unsigned ports[] = { 22004, 22003, 22, 1, 65535 };
	struct serv_answer a;
	size_t i;

	(void)state;
	ask_serv(&a, NULL, 22001, "udp");
	assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
	assert_int_equal(a.err, ERRNOP_MARK);
	for (i = 0; i < LP_ARRAY_SIZE(ports); i++) {
		ask_serv(&a, NULL, ports[i], NULL);
		assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
		assert_int_equal(a.saved_errno, ERRNO_MARK);
		assert_int_equal(a.err, ERRNOP_MARK);
	}
}

static void
test_getservent_enumerates_enabled_nodes_in_order(void **state)
{
	static const char *const want[] = { "gpu01", "gpu02", "cpu-a" };
	struct servent s;
	char buf[256];
	size_t i, round;
	int e = ERRNOP_MARK;

	(void)state;
	for (round = 0; round < 2; round++) {
		assert_int_equal(mod.setservent((int)round),
		    NSS_STATUS_SUCCESS);
		for (i = 0; i < LP_ARRAY_SIZE(want); i++) {
			errno = ERRNO_MARK;
			assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf),
			    &e), NSS_STATUS_SUCCESS);
			assert_int_equal(errno, ERRNO_MARK);
			assert_string_equal(s.s_name, want[i]);
			assert_string_equal(s.s_proto, "tcp");
		}
		assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf), &e),
		    NSS_STATUS_NOTFOUND);
		assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf), &e),
		    NSS_STATUS_NOTFOUND);
		assert_int_equal(e, ERRNOP_MARK);
		assert_int_equal(mod.endservent(), NSS_STATUS_SUCCESS);
	}
}

static void
test_getservent_repeats_a_node_after_a_small_buffer(void **state)
{
	struct servent s;
	char buf[256];
	int e = 0;

	(void)state;
	assert_int_equal(mod.setservent(0), NSS_STATUS_SUCCESS);
	assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf), &e),
	    NSS_STATUS_SUCCESS);
	assert_string_equal(s.s_name, "gpu01");
	assert_int_equal(mod.getservent_r(&s, buf, 4, &e),
	    NSS_STATUS_TRYAGAIN);
	assert_int_equal(e, ERANGE);
	assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf), &e),
	    NSS_STATUS_SUCCESS);
	assert_string_equal(s.s_name, "gpu02");
	assert_int_equal(mod.endservent(), NSS_STATUS_SUCCESS);
}

static void
test_getservent_ends_at_once_without_enabled_nodes(void **state)
{
	static const struct node_spec off[] = { { "gpu09", 22009, false } };
	struct fx *f = *state;
	struct servent s;
	char buf[256];
	int e = ERRNOP_MARK;

	assert_int_equal(write_index(f->path, "127.0.0.1", off, 1), 0);
	assert_int_equal(mod.setservent(0), NSS_STATUS_SUCCESS);
	assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf), &e),
	    NSS_STATUS_NOTFOUND);
	assert_int_equal(e, ERRNOP_MARK);
	assert_int_equal(write_index(f->path, "127.0.0.1", NULL, 0), 0);
	assert_int_equal(mod.setservent(0), NSS_STATUS_SUCCESS);
	assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf), &e),
	    NSS_STATUS_NOTFOUND);
}

/* ------------------------------------------------------------ hosts */

static void
test_gethostbyname4_gives_the_ipv4_listen_address(void **state)
{
	struct host_answer a;

	(void)state;
	ask_host4(&a, "gpu01");
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "gpu01");
	assert_int_equal(a.family, AF_INET);
	assert_true(is_v4(a.addr, "127.0.0.1"));
	assert_int_equal(a.naddrs, 1);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
	assert_int_equal(a.err, ERRNOP_MARK);
}

static void
test_gethostbyname4_gives_the_ipv6_listen_address(void **state)
{
	struct host_answer a;

	(void)state;
	ask_host4(&a, "gpu02");
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "gpu02");
	assert_int_equal(a.family, AF_INET6);
	assert_true(is_v6(a.addr, "::1"));
}

static void
test_gethostbyname4_fills_a_tuple_the_caller_passes(void **state)
{
	struct gaih_addrtuple t, *pat = &t;
	char buf[64];
	int e = 0, he = 0;

	(void)state;
	memset(&t, 0x5a, sizeof(t));
	assert_int_equal(mod.gethostbyname4_r("cpu-a", &pat, buf, sizeof(buf),
	    &e, &he, NULL), NSS_STATUS_SUCCESS);
	assert_ptr_equal(pat, &t);
	assert_null(t.next);
	assert_string_equal(t.name, "cpu-a");
	assert_true(within(t.name, 6, buf, sizeof(buf)));
	assert_int_equal(t.family, AF_INET);
	assert_true(is_v4(t.addr, "127.0.0.1"));
	assert_int_equal(t.scopeid, 0);
}

static void
test_host_names_match_without_regard_to_case(void **state)
{
	struct host_answer a;

	(void)state;
	ask_host(&a, "GPU01", AF_INET);
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "gpu01");
	ask_host4(&a, "Cpu-A");
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "cpu-a");
}

static void
test_gethostbyname3_gives_a_hostent_and_its_canonical_name(void **state)
{
	struct host_answer a;

	(void)state;
	ask_host(&a, "gpu02", AF_INET);
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "gpu02");
	assert_int_equal(a.family, AF_INET);
	assert_true(is_v4(a.addr, "127.0.0.1"));
	assert_int_equal(a.naddrs, 1);
	assert_true(a.canon_is_name);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
	assert_int_equal(a.err, ERRNOP_MARK);
	assert_int_equal(a.herr, ERRNOP_MARK);
}

static void
test_gethostbyname2_and_1_give_the_ipv4_address(void **state)
{
	struct hostent h;
	char buf[256];
	int e = 0, he = 0;

	(void)state;
	assert_int_equal(mod.gethostbyname2_r("gpu01", AF_INET, &h, buf,
	    sizeof(buf), &e, &he), NSS_STATUS_SUCCESS);
	assert_string_equal(h.h_name, "gpu01");
	assert_int_equal(h.h_length, 4);
	assert_true(is_v4(h.h_addr_list[0], "127.0.0.1"));
	assert_null(h.h_addr_list[1]);
	assert_null(h.h_aliases[0]);

	memset(&h, 0, sizeof(h));
	assert_int_equal(mod.gethostbyname_r("cpu-a", &h, buf, sizeof(buf),
	    &e, &he), NSS_STATUS_SUCCESS);
	assert_string_equal(h.h_name, "cpu-a");
	assert_int_equal(h.h_addrtype, AF_INET);
	assert_true(is_v4(h.h_addr_list[0], "127.0.0.1"));
}

static void
test_an_inet6_request_for_an_ipv4_listener_is_notfound(void **state)
{
	struct host_answer a;

	(void)state;
	ask_host(&a, "gpu01", AF_INET6);
	assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
	assert_int_equal(a.herr, NO_DATA);
	assert_int_equal(a.err, ERRNOP_MARK);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
	ask_host(&a, "gpu01", AF_UNIX);
	assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
}

static void
test_an_inet_request_for_an_ipv6_listener_is_notfound(void **state)
{
	struct hostent h;
	struct host_answer a;
	char buf[256];
	int e = ERRNOP_MARK, he = 0;

	(void)state;
	ask_host(&a, "gpu01", AF_INET6);
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_true(is_v6(a.addr, "::1"));
	ask_host(&a, "gpu01", AF_INET);
	assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
	assert_int_equal(a.herr, NO_DATA);
	assert_int_equal(mod.gethostbyname_r("gpu01", &h, buf, sizeof(buf),
	    &e, &he), NSS_STATUS_NOTFOUND);
	assert_int_equal(e, ERRNOP_MARK);
}

/* A disabled node (gpu03) counts as one the index lacks. */
static void
test_hosts_are_notfound_for_names_they_lack(void **state)
{
	static const char *const names[] = { "gpu04", "gpu03", "", "gpu01.",
	    "127.0.0.1", "localhost", "n:gpu01", TOO_LONG };
	struct host_answer a;
	size_t i;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(names); i++) {
		ask_host4(&a, names[i]);
		assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
		assert_int_equal(a.herr, HOST_NOT_FOUND);
		assert_int_equal(a.err, ERRNOP_MARK);
		assert_int_equal(a.saved_errno, ERRNO_MARK);
		ask_host(&a, names[i], AF_INET);
		assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
		assert_int_equal(a.herr, HOST_NOT_FOUND);
		assert_int_equal(a.saved_errno, ERRNO_MARK);
	}
	ask_host4(&a, NULL);
	assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
}

/* ------------------------------------------------------------ buffers */

union result {
	struct servent		 s;
	struct hostent		 h;
	struct gaih_addrtuple	*pat;
	struct gaih_addrtuple	 t;
};

struct sweep {
	enum nss_status	(*call)(const struct sweep *, union result *,
			    char *, size_t, int *, int *);
	void		(*check)(const struct sweep *, const union result *,
			    const char *, size_t);
	bool		 host;		/* sets *h_errnop */
	int		 af;
	const char	*addr;		/* the listen address, as text */
};

static enum nss_status
call_servbyname(const struct sweep *sw, union result *r, char *buf,
    size_t len, int *e, int *he)
{
	(void)sw;
	(void)he;
	return mod.getservbyname_r("gpu01", "tcp", &r->s, buf, len, e);
}

static enum nss_status
call_servbyport(const struct sweep *sw, union result *r, char *buf,
    size_t len, int *e, int *he)
{
	(void)sw;
	(void)he;
	return mod.getservbyport_r(htons(22001), NULL, &r->s, buf, len, e);
}

/* Starts over each time, so that every success gives the first node. */
static enum nss_status
call_servent(const struct sweep *sw, union result *r, char *buf,
    size_t len, int *e, int *he)
{
	(void)sw;
	(void)he;
	(void)mod.setservent(0);
	return mod.getservent_r(&r->s, buf, len, e);
}

static void
check_servent(const struct sweep *sw, const union result *r, const char *buf,
    size_t len)
{
	const struct servent *s = &r->s;

	(void)sw;
	assert_string_equal(s->s_name, "gpu01");
	assert_string_equal(s->s_proto, "tcp");
	assert_int_equal(ntohs((uint16_t)s->s_port), 22001);
	assert_true(within(s->s_name, 6, buf, len));
	assert_true(within(s->s_proto, 4, buf, len));
	assert_true(within(s->s_aliases, sizeof(char *), buf, len));
	assert_true(aligned(s->s_aliases, alignof(char *)));
	assert_null(s->s_aliases[0]);
}

static enum nss_status
call_host4(const struct sweep *sw, union result *r, char *buf, size_t len,
    int *e, int *he)
{
	(void)sw;
	r->pat = NULL;
	return mod.gethostbyname4_r("gpu01", &r->pat, buf, len, e, he, NULL);
}

static void
check_tuple(const struct sweep *sw, const struct gaih_addrtuple *t,
    const char *buf, size_t len)
{
	assert_null(t->next);
	assert_string_equal(t->name, "gpu01");
	assert_true(within(t->name, 6, buf, len));
	assert_int_equal(t->family, sw->af);
	assert_true(sw->af == AF_INET ? is_v4(t->addr, sw->addr) :
	    is_v6(t->addr, sw->addr));
}

static void
check_host4(const struct sweep *sw, const union result *r, const char *buf,
    size_t len)
{
	assert_non_null(r->pat);
	assert_true(within(r->pat, sizeof(*r->pat), buf, len));
	assert_true(aligned(r->pat, alignof(struct gaih_addrtuple)));
	check_tuple(sw, r->pat, buf, len);
}

/* A tuple of the caller's: only the name comes from the buffer. */
static enum nss_status
call_host4_own(const struct sweep *sw, union result *r, char *buf,
    size_t len, int *e, int *he)
{
	struct gaih_addrtuple *pat = &r->t;
	enum nss_status st;

	(void)sw;
	st = mod.gethostbyname4_r("gpu01", &pat, buf, len, e, he, NULL);
	assert_ptr_equal(pat, &r->t);
	return st;
}

static void
check_host4_own(const struct sweep *sw, const union result *r,
    const char *buf, size_t len)
{
	check_tuple(sw, &r->t, buf, len);
}

static enum nss_status
call_host3(const struct sweep *sw, union result *r, char *buf, size_t len,
    int *e, int *he)
{
	char *canon = NULL;
	enum nss_status st;

	st = mod.gethostbyname3_r("gpu01", sw->af, &r->h, buf, len, e, he,
	    NULL, &canon);
	if (st == NSS_STATUS_SUCCESS)
		assert_ptr_equal(canon, r->h.h_name);
	else
		assert_null(canon);
	return st;
}

static enum nss_status
call_host2(const struct sweep *sw, union result *r, char *buf, size_t len,
    int *e, int *he)
{
	return mod.gethostbyname2_r("gpu01", sw->af, &r->h, buf, len, e, he);
}

static enum nss_status
call_host1(const struct sweep *sw, union result *r, char *buf, size_t len,
    int *e, int *he)
{
	(void)sw;
	return mod.gethostbyname_r("gpu01", &r->h, buf, len, e, he);
}

static void
check_hostent(const struct sweep *sw, const union result *r, const char *buf,
    size_t len)
{
	const struct hostent *h = &r->h;
	size_t alen = sw->af == AF_INET ? 4 : 16;

	assert_string_equal(h->h_name, "gpu01");
	assert_true(within(h->h_name, 6, buf, len));
	assert_int_equal(h->h_addrtype, sw->af);
	assert_int_equal(h->h_length, (int)alen);
	assert_true(within(h->h_aliases, sizeof(char *), buf, len));
	assert_true(aligned(h->h_aliases, alignof(char *)));
	assert_null(h->h_aliases[0]);
	assert_true(within(h->h_addr_list, 2 * sizeof(char *), buf, len));
	assert_true(aligned(h->h_addr_list, alignof(char *)));
	assert_true(within(h->h_addr_list[0], alen, buf, len));
	assert_true(aligned(h->h_addr_list[0], alignof(struct in6_addr)));
	assert_null(h->h_addr_list[1]);
	assert_true(sw->af == AF_INET ? is_v4(h->h_addr_list[0], sw->addr) :
	    is_v6(h->h_addr_list[0], sw->addr));
}

/*
 * One size: a buffer of len bytes at offset off of a poisoned block, and
 * a poisoned result.  Returns the status after checking the contract.
 */
static enum nss_status
sweep_one(const struct sweep *sw, size_t off, size_t len)
{
	unsigned char *block;
	union result r, before;
	enum nss_status st;
	size_t i;
	int e = ERRNOP_MARK, he = ERRNOP_MARK, saved;

	block = malloc(off + len + GUARD);
	assert_non_null(block);
	memset(block, POISON, off + len + GUARD);
	memset(&r, 0x5a, sizeof(r));
	before = r;

	errno = ERRNO_MARK;
	st = sw->call(sw, &r, (char *)block + off, len, &e, &he);
	saved = errno;

	assert_int_equal(saved, ERRNO_MARK);
	for (i = 0; i < off; i++)
		assert_int_equal(block[i], POISON);
	for (i = off + len; i < off + len + GUARD; i++)
		assert_int_equal(block[i], POISON);
	if (st == NSS_STATUS_TRYAGAIN) {
		assert_int_equal(e, ERANGE);
		assert_int_equal(he, sw->host ? NETDB_INTERNAL : ERRNOP_MARK);
		if (sw->call != call_host4)
			assert_memory_equal(&r, &before, sizeof(r));
		else
			assert_null(r.pat);
	} else {
		assert_int_equal(st, NSS_STATUS_SUCCESS);
		assert_int_equal(e, ERRNOP_MARK);
		sw->check(sw, &r, (char *)block + off, len);
	}
	free(block);
	return st;
}

/*
 * From 0 bytes upward: TRYAGAIN with ERANGE until the answer fits, then
 * success at every larger size; at an aligned and at an odd address.
 */
static void
sweep(const struct sweep *sw)
{
	static const size_t offsets[] = { 0, 1, 3 };
	size_t o, len, first;

	for (o = 0; o < LP_ARRAY_SIZE(offsets); o++) {
		first = 0;
		for (len = 0; len <= SWEEP_MAX; len++) {
			enum nss_status st = sweep_one(sw, offsets[o], len);

			if (st == NSS_STATUS_SUCCESS && first == 0)
				first = len;
			if (first != 0) {
				assert_int_equal(st, NSS_STATUS_SUCCESS);
				if (len >= first + SWEEP_AFTER)
					break;
			}
		}
		assert_true(first > 0);
	}
}

static void
test_getservbyname_buffer_grows_from_zero_to_success(void **state)
{
	const struct sweep sw = { call_servbyname, check_servent, false, 0,
	    NULL };

	(void)state;
	sweep(&sw);
}

static void
test_getservbyport_buffer_grows_from_zero_to_success(void **state)
{
	const struct sweep sw = { call_servbyport, check_servent, false, 0,
	    NULL };

	(void)state;
	sweep(&sw);
}

static void
test_getservent_buffer_grows_from_zero_to_success(void **state)
{
	const struct sweep sw = { call_servent, check_servent, false, 0,
	    NULL };

	(void)state;
	sweep(&sw);
	(void)mod.endservent();
}

static void
test_gethostbyname4_buffer_grows_from_zero_to_success(void **state)
{
	const struct sweep sw = { call_host4, check_host4, true, AF_INET,
	    "127.0.0.1" };
	const struct sweep own = { call_host4_own, check_host4_own, true,
	    AF_INET, "127.0.0.1" };

	(void)state;
	sweep(&sw);
	sweep(&own);
}

static void
test_gethostbyname4_ipv6_buffer_grows_from_zero_to_success(void **state)
{
	const struct sweep sw = { call_host4, check_host4, true, AF_INET6,
	    "::1" };

	(void)state;
	sweep(&sw);
}

static void
test_gethostbyname3_2_1_buffers_grow_from_zero_to_success(void **state)
{
	const struct sweep sw[] = {
		{ call_host3, check_hostent, true, AF_INET, "127.0.0.1" },
		{ call_host2, check_hostent, true, AF_INET, "127.0.0.1" },
		{ call_host1, check_hostent, true, AF_INET, "127.0.0.1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(sw); i++)
		sweep(&sw[i]);
}

static void
test_gethostbyname3_ipv6_buffer_grows_from_zero_to_success(void **state)
{
	const struct sweep sw[] = {
		{ call_host3, check_hostent, true, AF_INET6, "::1" },
		{ call_host2, check_hostent, true, AF_INET6, "::1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(sw); i++)
		sweep(&sw[i]);
}

/* ------------------------------------------------------------ unavail */

/*
 * Every entry point answers UNAVAIL with *errnop = err (0: any) and
 * NO_RECOVERY, keeps errno and the result, even with no buffer at all.
 */
static void
expect_unavail(int err)
{
	static const size_t lens[] = { 0, 512 };
	union result r, before;
	char buf[512];
	size_t i;
	int k;

	for (i = 0; i < LP_ARRAY_SIZE(lens); i++) {
		for (k = 0; k < 7; k++) {
			int e = ERRNOP_MARK, he = ERRNOP_MARK;
			enum nss_status st;

			memset(&r, 0x5a, sizeof(r));
			before = r;
			errno = ERRNO_MARK;
			switch (k) {
			case 0:
				st = mod.getservbyname_r("gpu01", NULL, &r.s,
				    buf, lens[i], &e);
				break;
			case 1:
				st = mod.getservbyport_r(htons(22001), "tcp",
				    &r.s, buf, lens[i], &e);
				break;
			case 2:
				(void)mod.setservent(0);
				st = mod.getservent_r(&r.s, buf, lens[i], &e);
				break;
			case 3:
				st = mod.gethostbyname4_r("gpu01", &r.pat, buf,
				    lens[i], &e, &he, NULL);
				break;
			case 4:
				st = mod.gethostbyname3_r("gpu01", AF_INET,
				    &r.h, buf, lens[i], &e, &he, NULL, NULL);
				break;
			case 5:
				st = mod.gethostbyname2_r("gpu01", AF_INET,
				    &r.h, buf, lens[i], &e, &he);
				break;
			default:
				st = mod.gethostbyname_r("gpu01", &r.h, buf,
				    lens[i], &e, &he);
				break;
			}
			assert_int_equal(errno, ERRNO_MARK);
			assert_int_equal(st, NSS_STATUS_UNAVAIL);
			if (err != 0)
				assert_int_equal(e, err);
			else
				assert_true(e != ERANGE && e != ERRNOP_MARK);
			assert_int_equal(he, k >= 3 ? NO_RECOVERY :
			    ERRNOP_MARK);
			assert_memory_equal(&r, &before, sizeof(r));
		}
	}
}

static void
test_a_missing_index_is_unavail(void **state)
{
	struct fx *f = *state;

	(void)unlink(f->path);
	expect_unavail(ENOENT);
}

static void
test_an_index_owned_by_another_user_is_unavail(void **state)
{
	struct fx *f = *state;

	assert_int_equal(chown(f->path, 1, 1), 0);
	assert_int_equal(chmod(f->path, 0600), 0);
	expect_unavail(EPERM);
}

static void
test_a_group_writable_index_is_unavail(void **state)
{
	struct fx *f = *state;

	assert_int_equal(chmod(f->path, 0664), 0);
	expect_unavail(EPERM);
}

static void
test_an_index_reached_through_a_symbolic_link_is_unavail(void **state)
{
	struct fx *f = *state;
	char link[160];

	(void)snprintf(link, sizeof(link), "%s/link.cdb", f->dir);
	assert_int_equal(symlink(f->path, link), 0);
	assert_int_equal(setenv(ENV_INDEX, link, 1), 0);
	expect_unavail(ELOOP);
}

static void
test_a_directory_in_place_of_the_index_is_unavail(void **state)
{
	struct fx *f = *state;

	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(mkdir(f->path, 0755), 0);
	expect_unavail(0);
}

static void
test_a_zero_byte_index_is_unavail(void **state)
{
	struct fx *f = *state;

	write_file(f->path, "", 0, 0644);
	expect_unavail(EPROTO);
}

static void
test_a_garbage_index_is_unavail(void **state)
{
	struct fx *f = *state;
	unsigned char junk[8192];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 2654435761u >> 13);
	write_file(f->path, junk, sizeof(junk), 0644);
	expect_unavail(EPROTO);
	memset(junk, 0xff, sizeof(junk));
	write_file(f->path, junk, sizeof(junk), 0644);
	expect_unavail(EPROTO);
}

static void
test_a_truncated_index_is_unavail(void **state)
{
	struct fx *f = *state;
	size_t len;
	void *data;

	data = read_whole(f->path, &len);
	assert_true(len > 2048);
	write_file(f->path, data, 2048 + (len - 2048) / 2, 0644);
	free(data);
	expect_unavail(EPROTO);
}

static void
test_a_constant_database_of_another_version_is_unavail(void **state)
{
	struct fx *f = *state;
	struct cdb_make cm;
	int fd;

	(void)unlink(f->path);
	fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(cdb_make_start(&cm, fd), 0);
	assert_int_equal(cdb_make_add(&cm, "@version", 8,
	    "lp-nodes-index 9", 16), 0);
	assert_int_equal(cdb_make_add(&cm, "@count", 6, "1", 1), 0);
	assert_int_equal(cdb_make_finish(&cm), 0);
	assert_int_equal(close(fd), 0);
	expect_unavail(EPROTO);
}

static void
test_an_index_with_a_bad_listen_address_is_unavail(void **state)
{
	struct fx *f = *state;

	write_raw_index(f->path, "not-an-address", "gpu01");
	expect_unavail(EPROTO);
}

static void
test_a_node_name_no_policy_allows_makes_the_index_unavail(void **state)
{
	struct fx *f = *state;
	struct serv_answer a;

	/* The same records with a good name make a good index. */
	write_raw_index(f->path, "127.0.0.1", "gpu01");
	ask_serv(&a, NULL, 22001, NULL);
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_string_equal(a.name, "gpu01");

	write_raw_index(f->path, "127.0.0.1", "Bad_Name");
	ask_serv(&a, NULL, 22001, NULL);
	assert_int_equal(a.st, NSS_STATUS_UNAVAIL);
	assert_int_equal(a.err, EPROTO);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
	ask_serv(&a, "gpu01", 0, NULL);
	assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
}

/*
 * A relative LP_NSS_INDEX would depend on the caller's working directory:
 * it is ignored, and the built-in path is read instead, which holds no
 * node of this name.
 */
static void
test_a_relative_index_path_is_ignored(void **state)
{
	static const struct node_spec only[] = {
		{ "lp-test-relative-only", 40123, true },
	};
	struct fx *f = *state;
	struct serv_answer a;
	int r;

	assert_int_equal(write_index(f->path, "127.0.0.1", only, 1), 0);
	ask_serv(&a, "lp-test-relative-only", 0, NULL);
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);

	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(setenv(ENV_INDEX, "nodes.cdb", 1), 0);
	ask_serv(&a, "lp-test-relative-only", 0, NULL);
	r = chdir("/");
	assert_int_equal(r, 0);
	assert_true(a.st == NSS_STATUS_NOTFOUND || a.st == NSS_STATUS_UNAVAIL);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
}

/* ------------------------------------------------------------ descriptors */

static int
one_lookup(unsigned i)
{
	struct serv_answer s;
	struct host_answer h;

	switch (i % 4) {
	case 0:
		ask_serv(&s, "gpu02", 0, "tcp");
		return s.st == NSS_STATUS_SUCCESS && s.port == 22002 ? 0 : -1;
	case 1:
		ask_serv(&s, NULL, 22010, NULL);
		return s.st == NSS_STATUS_SUCCESS &&
		    strcmp(s.name, "cpu-a") == 0 ? 0 : -1;
	case 2:
		ask_host4(&h, "gpu01");
		return h.st == NSS_STATUS_SUCCESS && h.family == AF_INET ?
		    0 : -1;
	default:
		ask_host(&h, "gpu01", AF_INET6);
		return h.st == NSS_STATUS_NOTFOUND ? 0 : -1;
	}
}

/*
 * Makes the module let go of the index it keeps open: a lookup through a
 * path that names nothing finds no index and keeps none.  The count of
 * descriptors taken after this is the count without the module's.
 */
static void
forget_index(const struct fx *f)
{
	char none[160];
	struct serv_answer a;

	(void)snprintf(none, sizeof(none), "%s/none.cdb", f->dir);
	assert_int_equal(setenv(ENV_INDEX, none, 1), 0);
	ask_serv(&a, "gpu01", 0, NULL);
	assert_int_equal(a.st, NSS_STATUS_UNAVAIL);
	assert_int_equal(a.err, ENOENT);
	assert_int_equal(setenv(ENV_INDEX, f->path, 1), 0);
}

/* The index stays open between lookups: one descriptor, never more. */
static void
test_100000_lookups_hold_exactly_one_descriptor(void **state)
{
	struct fx *f = *state;
	size_t before, bad = 0;
	unsigned i;

	forget_index(f);
	before = count_fds();
	for (i = 0; i < 100000; i++) {
		if (one_lookup(i) != 0)
			bad++;
		if (i == 0 || i == 50000)
			assert_int_equal(count_fds(), before + 1);
	}
	assert_int_equal(bad, 0);
	assert_int_equal(count_fds(), before + 1);
}

/* An index that cannot be used is not kept: no descriptor at all. */
static void
test_failing_lookups_hold_no_descriptor(void **state)
{
	struct fx *f = *state;
	size_t before, i;
	struct serv_answer a;
	unsigned char junk[4096];
	int round;

	forget_index(f);
	before = count_fds();
	for (round = 0; round < 3; round++) {
		/* Each round starts from a good index, open and kept. */
		assert_int_equal(write_index(f->path, "127.0.0.1", std_nodes,
		    LP_ARRAY_SIZE(std_nodes)), 0);
		ask_serv(&a, "gpu01", 0, NULL);
		assert_int_equal(a.st, NSS_STATUS_SUCCESS);
		assert_int_equal(count_fds(), before + 1);
		if (round == 0) {
			write_file(f->path, "", 0, 0644);
		} else if (round == 1) {
			memset(junk, 0x11, sizeof(junk));
			write_file(f->path, junk, sizeof(junk), 0644);
		} else
			(void)unlink(f->path);
		for (i = 0; i < 10000; i++) {
			ask_serv(&a, "gpu01", 0, NULL);
			assert_int_equal(a.st, NSS_STATUS_UNAVAIL);
		}
		assert_int_equal(count_fds(), before);
	}
}

static void
test_enumeration_holds_no_descriptor_but_the_index(void **state)
{
	struct fx *f = *state;
	struct servent s;
	char buf[256];
	size_t before;
	int e = 0;

	forget_index(f);
	before = count_fds();
	assert_int_equal(mod.setservent(1), NSS_STATUS_SUCCESS);
	assert_int_equal(count_fds(), before);
	assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf), &e),
	    NSS_STATUS_SUCCESS);
	assert_int_equal(count_fds(), before + 1);
	assert_int_equal(mod.getservent_r(&s, buf, sizeof(buf), &e),
	    NSS_STATUS_SUCCESS);
	assert_int_equal(count_fds(), before + 1);
	assert_int_equal(mod.endservent(), NSS_STATUS_SUCCESS);
	assert_int_equal(count_fds(), before + 1);
}

#define FD_BASE_MAX	1024

/* Marks the descriptors open now, below FD_BASE_MAX, in is_open[]. */
static void
list_fds(bool *is_open)
{
	struct dirent *de;
	DIR *d;

	memset(is_open, 0, FD_BASE_MAX * sizeof(*is_open));
	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);

		/* The listing's own descriptor is free again once closed. */
		if (de->d_name[0] != '.' && fd >= 0 && fd < FD_BASE_MAX &&
		    fd != dirfd(d))
			is_open[fd] = true;
	}
	(void)closedir(d);
}

struct fd_watch {
	bool		 base[FD_BASE_MAX];
	atomic_bool	 stop;
	atomic_ulong	 seen;		/* lookup descriptors caught open */
	atomic_ulong	 leaky;		/* of those, without FD_CLOEXEC */
};

/* Looks, from another thread, at every descriptor the lookups open. */
static void *
watch_fds(void *arg)
{
	struct fd_watch *w = arg;
	struct dirent *de;
	double end = now_s() + 10;
	DIR *d;

	while (!atomic_load(&w->stop) && now_s() < end) {
		if ((d = opendir("/proc/self/fd")) == NULL)
			break;
		while ((de = readdir(d)) != NULL) {
			int fd = atoi(de->d_name), fl;

			if (de->d_name[0] == '.' || fd == dirfd(d) ||
			    (fd < FD_BASE_MAX && w->base[fd]))
				continue;
			if ((fl = fcntl(fd, F_GETFD)) == -1)
				continue;
			atomic_fetch_add(&w->seen, 1);
			if ((fl & FD_CLOEXEC) == 0)
				atomic_fetch_add(&w->leaky, 1);
		}
		(void)closedir(d);
	}
	return NULL;
}

/* The watcher sees the index the module keeps, opened after base. */
static void
test_descriptors_open_during_lookups_are_close_on_exec(void **state)
{
	struct fd_watch fw, *w = &fw;
	pthread_t t;
	double end;
	unsigned i;

	forget_index(*state);
	memset(w, 0, sizeof(*w));
	list_fds(w->base);

	assert_int_equal(pthread_create(&t, NULL, watch_fds, w), 0);
	end = now_s() + 5;
	for (i = 0; i < 2000000 && now_s() < end; i++) {
		(void)one_lookup(i);
		if (i % 1024 == 0 && atomic_load(&w->seen) >= 50)
			break;
	}
	atomic_store(&w->stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(atomic_load(&w->seen) > 0);
	assert_int_equal(atomic_load(&w->leaky), 0);
}

/* ------------------------------------------------------------ open index */

static void
expect_port(const char *name, int port)
{
	struct serv_answer a;

	ask_serv(&a, name, 0, "tcp");
	assert_int_equal(a.st, NSS_STATUS_SUCCESS);
	assert_int_equal(a.port, port);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
	assert_int_equal(a.err, ERRNOP_MARK);
}

static void
expect_unavail_serv(int err)
{
	struct serv_answer a;

	ask_serv(&a, "gpu01", 0, NULL);
	assert_int_equal(a.st, NSS_STATUS_UNAVAIL);
	assert_int_equal(a.err, err);
	assert_int_equal(a.saved_errno, ERRNO_MARK);
}

/* Each compile is answered by the very next lookup, in the same process. */
static void
test_a_replaced_index_is_seen_by_the_next_lookup(void **state)
{
	struct fx *f = *state;
	struct node_spec one = { "gpu01", 0, true };
	struct host_answer h;
	struct serv_answer a;
	const char *listen;
	size_t before;
	unsigned i;

	forget_index(f);
	before = count_fds();
	for (i = 0; i < 50; i++) {
		one.port = 23000 + i;
		listen = i % 2 == 0 ? "127.0.0.1" : "127.0.0.2";
		assert_int_equal(write_index(f->path, listen, &one, 1), 0);
		expect_port("gpu01", (int)one.port);
		ask_host4(&h, "gpu01");
		assert_int_equal(h.st, NSS_STATUS_SUCCESS);
		assert_true(is_v4(h.addr, listen));
	}
	assert_int_equal(count_fds(), before + 1);

	one.enabled = false;
	assert_int_equal(write_index(f->path, "127.0.0.1", &one, 1), 0);
	ask_serv(&a, "gpu01", 0, NULL);
	assert_int_equal(a.st, NSS_STATUS_NOTFOUND);
	assert_int_equal(a.err, ERRNOP_MARK);
	assert_int_equal(count_fds(), before + 1);
}

/* Mode and owner of the open index are checked again once they change. */
static void
test_a_new_mode_or_owner_is_checked_at_the_next_lookup(void **state)
{
	struct fx *f = *state;

	expect_port("gpu01", 22001);
	assert_int_equal(chmod(f->path, 0664), 0);
	expect_unavail_serv(EPERM);
	assert_int_equal(chmod(f->path, 0644), 0);
	expect_port("gpu01", 22001);
	assert_int_equal(chown(f->path, 1, 1), 0);
	expect_unavail_serv(EPERM);
	assert_int_equal(chown(f->path, 0, 0), 0);
	expect_port("gpu01", 22001);
}

static void
test_a_hard_link_made_to_the_open_index_is_unavail(void **state)
{
	struct fx *f = *state;
	char second[160];

	(void)snprintf(second, sizeof(second), "%s/second.cdb", f->dir);
	expect_port("gpu01", 22001);
	assert_int_equal(link(f->path, second), 0);
	expect_unavail_serv(EINVAL);
	assert_int_equal(unlink(second), 0);
	expect_port("gpu01", 22001);
}

/* The file is gone: no answers from the copy the module had open. */
static void
test_a_removed_open_index_is_unavail_and_closed(void **state)
{
	struct fx *f = *state;
	size_t before;

	forget_index(f);
	before = count_fds();
	expect_port("gpu01", 22001);
	assert_int_equal(count_fds(), before + 1);
	assert_int_equal(unlink(f->path), 0);
	expect_unavail(ENOENT);
	assert_int_equal(count_fds(), before);
	assert_int_equal(write_index(f->path, "127.0.0.1", std_nodes,
	    LP_ARRAY_SIZE(std_nodes)), 0);
	expect_port("gpu01", 22001);
}

static void
test_an_open_index_replaced_by_a_symlink_is_unavail(void **state)
{
	struct fx *f = *state;
	char other[160], link[160];

	(void)snprintf(other, sizeof(other), "%s/other.cdb", f->dir);
	(void)snprintf(link, sizeof(link), "%s/link.cdb", f->dir);
	expect_port("gpu01", 22001);
	assert_int_equal(write_index(other, "127.0.0.1", std_nodes,
	    LP_ARRAY_SIZE(std_nodes)), 0);
	assert_int_equal(symlink(other, link), 0);
	assert_int_equal(rename(link, f->path), 0);
	expect_unavail(ELOOP);
}

/* An index that could not be used is tried again at every lookup. */
static void
test_an_index_put_right_after_a_failure_is_read_at_once(void **state)
{
	struct fx *f = *state;

	write_file(f->path, "", 0, 0644);
	expect_unavail_serv(EPROTO);
	assert_int_equal(write_index(f->path, "127.0.0.1", std_nodes,
	    LP_ARRAY_SIZE(std_nodes)), 0);
	expect_port("gpu01", 22001);
	assert_int_equal(unlink(f->path), 0);
	expect_unavail_serv(ENOENT);
	assert_int_equal(write_index(f->path, "127.0.0.1", std_nodes,
	    LP_ARRAY_SIZE(std_nodes)), 0);
	expect_port("gpu01", 22001);
}

/* LP_NSS_INDEX may name another file at every call. */
static void
test_a_new_index_path_is_read_at_once(void **state)
{
	static const struct node_spec b[] = { { "gpu01", 22101, true } };
	struct fx *f = *state;
	char other[160];
	size_t before;
	int i;

	(void)snprintf(other, sizeof(other), "%s/b.cdb", f->dir);
	assert_int_equal(write_index(other, "127.0.0.1", b, 1), 0);
	forget_index(f);
	before = count_fds();
	for (i = 0; i < 10; i++) {
		assert_int_equal(setenv(ENV_INDEX, f->path, 1), 0);
		expect_port("gpu01", 22001);
		assert_int_equal(setenv(ENV_INDEX, other, 1), 0);
		expect_port("gpu01", 22101);
		assert_int_equal(count_fds(), before + 1);
	}
}

/*
 * dlclose(3) of the module closes the index it kept.  A copy of the
 * module under another name is a second, independent load, which this
 * test can unload without disturbing the others.
 */
static void
test_unloading_the_module_closes_its_index(void **state)
{
	struct fx *f = *state;
	nss_getservbyname_r *byname;
	struct servent s;
	char copy[160], buf[256];
	size_t len, before;
	void *data, *dl;
	int e = ERRNOP_MARK;

	(void)snprintf(copy, sizeof(copy), "%s/libnss_lp_copy.so.2", f->dir);
	data = read_whole(module_path, &len);
	write_file(copy, data, len, 0755);
	free(data);
	before = count_fds();
	dl = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(dl);
	byname = (nss_getservbyname_r *)dlsym(dl, "_nss_lp_getservbyname_r");
	assert_non_null(byname);
	assert_int_equal(byname("gpu02", NULL, &s, buf, sizeof(buf), &e),
	    NSS_STATUS_SUCCESS);
	assert_int_equal(ntohs((uint16_t)s.s_port), 22002);
	assert_int_equal(count_fds(), before + 1);
	assert_int_equal(dlclose(dl), 0);
	assert_int_equal(count_fds(), before);
}

/* ------------------------------------------------------------ threads */

struct replace_run {
	atomic_bool	stop;
	atomic_ulong	bad;
	atomic_ulong	seen_a;
	atomic_ulong	seen_b;
	atomic_int	bad_st;		/* the last wrong answer, to show */
	atomic_int	bad_err;
};

static void
count_bad(struct replace_run *run, enum nss_status st, int err)
{
	atomic_fetch_add(&run->bad, 1);
	atomic_store(&run->bad_st, (int)st);
	atomic_store(&run->bad_err, err);
}

/* Version A: 127.0.0.1 and port 22001; version B: 127.0.0.2 and 22002. */
static void *
look_during_replace(void *arg)
{
	struct replace_run *run = arg;
	struct serv_answer s;
	struct host_answer h;
	double end = now_s() + 20;
	unsigned i;

	for (i = 0; i < 2000000 && !atomic_load(&run->stop); i++) {
		if (i % 256 == 0 && now_s() > end)
			break;
		if (i % 2 == 0) {
			ask_serv(&s, "gpu01", 0, "tcp");
			if (s.st == NSS_STATUS_SUCCESS && s.port == 22001)
				atomic_fetch_add(&run->seen_a, 1);
			else if (s.st == NSS_STATUS_SUCCESS && s.port == 22002)
				atomic_fetch_add(&run->seen_b, 1);
			else
				count_bad(run, s.st, s.err);
		} else {
			ask_host4(&h, "gpu01");
			if (h.st == NSS_STATUS_SUCCESS &&
			    is_v4(h.addr, "127.0.0.1"))
				atomic_fetch_add(&run->seen_a, 1);
			else if (h.st == NSS_STATUS_SUCCESS &&
			    is_v4(h.addr, "127.0.0.2"))
				atomic_fetch_add(&run->seen_b, 1);
			else
				count_bad(run, h.st, h.err);
		}
	}
	return NULL;
}

static void
test_lookups_during_replacement_see_the_old_or_new_index(void **state)
{
	static const struct node_spec a[] = { { "gpu01", 22001, true } };
	static const struct node_spec b[] = { { "gpu01", 22002, true } };
	struct fx *f = *state;
	struct replace_run rr, *run = &rr;
	pthread_t t[4];
	double end;
	size_t i;
	int n, r = 0;

	memset(run, 0, sizeof(*run));
	assert_int_equal(write_index(f->path, "127.0.0.1", a, 1), 0);
	for (i = 0; i < LP_ARRAY_SIZE(t); i++)
		assert_int_equal(pthread_create(&t[i], NULL,
		    look_during_replace, run), 0);
	/*
	 * At least 10 replacements, however slowly they come: valgrind runs
	 * one thread at a time and may long prefer the lookers to the writer.
	 */
	end = now_s() + 3;
	for (n = 0; n < 300 && (n < 10 || now_s() < end) &&
	    now_s() < end + 15 && r == 0; n++)
		r = n % 2 == 0 ?
		    write_index(f->path, "127.0.0.2", b, 1) :
		    write_index(f->path, "127.0.0.1", a, 1);
	atomic_store(&run->stop, true);
	for (i = 0; i < LP_ARRAY_SIZE(t); i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);

	assert_int_equal(r, 0);
	assert_true(n >= 10);
	if (atomic_load(&run->bad) != 0)
		print_error("%lu wrong answers, the last: status %d, errno %d\n",
		    atomic_load(&run->bad), atomic_load(&run->bad_st),
		    atomic_load(&run->bad_err));
	assert_int_equal(atomic_load(&run->bad), 0);
	assert_true(atomic_load(&run->seen_a) > 0);
	assert_true(atomic_load(&run->seen_b) > 0);
}

struct mixed_run {
	unsigned	id;
	atomic_ulong	*bad;
	atomic_ulong	*done;
};

static bool
mixed_one(unsigned op)
{
	struct serv_answer s;
	struct host_answer h;
	struct servent se;
	char buf[256];
	int e = 0;

	switch (op % 6) {
	case 0:
		ask_serv(&s, "gpu01", 0, "tcp");
		return s.st == NSS_STATUS_SUCCESS && s.port == 22001;
	case 1:
		ask_serv(&s, NULL, 22002, NULL);
		return s.st == NSS_STATUS_SUCCESS &&
		    strcmp(s.name, "gpu02") == 0;
	case 2:
		ask_host4(&h, "cpu-a");
		return h.st == NSS_STATUS_SUCCESS &&
		    is_v4(h.addr, "127.0.0.1");
	case 3:
		ask_host(&h, "gpu01", AF_INET6);
		return h.st == NSS_STATUS_NOTFOUND && h.herr == NO_DATA &&
		    h.saved_errno == ERRNO_MARK;
	case 4:
		ask_serv(&s, "gpu03", 0, NULL);
		return s.st == NSS_STATUS_NOTFOUND;
	default:
		switch (mod.getservent_r(&se, buf, sizeof(buf), &e)) {
		case NSS_STATUS_SUCCESS:
			return strcmp(se.s_name, "gpu01") == 0 ||
			    strcmp(se.s_name, "gpu02") == 0 ||
			    strcmp(se.s_name, "cpu-a") == 0;
		case NSS_STATUS_NOTFOUND:
			return mod.setservent(0) == NSS_STATUS_SUCCESS;
		default:
			return false;
		}
	}
}

static void *
mixed_worker(void *arg)
{
	struct mixed_run *m = arg;
	double end = now_s() + 40;
	unsigned i;

	for (i = 0; i < 10000; i++) {
		if (i % 256 == 0 && now_s() > end)
			break;
		if (!mixed_one(i + m->id))
			atomic_fetch_add(m->bad, 1);
		atomic_fetch_add(m->done, 1);
	}
	return NULL;
}

static void
test_16_threads_of_10000_mixed_lookups_all_answer_right(void **state)
{
	struct mixed_run m[16];
	pthread_t t[16];
	atomic_ulong bad = 0, done = 0;
	size_t i;

	(void)state;
	for (i = 0; i < LP_ARRAY_SIZE(t); i++) {
		m[i].id = (unsigned)i;
		m[i].bad = &bad;
		m[i].done = &done;
		assert_int_equal(pthread_create(&t[i], NULL, mixed_worker,
		    &m[i]), 0);
	}
	for (i = 0; i < LP_ARRAY_SIZE(t); i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(atomic_load(&bad), 0);
	assert_int_equal(atomic_load(&done), 16 * 10000);
}

struct enum_run {
	atomic_bool	stop;
	atomic_ulong	calls;
};

static void *
enumerate_until_stopped(void *arg)
{
	struct enum_run *run = arg;
	struct servent s;
	char buf[256];
	double end = now_s() + 20;
	int e = 0;

	while (!atomic_load(&run->stop) && now_s() < end) {
		if (mod.getservent_r(&s, buf, sizeof(buf), &e) !=
		    NSS_STATUS_SUCCESS)
			(void)mod.setservent(0);
		atomic_fetch_add(&run->calls, 1);
	}
	return NULL;
}

/* A child forked while another thread enumerates inherits no held lock. */
static void
test_a_child_forked_during_enumeration_can_enumerate(void **state)
{
	struct enum_run run;
	pthread_t t;
	int i, status, bad = 0;

	(void)state;
	memset(&run, 0, sizeof(run));
	(void)mod.setservent(0);
	assert_int_equal(pthread_create(&t, NULL, enumerate_until_stopped,
	    &run), 0);
	for (i = 0; i < 40; i++) {
		struct servent s;
		char buf[256];
		pid_t pid;
		int e = 0;

		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			/* A lock inherited held would hang here. */
			(void)alarm(5);
			(void)mod.setservent(0);
			_exit(mod.getservent_r(&s, buf, sizeof(buf), &e) ==
			    NSS_STATUS_SUCCESS ? 0 : 1);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad++;
	}
	atomic_store(&run.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(bad, 0);
	assert_true(atomic_load(&run.calls) > 0);
}

struct look_run {
	atomic_bool	stop;
	atomic_ulong	calls;
};

static void *
look_until_stopped(void *arg)
{
	struct look_run *run = arg;
	double end = now_s() + 20;
	unsigned i;

	for (i = 0; !atomic_load(&run->stop) && now_s() < end; i++) {
		(void)one_lookup(i);
		atomic_fetch_add(&run->calls, 1);
	}
	return NULL;
}

/* The descriptor of the index the module keeps, after one lookup. */
static int
find_index_fd(const struct fx *f)
{
	bool before[FD_BASE_MAX], after[FD_BASE_MAX];
	int fd, found = -1;

	forget_index(f);
	list_fds(before);
	expect_port("gpu01", 22001);
	list_fds(after);
	for (fd = 0; fd < FD_BASE_MAX; fd++) {
		if (!after[fd] || before[fd])
			continue;
		assert_int_equal(found, -1);
		found = fd;
	}
	assert_true(found >= 0);
	return found;
}

/*
 * In the child: 0 when it did not inherit the parent's index and opens
 * one of its own.  Only the child's own counts are compared: valgrind
 * keeps descriptors of its own that differ between parent and child.
 */
static int
look_up_in_child(int parent_fd)
{
	struct serv_answer a;
	size_t before;

	if (fcntl(parent_fd, F_GETFD) != -1)
		return 2;
	before = count_fds();
	ask_serv(&a, "gpu02", 0, NULL);
	if (a.st != NSS_STATUS_SUCCESS || a.port != 22002)
		return 3;
	return count_fds() == before + 1 ? 0 : 4;
}

/*
 * A child forked while another thread looks up inherits no held lock and
 * none of the module's descriptors, and opens the index for itself.
 */
static void
test_a_child_forked_during_lookups_opens_the_index_afresh(void **state)
{
	struct look_run run;
	pthread_t t;
	int i, fd, status, bad = 0;

	fd = find_index_fd(*state);
	memset(&run, 0, sizeof(run));
	assert_int_equal(pthread_create(&t, NULL, look_until_stopped, &run),
	    0);
	for (i = 0; i < 40; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			/* A lock inherited held would hang here. */
			(void)alarm(5);
			_exit(look_up_in_child(fd));
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			print_error("child: status %#x\n", status);
			bad++;
		}
	}
	atomic_store(&run.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(bad, 0);
	assert_true(atomic_load(&run.calls) > 0);
	/* The parent's index stayed open all along. */
	assert_true(fcntl(fd, F_GETFD) != -1);
}

/* ------------------------------------------------------------ symbols */

static void
test_the_module_exports_only_nss_lp_symbols(void **state)
{
	char cmd[PATH_MAX + 64], line[512], *name;
	size_t n = 0;
	FILE *p;

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'",
	    module_path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		name = strrchr(line, ' ');
		name = name == NULL ? line : name + 1;
		if (*name == '\0')
			continue;
		if (strncmp(name, "_nss_lp_", 8) != 0)
			print_error("exported: %s\n", name);
		assert_true(strncmp(name, "_nss_lp_", 8) == 0);
		n++;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(n, 9);
}

/* ------------------------------------------------------------ main */

#define LOAD(f) do {							\
	mod.f = (nss_##f *)dlsym(mod.dl, "_nss_lp_" #f);		\
	if (mod.f == NULL) {						\
		fprintf(stderr, "no _nss_lp_%s\n", #f);			\
		return -1;						\
	}								\
} while (0)

static int
load_module(void **state)
{
	const char *build = getenv("LP_TEST_BUILDDIR");

	(void)state;
	if (build == NULL || build[0] == '\0')
		build = LP_TEST_BUILDDIR;
	(void)snprintf(module_path, sizeof(module_path),
	    "%s/.libs/libnss_lp.so.2", build);
	if ((mod.dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "%s\n", dlerror());
		return -1;
	}
	LOAD(getservbyname_r);
	LOAD(getservbyport_r);
	LOAD(setservent);
	LOAD(getservent_r);
	LOAD(endservent);
	LOAD(gethostbyname4_r);
	LOAD(gethostbyname3_r);
	LOAD(gethostbyname2_r);
	LOAD(gethostbyname_r);
	return 0;
}

static int
unload_module(void **state)
{
	(void)state;
	if (mod.dl != NULL)
		(void)dlclose(mod.dl);
	return 0;
}

#define STD(t)	cmocka_unit_test_setup_teardown(t, setup_std, teardown)
#define V6(t)	cmocka_unit_test_setup_teardown(t, setup_v6, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STD(test_getservbyname_gives_the_port_for_tcp_or_no_protocol),
		STD(test_getservbyname_answers_notfound_for_udp),
		STD(test_getservbyname_is_notfound_for_names_it_lacks),
		STD(test_notfound_keeps_errno_when_errnop_is_errno),
		STD(test_getservbyport_gives_the_node_name),
		STD(test_getservbyport_is_notfound_for_udp_unknown_disabled),
		STD(test_getservent_enumerates_enabled_nodes_in_order),
		STD(test_getservent_repeats_a_node_after_a_small_buffer),
		STD(test_getservent_ends_at_once_without_enabled_nodes),
		STD(test_gethostbyname4_gives_the_ipv4_listen_address),
		V6(test_gethostbyname4_gives_the_ipv6_listen_address),
		STD(test_gethostbyname4_fills_a_tuple_the_caller_passes),
		STD(test_host_names_match_without_regard_to_case),
		STD(test_gethostbyname3_gives_a_hostent_and_its_canonical_name),
		STD(test_gethostbyname2_and_1_give_the_ipv4_address),
		STD(test_an_inet6_request_for_an_ipv4_listener_is_notfound),
		V6(test_an_inet_request_for_an_ipv6_listener_is_notfound),
		STD(test_hosts_are_notfound_for_names_they_lack),
		STD(test_getservbyname_buffer_grows_from_zero_to_success),
		STD(test_getservbyport_buffer_grows_from_zero_to_success),
		STD(test_getservent_buffer_grows_from_zero_to_success),
		STD(test_gethostbyname4_buffer_grows_from_zero_to_success),
		V6(test_gethostbyname4_ipv6_buffer_grows_from_zero_to_success),
		STD(test_gethostbyname3_2_1_buffers_grow_from_zero_to_success),
		V6(test_gethostbyname3_ipv6_buffer_grows_from_zero_to_success),
		STD(test_a_missing_index_is_unavail),
		STD(test_an_index_owned_by_another_user_is_unavail),
		STD(test_a_group_writable_index_is_unavail),
		STD(test_an_index_reached_through_a_symbolic_link_is_unavail),
		STD(test_a_directory_in_place_of_the_index_is_unavail),
		STD(test_a_zero_byte_index_is_unavail),
		STD(test_a_garbage_index_is_unavail),
		STD(test_a_truncated_index_is_unavail),
		STD(test_a_constant_database_of_another_version_is_unavail),
		STD(test_an_index_with_a_bad_listen_address_is_unavail),
		STD(test_a_node_name_no_policy_allows_makes_the_index_unavail),
		STD(test_a_relative_index_path_is_ignored),
		STD(test_100000_lookups_hold_exactly_one_descriptor),
		STD(test_failing_lookups_hold_no_descriptor),
		STD(test_enumeration_holds_no_descriptor_but_the_index),
		STD(test_descriptors_open_during_lookups_are_close_on_exec),
		STD(test_a_replaced_index_is_seen_by_the_next_lookup),
		STD(test_a_new_mode_or_owner_is_checked_at_the_next_lookup),
		STD(test_a_hard_link_made_to_the_open_index_is_unavail),
		STD(test_a_removed_open_index_is_unavail_and_closed),
		STD(test_an_open_index_replaced_by_a_symlink_is_unavail),
		STD(test_an_index_put_right_after_a_failure_is_read_at_once),
		STD(test_a_new_index_path_is_read_at_once),
		STD(test_unloading_the_module_closes_its_index),
		STD(test_lookups_during_replacement_see_the_old_or_new_index),
		STD(test_16_threads_of_10000_mixed_lookups_all_answer_right),
		STD(test_a_child_forked_during_enumeration_can_enumerate),
		STD(test_a_child_forked_during_lookups_opens_the_index_afresh),
		STD(test_the_module_exports_only_nss_lp_symbols),
	};

	if (geteuid() != 0) {
		printf("SKIP: test_nss_lp needs root: the index must be "
		    "owned by root\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, load_module, unload_module);
}
