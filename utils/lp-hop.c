/*
 * lp-hop: the forced command for people on an lp-bastion host.  sshd
 * runs it as the person, with the request in SSH_ORIGINAL_COMMAND: one
 * node name.  It checks the node against the compiled index, the
 * person's groups and the live tunnel records, writes an audit record,
 * and relays: in relay mode (no terminal, as a client's ProxyCommand)
 * between its standard input and output and the node's tunnel port; in
 * interactive mode (a terminal and a forwarded agent) it runs ssh onward
 * to the node and relays that ssh's connection.  The hop's end is
 * recorded with the bytes each way, its duration and why it ended.
 *
 * lp-hop has the file capability cap_audit_write, so the kernel runs it
 * AT_SECURE.  It reads no environment variable but the four that sshd
 * sets for every session (SSH_ORIGINAL_COMMAND, SSH_CONNECTION, SSH_TTY,
 * SSH_AUTH_SOCK), and it reads those with getenv(3), because
 * secure_getenv(3) hides every variable from an AT_SECURE process: sshd
 * sets them after the person's own environment, and ssh -o SetEnv
 * cannot name them (AcceptEnv decides, and none of them is accepted).
 * Each is checked before use.  Its options come from sshd_config, never
 * from the person.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libaudit.h>

#include "audit.h"
#include "cfg.h"
#include "hop.h"
#include "index.h"
#include "lp_util.h"
#include "tunnel.h"
#include "user.h"

#ifndef LP_KNOWN_HOSTS_PATH
#define LP_KNOWN_HOSTS_PATH	"/etc/lp/known_hosts"
#endif

#define EXIT_REFUSED	1
#define EXIT_USAGE	2

#define SSH_PATH	"/usr/bin/ssh"
#define IDLE_MAX	(7 * 24 * 3600)
#define GROUPS_MAX	65536
#define ADDR_MAX	INET6_ADDRSTRLEN
#define TTY_MAX		32
#define SHOWN_MAX	64	/* bytes of outside text in a log */
#define SOCK_NAME_MAX	64	/* "lp-hop.PID.HEX" */
#define SOCK_RANDOM	8	/* bytes: 16 hex digits */
#define ACCEPT_WAIT_MS	30000	/* for ssh to run ProxyCommand */
#define REAP_WAIT_MS	10000	/* for ssh to end after the relay */
#define KILL_WAIT_MS	2000
#define TICK_MS		100

struct opts {
	const char	*index;
	const char	*run_dir;
	const char	*known_hosts;
	const char	*ssh;
	unsigned	 idle;
	const char	*proxy;		/* internal: --proxy NAME */
};

/* What a hop knows about itself; filled as the checks go. */
struct hop {
	const struct opts *o;
	char		 person[LP_USER_NAME_MAX + 1];
	char		 home[PATH_MAX];
	gid_t		 gid;
	char		 addr[ADDR_MAX];	/* "" when unknown */
	char		 terminal[TTY_MAX];
	char		 node[LP_NODE_NAME_MAX + 1];
	bool		 node_known;	/* node holds a valid name */
	unsigned	 port;		/* 0 until the index gives it */
	char		 listen[LP_ADDR_MAX + 1];
	bool		 interactive;
	int64_t		 start_ms;
};

static volatile sig_atomic_t stop;		/* ends the relay */
static volatile sig_atomic_t got_signal;	/* HUP, INT or TERM */
static volatile sig_atomic_t child_gone;	/* SIGCHLD */

enum {
	OPT_SSH = 256,
	OPT_IDLE,
	OPT_PROXY,
};

static const struct option longopts[] = {
	{ "index",		required_argument,	NULL, 'i' },
	{ "run-dir",		required_argument,	NULL, 'r' },
	{ "known-hosts",	required_argument,	NULL, 'k' },
	{ "ssh",		required_argument,	NULL, OPT_SSH },
	{ "idle",		required_argument,	NULL, OPT_IDLE },
	{ "proxy",		required_argument,	NULL, OPT_PROXY },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL,			0,			NULL, 0 },
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: lp-hop [-i index] [-r rundir] [-k known_hosts] "
	    "[--ssh path] [--idle seconds]\n"
	    "       lp-hop --proxy name\n"
	    "       lp-hop -h | -V\n");
}

/* ----------------------------------------------------------- signals */

static void
on_stop(int sig)
{
	(void)sig;
	got_signal = 1;
	stop = 1;
}

static void
on_child(int sig)
{
	(void)sig;
	child_gone = 1;
	stop = 1;
}

/*
 * No SA_RESTART: a signal must wake poll(2) and accept(2).  SIGPIPE is
 * ignored so that a closed side is an EPIPE, never a silent death
 * without the end record.
 */
static void
set_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	(void)sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	(void)sigaction(SIGPIPE, &sa, NULL);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ records */

static const char *
shown(char *buf, size_t size, const char *s)
{
	return lp_log_safe(buf, size, s, size - 1);
}

/* One audit record of this hop; st is NULL for a start. */
static int
audit_hop(const struct hop *h, int type, const char *reason, bool success,
    const struct lp_relay_stats *st)
{
	struct lp_audit_rec r;

	lp_audit_rec_init(&r, type, "lp-hop");
	r.acct = h->person;
	r.node = h->node_known ? h->node : NULL;
	r.port = h->port;
	r.reason = reason;
	/* As sshd writes hostname= with UseDNS no: the address again. */
	r.hostname = h->addr[0] != '\0' ? h->addr : NULL;
	r.addr = h->addr[0] != '\0' ? h->addr : NULL;
	r.terminal = h->terminal;
	r.success = success;
	if (st != NULL) {
		r.sent = (int64_t)st->sent;
		r.received = (int64_t)st->received;
		r.duration_ms = now_ms() - h->start_ms;
	}
	return lp_audit_write(&r);
}

static void
log_hop(const struct hop *h, int prio, const char *action, const char *fmt,
    ...)
{
	char user[SHOWN_MAX + 1], rest[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	syslog(prio, "action=%s user=%s node=%s addr=%s tty=%s %s", action,
	    shown(user, sizeof(user), h->person),
	    h->node_known ? h->node : "?",
	    h->addr[0] != '\0' ? h->addr : "?", h->terminal, rest);
}

/*
 * Refuses the hop: one line for the person, one audit record, one log
 * line, exit status 1.
 */
static void __attribute__((noreturn, format(printf, 3, 4)))
refuse(const struct hop *h, const char *reason, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int r;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h->node_known)
		fprintf(stderr, "lp-hop: %s: %s\n", h->node, msg);
	else
		fprintf(stderr, "lp-hop: %s\n", msg);

	r = audit_hop(h, AUDIT_USER_START, reason, false, NULL);
	log_hop(h, LOG_NOTICE, "refuse", "reason=%s", reason);
	if (r < 0)
		log_hop(h, LOG_ERR, "refuse", "reason=audit_failed error=%s",
		    strerror(-r));
	closelog();
	exit(EXIT_REFUSED);
}

/* -------------------------------------------------------- the person */

/* The client's address: SSH_CONNECTION's first word, when an address. */
static void
read_client_addr(char *buf, size_t size)
{
	const char *conn = getenv("SSH_CONNECTION");
	unsigned char bin[sizeof(struct in6_addr)];
	char word[ADDR_MAX];
	size_t len;

	buf[0] = '\0';
	if (conn == NULL)
		return;
	len = strcspn(conn, " ");
	if (len == 0 || len >= sizeof(word) || len >= size)
		return;
	memcpy(word, conn, len);
	word[len] = '\0';
	if (inet_pton(AF_INET, word, bin) == 1 ||
	    inet_pton(AF_INET6, word, bin) == 1)
		memcpy(buf, word, len + 1);
}

/*
 * SSH_TTY (/dev/pts/3) as sshd's own records and the admin tools name a
 * terminal; "ssh", as sshd names a session without one, else.
 */
static void
read_terminal(char *buf, size_t size)
{
	const char *tty = getenv("SSH_TTY");
	size_t i;

	(void)snprintf(buf, size, "ssh");
	if (tty == NULL || strncmp(tty, "/dev/", 5) != 0 || tty[5] == '\0' ||
	    strlen(tty) >= size)
		return;
	for (i = 5; tty[i] != '\0'; i++)
		if (!((tty[i] >= 'a' && tty[i] <= 'z') ||
		    (tty[i] >= '0' && tty[i] <= '9') || tty[i] == '/'))
			return;
	(void)snprintf(buf, size, "%s", tty);
}

static void
read_person(struct hop *h)
{
	struct passwd *pw;

	read_client_addr(h->addr, sizeof(h->addr));
	read_terminal(h->terminal, sizeof(h->terminal));
	(void)snprintf(h->person, sizeof(h->person), "#%lu",
	    (unsigned long)getuid());
	if ((pw = getpwuid(getuid())) == NULL)
		refuse(h, "unknown_person", "no account has user ID %lu",
		    (unsigned long)getuid());
	if (strlen(pw->pw_name) >= sizeof(h->person) ||
	    strlen(pw->pw_dir) >= sizeof(h->home))
		refuse(h, "unknown_person", "account name or home too long");
	(void)snprintf(h->person, sizeof(h->person), "%s", pw->pw_name);
	(void)snprintf(h->home, sizeof(h->home), "%s", pw->pw_dir);
	h->gid = pw->pw_gid;
}

/* ----------------------------------------------------------- request */

static size_t
count_words(const char *s)
{
	size_t n = 0;
	bool in = false;

	for (; *s != '\0'; s++) {
		bool blank = *s == ' ' || *s == '\t';

		if (!blank && !in)
			n++;
		in = !blank;
	}
	return n;
}

/* Says what is wrong with a one-word request that the parser refused. */
static void
explain_chars(char *buf, size_t size, const char *req)
{
	const unsigned char *p = (const unsigned char *)req, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	for (end = p; *end != '\0' && *end != ' ' && *end != '\t'; end++)
		continue;
	for (; p < end; p++) {
		unsigned char c = *p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-')
			continue;
		if (c > 0x20 && c < 0x7f)
			(void)snprintf(buf, size,
			    "'%c' cannot be in a node name", c);
		else
			(void)snprintf(buf, size,
			    "byte 0x%02x cannot be in a node name", c);
		return;
	}
	(void)snprintf(buf, size, "a node name cannot begin or end with '-'");
}

static void
read_request(struct hop *h)
{
	const char *req = getenv("SSH_ORIGINAL_COMMAND");
	enum lp_hop_req_error e;
	char why[64];

	e = lp_hop_parse_request(req, h->node);
	switch (e) {
	case LP_HOP_REQ_OK:
		h->node_known = true;
		return;
	case LP_HOP_REQ_EMPTY:
		(void)snprintf(why, sizeof(why),
		    "no node named; usage: ssh BASTION NODE");
		break;
	case LP_HOP_REQ_WORDS:
		(void)snprintf(why, sizeof(why),
		    "expected one node name, got %zu words", count_words(req));
		break;
	case LP_HOP_REQ_CHARS:
		explain_chars(why, sizeof(why), req);
		break;
	case LP_HOP_REQ_LONG:
	default:
		if (strlen(req) > LP_HOP_REQUEST_MAX)
			(void)snprintf(why, sizeof(why),
			    "request longer than %d bytes", LP_HOP_REQUEST_MAX);
		else
			(void)snprintf(why, sizeof(why),
			    "node name longer than %d bytes", LP_NODE_NAME_MAX);
		break;
	}
	refuse(h, lp_hop_req_error_word(e), "%s", why);
}

/* -------------------------------------------------------- the checks */

/* The names of the person's groups, primary first. */
static size_t
person_groups(const struct hop *h, char ***ret_names)
{
	gid_t *gids = NULL;
	char **names = NULL;
	struct group *gr;
	int n = 64, i;
	size_t k = 0;

	for (;;) {
		gid_t *p = reallocarray(gids, (size_t)n, sizeof(*gids));
		int want = n;

		if (p == NULL)
			goto fail;
		gids = p;
		if (getgrouplist(h->person, h->gid, gids, &want) >= 0) {
			n = want;
			break;
		}
		if (want <= n || want > GROUPS_MAX)
			goto fail;
		n = want;
	}
	if ((names = calloc((size_t)n + 1, sizeof(*names))) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if ((gr = getgrgid(gids[i])) != NULL &&
		    (names[k] = strdup(gr->gr_name)) != NULL)
			k++;
	free(gids);
	*ret_names = names;
	return k;
fail:
	free(gids);
	refuse(h, "internal_error", "cannot read your groups");
}

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
check_index(struct hop *h)
{
	struct lp_index *idx = NULL;
	struct lp_index_node n;
	char **groups = NULL;
	size_t ngroups;
	int r, allowed;

	if ((r = lp_index_open(h->o->index, &idx)) != 0) {
		syslog(LOG_ERR, "index=%.255s error=%s", h->o->index,
		    strerror(-r));
		refuse(h, "index_unreadable", "the node index cannot be read");
	}
	r = lp_index_node(idx, h->node, &n);
	if (r == -ENOENT)
		refuse(h, "unknown_node", "no such node");
	if (r != 0)
		refuse(h, "index_unreadable", "the node index cannot be read");
	h->port = n.port;
	if (!n.enabled)
		refuse(h, "node_disabled", "the node is disabled");

	ngroups = person_groups(h, &groups);
	allowed = lp_hop_group_allowed(n.groups, n.groups_len, groups,
	    ngroups);
	free_names(groups, ngroups);
	if (!allowed)
		refuse(h, "not_allowed",
		    "you are in none of the node's groups");
	(void)snprintf(h->listen, sizeof(h->listen), "%s",
	    lp_index_listen(idx));
	lp_index_close(idx);
}

static void
check_tunnel(struct hop *h)
{
	struct lp_tunnel_rec rec;
	char when[64];
	int64_t since;
	time_t t;
	struct tm tm;
	int r;

	r = lp_tunnel_rec_read(h->o->run_dir, h->node, &rec);
	if (r == 0)
		return;
	if (r != -ENOENT && r != -ESTALE) {
		syslog(LOG_ERR, "run_dir=%.255s node=%s error=%s",
		    h->o->run_dir, h->node, strerror(-r));
		refuse(h, "tunnel_unreadable",
		    "the tunnel's state cannot be read");
	}
	if (lp_tunnel_down_read(h->o->run_dir, h->node, &since) != 0)
		refuse(h, "tunnel_down", "tunnel is down");
	t = (time_t)since;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		refuse(h, "tunnel_down", "tunnel is down");
	refuse(h, "tunnel_down", "tunnel is down (since %s)", when);
}

/* Whether sa is the index's listen address and port. */
static bool
is_tunnel_addr(const struct hop *h, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	struct in6_addr a6;
	struct in_addr a4;

	if (sa->sa_family == AF_INET)
		return ntohs(sin->sin_port) == h->port &&
		    inet_pton(AF_INET, h->listen, &a4) == 1 &&
		    a4.s_addr == sin->sin_addr.s_addr;
	if (sa->sa_family == AF_INET6)
		return ntohs(sin6->sin6_port) == h->port &&
		    inet_pton(AF_INET6, h->listen, &a6) == 1 &&
		    memcmp(&a6, &sin6->sin6_addr, sizeof(a6)) == 0;
	return false;
}

/*
 * The node's tunnel through NSS (nss_lp on a bastion): every answer
 * must be the index's listen address and port, so that an /etc/hosts
 * or services entry of the same name never sends a hop elsewhere.
 */
static struct addrinfo *
resolve(const struct hop *h)
{
	struct addrinfo hints, *res = NULL, *ai;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(h->node, h->node, &hints, &res);
	if (r != 0 || res == NULL)
		refuse(h, "resolve_failed", "cannot resolve the node's tunnel");
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (!is_tunnel_addr(h, ai->ai_addr)) {
			freeaddrinfo(res);
			refuse(h, "resolve_failed", "the node resolves to "
			    "another address or port than its tunnel's");
		}
	return res;
}

static int
connect_tunnel(const struct addrinfo *res)
{
	const struct addrinfo *ai;
	int fd, on = 1, e = ECONNREFUSED;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			/* Keystrokes go at once; bulk goes in big writes. */
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof(on));
			return fd;
		}
		e = errno;
		(void)close(fd);
	}
	return -e;
}

/* ------------------------------------------------------- interactive */

/* Characters that need no quoting in a shell word or an ssh option. */
static bool
is_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("/._+-", *s) != NULL))
			return false;
	return true;
}

/* The most digits of a pid in a proxy name; a pid_t is at most 2^31. */
#define PID_DIGITS_MAX	10

/*
 * Tells whether s is a proxy name as listen_proxy() makes one:
 * "lp-hop.", 1 to PID_DIGITS_MAX digits, ".", 2 * SOCK_RANDOM hex
 * digits, so never longer than SOCK_NAME_MAX, and so always short enough
 * for an abstract address.  --proxy takes its name from argv, which
 * anyone who runs lp-hop writes.
 */
static bool
is_proxy_name(const char *s)
{
	size_t i;

	if (strncmp(s, "lp-hop.", 7) != 0)
		return false;
	s += 7;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		if (i == PID_DIGITS_MAX)
			return false;
	if (i == 0)
		return false;
	s += i;
	if (*s++ != '.')
		return false;
	for (i = 0; i < 2 * SOCK_RANDOM; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

/* An abstract AF_UNIX address: no file, gone with its last socket. */
static socklen_t
abstract_addr(struct sockaddr_un *sun, const char *name)
{
	size_t len = strnlen(name, sizeof(sun->sun_path));

	/* Names are checked by is_proxy_name(); this bound holds anyway. */
	if (len > sizeof(sun->sun_path) - 1)
		len = sizeof(sun->sun_path) - 1;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + 1, name, len);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

static int
listen_proxy(char *name, size_t size)
{
	unsigned char rnd[SOCK_RANDOM];
	struct sockaddr_un sun;
	socklen_t len;
	int fd, n, i;

	if (lp_random_fill(rnd, sizeof(rnd)) != 0)
		return -1;
	n = snprintf(name, size, "lp-hop.%ld.", (long)getpid());
	for (i = 0; i < SOCK_RANDOM && n > 0 && (size_t)n + 2 < size; i++)
		n += snprintf(name + n, size - (size_t)n, "%02x", rnd[i]);
	if (!is_proxy_name(name))
		return -1;
	len = abstract_addr(&sun, name);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, len) != 0 ||
	    listen(fd, 1) != 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * ssh's environment: only what it needs, so that nothing the person's
 * session carried reaches it unchecked.  SHELL runs ProxyCommand.
 */
static void
make_env(const struct hop *h, char env[][PATH_MAX + 32], char **envp)
{
	const char *term = getenv("TERM"), *agent = getenv("SSH_AUTH_SOCK");
	size_t n = 0, i;

	(void)snprintf(env[n++], PATH_MAX + 32, "HOME=%s", h->home);
	(void)snprintf(env[n++], PATH_MAX + 32, "USER=%s", h->person);
	(void)snprintf(env[n++], PATH_MAX + 32, "LOGNAME=%s", h->person);
	(void)snprintf(env[n++], PATH_MAX + 32, "PATH=/usr/bin:/bin");
	(void)snprintf(env[n++], PATH_MAX + 32, "SHELL=/bin/sh");
	if (agent != NULL && strlen(agent) < PATH_MAX)
		(void)snprintf(env[n++], PATH_MAX + 32, "SSH_AUTH_SOCK=%s",
		    agent);
	if (term != NULL && strlen(term) < 64 && is_plain(term))
		(void)snprintf(env[n++], PATH_MAX + 32, "TERM=%s", term);
	for (i = 0; i < n; i++)
		envp[i] = env[i];
	envp[n] = NULL;
}

/* Runs ssh in the child; never returns. */
static void __attribute__((noreturn))
exec_ssh(const struct hop *h, const char *const *args, char **envp)
{
	char *argv[48];
	sigset_t none;
	size_t i;

	for (i = 0; args[i] != NULL && i + 1 < LP_ARRAY_SIZE(argv); i++)
		if ((argv[i] = strdup(args[i])) == NULL)
			_exit(127);
	argv[i] = NULL;
	(void)signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(h->o->ssh, argv, envp);
	fprintf(stderr, "lp-hop: %s: cannot run %s: %s\n", h->node,
	    h->o->ssh, strerror(errno));
	_exit(127);
}

/*
 * ssh onward to the node through this lp-hop's --proxy, pinned to the
 * node's host key under its name, with nothing from a config file, no
 * forwarding of any kind and no agent forwarded further.
 */
static pid_t
spawn_ssh(const struct hop *h, const char *proxy_cmd)
{
	char env[8][PATH_MAX + 32], *envp[9], alias[LP_NODE_NAME_MAX + 32];
	char known[PATH_MAX + 32];
	const char *const args[] = {
		"ssh", "-F", "/dev/null",
		"-o", proxy_cmd,
		"-o", alias,
		"-o", "StrictHostKeyChecking=yes",
		"-o", known,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "UpdateHostKeys=no",
		"-o", "CheckHostIP=no",
		"-o", "ForwardAgent=no",
		"-o", "ClearAllForwardings=yes",
		"-o", "PermitLocalCommand=no",
		"-o", "IdentitiesOnly=no",
		"-o", "PasswordAuthentication=no",
		"-o", "KbdInteractiveAuthentication=no",
		"-o", "BatchMode=no",
		"-l", h->person, "-t", "--", h->node, NULL,
	};
	pid_t pid;

	(void)snprintf(alias, sizeof(alias), "HostKeyAlias=%s", h->node);
	(void)snprintf(known, sizeof(known), "UserKnownHostsFile=%s",
	    h->o->known_hosts);
	make_env(h, env, envp);
	if ((pid = fork()) == 0)
		exec_ssh(h, args, envp);
	return pid;
}

/* Waits up to ms for the child; returns its status, or -1. */
static int
reap(pid_t pid, int64_t ms)
{
	int64_t end = now_ms() + ms;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1;
		if (now_ms() >= end)
			return -1;
		(void)poll(NULL, 0, TICK_MS);
	}
}

/* Ends ssh: a bounded wait, then TERM, then KILL.  Returns its status. */
static int
end_ssh(pid_t pid)
{
	int status;

	if ((status = reap(pid, REAP_WAIT_MS)) != -1)
		return status;
	(void)kill(pid, SIGTERM);
	if ((status = reap(pid, KILL_WAIT_MS)) != -1)
		return status;
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return status;
}

/*
 * Takes the one connection of the --proxy that ssh runs, from this
 * person only.  Gives up when ssh ends first (-ECHILD, with its wait
 * status in *ret_status: it is reaped, and its pid no longer ours), on a
 * stop signal, or after ACCEPT_WAIT_MS.
 */
static int
accept_proxy(int lfd, pid_t pid, int *ret_status)
{
	int64_t end = now_ms() + ACCEPT_WAIT_MS;
	struct pollfd pfd = { lfd, POLLIN, 0 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, status;

	while (!got_signal && now_ms() < end) {
		if (child_gone && waitpid(pid, &status, WNOHANG) == pid) {
			*ret_status = status;
			return -ECHILD;
		}
		if (poll(&pfd, 1, TICK_MS) <= 0)
			continue;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
		    cred.uid == getuid())
			return fd;
		(void)close(fd);
		return -EPERM;
	}
	return got_signal ? -EINTR : -ETIMEDOUT;
}

/* "PATH --proxy NAME" with PATH this very program. */
static int
proxy_command(char *buf, size_t size, const char *name)
{
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	/* ssh hands ProxyCommand to a shell and expands '%' in it. */
	if (exe[0] != '/' || !is_plain(exe))
		return -1;
	n = snprintf(buf, size, "ProxyCommand=%s --proxy %s", exe, name);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

static void
end_hop(const struct hop *h, const char *reason, bool success,
    const struct lp_relay_stats *st)
{
	int r;

	r = audit_hop(h, AUDIT_USER_END, reason, success, st);
	log_hop(h, LOG_INFO, "end", "sent=%llu received=%llu duration_ms=%lld "
	    "reason=%s", (unsigned long long)st->sent,
	    (unsigned long long)st->received,
	    (long long)(now_ms() - h->start_ms), reason);
	if (r < 0)
		log_hop(h, LOG_ERR, "end", "reason=audit_failed error=%s",
		    strerror(-r));
}

/*
 * ssh closes every descriptor it did not open, so it cannot be handed
 * the tunnel's socket: it reaches it through lp-hop --proxy and an
 * abstract socket, and this process relays and counts.
 */
static int
run_interactive(struct hop *h, int tcp)
{
	struct lp_relay_stats st = { 0, 0, LP_RELAY_NODE_ERROR };
	char name[SOCK_NAME_MAX], cmd[PATH_MAX + SOCK_NAME_MAX + 32];
	const char *reason = "ssh_failed";
	int lfd, ufd, status, r;
	pid_t pid;

	if ((lfd = listen_proxy(name, sizeof(name))) == -1 ||
	    proxy_command(cmd, sizeof(cmd), name) != 0) {
		end_hop(h, "internal_error", false, &st);
		errx(EXIT_REFUSED, "%s: cannot set up the onward ssh",
		    h->node);
	}
	if ((pid = spawn_ssh(h, cmd)) == -1) {
		end_hop(h, "internal_error", false, &st);
		err(EXIT_REFUSED, "%s: fork", h->node);
	}
	status = -1;
	ufd = accept_proxy(lfd, pid, &status);
	(void)close(lfd);
	if (ufd >= 0) {
		r = lp_relay(ufd, ufd, tcp, h->o->idle, &stop, &st);
		/* ssh ending the session is how an interactive hop ends. */
		if (r == -EINTR && child_gone && !got_signal)
			st.end = LP_RELAY_BOTH_CLOSED;
		reason = lp_relay_end_word(st.end);
		(void)close(ufd);
	} else if (ufd == -EPERM) {
		reason = "proxy_refused";
		warnx("%s: the onward connection came from another user",
		    h->node);
	} else if (ufd == -ETIMEDOUT) {
		warnx("%s: ssh did not connect within %d s", h->node,
		    ACCEPT_WAIT_MS / 1000);
	}
	/* An ssh that ended before it connected has been reaped already. */
	if (ufd != -ECHILD)
		status = end_ssh(pid);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 255)
		warnx("%s: ssh ended before it reached the node", h->node);
	/* 255 is ssh's own failure: host key, authentication, network. */
	if (ufd >= 0 && (status == -1 ||
	    (WIFEXITED(status) && WEXITSTATUS(status) == 255)))
		reason = "ssh_failed";
	end_hop(h, reason, ufd >= 0 && (strcmp(reason, "closed") == 0 ||
	    strcmp(reason, "client_closed") == 0), &st);
	if (ufd < 0 && (status == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 0))
		return EXIT_REFUSED;
	if (status == -1)
		return EXIT_REFUSED;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* ------------------------------------------------------------- modes */

static int
run_relay(struct hop *h, int tcp)
{
	struct lp_relay_stats st;
	int r;

	r = lp_relay(STDIN_FILENO, STDOUT_FILENO, tcp, h->o->idle, &stop,
	    &st);
	end_hop(h, lp_relay_end_word(st.end), r == 0, &st);
	if (r == 0)
		return 0;
	if (st.end == LP_RELAY_IDLE)
		fprintf(stderr, "lp-hop: %s: idle for %u s, hop closed\n",
		    h->node, h->o->idle);
	else if (st.end == LP_RELAY_SIGNAL)
		fprintf(stderr, "lp-hop: %s: stopped by a signal\n", h->node);
	else
		fprintf(stderr, "lp-hop: %s: %s side failed: %s\n", h->node,
		    st.end == LP_RELAY_NODE_ERROR ? "the node's" : "your",
		    strerror(-r));
	return EXIT_REFUSED;
}

/*
 * --proxy NAME: the ProxyCommand of an interactive hop's ssh.  It only
 * connects to the abstract socket NAME of its parent lp-hop and relays;
 * the parent checked the hop, records it and counts the bytes.
 */
static int
run_proxy(const char *name)
{
	struct lp_relay_stats st;
	struct sockaddr_un sun;
	socklen_t len;
	int fd, r;

	if (!is_proxy_name(name))
		errx(EXIT_USAGE, "--proxy: not a name lp-hop made");
	len = abstract_addr(&sun, name);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(EXIT_REFUSED, "socket");
	if (connect(fd, (struct sockaddr *)&sun, len) != 0)
		err(EXIT_REFUSED, "--proxy: connect");
	r = lp_relay(STDIN_FILENO, STDOUT_FILENO, fd, 0, &stop, &st);
	(void)close(fd);
	return r == 0 ? 0 : EXIT_REFUSED;
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	long long v;
	int ch;

	o->index = LP_INDEX_PATH;
	o->run_dir = LP_TUNNEL_RUN_DIR;
	o->known_hosts = LP_KNOWN_HOSTS_PATH;
	o->ssh = SSH_PATH;
	o->idle = 0;
	o->proxy = NULL;
	while ((ch = getopt_long(argc, argv, "i:r:k:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'i':
			o->index = optarg;
			break;
		case 'r':
			o->run_dir = optarg;
			break;
		case 'k':
			o->known_hosts = optarg;
			break;
		case OPT_SSH:
			o->ssh = optarg;
			break;
		case OPT_IDLE:
			if (lp_parse_ll(optarg, 0, IDLE_MAX, &v) != 0)
				errx(EXIT_USAGE, "--idle: not a number of "
				    "seconds from 0 to %d", IDLE_MAX);
			o->idle = (unsigned)v;
			break;
		case OPT_PROXY:
			o->proxy = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("lp-hop %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	/* ssh reads these as option values: no blank, quote or '%'. */
	if (o->known_hosts[0] != '/' || !is_plain(o->known_hosts))
		errx(EXIT_USAGE, "--known-hosts: an absolute path of letters, "
		    "digits and /._+- only");
	if (o->ssh[0] != '/')
		errx(EXIT_USAGE, "--ssh: an absolute path");
}

int
main(int argc, char **argv)
{
	struct hop h;
	struct opts o;
	struct addrinfo *res;
	int tcp, r;

	parse_opts(argc, argv, &o);
	set_signals();
	if (o.proxy != NULL)
		return run_proxy(o.proxy);

	memset(&h, 0, sizeof(h));
	h.o = &o;
	openlog("lp-hop", LOG_PID, LOG_AUTHPRIV);
	read_person(&h);
	read_request(&h);
	h.interactive = isatty(STDIN_FILENO) == 1;
	if (h.interactive && getenv("SSH_AUTH_SOCK") == NULL)
		refuse(&h, "no_agent", "an interactive hop needs a forwarded "
		    "agent: ssh -t -A BASTION NODE");
	check_index(&h);
	check_tunnel(&h);
	res = resolve(&h);

	h.start_ms = now_ms();
	if ((r = audit_hop(&h, AUDIT_USER_START, NULL, true, NULL)) < 0) {
		freeaddrinfo(res);
		log_hop(&h, LOG_ERR, "refuse", "reason=audit_failed error=%s",
		    strerror(-r));
		fprintf(stderr, "lp-hop: %s: cannot write the audit record\n",
		    h.node);
		return EXIT_REFUSED;
	}
	log_hop(&h, LOG_INFO, "start", "port=%u mode=%s", h.port,
	    h.interactive ? "interactive" : "relay");
	tcp = connect_tunnel(res);
	freeaddrinfo(res);
	if (tcp < 0) {
		struct lp_relay_stats none = { 0, 0, LP_RELAY_NODE_ERROR };

		end_hop(&h, "connect_failed", false, &none);
		fprintf(stderr, "lp-hop: %s: cannot reach the tunnel: %s\n",
		    h.node, strerror(-tcp));
		return EXIT_REFUSED;
	}
	r = h.interactive ? run_interactive(&h, tcp) : run_relay(&h, tcp);
	(void)close(tcp);
	closelog();
	return r;
}
