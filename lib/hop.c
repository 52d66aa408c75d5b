/*
 * lp-hop's testable part: the request parser, the group check and the
 * relay.
 *
 * The relay moves bytes with splice(2) through a pipe of its own for
 * each direction, so that they go from one socket's buffers to the
 * other's without passing through user space.  A descriptor that cannot
 * splice (splice(2) says EINVAL: a terminal, a file opened for append)
 * turns its direction into a read(2)/write(2) loop through a buffer,
 * which first empties whatever the pipe still holds.  Every descriptor
 * is non-blocking for the relay's duration, and one poll(2) watches both
 * directions, so that a slow reader on one side never stops the other.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hop.h"
#include "index.h"

/* ---------------------------------------------------------- request */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

enum lp_hop_req_error
lp_hop_parse_request(const char *req, char ret_node[LP_NODE_NAME_MAX + 1])
{
	char name[LP_NODE_NAME_MAX + 1];
	const char *p, *word, *end;
	size_t len, i;

	if (req == NULL)
		return LP_HOP_REQ_EMPTY;
	if (strnlen(req, LP_HOP_REQUEST_MAX + 1) > LP_HOP_REQUEST_MAX)
		return LP_HOP_REQ_LONG;

	for (p = req; is_blank(*p); p++)
		continue;
	if (*p == '\0')
		return LP_HOP_REQ_EMPTY;
	for (word = p; *p != '\0' && !is_blank(*p); p++)
		continue;
	end = p;
	for (; is_blank(*p); p++)
		continue;
	if (*p != '\0')
		return LP_HOP_REQ_WORDS;

	len = (size_t)(end - word);
	if (len > LP_NODE_NAME_MAX)
		return LP_HOP_REQ_LONG;
	for (i = 0; i < len; i++) {
		char c = word[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		name[i] = c;
	}
	name[len] = '\0';
	if (lp_index_node_name_check(name, len) != 0)
		return LP_HOP_REQ_CHARS;

	memcpy(ret_node, name, len + 1);
	return LP_HOP_REQ_OK;
}

const char *
lp_hop_req_error_word(enum lp_hop_req_error err)
{
	switch (err) {
	case LP_HOP_REQ_OK:
		return "ok";
	case LP_HOP_REQ_EMPTY:
		return "empty";
	case LP_HOP_REQ_WORDS:
		return "extra_words";
	case LP_HOP_REQ_CHARS:
		return "bad_characters";
	case LP_HOP_REQ_LONG:
		return "too_long";
	}
	return "bad_request";
}

/* ------------------------------------------------------------ groups */

static bool
person_has(const char *group, size_t len, char *const *person_groups,
    size_t ngroups)
{
	size_t i;

	for (i = 0; i < ngroups; i++) {
		const char *g = person_groups[i];

		if (g != NULL && strlen(g) == len && memcmp(g, group, len) == 0)
			return true;
	}
	return false;
}

int
lp_hop_group_allowed(const char *node_groups, size_t node_groups_len,
    char *const *person_groups, size_t ngroups)
{
	const char *p = node_groups, *end = node_groups + node_groups_len;

	if (node_groups == NULL || person_groups == NULL)
		return 0;
	/* The index writes "-" for a node without groups: nobody. */
	if (node_groups_len == 1 && node_groups[0] == '-')
		return 0;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t len = (size_t)((comma != NULL ? comma : end) - p);

		/* An empty element names no group, so it matches nobody. */
		if (len > 0 && person_has(p, len, person_groups, ngroups))
			return 1;
		p += len + 1;
	}
	return 0;
}

/* ------------------------------------------------------------- relay */

#define RELAY_BUF_SIZE	(128u * 1024)
#define RELAY_PIPE_SIZE	(1024 * 1024)
#define DIRECT_MAX	(1024u * 1024)
#define FUTILE_MAX	8
#define RELAY_TICK_MS	1000
#define SPLICE_FLAGS	(SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

enum flow_mode {
	MODE_DIRECT,	/* one splice from src to dst, one of them a pipe */
	MODE_PIPE,	/* splice in and out of the flow's own pipe */
	MODE_COPY,	/* read and write through buf */
};

/* One direction of the relay. */
struct flow {
	int		 src;
	int		 dst;
	enum lp_relay_end src_end;	/* whose error a failure of src is */
	enum lp_relay_end dst_end;
	bool		 src_is_sock;
	bool		 may_close;	/* dst may be closed at EOF */
	enum flow_mode	 mode;
	bool		 dst_full;	/* direct: dst took nothing */
	int		 futile;	/* direct: splices in vain */
	int		 pipe[2];
	size_t		 pipe_size;
	size_t		 queued;	/* bytes in the pipe */
	bool		 pipe_full;	/* splice in said EAGAIN */
	unsigned char	*buf;
	size_t		 off;		/* buf[off..len) to write */
	size_t		 len;
	bool		 eof;		/* src said EOF */
	bool		 done;		/* ... and dst is shut */
	uint64_t	 bytes;		/* written to dst */
};

/* A failure of one side, kept until the loop ends. */
struct relay_fail {
	int		 err;		/* negative errno */
	enum lp_relay_end end;
};

static void
flow_init(struct flow *f, int src, int dst, enum lp_relay_end src_end,
    enum lp_relay_end dst_end)
{
	memset(f, 0, sizeof(*f));
	f->src = src;
	f->dst = dst;
	f->src_end = src_end;
	f->dst_end = dst_end;
	f->pipe[0] = f->pipe[1] = -1;
	f->mode = MODE_COPY;
}

static int
file_type(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (int)(st.st_mode & S_IFMT) : -1;
}

/*
 * Chooses how the flow moves bytes.  When src or dst is a pipe (sshd
 * gives a session pipes), one splice moves them, and the pipe is grown
 * so that its writer and the splice move up to 1 MiB at a time instead
 * of 64 KiB.  Otherwise they go through a pipe of the flow's own, grown
 * alike.  The kernel may refuse the size (fs.pipe-max-size, or the
 * user's pipe pages), which costs only speed.  Without any pipe (out of
 * descriptors), the flow copies through buf.
 */
static int
flow_open(struct flow *f)
{
	int sz;

	if ((f->buf = malloc(RELAY_BUF_SIZE)) == NULL)
		return -ENOMEM;
	f->src_is_sock = file_type(f->src) == S_IFSOCK;
	if (file_type(f->src) == S_IFIFO || file_type(f->dst) == S_IFIFO) {
		(void)fcntl(f->src, F_SETPIPE_SZ, RELAY_PIPE_SIZE);
		(void)fcntl(f->dst, F_SETPIPE_SZ, RELAY_PIPE_SIZE);
		f->mode = MODE_DIRECT;
		return 0;
	}
	if (pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		f->pipe[0] = f->pipe[1] = -1;
		return 0;
	}
	(void)fcntl(f->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	sz = fcntl(f->pipe[1], F_GETPIPE_SZ);
	if (sz <= 0) {
		(void)close(f->pipe[0]);
		(void)close(f->pipe[1]);
		f->pipe[0] = f->pipe[1] = -1;
		return 0;
	}
	f->pipe_size = (size_t)sz;
	f->mode = MODE_PIPE;
	return 0;
}

static void
flow_close(struct flow *f)
{
	if (f->pipe[0] != -1)
		(void)close(f->pipe[0]);
	if (f->pipe[1] != -1)
		(void)close(f->pipe[1]);
	free(f->buf);
	f->buf = NULL;
}

static bool
flow_pending(const struct flow *f)
{
	return f->queued > 0 || f->off < f->len || f->dst_full;
}

static bool
flow_wants_input(const struct flow *f)
{
	if (f->eof)
		return false;
	switch (f->mode) {
	case MODE_DIRECT:
		return !f->dst_full;
	case MODE_PIPE:
		return !f->pipe_full && f->queued < f->pipe_size;
	case MODE_COPY:
		break;
	}
	/* Bytes left in the pipe are read before src is. */
	return f->queued == 0 && f->off == f->len;
}

static bool
again(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* Reads into the buffer: first what the pipe holds, then from src. */
static int
copy_in(struct flow *f, bool *moved)
{
	bool from_pipe = f->queued > 0;
	size_t want = RELAY_BUF_SIZE;
	ssize_t n;

	if (f->off < f->len || (f->eof && !from_pipe))
		return 0;
	if (from_pipe && f->queued < want)
		want = f->queued;
	n = read(from_pipe ? f->pipe[0] : f->src, f->buf, want);
	if (n < 0)
		return again(errno) ? 0 : -errno;
	if (n == 0) {
		if (!from_pipe)
			f->eof = true;
		*moved = true;
		return 0;
	}
	if (from_pipe)
		f->queued -= (size_t)n;
	f->off = 0;
	f->len = (size_t)n;
	*moved = true;
	return 0;
}

static int
splice_in(struct flow *f, bool *moved)
{
	ssize_t n;

	n = splice(f->src, NULL, f->pipe[1], NULL, f->pipe_size - f->queued,
	    SPLICE_FLAGS);
	if (n < 0) {
		if (errno == EINVAL) {
			f->mode = MODE_COPY;
			return copy_in(f, moved);
		}
		if (errno == EAGAIN && f->queued > 0)
			f->pipe_full = true;
		return again(errno) ? 0 : -errno;
	}
	if (n == 0)
		f->eof = true;
	f->queued += (size_t)n;
	*moved = true;
	return 0;
}

static int
copy_out(struct flow *f, bool *moved)
{
	ssize_t n;

	if (f->off == f->len)
		return 0;
	n = write(f->dst, f->buf + f->off, f->len - f->off);
	if (n < 0)
		return again(errno) ? 0 : -errno;
	f->off += (size_t)n;
	f->bytes += (uint64_t)n;
	if (f->off == f->len)
		f->off = f->len = 0;
	if (n > 0)
		*moved = true;
	return 0;
}

static int
splice_out(struct flow *f, bool *moved)
{
	ssize_t n;

	if (f->queued == 0)
		return 0;
	n = splice(f->pipe[0], NULL, f->dst, NULL, f->queued, SPLICE_FLAGS);
	if (n < 0) {
		if (errno == EINVAL) {
			/* The bytes stay in the pipe; copy_in takes them. */
			f->mode = MODE_COPY;
			return 0;
		}
		return again(errno) ? 0 : -errno;
	}
	f->queued -= (size_t)n;
	f->bytes += (uint64_t)n;
	if (n > 0) {
		f->pipe_full = false;
		*moved = true;
	}
	return 0;
}

/*
 * One splice from src to dst.  EAGAIN does not say which side was not
 * ready: after poll said src was, it is dst, and the flow waits for dst;
 * after poll said dst was, it is src.  Should that guess keep failing,
 * the flow falls back to copying, whose calls tell the sides apart.
 */
static int
direct_move(struct flow *f, bool *moved, enum lp_relay_end *who)
{
	ssize_t n;

	n = splice(f->src, NULL, f->dst, NULL, DIRECT_MAX, SPLICE_FLAGS);
	if (n > 0) {
		f->bytes += (uint64_t)n;
		f->dst_full = false;
		f->futile = 0;
		*moved = true;
		return 0;
	}
	if (n == 0) {
		f->eof = true;
		f->dst_full = false;
		*moved = true;
		return 0;
	}
	if (errno == EINVAL || (again(errno) && ++f->futile > FUTILE_MAX)) {
		f->mode = MODE_COPY;
		f->dst_full = false;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		f->dst_full = !f->dst_full;
		return 0;
	}
	if (errno == EINTR)
		return 0;
	/* A closed reader is dst's; a reset is the socket's. */
	*who = errno != EPIPE && f->src_is_sock ? f->src_end : f->dst_end;
	return -errno;
}

/*
 * Puts /dev/null where dst was, so that its reader sees EOF and the
 * number is not handed to the next open(2).  Closes it without a
 * replacement when /dev/null cannot be opened.
 */
static void
close_dst(int fd)
{
	int null;

	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null == -1 || dup2(null, fd) == -1)
		(void)close(fd);
	if (null != -1 && null != fd)
		(void)close(null);
}

/* After EOF with nothing left to write: tells dst's reader. */
static void
flow_finish(struct flow *f)
{
	if (!f->eof || flow_pending(f) || f->done)
		return;
	/*
	 * A failed shutdown means the peer is gone already; the other
	 * direction notices that by itself.
	 */
	if (shutdown(f->dst, SHUT_WR) != 0 && errno == ENOTSOCK &&
	    f->may_close)
		close_dst(f->dst);
	f->done = true;
}

static int
fail_with(struct relay_fail *fail, int r, enum lp_relay_end end)
{
	fail->err = r;
	fail->end = end;
	return r;
}

/* Through the flow's pipe or buffer: in, then out at once. */
static int
flow_step_buffered(struct flow *f, short src_ev, bool *moved,
    struct relay_fail *fail)
{
	int r;

	if (src_ev != 0 && flow_wants_input(f)) {
		r = f->mode == MODE_PIPE ? splice_in(f, moved) :
		    copy_in(f, moved);
		if (r != 0)
			return fail_with(fail, r, f->src_end);
	}
	if (f->mode == MODE_COPY && f->off == f->len && f->queued > 0 &&
	    (r = copy_in(f, moved)) != 0)
		return fail_with(fail, r, f->src_end);
	if (flow_pending(f)) {
		r = f->mode == MODE_PIPE ? splice_out(f, moved) :
		    copy_out(f, moved);
		if (r != 0)
			return fail_with(fail, r, f->dst_end);
	}
	return 0;
}

/*
 * One round of a direction after poll: moves what it can without
 * waiting.  A write is tried right after a read without asking poll,
 * because dst is nearly always ready and that saves a round.
 */
static int
flow_step(struct flow *f, short src_ev, short dst_ev, bool *moved,
    struct relay_fail *fail)
{
	enum lp_relay_end who = f->src_end;
	int r;

	if (f->mode == MODE_DIRECT) {
		if (((src_ev != 0 && flow_wants_input(f)) ||
		    (f->dst_full && dst_ev != 0)) &&
		    (r = direct_move(f, moved, &who)) != 0)
			return fail_with(fail, r, who);
	} else if ((r = flow_step_buffered(f, src_ev, moved, fail)) != 0)
		return r;
	flow_finish(f);
	return 0;
}

/* Adds f's wishes to the poll set; *ix are their places, or -1. */
static void
flow_poll(const struct flow *f, struct pollfd *pfd, nfds_t *n, int ix[2])
{
	ix[0] = ix[1] = -1;
	if (f->done)
		return;
	if (flow_wants_input(f)) {
		ix[0] = (int)*n;
		pfd[*n].fd = f->src;
		pfd[*n].events = POLLIN;
		pfd[*n].revents = 0;
		(*n)++;
	}
	if (flow_pending(f)) {
		ix[1] = (int)*n;
		pfd[*n].fd = f->dst;
		pfd[*n].events = POLLOUT;
		pfd[*n].revents = 0;
		(*n)++;
	}
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static short
revents_at(const struct pollfd *pfd, int ix)
{
	return ix < 0 ? 0 : pfd[ix].revents;
}

/* A descriptor poll calls invalid is that side's error. */
static int
check_nval(const struct pollfd *pfd, const int ix[2], const struct flow *f,
    struct relay_fail *fail)
{
	if (revents_at(pfd, ix[0]) & POLLNVAL) {
		fail->err = -EBADF;
		fail->end = f->src_end;
		return -EBADF;
	}
	if (revents_at(pfd, ix[1]) & POLLNVAL) {
		fail->err = -EBADF;
		fail->end = f->dst_end;
		return -EBADF;
	}
	return 0;
}

/*
 * The loop proper.  Returns 0 when both directions are done, or the
 * negative errno for fail's side, for a stop or for idleness, with
 * fail->end saying which.
 */
static int
relay_loop(struct flow fl[2], unsigned idle_s, volatile sig_atomic_t *stop,
    struct relay_fail *fail)
{
	struct pollfd pfd[4];
	int64_t last = now_ms(), idle_ms = (int64_t)idle_s * 1000;
	int ix[2][2], i, timeout, r;
	bool moved;
	nfds_t n;

	while (!(fl[0].done && fl[1].done)) {
		if (stop != NULL && *stop) {
			fail->end = LP_RELAY_SIGNAL;
			return fail->err = -EINTR;
		}
		timeout = RELAY_TICK_MS;
		if (idle_ms > 0) {
			int64_t left = last + idle_ms - now_ms();

			if (left <= 0) {
				fail->end = LP_RELAY_IDLE;
				return fail->err = -ETIMEDOUT;
			}
			if (left < timeout)
				timeout = (int)left;
		}

		n = 0;
		for (i = 0; i < 2; i++)
			flow_poll(&fl[i], pfd, &n, ix[i]);
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fail->end = LP_RELAY_CLIENT_ERROR;
			return fail->err = -errno;
		}

		moved = false;
		for (i = 0; i < 2; i++) {
			if (fl[i].done)
				continue;
			if ((r = check_nval(pfd, ix[i], &fl[i], fail)) != 0 ||
			    (r = flow_step(&fl[i], revents_at(pfd, ix[i][0]),
			    revents_at(pfd, ix[i][1]), &moved, fail)) != 0)
				return r;
		}
		if (moved)
			last = now_ms();
	}
	return 0;
}

/* The descriptors whose flags the relay changes, each once. */
struct saved_flags {
	int	fd[3];
	int	flags[3];
	int	n;
};

static int
make_nonblocking(struct saved_flags *sv, int fd)
{
	int i, fl;

	for (i = 0; i < sv->n; i++)
		if (sv->fd[i] == fd)
			return 0;
	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -errno;
	sv->fd[sv->n] = fd;
	sv->flags[sv->n] = fl;
	sv->n++;
	return 0;
}

static void
restore_flags(const struct saved_flags *sv)
{
	int i;

	for (i = 0; i < sv->n; i++)
		(void)fcntl(sv->fd[i], F_SETFL, sv->flags[i]);
}

/*
 * A write to a closed pipe or socket raises SIGPIPE, which would kill
 * a caller that has not ignored it: the relay blocks it while it runs
 * and takes back a SIGPIPE that it raised itself, so that the caller
 * sees EPIPE only.
 */
static void
block_sigpipe(sigset_t *old, bool *was_pending)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &set, old);
	*was_pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
}

static void
unblock_sigpipe(const sigset_t *old, bool was_pending)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t set, pend;

	if (!was_pending && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGPIPE)) {
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		(void)sigtimedwait(&set, NULL, &zero);
	}
	(void)pthread_sigmask(SIG_SETMASK, old, NULL);
}

int
lp_relay(int in_fd, int out_fd, int sock, unsigned idle_s,
    volatile sig_atomic_t *stop, struct lp_relay_stats *st)
{
	struct relay_fail fail = { -EINVAL, LP_RELAY_CLIENT_ERROR };
	struct saved_flags sv = { { -1, -1, -1 }, { 0, 0, 0 }, 0 };
	struct flow fl[2];
	sigset_t oldmask;
	bool was_pending;
	int r = -EINVAL;

	flow_init(&fl[0], in_fd, sock, LP_RELAY_CLIENT_ERROR,
	    LP_RELAY_NODE_ERROR);
	flow_init(&fl[1], sock, out_fd, LP_RELAY_NODE_ERROR,
	    LP_RELAY_CLIENT_ERROR);
	fl[1].may_close = out_fd != in_fd;
	block_sigpipe(&oldmask, &was_pending);

	if (in_fd < 0 || out_fd < 0 || sock < 0)
		goto out;
	if ((r = make_nonblocking(&sv, in_fd)) != 0 ||
	    (r = make_nonblocking(&sv, out_fd)) != 0) {
		fail.end = LP_RELAY_CLIENT_ERROR;
		goto out;
	}
	if ((r = make_nonblocking(&sv, sock)) != 0) {
		fail.end = LP_RELAY_NODE_ERROR;
		goto out;
	}
	if ((r = flow_open(&fl[0])) != 0 || (r = flow_open(&fl[1])) != 0) {
		fail.end = LP_RELAY_CLIENT_ERROR;
		goto out;
	}

	r = relay_loop(fl, idle_s, stop, &fail);
	/*
	 * The person's side went away while the node still had bytes for
	 * it, as when an ssh client ends its session: an end, not a
	 * failure; what it would have read is lost with it either way.
	 */
	if (r == -EPIPE && fail.end == LP_RELAY_CLIENT_ERROR) {
		fail.end = LP_RELAY_CLIENT_CLOSED;
		r = 0;
	} else if (r == 0)
		fail.end = LP_RELAY_BOTH_CLOSED;
out:
	if (st != NULL) {
		st->sent = fl[0].bytes;
		st->received = fl[1].bytes;
		st->end = fail.end;
	}
	/* out_fd may be /dev/null now: these flags do it no harm. */
	restore_flags(&sv);
	flow_close(&fl[0]);
	flow_close(&fl[1]);
	unblock_sigpipe(&oldmask, was_pending);
	return r;
}

const char *
lp_relay_end_word(enum lp_relay_end end)
{
	switch (end) {
	case LP_RELAY_BOTH_CLOSED:
		return "closed";
	case LP_RELAY_CLIENT_CLOSED:
		return "client_closed";
	case LP_RELAY_CLIENT_ERROR:
		return "client_error";
	case LP_RELAY_NODE_ERROR:
		return "node_error";
	case LP_RELAY_SIGNAL:
		return "signal";
	case LP_RELAY_IDLE:
		return "idle";
	}
	return "unknown";
}
