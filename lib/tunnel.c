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
 * names never collide with a record.  NODE.down, the time the node's
 * last tunnel closed, is written the same way through .NODE.down.tmp; a
 * node name holds no '.', so it never collides either.
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
#include "index.h"
#include "lp_util.h"
#include "record.h"
#include "tunnel.h"

#define REC_VERSION	"lp-tunnel 1"
#define REC_END		"end"
#define REC_PORT_MIN	1024
#define REC_PORT_MAX	65535
/* Every line at its longest, with room to spare; also the read bound. */
#define REC_TEXT_MAX	512
/* "." + name + ".lock" + NUL */
#define REC_NAME_SIZE	(1 + LP_NODE_NAME_MAX + 5 + 1)
#define REC_DIR_MODE	0755
#define REC_FILE_MODE	0644
#define DOWN_VERSION	"lp-tunnel-down 1"
#define DOWN_SUFFIX	".down"
/* "." + name + ".down.tmp" + NUL */
#define DOWN_NAME_SIZE	(1 + LP_NODE_NAME_MAX + 9 + 1)
#define DOWN_TEXT_MAX	128

/* NODE.down, the down marker's name. */
static int
down_name(char *buf, size_t size, const char *node)
{
	int n;

	n = snprintf(buf, size, "%s" DOWN_SUFFIX, node);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The peer: 1 to LP_PEER_MAX bytes of printable ASCII without spaces. */
static int
check_peer(const char *s, size_t len)
{
	if (len > LP_PEER_MAX || !lp_rec_is_word(s, len))
		return -EINVAL;
	return 0;
}

static int
check_rec(const struct lp_tunnel_rec *rec)
{
	if (lp_index_node_name_check(rec->node,
	    strnlen(rec->node, sizeof(rec->node))) != 0 ||
	    check_peer(rec->peer, strnlen(rec->peer, sizeof(rec->peer))) != 0 ||
	    rec->port < REC_PORT_MIN || rec->port > REC_PORT_MAX ||
	    rec->pid <= 0 || rec->since < 0)
		return -EINVAL;
	return 0;
}

/* Takes the line of key, checks its value and copies it into out. */
static int
take_text(struct lp_rec *c, const char *key, int (*check)(const char *,
    size_t), char *out, size_t size)
{
	const char *val;
	size_t vlen;

	if (lp_rec_take_line(c, key, &val, &vlen) != 0 || vlen >= size ||
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
	struct lp_rec c;
	uint64_t port, pid, since;
	int r = -EBADMSG;

	memset(&rec, 0, sizeof(rec));
	if (ret == NULL)
		return -EINVAL;
	if (len > REC_TEXT_MAX || lp_rec_init(&c, buf, len) != 0)
		goto out;

	if (lp_rec_take_fixed(&c, REC_VERSION) != 0 ||
	    take_text(&c, "node", lp_index_node_name_check, rec.node,
	    sizeof(rec.node)) != 0 ||
	    lp_rec_take_u64(&c, "port", REC_PORT_MIN, REC_PORT_MAX,
	    &port) != 0 ||
	    take_text(&c, "peer", check_peer, rec.peer,
	    sizeof(rec.peer)) != 0 ||
	    lp_rec_take_u64(&c, "pid", 1, INT_MAX, &pid) != 0 ||
	    lp_rec_take_u64(&c, "since", 0, INT64_MAX, &since) != 0 ||
	    !lp_rec_at_end(&c, REC_END))
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
	    lp_index_node_name_check(node,
	    strnlen(node, LP_NODE_NAME_MAX + 1)) != 0)
		goto out;
	if ((r = lp_dir_open_checked(dir, 0, 022, &dirfd)) != 0)
		goto out;
	if (lockfd != NULL) {
		if ((r = lp_file_dotname(lockname, sizeof(lockname), node,
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

static int
read_rec(int dirfd, const char *node, struct lp_tunnel_rec *ret)
{
	struct lp_tunnel_rec rec;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = lp_read_secret(dirfd, node, 0, 022, REC_TEXT_MAX, &buf,
	    &len)) != 0)
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
lp_tunnel_rec_write(const char *dir, const struct lp_tunnel_rec *rec,
    struct lp_tunnel_rec *ret_holder)
{
	char text[REC_TEXT_MAX], tmpname[REC_NAME_SIZE], down[DOWN_NAME_SIZE];
	struct lp_tunnel_rec old;
	size_t len;
	int dirfd = -1, lockfd = -1, r = -EINVAL;

	if (dir == NULL || rec == NULL)
		goto out;
	if ((r = lp_tunnel_rec_format(rec, text, sizeof(text), &len)) != 0)
		goto out;
	if ((r = lp_file_dotname(tmpname, sizeof(tmpname), rec->node,
	    ".tmp")) != 0 || (r = down_name(down, sizeof(down), rec->node)) != 0)
		goto out;
	if ((r = make_dirs(dir)) != 0)
		goto out;
	if ((r = open_dir(dir, rec->node, &dirfd, &lockfd)) != 0)
		goto out;
	/*
	 * Under the node's lock, so that of two sessions opening at once
	 * only one finds the node free.  A record that cannot be read, or
	 * whose process is gone, holds nothing.
	 */
	if (read_rec(dirfd, rec->node, &old) == 0 && old.pid != rec->pid &&
	    !is_stale(&old)) {
		if (ret_holder != NULL)
			*ret_holder = old;
		r = -EEXIST;
		goto out;
	}
	r = lp_file_replace(dirfd, rec->node, tmpname, text, len,
	    REC_FILE_MODE);
	if (r == 0 && (r = lp_file_remove(dirfd, down)) == -ENOENT)
		r = 0;
out:
	lp_lock_release(lockfd);
	if (dirfd != -1)
		(void)close(dirfd);
	return r;
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
	r = lp_file_remove(dirfd, node);
out:
	lp_lock_release(lockfd);
	if (dirfd != -1)
		(void)close(dirfd);
	return r;
}

/* ------------------------------------------------------- down markers */


int
lp_tunnel_down_write(const char *dir, const char *node, int64_t since)
{
	char text[DOWN_TEXT_MAX], name[DOWN_NAME_SIZE], tmpname[DOWN_NAME_SIZE];
	int dirfd = -1, lockfd = -1, n, r = -EINVAL;

	if (dir == NULL || node == NULL || since < 0)
		goto out;
	if (lp_index_node_name_check(node,
	    strnlen(node, LP_NODE_NAME_MAX + 1)) != 0)
		goto out;
	n = snprintf(text, sizeof(text), DOWN_VERSION "\nnode %s\nsince %jd\n"
	    REC_END "\n", node, (intmax_t)since);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		r = -ENOBUFS;
		goto out;
	}
	if ((r = down_name(name, sizeof(name), node)) != 0 ||
	    (r = lp_file_dotname(tmpname, sizeof(tmpname), node,
	    DOWN_SUFFIX ".tmp")) != 0)
		goto out;
	if ((r = make_dirs(dir)) != 0)
		goto out;
	if ((r = open_dir(dir, node, &dirfd, &lockfd)) != 0)
		goto out;
	r = lp_file_replace(dirfd, name, tmpname, text, (size_t)n,
	    REC_FILE_MODE);
out:
	lp_lock_release(lockfd);
	if (dirfd != -1)
		(void)close(dirfd);
	return r;
}

int
lp_tunnel_down_read(const char *dir, const char *node, int64_t *ret_since)
{
	char name[DOWN_NAME_SIZE], *buf = NULL;
	const char *val;
	struct lp_rec c;
	uint64_t since;
	size_t len = 0, vlen;
	int dirfd = -1, r = -EINVAL;

	if (ret_since == NULL)
		goto out;
	if ((r = open_dir(dir, node, &dirfd, NULL)) != 0)
		goto out;
	if ((r = down_name(name, sizeof(name), node)) != 0)
		goto out;
	if ((r = lp_read_secret(dirfd, name, 0, 022, DOWN_TEXT_MAX, &buf,
	    &len)) != 0)
		goto out;
	r = -EBADMSG;
	if (lp_rec_init(&c, buf, len) != 0 ||
	    lp_rec_take_fixed(&c, DOWN_VERSION) != 0 ||
	    lp_rec_take_line(&c, "node", &val, &vlen) != 0 ||
	    vlen != strlen(node) || memcmp(val, node, vlen) != 0 ||
	    lp_rec_take_u64(&c, "since", 0, INT64_MAX, &since) != 0 ||
	    !lp_rec_at_end(&c, REC_END))
		goto out;

	*ret_since = (int64_t)since;
	r = 0;
out:
	if (buf != NULL)
		lp_freezero(buf, len + 1);
	if (dirfd != -1)
		(void)close(dirfd);
	return r;
}
