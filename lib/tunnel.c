/*
 * Live tunnel records: the strict text of lib/tunnel.h, and one file per
 * node in the run directory, written and removed under a per-node lock.
 *
 * Every accepted text is the one lp_tunnel_rec_format() writes for the
 * record it parses to, so a record has exactly one reading, and the end
 * line comes last with nothing after it, so that a record cut at any
 * byte is refused.
 *
 * Beside each record NODE the directory holds .NODE.lock (the lock,
 * never removed: removing a lock file races with its next taker) and,
 * for an instant, .NODE.tmp.  Node names never start with '.', so these
 * names never collide with a record.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "lp_util.h"
#include "tunnel.h"

#define REC_VERSION	"lp-tunnel 1"
#define REC_END		"end"
#define REC_U64_DIGITS	20
#define REC_PORT_MIN	1024
#define REC_PORT_MAX	65535
/* Every line at its longest, with room to spare; also the read bound. */
#define REC_TEXT_MAX	512
/* "." + name + ".lock" + NUL */
#define REC_NAME_SIZE	(1 + LP_NODE_NAME_MAX + 5 + 1)
#define REC_DIR_MODE	0755
#define REC_FILE_MODE	0644

/* A cursor over the text being parsed. */
struct cursor {
	const char	*p;
	const char	*end;
};

/*
 * A node name as the registry allows it: a DNS label of lower-case
 * letters, digits and '-', neither first nor last.  It is also a file
 * name, so this is what keeps "..", "/" and dot files out.
 */
static int
check_node(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > LP_NODE_NAME_MAX || s[0] == '-' ||
	    s[len - 1] == '-')
		return -EINVAL;
	for (i = 0; i < len; i++)
		if ((s[i] < 'a' || s[i] > 'z') && (s[i] < '0' || s[i] > '9') &&
		    s[i] != '-')
			return -EINVAL;
	return 0;
}

/* The peer: 1 to LP_PEER_MAX bytes of printable ASCII without spaces. */
static int
check_peer(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > LP_PEER_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return -EINVAL;
	return 0;
}

static int
check_rec(const struct lp_tunnel_rec *rec)
{
	if (check_node(rec->node, strnlen(rec->node, sizeof(rec->node))) != 0 ||
	    check_peer(rec->peer, strnlen(rec->peer, sizeof(rec->peer))) != 0 ||
	    rec->port < REC_PORT_MIN || rec->port > REC_PORT_MAX ||
	    rec->pid <= 0 || rec->since < 0)
		return -EINVAL;
	return 0;
}

/*
 * Takes the next line if it starts with key and a space, and points
 * *val at the value and *vlen at its length (without the '\n').
 */
static int
take_line(struct cursor *c, const char *key, const char **val, size_t *vlen)
{
	const char *nl;
	size_t klen = strlen(key);

	if (c->p >= c->end)
		return -EBADMSG;
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	if (nl == NULL)
		return -EBADMSG;
	if ((size_t)(nl - c->p) <= klen || memcmp(c->p, key, klen) != 0 ||
	    c->p[klen] != ' ')
		return -EBADMSG;
	*val = c->p + klen + 1;
	*vlen = (size_t)(nl - *val);
	c->p = nl + 1;
	return 0;
}

/* Canonical decimal digits (no sign, no leading zero) in [min, max]. */
static int
take_u64(struct cursor *c, const char *key, uint64_t min, uint64_t max,
    uint64_t *ret_val)
{
	const char *s;
	uint64_t v = 0;
	size_t i, len;
	unsigned d;

	if (take_line(c, key, &s, &len) != 0)
		return -EBADMSG;
	if (len == 0 || len > REC_U64_DIGITS || (s[0] == '0' && len > 1))
		return -EBADMSG;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	if (v < min)
		return -EBADMSG;
	*ret_val = v;
	return 0;
}

static int
take_fixed(struct cursor *c, const char *line)
{
	size_t len = strlen(line);

	if ((size_t)(c->end - c->p) < len || memcmp(c->p, line, len) != 0)
		return -EBADMSG;
	c->p += len;
	return 0;
}

static int
take_text(struct cursor *c, const char *key, int (*check)(const char *,
    size_t), char *out, size_t size)
{
	const char *val;
	size_t vlen;

	if (take_line(c, key, &val, &vlen) != 0 || vlen >= size ||
	    check(val, vlen) != 0)
		return -EBADMSG;
	memcpy(out, val, vlen);
	out[vlen] = '\0';
	return 0;
}

int
lp_tunnel_rec_parse(const char *buf, size_t len, struct lp_tunnel_rec *ret)
{
	struct lp_tunnel_rec rec;
	struct cursor c;
	uint64_t port, pid, since;
	int r = -EBADMSG;

	memset(&rec, 0, sizeof(rec));
	if (ret == NULL)
		return -EINVAL;
	if (buf == NULL || len > REC_TEXT_MAX || memchr(buf, '\0', len) != NULL)
		goto out;
	c.p = buf;
	c.end = buf + len;

	if (take_fixed(&c, REC_VERSION "\n") != 0 ||
	    take_text(&c, "node", check_node, rec.node,
	    sizeof(rec.node)) != 0 ||
	    take_u64(&c, "port", REC_PORT_MIN, REC_PORT_MAX, &port) != 0 ||
	    take_text(&c, "peer", check_peer, rec.peer,
	    sizeof(rec.peer)) != 0 ||
	    take_u64(&c, "pid", 1, INT_MAX, &pid) != 0 ||
	    take_u64(&c, "since", 0, INT64_MAX, &since) != 0 ||
	    take_fixed(&c, REC_END "\n") != 0 || c.p != c.end)
		goto out;
	rec.port = (unsigned)port;
	rec.pid = (pid_t)pid;
	rec.since = (int64_t)since;

	*ret = rec;
	r = 0;
out:
	return r;
}

int
lp_tunnel_rec_format(const struct lp_tunnel_rec *rec, char *buf,
    size_t size, size_t *ret_len)
{
	int n, r = -EINVAL;

	if (rec == NULL || buf == NULL || check_rec(rec) != 0)
		goto out;
	n = snprintf(buf, size,
	    REC_VERSION "\nnode %s\nport %u\npeer %s\npid %ld\nsince %jd\n"
	    REC_END "\n", rec->node, rec->port, rec->peer, (long)rec->pid,
	    (intmax_t)rec->since);
	if (n < 0 || (size_t)n >= size) {
		r = -ENOBUFS;
		goto out;
	}

	if (ret_len != NULL)
		*ret_len = (size_t)n;
	r = 0;
out:
	return r;
}

/*
 * Creates each missing directory of path (root, REC_DIR_MODE), as the
 * run directory lives on a tmpfs that starts empty at every boot.  The
 * directories that already exist are checked by the caller's open.
 */
static int
make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(buf) || path[0] != '/')
		return -EINVAL;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, REC_DIR_MODE) == 0) {
			/* Readers run as anyone: the umask must not hide it. */
			if (chmod(buf, REC_DIR_MODE) == -1)
				return -errno;
		} else if (errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

static int
make_name(char *out, size_t size, const char *node, const char *suffix)
{
	int n;

	n = snprintf(out, size, ".%s%s", node, suffix);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Opens the run directory (root, not writable by group or others), and
 * takes node's lock when lockfd is not NULL.
 */
static int
open_dir(const char *dir, const char *node, int *ret_dirfd, int *lockfd)
{
	char lockname[REC_NAME_SIZE];
	int dirfd = -1, r = -EINVAL;

	if (dir == NULL || node == NULL ||
	    check_node(node, strnlen(node, LP_NODE_NAME_MAX + 1)) != 0)
		goto out;
	if ((r = lp_dir_open_checked(dir, 0, 022, &dirfd)) != 0)
		goto out;
	if (lockfd != NULL) {
		if ((r = make_name(lockname, sizeof(lockname), node,
		    ".lock")) != 0)
			goto out;
		if ((r = lp_lock_take(dirfd, lockname, lockfd)) != 0)
			goto out;
	}

	*ret_dirfd = dirfd;
	dirfd = -1;
	r = 0;
out:
	if (dirfd != -1)
		(void)close(dirfd);
	return r;
}

int
lp_tunnel_rec_write(const char *dir, const struct lp_tunnel_rec *rec)
{
	char text[REC_TEXT_MAX], tmpname[REC_NAME_SIZE];
	size_t len;
	int dirfd = -1, lockfd = -1, r = -EINVAL;

	if (dir == NULL || rec == NULL)
		goto out;
	if ((r = lp_tunnel_rec_format(rec, text, sizeof(text), &len)) != 0)
		goto out;
	if ((r = make_name(tmpname, sizeof(tmpname), rec->node, ".tmp")) != 0)
		goto out;
	if ((r = make_dirs(dir)) != 0)
		goto out;
	if ((r = open_dir(dir, rec->node, &dirfd, &lockfd)) != 0)
		goto out;
	r = lp_file_replace(dirfd, rec->node, tmpname, text, len,
	    REC_FILE_MODE);
out:
	lp_lock_release(lockfd);
	if (dirfd != -1)
		(void)close(dirfd);
	return r;
}

static int
read_rec(int dirfd, const char *node, struct lp_tunnel_rec *ret)
{
	struct lp_tunnel_rec rec;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, r;

	if ((r = lp_open_secret(dirfd, node, 0, 022, REC_TEXT_MAX, &fd)) != 0)
		goto out;
	if ((r = lp_read_all(fd, REC_TEXT_MAX, &buf, &len)) != 0)
		goto out;
	if ((r = lp_tunnel_rec_parse(buf, len, &rec)) != 0)
		goto out;
	/* A record under another node's name was not written by us. */
	if (strcmp(rec.node, node) != 0) {
		r = -EBADMSG;
		goto out;
	}

	*ret = rec;
	r = 0;
out:
	if (fd != -1)
		(void)close(fd);
	if (buf != NULL)
		lp_freezero(buf, len + 1);
	return r;
}

/*
 * Reads the start of the process pid, in seconds since the epoch, from
 * /proc.  Returns 0, or a negative errno when /proc cannot tell.
 */
static int
process_start(pid_t pid, int64_t *ret_start)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks, btime = 0;
	long hz;
	FILE *f;
	int i;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	p = fgets(buf, sizeof(buf), f);
	(void)fclose(f);
	/* The name, in parentheses, may hold spaces and ')': skip it. */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return -EINVAL;
	/* starttime is the 22nd field; the 3rd follows the name. */
	for (i = 3; i <= 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu", &ticks) != 1)
		return -EINVAL;
	if ((f = fopen("/proc/stat", "re")) == NULL)
		return -errno;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	(void)fclose(f);
	if (btime == 0 || (hz = sysconf(_SC_CLK_TCK)) <= 0)
		return -EINVAL;
	*ret_start = (int64_t)(btime + ticks / (unsigned long long)hz);
	return 0;
}

/*
 * Tells whether the record's process has gone: kill(2) finds no such
 * pid, or the pid now belongs to a process started after the record
 * was written (the sshd that wrote it was killed before it could remove
 * it, and the kernel gave its pid to another).  The session process
 * exists before its session opens, so a live one never started after
 * since; REC_START_SLACK absorbs the rounding of both clocks.
 */
#define REC_START_SLACK	2

static int
is_stale(const struct lp_tunnel_rec *rec)
{
	int64_t start = 0;

	/* EPERM means that the process exists and belongs to another. */
	if (kill(rec->pid, 0) == -1 && errno == ESRCH)
		return 1;
	/* Without /proc, the pid's existence is all there is to go by. */
	if (process_start(rec->pid, &start) != 0)
		return 0;
	return start > rec->since + REC_START_SLACK;
}

int
lp_tunnel_rec_read(const char *dir, const char *node,
    struct lp_tunnel_rec *ret)
{
	struct lp_tunnel_rec rec;
	int dirfd = -1, r = -EINVAL;

	if (ret == NULL)
		goto out;
	if ((r = open_dir(dir, node, &dirfd, NULL)) != 0)
		goto out;
	if ((r = read_rec(dirfd, node, &rec)) != 0)
		goto out;
	if (is_stale(&rec)) {
		r = -ESTALE;
		goto out;
	}

	*ret = rec;
	r = 0;
out:
	if (dirfd != -1)
		(void)close(dirfd);
	return r;
}

int
lp_tunnel_rec_remove(const char *dir, const char *node, pid_t pid)
{
	struct lp_tunnel_rec rec;
	int dirfd = -1, lockfd = -1, r = -EINVAL;

	if (pid <= 0)
		goto out;
	if ((r = open_dir(dir, node, &dirfd, &lockfd)) != 0)
		goto out;
	/*
	 * An unreadable or damaged record is left alone: it is not known
	 * to be ours.
	 */
	if ((r = read_rec(dirfd, node, &rec)) != 0)
		goto out;
	if (rec.pid != pid) {
		r = -ESRCH;
		goto out;
	}
	if (unlinkat(dirfd, node, 0) == -1) {
		r = -errno;
		goto out;
	}
	if (fsync(dirfd) == -1) {
		r = -errno;
		goto out;
	}
	r = 0;
out:
	lp_lock_release(lockfd);
	if (dirfd != -1)
		(void)close(dirfd);
	return r;
}
