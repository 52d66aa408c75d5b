/*
 * lp-nodes: the administrator's tool for the node registry.  It checks
 * lp.yaml, compiles it into the node index, serves the tunnel account's
 * authorized keys to sshd from that index, and shows which tunnels are
 * up.  The work is done by liblp_common; this file parses arguments and
 * reports.
 *
 * `authorized-keys' runs as sshd's AuthorizedKeysCommand on every login
 * attempt of the tunnel account, so it reads only the compiled index,
 * never YAML, and with the offered key given it does one lookup whatever
 * the number of nodes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libaudit.h>

#include "audit.h"
#include "cfg.h"
#include "diag.h"
#include "index.h"
#include "lp_util.h"
#include "sshkey.h"
#include "tunnel.h"
#include "user.h"

#define EXIT_REFUSED	1
#define EXIT_USAGE	2

#define NAME_SHOWN_MAX	64	/* bytes of a name in a message */
#define PATH_SHOWN_MAX	255	/* bytes of a path in a message */
#define STATE_MAX	256	/* the STATE column of one node */

/*
 * `restrict' alone still lets a key run a command or get a shell: the
 * forced command stops that, and -N tunnels run no command anyway.
 */
#define KEY_OPTIONS	"restrict,port-forwarding,permitlisten=\"%s:%u\"," \
			"command=\"/usr/sbin/nologin\" "

struct opts {
	const char	*config;
	const char	*index;
	const char	*run_dir;
	char		**args;		/* after the command */
	int		 nargs;
	bool		 log_errors;	/* index problems to syslog too */
};

struct command {
	const char	*name;
	int		 min_args;
	int		 max_args;
	int		(*run)(const struct opts *);
	bool		 log_errors;
};

static const struct option longopts[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "index",	required_argument,	NULL, 'i' },
	{ "run-dir",	required_argument,	NULL, 'r' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL,		0,			NULL, 0 },
};

/* The usage on stderr and EXIT_USAGE, or on stdout and 0 for --help. */
static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fprintf(f,
	    "usage: lp-nodes [-c config] [-i index] [-r rundir] "
	    "check | compile | list\n"
	    "       lp-nodes [-c config] [-i index] [-r rundir] status node\n"
	    "       lp-nodes [-c config] [-i index] [-r rundir] "
	    "authorized-keys user [type key]\n"
	    "       lp-nodes -h | -V\n");
	exit(status);
}

/* A string from outside, cut to fit buf and made fit for a message. */
static const char *
shown(char *buf, size_t size, const char *s)
{
	return lp_log_safe(buf, size, s, size - 1);
}

/* ------------------------------------------------------------ policy */

static int
load_policy(const char *path, struct lp_cfg **ret_cfg)
{
	struct lp_diag diag = { NULL, 0 };
	char name[PATH_SHOWN_MAX + 1];
	size_t i, nmsgs;
	int r;

	r = lp_cfg_load(path, ret_cfg, &diag);
	nmsgs = diag.n;
	for (i = 0; i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.msgs[i]);
	lp_diag_clear(&diag);
	if (r == 0)
		return 0;

	/* Policy errors were printed above, with their line and column. */
	shown(name, sizeof(name), path);
	if (r == -EPERM)
		warnx("%s: must be owned by root and not writable by group or "
		    "others", name);
	else if (r == -ELOOP)
		warnx("%s: is a symbolic link", name);
	else if (r != -EINVAL || nmsgs == 0)
		warnx("%s: %s", name, strerror(-r));
	else
		warnx("%s: %zu problem%s found", name, nmsgs,
		    nmsgs == 1 ? "" : "s");
	return r;
}

static size_t
count_enabled(const struct lp_cfg *cfg)
{
	size_t i, n = 0;

	for (i = 0; i < cfg->nnodes; i++)
		if (cfg->nodes[i].enabled)
			n++;
	return n;
}

static int
cmd_check(const struct opts *o)
{
	struct lp_cfg *cfg = NULL;
	char name[PATH_SHOWN_MAX + 1];

	if (load_policy(o->config, &cfg) != 0)
		return EXIT_REFUSED;
	printf("%s: %zu node%s, %zu enabled\n",
	    shown(name, sizeof(name), o->config), cfg->nnodes,
	    cfg->nnodes == 1 ? "" : "s", count_enabled(cfg));
	lp_cfg_free(cfg);
	return fflush(stdout) == 0 ? 0 : EXIT_REFUSED;
}

static const char *
write_error(int r)
{
	switch (r) {
	case -ENOENT:
		return "no such directory";
	case -ELOOP:
		return "the directory is a symbolic link";
	case -ENOTDIR:
		return "not in a directory";
	case -EPERM:
		return "the directory must be owned by root and not writable "
		    "by group or others";
	default:
		return strerror(-r);
	}
}

/*
 * Writes the USYS_CONFIG record of a compile.  The kernel adds who ran
 * the program (auid, uid); the terminal is the administrator's.  A
 * record that cannot be written is said on stderr: the index stands.
 */
static void
audit_compile(const char *reason, int64_t nodes, bool success)
{
	struct lp_audit_rec rec;
	int r;

	lp_audit_rec_init(&rec, AUDIT_USYS_CONFIG, "lp-nodes");
	rec.reason = reason;
	rec.nodes = nodes;
	rec.success = success;
	r = lp_audit_write_admin(&rec);
	if (r < 0)
		warnx("cannot write the audit record: %s", strerror(-r));
}

static int
cmd_compile(const struct opts *o)
{
	char by[2 * LP_USER_NAME_MAX + 32], idx[PATH_SHOWN_MAX + 1];
	struct lp_cfg *cfg = NULL;
	size_t enabled;
	int r, status = EXIT_REFUSED;

	shown(idx, sizeof(idx), o->index);
	if (load_policy(o->config, &cfg) != 0) {
		warnx("%s: left as it was", idx);
		audit_compile("invalid_policy", -1, false);
		goto out;
	}
	r = lp_index_write(cfg, o->index);
	if (r != 0) {
		warnx("%s: cannot write the index: %s; left as it was", idx,
		    write_error(r));
		audit_compile("write_failed", (int64_t)cfg->nnodes, false);
		goto out;
	}
	audit_compile("compiled", (int64_t)cfg->nnodes, true);
	enabled = count_enabled(cfg);
	openlog("lp-nodes", LOG_PID, LOG_AUTHPRIV);
	lp_user_caller(by, sizeof(by));
	syslog(LOG_NOTICE, "action=compile index=%s nodes=%zu enabled=%zu %s",
	    idx, cfg->nnodes, enabled, by);
	closelog();
	printf("%s: %zu node%s, %zu enabled\n", idx, cfg->nnodes,
	    cfg->nnodes == 1 ? "" : "s", enabled);
	status = fflush(stdout) == 0 ? 0 : EXIT_REFUSED;
out:
	lp_cfg_free(cfg);
	return status;
}

/* ------------------------------------------------------------ index */

/*
 * Reports an index that cannot be used.  sshd throws away the standard
 * error of its AuthorizedKeysCommand, so there the administrator learns
 * why every tunnel is refused from a LOG_ERR line.
 */
static void
index_problem(const struct opts *o, const char *why)
{
	char name[PATH_SHOWN_MAX + 1];

	shown(name, sizeof(name), o->index);
	warnx("%s: %s", name, why);
	if (!o->log_errors)
		return;
	openlog("lp-nodes", LOG_PID, LOG_AUTHPRIV);
	syslog(LOG_ERR, "action=authorized-keys index=%s error=\"%s\"", name,
	    why);
	closelog();
}

static int
open_index(const struct opts *o, struct lp_index **ret_idx)
{
	const char *why;
	int r;

	r = lp_index_open(o->index, ret_idx);
	if (r == 0)
		return 0;
	switch (r) {
	case -ENOENT:
		why = "no such file; run lp-nodes compile";
		break;
	case -ELOOP:
		why = "is a symbolic link";
		break;
	case -EPERM:
		why = "must be owned by root and not writable by group or "
		    "others";
		break;
	case -EINVAL:
		why = "not a regular file, or has other links";
		break;
	case -EPROTO:
		why = "corrupt, or of another version; run lp-nodes compile";
		break;
	default:
		why = strerror(-r);
	}
	index_problem(o, why);
	return r;
}

static void
index_corrupt(const struct opts *o)
{
	index_problem(o, "corrupt; run lp-nodes compile");
}

/* ------------------------------------------------ authorized-keys */

static bool
is_type_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '@';
}

static bool
is_b64_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

/*
 * Returns the length of the "TYPE BASE64" part of s (len bytes), or 0
 * when s does not start with one.
 */
static size_t
key_id_len(const char *s, size_t len)
{
	size_t i = 0, t;

	while (i < len && is_type_char(s[i]))
		i++;
	if (i == 0 || i >= len || s[i] != ' ')
		return 0;
	t = ++i;
	while (i < len && is_b64_char(s[i]))
		i++;
	if (i == t || (i < len && s[i] != ' '))
		return 0;
	return i;
}

/*
 * A key line from the index, checked again before sshd reads it as
 * authorized_keys text: a control character could end the line early
 * and start one of its own.  The index reader checks the same; this is
 * defence in depth.
 */
static bool
key_line_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > LP_SSHKEY_LINE_MAX || key_id_len(s, len) == 0)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* "ADDRESS:PORT" for permitlisten's address part; IPv6 in brackets. */
static int
format_listen(const char *addr, char *buf, size_t size)
{
	struct in6_addr a6;
	struct in_addr a4;
	int n;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		n = snprintf(buf, size, "%s", addr);
	else if (inet_pton(AF_INET6, addr, &a6) == 1)
		n = snprintf(buf, size, "[%s]", addr);
	else
		return -EPROTO;
	return n < 0 || (size_t)n >= size ? -EPROTO : 0;
}

/*
 * Prints the node's key lines to out with the tunnel options; only the
 * line of key (a "TYPE BASE64" string) when key is not NULL.  Returns
 * the number of lines printed, or -EPROTO when the index is corrupt.
 */
static int
emit_node(FILE *out, struct lp_index *idx, const struct lp_index_node *n,
    const char *listen, const char *key)
{
	const char *keys, *p, *end, *nl;
	size_t keys_len, len, klen = key != NULL ? strlen(key) : 0;
	int found = 0;

	if (lp_index_keys(idx, n->name, &keys, &keys_len) != 0)
		return -EPROTO;
	for (p = keys, end = keys + keys_len; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return -EPROTO;
		len = (size_t)(nl - p);
		if (!key_line_ok(p, len))
			return -EPROTO;
		if (key != NULL && (key_id_len(p, len) != klen ||
		    memcmp(p, key, klen) != 0))
			continue;
		fprintf(out, KEY_OPTIONS "%.*s\n", listen, n->port, (int)len,
		    p);
		found++;
	}
	return found;
}

/* Every key of every enabled node, in the order of lp.yaml. */
static int
emit_all(FILE *out, struct lp_index *idx, const char *listen)
{
	struct lp_index_node n;
	size_t i, count = lp_index_count(idx);
	int r;

	for (i = 0; i < count; i++) {
		if ((r = lp_index_node_at(idx, i, &n)) != 0)
			return -EPROTO;
		if (!n.enabled)
			continue;
		if ((r = emit_node(out, idx, &n, listen, NULL)) < 0)
			return r;
	}
	return 0;
}

/*
 * The line of the key sshd offers: one lookup by key, then the node's
 * own few keys.  A key that names a node whose list lacks it is a
 * corrupt index.
 */
static int
emit_one(FILE *out, struct lp_index *idx, const char *listen,
    const char *type, const char *b64)
{
	char key[LP_SSHKEY_LINE_MAX + 1];
	struct lp_index_node n;
	int len, r;

	len = snprintf(key, sizeof(key), "%s %s", type, b64);
	if (len < 0 || (size_t)len >= sizeof(key) ||
	    key_id_len(key, (size_t)len) != (size_t)len)
		return 0;	/* not a key that the index can hold */
	r = lp_index_node_by_key(idx, key, &n);
	if (r == -ENOENT)
		return 0;
	if (r != 0)
		return -EPROTO;
	if (!n.enabled)
		return 0;
	r = emit_node(out, idx, &n, listen, key);
	return r == 0 ? -EPROTO : r;
}

/* Writes all of buf to stdout, or nothing useful: sshd sees the status. */
static int
write_out(const char *buf, size_t len)
{
	if ((len > 0 && fwrite(buf, 1, len, stdout) != len) ||
	    fflush(stdout) != 0) {
		warn("standard output");
		return -EIO;
	}
	return 0;
}

static int
cmd_authorized_keys(const struct opts *o)
{
	char listen[LP_ADDR_MAX + 3];
	struct lp_index *idx = NULL;
	FILE *out = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r, status = EXIT_REFUSED;

	if (o->nargs == 2)
		usage(EXIT_USAGE);
	if (open_index(o, &idx) != 0)
		goto out;
	if (strcmp(o->args[0], lp_index_tunnel_user(idx)) != 0) {
		status = 0;
		goto out;
	}
	if (format_listen(lp_index_listen(idx), listen, sizeof(listen)) != 0) {
		index_corrupt(o);
		goto out;
	}

	/* Built in memory first: a corrupt index must print no line at all. */
	if ((out = open_memstream(&buf, &len)) == NULL) {
		warn("open_memstream");
		goto out;
	}
	if (o->nargs == 3)
		r = emit_one(out, idx, listen, o->args[1], o->args[2]);
	else
		r = emit_all(out, idx, listen);
	if (fclose(out) != 0) {
		out = NULL;
		warn("open_memstream");
		goto out;
	}
	out = NULL;
	if (r < 0) {
		index_corrupt(o);
		goto out;
	}
	if (write_out(buf, len) == 0)
		status = 0;
out:
	if (out != NULL)
		(void)fclose(out);
	free(buf);
	lp_index_close(idx);
	return status;
}

/* ------------------------------------------------------ list, status */

static void
format_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		(void)snprintf(buf, size, "@%lld", (long long)t);
}

/* The STATE column: what the live tunnel record of n says. */
static void
tunnel_state(const char *run_dir, const struct lp_index_node *n, char *buf,
    size_t size)
{
	char since[64], peer[LP_PEER_MAX + 1];
	struct lp_tunnel_rec rec;
	int64_t down;
	int r;

	r = lp_tunnel_rec_read(run_dir, n->name, &rec);
	switch (r) {
	case 0:
		format_time(rec.since, since, sizeof(since));
		shown(peer, sizeof(peer), rec.peer);
		if (rec.port == n->port)
			(void)snprintf(buf, size, "up since %s from %s", since,
			    peer);
		else
			(void)snprintf(buf, size, "up since %s from %s, "
			    "on port %u", since, peer, rec.port);
		break;
	case -ENOENT:
		/* Since when, if its last tunnel closed as a session ends. */
		if (lp_tunnel_down_read(run_dir, n->name, &down) == 0) {
			format_time(down, since, sizeof(since));
			(void)snprintf(buf, size, "down since %s", since);
		} else
			(void)snprintf(buf, size, "down");
		break;
	case -ESTALE:
		(void)snprintf(buf, size, "down (stale record)");
		break;
	case -EBADMSG:
		(void)snprintf(buf, size, "unknown (damaged record)");
		break;
	case -EPERM:
		(void)snprintf(buf, size, "unknown (wrong owner or mode)");
		break;
	default:
		(void)snprintf(buf, size, "unknown (%s)", strerror(-r));
	}
}

static void
print_row(const char *run_dir, const struct lp_index_node *n, int width)
{
	char state[STATE_MAX];

	tunnel_state(run_dir, n, state, sizeof(state));
	printf("%-*s %5u %-7s %s\n", width, n->name, n->port,
	    n->enabled ? "yes" : "no", state);
}

static void
print_header(int width)
{
	printf("%-*s %5s %-7s %s\n", width, "NAME", "PORT", "ENABLED",
	    "STATE");
}

/* The widest node name, so that the columns line up. */
static int
name_width(struct lp_index *idx, int *ret_width)
{
	struct lp_index_node n;
	size_t i, count = lp_index_count(idx), w = 4;

	for (i = 0; i < count; i++) {
		if (lp_index_node_at(idx, i, &n) != 0)
			return -EPROTO;
		if (strlen(n.name) > w)
			w = strlen(n.name);
	}
	*ret_width = (int)w;
	return 0;
}

static int
cmd_list(const struct opts *o)
{
	struct lp_index *idx = NULL;
	struct lp_index_node n;
	size_t i, count;
	int width, status = EXIT_REFUSED;

	if (open_index(o, &idx) != 0)
		goto out;
	if (name_width(idx, &width) != 0) {
		index_corrupt(o);
		goto out;
	}
	count = lp_index_count(idx);
	print_header(width);
	for (i = 0; i < count; i++) {
		if (lp_index_node_at(idx, i, &n) != 0) {
			index_corrupt(o);
			goto out;
		}
		print_row(o->run_dir, &n, width);
	}
	status = fflush(stdout) == 0 ? 0 : EXIT_REFUSED;
out:
	lp_index_close(idx);
	return status;
}

static int
cmd_status(const struct opts *o)
{
	char name[NAME_SHOWN_MAX + 1];
	struct lp_index *idx = NULL;
	struct lp_index_node n;
	int r, width, status = EXIT_REFUSED;

	if (open_index(o, &idx) != 0)
		goto out;
	r = lp_index_node(idx, o->args[0], &n);
	if (r == -ENOENT) {
		warnx("%s: no such node", shown(name, sizeof(name),
		    o->args[0]));
		goto out;
	}
	if (r != 0) {
		index_corrupt(o);
		goto out;
	}
	width = strlen(n.name) > 4 ? (int)strlen(n.name) : 4;
	print_header(width);
	print_row(o->run_dir, &n, width);
	status = fflush(stdout) == 0 ? 0 : EXIT_REFUSED;
out:
	lp_index_close(idx);
	return status;
}

/* ------------------------------------------------------------ main */

static const struct command commands[] = {
	{ "check",		0, 0, cmd_check,		false },
	{ "compile",		0, 0, cmd_compile,		false },
	{ "authorized-keys",	1, 3, cmd_authorized_keys,	true },
	{ "list",		0, 0, cmd_list,			false },
	{ "status",		1, 1, cmd_status,		false },
};

static const struct command *
parse_args(int argc, char *argv[], struct opts *o)
{
	const struct command *c = NULL;
	size_t i;
	int ch;

	memset(o, 0, sizeof(*o));
	o->config = LP_CONFIG_PATH;
	o->index = LP_INDEX_PATH;
	o->run_dir = LP_TUNNEL_RUN_DIR;

	/* '+': the command ends option parsing; its arguments are data. */
	while ((ch = getopt_long(argc, argv, "+c:i:r:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'i':
			o->index = optarg;
			break;
		case 'r':
			o->run_dir = optarg;
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("lp-nodes %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	if (optind >= argc)
		usage(EXIT_USAGE);
	for (i = 0; i < LP_ARRAY_SIZE(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			c = &commands[i];
	if (c == NULL)
		usage(EXIT_USAGE);
	o->args = argv + optind + 1;
	o->nargs = argc - optind - 1;
	if (o->nargs < c->min_args || o->nargs > c->max_args)
		usage(EXIT_USAGE);
	o->log_errors = c->log_errors;
	return c;
}

int
main(int argc, char *argv[])
{
	const struct command *c;
	struct opts o;

	c = parse_args(argc, argv, &o);
	return c->run(&o);
}
