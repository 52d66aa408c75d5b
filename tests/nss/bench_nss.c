/*
 * The nss_lp benchmark (issue 4): the cost of resolving the last node of
 * a registry through glibc, with nss_lp or nss_files as the source.
 * ci/bench-nss drives it inside a private mount namespace, where it
 * chooses the source with a bind-mounted nsswitch.conf; this program only
 * makes the data and times lookups.  It is built by `make check` and not
 * run by it.
 *
 *	bench_nss gen DIR N
 *		writes DIR/nodes.cdb (N nodes, through lp_index_write), and
 *		DIR/hosts and DIR/services holding the same names for
 *		nss_files; prints the last node's name and port.
 *	bench_nss count KIND NAME PORT N
 *		one lookup to warm up, then N lookups with callgrind's
 *		collection switched on around them (run it under
 *		valgrind --tool=callgrind --collect-atstart=no).
 *	bench_nss rate KIND NAME PORT MAX MS
 *		lookups for MS milliseconds or MAX lookups, whichever comes
 *		first; prints the number of lookups per second.
 *
 * KIND is "gai", getaddrinfo(NAME, NAME) for a stream socket (hosts and
 * services), or "serv", getservbyname_r(NAME, "tcp").  Every answer is
 * checked: 127.0.0.1 and PORT.
 *
 * The warm-up lookup loads the module, reads nsswitch.conf and, with
 * nss_lp, opens the index that the module then keeps open; the figures
 * are those of a process that resolves names again and again.  Its first
 * lookup also pays for the open and the index's checks, once.
 */
#include "config.h"

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND	1
#endif
#endif

#include "cfg.h"
#include "index.h"
#include "lp_util.h"

#define NODES_MAX	1000000
#define PORT_FIRST	1024u
#define PORT_COUNT	64512u		/* 1024..65535 */

enum kind {
	KIND_GAI,
	KIND_SERV,
};

static void
usage(void)
{
	fprintf(stderr, "usage: bench_nss gen DIR N\n"
	    "       bench_nss count gai|serv NAME PORT N\n"
	    "       bench_nss rate gai|serv NAME PORT MAX MS\n");
	exit(2);
}

static long long
number(const char *s, long long min, long long max)
{
	long long v;

	if (lp_parse_ll(s, min, max, &v) != 0)
		errx(2, "%s: not a number in [%lld, %lld]", s, min, max);
	return v;
}

/*
 * More than 64,512 nodes cannot all have their own port; past that the
 * ports repeat.  Lookups by name, which are what is measured, do not
 * mind.
 */
static unsigned
port_of(size_t i)
{
	return PORT_FIRST + (unsigned)(i % PORT_COUNT);
}

static void
name_of(size_t i, char *buf, size_t size)
{
	(void)snprintf(buf, size, "node%06zu", i);
}

static void
gen_index(const char *dir, size_t n)
{
	struct lp_cfg *cfg;
	char path[4096];
	size_t i;
	int r;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->nodes = calloc(n, sizeof(*cfg->nodes))) == NULL)
		err(1, "calloc");
	lp_cfg_defaults(cfg);
	for (i = 0; i < n; i++) {
		struct lp_node *node = &cfg->nodes[cfg->nnodes++];

		name_of(i, node->name, sizeof(node->name));
		node->port = port_of(i);
		node->enabled = true;
		if ((node->keys = calloc(1, sizeof(char *))) == NULL ||
		    asprintf(&node->keys[0], "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"
		    "AAAAI%06zu bench", i) < 0)
			err(1, "calloc");
		node->nkeys = 1;
	}
	(void)snprintf(path, sizeof(path), "%s/nodes.cdb", dir);
	if ((r = lp_index_write(cfg, path)) != 0)
		errx(1, "%s: %s", path, strerror(-r));
	lp_cfg_free(cfg);
}

static FILE *
create(const char *dir, const char *base)
{
	char path[4096];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, base);
	if ((f = fopen(path, "we")) == NULL)
		err(1, "%s", path);
	return f;
}

/* The same names as nss_files would hold them, one line per node. */
static void
gen_files(const char *dir, size_t n)
{
	FILE *hosts = create(dir, "hosts"), *services = create(dir,
	    "services");
	char name[32];
	size_t i;

	for (i = 0; i < n; i++) {
		name_of(i, name, sizeof(name));
		fprintf(hosts, "127.0.0.1\t%s\n", name);
		fprintf(services, "%s\t%u/tcp\n", name, port_of(i));
	}
	if (fclose(hosts) != 0 || fclose(services) != 0)
		err(1, "%s", dir);
}

static int
cmd_gen(int argc, char **argv)
{
	size_t n;
	char last[32];

	if (argc != 2)
		usage();
	n = (size_t)number(argv[1], 1, NODES_MAX);
	gen_index(argv[0], n);
	gen_files(argv[0], n);
	name_of(n - 1, last, sizeof(last));
	printf("%s %u\n", last, port_of(n - 1));
	return 0;
}

/* One lookup; returns 0 when it gave 127.0.0.1 and port. */
static int
lookup(enum kind kind, const char *name, unsigned port)
{
	struct addrinfo hints, *res = NULL;
	struct sockaddr_in *sin;
	struct servent se, *sp = NULL;
	char buf[1024];
	int r = -1;

	if (kind == KIND_SERV) {
		if (getservbyname_r(name, "tcp", &se, buf, sizeof(buf),
		    &sp) != 0 || sp == NULL)
			return -1;
		return ntohs((uint16_t)sp->s_port) == port ? 0 : -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, name, &hints, &res) != 0)
		return -1;
	if (res->ai_family == AF_INET && res->ai_next == NULL) {
		sin = (struct sockaddr_in *)(void *)res->ai_addr;
		if (sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
		    ntohs(sin->sin_port) == port)
			r = 0;
	}
	freeaddrinfo(res);
	return r;
}

static enum kind
kind_of(const char *s)
{
	if (strcmp(s, "gai") == 0)
		return KIND_GAI;
	if (strcmp(s, "serv") == 0)
		return KIND_SERV;
	usage();
	return KIND_GAI;
}

#ifdef HAVE_CALLGRIND
static int
cmd_count(int argc, char **argv)
{
	enum kind kind;
	unsigned port;
	long long i, n;

	if (argc != 4)
		usage();
	kind = kind_of(argv[0]);
	port = (unsigned)number(argv[2], 1, 65535);
	n = number(argv[3], 1, 1000000);

	/* The first lookup loads the module and opens what it keeps. */
	if (lookup(kind, argv[1], port) != 0)
		errx(1, "%s: wrong or no answer", argv[1]);
	CALLGRIND_TOGGLE_COLLECT;
	for (i = 0; i < n; i++)
		if (lookup(kind, argv[1], port) != 0)
			break;
	CALLGRIND_TOGGLE_COLLECT;
	if (i < n)
		errx(1, "%s: wrong or no answer", argv[1]);
	printf("%lld\n", n);
	return 0;
}
#else
static int
cmd_count(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	errx(1, "built without valgrind/callgrind.h: cannot count");
}
#endif

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmd_rate(int argc, char **argv)
{
	enum kind kind;
	unsigned port;
	long long i, max;
	double start, end, t;

	if (argc != 5)
		usage();
	kind = kind_of(argv[0]);
	port = (unsigned)number(argv[2], 1, 65535);
	max = number(argv[3], 1, 100000000);
	end = (double)number(argv[4], 1, 600000) / 1000;

	if (lookup(kind, argv[1], port) != 0)
		errx(1, "%s: wrong or no answer", argv[1]);
	start = now_s();
	t = start;
	for (i = 0; i < max && t - start < end; i++) {
		if (lookup(kind, argv[1], port) != 0)
			errx(1, "%s: wrong or no answer", argv[1]);
		if ((i & 15) == 0)
			t = now_s();
	}
	t = now_s() - start;
	printf("%.0f\n", (double)i / t);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "gen") == 0)
		return cmd_gen(argc - 2, argv + 2);
	if (strcmp(argv[1], "count") == 0)
		return cmd_count(argc - 2, argv + 2);
	if (strcmp(argv[1], "rate") == 0)
		return cmd_rate(argc - 2, argv + 2);
	usage();
	return 2;
}
