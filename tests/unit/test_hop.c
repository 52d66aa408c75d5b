/*
 * lib/hop.c: the request parser (every malformed request refused with
 * the right reason, the output untouched), the group check (exact names
 * only) and the relay (bytes and counts both ways, half-close in each
 * direction, 8 MiB through pipes and over TCP, the fallback when splice
 * is refused, stop flag, idle timeout, errors of either side).  Peers
 * of the relay run in threads that only record what they saw; the main
 * thread asserts.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hop.h"

#define BIG		(8u * 1024 * 1024)
#define CHUNK		(64u * 1024)
#define UNTOUCHED	"untouched"

/* ---------------------------------------------------------- fixture */

struct fx {
	int	person[2];	/* [0] the person's end, [1] the relay's */
	int	node[2];	/* [0] the node's end, [1] the relay's */
	int	in[2];		/* a pipe: [0] the relay reads */
	int	out[2];		/* a pipe: [1] the relay writes */
	char	dir[64];
	char	file[128];
};

static void
close_fd(int *fd)
{
	if (*fd != -1)
		(void)close(*fd);
	*fd = -1;
}

static int
setup(void **state)
{
	struct fx *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	fx->person[0] = fx->person[1] = fx->node[0] = fx->node[1] = -1;
	fx->in[0] = fx->in[1] = fx->out[0] = fx->out[1] = -1;
	(void)strcpy(fx->dir, "/tmp/lp-test-hop.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	(void)snprintf(fx->file, sizeof(fx->file), "%s/out", fx->dir);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    fx->person) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fx->node) != 0 ||
	    pipe2(fx->in, O_CLOEXEC) != 0 || pipe2(fx->out, O_CLOEXEC) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int i;

	for (i = 0; i < 2; i++) {
		close_fd(&fx->person[i]);
		close_fd(&fx->node[i]);
		close_fd(&fx->in[i]);
		close_fd(&fx->out[i]);
	}
	(void)unlink(fx->file);
	(void)rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ---------------------------------------------------------- helpers */

static unsigned char
pattern(uint64_t pos, unsigned seed)
{
	return (unsigned char)((pos * 31 + seed + (pos >> 16)) & 0xff);
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes len pattern bytes. */
static int
write_pattern(int fd, uint64_t len, unsigned seed)
{
	unsigned char buf[CHUNK];
	uint64_t pos = 0;
	size_t i, n;

	while (pos < len) {
		n = len - pos < CHUNK ? (size_t)(len - pos) : CHUNK;
		for (i = 0; i < n; i++)
			buf[i] = pattern(pos + i, seed);
		if (write_all(fd, buf, n) != 0)
			return -1;
		pos += n;
	}
	return 0;
}

/* Reads to EOF; returns the count, or -1 on an error or a wrong byte. */
static int64_t
read_pattern(int fd, unsigned seed)
{
	unsigned char buf[CHUNK];
	uint64_t pos = 0;
	ssize_t n, i;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return (int64_t)pos;
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(pos + (uint64_t)i, seed))
				return -1;
		pos += (uint64_t)n;
	}
}

/* A peer thread: reads or writes on fd, or waits for EOF then writes. */
struct peer {
	pthread_t	 tid;
	int		 fd;
	uint64_t	 len;
	unsigned	 seed;
	bool		 eof_first;	/* read to EOF before writing */
	bool		 shut;		/* shutdown, else close */
	int64_t		 got;		/* bytes read, or -1 */
	int		 status;	/* 0 when every step worked */
};

static void *
peer_write(void *arg)
{
	struct peer *p = arg;
	char c;

	p->status = 0;
	if (p->eof_first) {
		p->got = 0;
		if (read(p->fd, &c, 1) != 0)
			p->status = -1;
	}
	if (p->status == 0 && write_pattern(p->fd, p->len, p->seed) != 0)
		p->status = -1;
	if (p->shut) {
		if (shutdown(p->fd, SHUT_WR) != 0)
			p->status = -1;
	} else {
		(void)close(p->fd);
		p->fd = -1;
	}
	return NULL;
}

static void *
peer_read(void *arg)
{
	struct peer *p = arg;

	p->got = read_pattern(p->fd, p->seed);
	p->status = p->got < 0 ? -1 : 0;
	return NULL;
}

static void
peer_start(struct peer *p, void *(*fn)(void *), int fd, uint64_t len,
    unsigned seed)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->len = len;
	p->seed = seed;
	p->shut = true;
	assert_int_equal(pthread_create(&p->tid, NULL, fn, p), 0);
}

static void
peer_join(struct peer *p)
{
	assert_int_equal(pthread_join(p->tid, NULL), 0);
}

static int64_t
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *
peer_write_after_eof(void *arg)
{
	struct peer *p = arg;

	p->eof_first = true;
	return peer_write(p);
}

static void *
peer_write_close(void *arg)
{
	struct peer *p = arg;

	p->shut = false;
	return peer_write(p);
}

/* ---------------------------------------------------------- request */

static void
expect_request(const char *req, enum lp_hop_req_error want,
    const char *want_node)
{
	char node[LP_NODE_NAME_MAX + 1];

	(void)strcpy(node, UNTOUCHED);
	assert_int_equal(lp_hop_parse_request(req, node), want);
	if (want == LP_HOP_REQ_OK)
		assert_string_equal(node, want_node);
	else
		assert_string_equal(node, UNTOUCHED);
}

static void
test_parse_request_accepts_node_names(void **state)
{
	char label[LP_NODE_NAME_MAX + 1];

	(void)state;
	expect_request("gpu01", LP_HOP_REQ_OK, "gpu01");
	expect_request("a", LP_HOP_REQ_OK, "a");
	expect_request("gpu-01", LP_HOP_REQ_OK, "gpu-01");
	expect_request("0gpu", LP_HOP_REQ_OK, "0gpu");
	expect_request("a--b", LP_HOP_REQ_OK, "a--b");
	memset(label, 'x', LP_NODE_NAME_MAX);
	label[LP_NODE_NAME_MAX] = '\0';
	expect_request(label, LP_HOP_REQ_OK, label);
}

static void
test_parse_request_folds_upper_case(void **state)
{
	(void)state;
	expect_request("GPU01", LP_HOP_REQ_OK, "gpu01");
	expect_request("Gpu-0A", LP_HOP_REQ_OK, "gpu-0a");
}

static void
test_parse_request_ignores_blanks_around_the_name(void **state)
{
	(void)state;
	expect_request(" gpu01", LP_HOP_REQ_OK, "gpu01");
	expect_request("gpu01 ", LP_HOP_REQ_OK, "gpu01");
	expect_request("\t gpu01 \t", LP_HOP_REQ_OK, "gpu01");
}

static void
test_parse_request_refuses_empty_request(void **state)
{
	(void)state;
	expect_request(NULL, LP_HOP_REQ_EMPTY, NULL);
	expect_request("", LP_HOP_REQ_EMPTY, NULL);
	expect_request("   ", LP_HOP_REQ_EMPTY, NULL);
	expect_request("\t", LP_HOP_REQ_EMPTY, NULL);
}

static void
test_parse_request_refuses_more_than_one_word(void **state)
{
	(void)state;
	expect_request("a b", LP_HOP_REQ_WORDS, NULL);
	expect_request("gpu01 id", LP_HOP_REQ_WORDS, NULL);
	/* A tab separates words as a space does. */
	expect_request("gpu\t01", LP_HOP_REQ_WORDS, NULL);
	expect_request(" gpu01 ; id", LP_HOP_REQ_WORDS, NULL);
}

static void
test_parse_request_refuses_shell_metacharacters(void **state)
{
	static const char *const bad[] = {
		";", "$(id)", "`id`", "a|b", "a&b", "gpu01;id", ">x", "*",
		"gpu?", "a'b", "a\"b", "a\\b", "~root", "{a,b}", "a=b",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_request(bad[i], LP_HOP_REQ_CHARS, NULL);
}

static void
test_parse_request_refuses_paths_and_dots(void **state)
{
	(void)state;
	expect_request("../x", LP_HOP_REQ_CHARS, NULL);
	expect_request("/etc/passwd", LP_HOP_REQ_CHARS, NULL);
	expect_request("a/b", LP_HOP_REQ_CHARS, NULL);
	expect_request(".", LP_HOP_REQ_CHARS, NULL);
	expect_request("..", LP_HOP_REQ_CHARS, NULL);
	expect_request("gpu01.example.org", LP_HOP_REQ_CHARS, NULL);
	expect_request("user@gpu01", LP_HOP_REQ_CHARS, NULL);
	expect_request("gpu01:22", LP_HOP_REQ_CHARS, NULL);
}

static void
test_parse_request_refuses_dash_at_either_end(void **state)
{
	(void)state;
	expect_request("-gpu01", LP_HOP_REQ_CHARS, NULL);
	expect_request("gpu01-", LP_HOP_REQ_CHARS, NULL);
	expect_request("-", LP_HOP_REQ_CHARS, NULL);
	expect_request("-oProxyCommand=x", LP_HOP_REQ_CHARS, NULL);
}

static void
test_parse_request_refuses_non_ascii_and_control_bytes(void **state)
{
	(void)state;
	expect_request("gp\xc3\xbc" "01", LP_HOP_REQ_CHARS, NULL);
	expect_request("\xff", LP_HOP_REQ_CHARS, NULL);
	expect_request("gpu01\n", LP_HOP_REQ_CHARS, NULL);
	expect_request("gpu\n01", LP_HOP_REQ_CHARS, NULL);
	expect_request("gpu01\r", LP_HOP_REQ_CHARS, NULL);
	expect_request("gpu\x01" "01", LP_HOP_REQ_CHARS, NULL);
	expect_request("\x1b[2J", LP_HOP_REQ_CHARS, NULL);
}

static void
test_parse_request_refuses_over_long_names_and_requests(void **state)
{
	char req[LP_HOP_REQUEST_MAX + 64];

	(void)state;
	memset(req, 'a', LP_NODE_NAME_MAX + 1);
	req[LP_NODE_NAME_MAX + 1] = '\0';
	expect_request(req, LP_HOP_REQ_LONG, NULL);

	memset(req, 'a', 300);
	req[300] = '\0';
	expect_request(req, LP_HOP_REQ_LONG, NULL);

	/* Blanks count towards the request's length. */
	memset(req, ' ', LP_HOP_REQUEST_MAX);
	memcpy(req + 10, "gpu01", 5);
	req[LP_HOP_REQUEST_MAX] = '\0';
	expect_request(req, LP_HOP_REQ_OK, "gpu01");
	req[LP_HOP_REQUEST_MAX] = ' ';
	req[LP_HOP_REQUEST_MAX + 1] = '\0';
	expect_request(req, LP_HOP_REQ_LONG, NULL);
}

static void
test_req_error_words_are_fixed(void **state)
{
	(void)state;
	assert_string_equal(lp_hop_req_error_word(LP_HOP_REQ_OK), "ok");
	assert_string_equal(lp_hop_req_error_word(LP_HOP_REQ_EMPTY), "empty");
	assert_string_equal(lp_hop_req_error_word(LP_HOP_REQ_WORDS),
	    "extra_words");
	assert_string_equal(lp_hop_req_error_word(LP_HOP_REQ_CHARS),
	    "bad_characters");
	assert_string_equal(lp_hop_req_error_word(LP_HOP_REQ_LONG),
	    "too_long");
}

/* ----------------------------------------------------------- groups */

#define NG(s)	(s), (sizeof(s) - 1)

/* Group names as getgrouplist(3) callers hold them: writable strings. */
static char g_users[] = "users", g_audio[] = "audio", g_ml[] = "ml",
    g_video[] = "video", g_mlops[] = "mlops", g_l[] = "l", g_gpu[] = "gpu",
    g_dash[] = "-", g_empty[] = "";

static void
test_group_allowed_refuses_a_person_without_groups(void **state)
{
	char *none[1] = { NULL };

	(void)state;
	assert_int_equal(lp_hop_group_allowed(NG("ml"), none, 0), 0);
	assert_int_equal(lp_hop_group_allowed(NG("ml"), NULL, 0), 0);
}

static void
test_group_allowed_accepts_one_of_many(void **state)
{
	char *groups[] = { g_users, g_audio, g_ml, g_video };

	(void)state;
	assert_int_equal(lp_hop_group_allowed(NG("ml"), groups, 4), 1);
	assert_int_equal(lp_hop_group_allowed(NG("ops,ml,vision"), groups, 4),
	    1);
	assert_int_equal(lp_hop_group_allowed(NG("vision,video"), groups, 4),
	    1);
	assert_int_equal(lp_hop_group_allowed(NG("ops,vision"), groups, 4),
	    0);
}

static void
test_group_allowed_never_matches_a_substring(void **state)
{
	char *ml[] = { g_ml };
	char *mlops[] = { g_mlops };
	char *l[] = { g_l };

	(void)state;
	assert_int_equal(lp_hop_group_allowed(NG("mlops"), ml, 1), 0);
	assert_int_equal(lp_hop_group_allowed(NG("ml"), mlops, 1), 0);
	assert_int_equal(lp_hop_group_allowed(NG("ml,ops"), mlops, 1), 0);
	assert_int_equal(lp_hop_group_allowed(NG("ml"), l, 1), 0);
	assert_int_equal(lp_hop_group_allowed(NG("xml,mlx"), ml, 1), 0);
}

static void
test_group_allowed_refuses_a_node_without_groups(void **state)
{
	char *groups[] = { g_ml, g_dash, g_empty };

	(void)state;
	assert_int_equal(lp_hop_group_allowed("", 0, groups, 3), 0);
	assert_int_equal(lp_hop_group_allowed(NG("-"), groups, 3), 0);
	assert_int_equal(lp_hop_group_allowed(NULL, 0, groups, 3), 0);
}

static void
test_group_allowed_reads_only_the_given_length(void **state)
{
	char *gpu[] = { g_gpu };
	char *ml[] = { g_ml };

	(void)state;
	/* The index gives groups inside a larger, unterminated record. */
	assert_int_equal(lp_hop_group_allowed("ml,gpu", 2, gpu, 1), 0);
	assert_int_equal(lp_hop_group_allowed("mlops", 2, ml, 1), 1);
	assert_int_equal(lp_hop_group_allowed("ml,gpu", 6, gpu, 1), 1);
}

static void
test_group_allowed_ignores_empty_elements(void **state)
{
	char *empty[] = { g_empty };
	char *ml[] = { g_ml };

	(void)state;
	assert_int_equal(lp_hop_group_allowed(NG(",,"), empty, 1), 0);
	assert_int_equal(lp_hop_group_allowed(NG(","), empty, 1), 0);
	assert_int_equal(lp_hop_group_allowed(NG(",ml,"), ml, 1), 1);
}

/* ------------------------------------------------------------ relay */

static void
test_relay_carries_bytes_both_ways_and_counts_them(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;

	/* Small enough to sit in the sockets' buffers: no threads needed. */
	assert_int_equal(write_pattern(fx->person[0], 1000, 1), 0);
	assert_int_equal(shutdown(fx->person[0], SHUT_WR), 0);
	assert_int_equal(write_pattern(fx->node[0], 2345, 2), 0);
	assert_int_equal(shutdown(fx->node[0], SHUT_WR), 0);

	assert_int_equal(lp_relay(fx->person[1], fx->person[1], fx->node[1],
	    0, NULL, &st), 0);
	assert_int_equal(st.sent, 1000);
	assert_int_equal(st.received, 2345);
	assert_int_equal(st.end, LP_RELAY_BOTH_CLOSED);
	assert_int_equal(read_pattern(fx->node[0], 1), 1000);
	assert_int_equal(read_pattern(fx->person[0], 2), 2345);
}

static void
test_relay_keeps_node_to_person_flowing_after_person_eof(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;
	struct peer node, person;

	assert_int_equal(shutdown(fx->person[0], SHUT_WR), 0);
	/* The node sends only once it has seen the person's EOF. */
	peer_start(&node, peer_write_after_eof, fx->node[0], 300000, 3);
	peer_start(&person, peer_read, fx->person[0], 0, 3);
	assert_int_equal(lp_relay(fx->person[1], fx->person[1], fx->node[1],
	    0, NULL, &st), 0);
	peer_join(&node);
	peer_join(&person);
	assert_int_equal(node.status, 0);
	assert_int_equal(person.got, 300000);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.received, 300000);
	assert_int_equal(st.end, LP_RELAY_BOTH_CLOSED);
}

static void
test_relay_keeps_person_to_node_flowing_after_node_eof(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;
	struct peer person, node;

	assert_int_equal(shutdown(fx->node[0], SHUT_WR), 0);
	peer_start(&person, peer_write_after_eof, fx->person[0], 300000, 4);
	peer_start(&node, peer_read, fx->node[0], 0, 4);
	assert_int_equal(lp_relay(fx->person[1], fx->person[1], fx->node[1],
	    0, NULL, &st), 0);
	peer_join(&person);
	peer_join(&node);
	assert_int_equal(person.status, 0);
	assert_int_equal(node.got, 300000);
	assert_int_equal(st.sent, 300000);
	assert_int_equal(st.received, 0);
}

/* The person on two pipes: reads to EOF, then writes and closes. */
struct pipe_person {
	int	 rfd;
	int	 wfd;
	int64_t	 got;
	int	 status;
};

static void *
pipe_person_run(void *arg)
{
	struct pipe_person *p = arg;

	p->got = read_pattern(p->rfd, 5);
	p->status = write_pattern(p->wfd, 7000, 6);
	(void)close(p->wfd);
	return NULL;
}

static void
test_relay_closes_an_output_pipe_at_node_eof(void **state)
{
	struct fx *fx = *state;
	struct pipe_person person = { fx->out[0], fx->in[1], -1, -1 };
	struct lp_relay_stats st;
	pthread_t tid;

	assert_int_equal(write_pattern(fx->node[0], 5000, 5), 0);
	assert_int_equal(shutdown(fx->node[0], SHUT_WR), 0);
	assert_int_equal(pthread_create(&tid, NULL, pipe_person_run, &person),
	    0);
	assert_int_equal(lp_relay(fx->in[0], fx->out[1], fx->node[1], 0, NULL,
	    &st), 0);
	assert_int_equal(pthread_join(tid, NULL), 0);
	fx->in[1] = -1;		/* closed by the person */
	assert_int_equal(person.got, 5000);
	assert_int_equal(person.status, 0);
	assert_int_equal(st.received, 5000);
	assert_int_equal(st.sent, 7000);
	assert_int_equal(read_pattern(fx->node[0], 6), 7000);
	/* The number stays taken, by /dev/null, for the caller to close. */
	assert_int_not_equal(fcntl(fx->out[1], F_GETFD), -1);
}

/* Moves BIG bytes each way at once, and checks every byte. */
static void
relay_big(int in_fd, int out_fd, int sock, int person_w, int person_r,
    int node_fd)
{
	struct peer pw, pr, nw, nr;
	struct lp_relay_stats st;

	peer_start(&pw, peer_write, person_w, BIG, 7);
	peer_start(&pr, peer_read, person_r, 0, 8);
	peer_start(&nr, peer_read, node_fd, 0, 7);
	peer_start(&nw, peer_write, node_fd, BIG, 8);
	assert_int_equal(lp_relay(in_fd, out_fd, sock, 0, NULL, &st), 0);
	peer_join(&pw);
	peer_join(&pr);
	peer_join(&nw);
	peer_join(&nr);
	assert_int_equal(pw.status, 0);
	assert_int_equal(nw.status, 0);
	assert_int_equal(nr.got, BIG);
	assert_int_equal(pr.got, BIG);
	assert_int_equal(st.sent, BIG);
	assert_int_equal(st.received, BIG);
	assert_int_equal(st.end, LP_RELAY_BOTH_CLOSED);
}

static void
test_relay_moves_8_mib_each_way_through_pipes(void **state)
{
	struct fx *fx = *state;
	struct peer pw, pr, nw, nr;
	struct lp_relay_stats st;

	peer_start(&pw, peer_write_close, fx->in[1], BIG, 7);
	peer_start(&pr, peer_read, fx->out[0], 0, 8);
	peer_start(&nr, peer_read, fx->node[0], 0, 7);
	peer_start(&nw, peer_write, fx->node[0], BIG, 8);
	assert_int_equal(lp_relay(fx->in[0], fx->out[1], fx->node[1], 0, NULL,
	    &st), 0);
	peer_join(&pw);
	peer_join(&pr);
	peer_join(&nw);
	peer_join(&nr);
	fx->in[1] = -1;		/* closed by the writer */
	assert_int_equal(pw.status, 0);
	assert_int_equal(nw.status, 0);
	assert_int_equal(nr.got, BIG);
	assert_int_equal(pr.got, BIG);
	assert_int_equal(st.sent, BIG);
	assert_int_equal(st.received, BIG);
	assert_int_equal(st.end, LP_RELAY_BOTH_CLOSED);
}

/* A connected TCP pair on the loopback: *a from connect, *b accepted. */
static void
tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int l;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0), -1);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_int_not_equal(*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0), -1);
	assert_int_equal(connect(*a, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_int_not_equal(*b = accept4(l, NULL, NULL, SOCK_CLOEXEC), -1);
	(void)close(l);
}

static void
test_relay_moves_8_mib_each_way_over_tcp(void **state)
{
	struct fx *fx = *state;

	/* The node's side is TCP, as the tunnel's port is. */
	close_fd(&fx->node[0]);
	close_fd(&fx->node[1]);
	tcp_pair(&fx->node[1], &fx->node[0]);
	relay_big(fx->person[1], fx->person[1], fx->node[1], fx->person[0],
	    fx->person[0], fx->node[0]);
}

static void
test_relay_copies_when_splice_is_refused(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;
	int in, out;

	/* splice(2) refuses a file opened for appending. */
	assert_int_not_equal(out = open(fx->file, O_WRONLY | O_CREAT |
	    O_APPEND | O_CLOEXEC, 0600), -1);
	assert_int_not_equal(in = open("/dev/null", O_RDONLY | O_CLOEXEC),
	    -1);
	assert_int_equal(write_pattern(fx->node[0], 150000, 9), 0);
	assert_int_equal(shutdown(fx->node[0], SHUT_WR), 0);
	assert_int_equal(lp_relay(in, out, fx->node[1], 0, NULL, &st), 0);
	assert_int_equal(st.received, 150000);
	assert_int_equal(st.sent, 0);
	(void)close(in);
	(void)close(out);
	assert_int_not_equal(in = open(fx->file, O_RDONLY | O_CLOEXEC), -1);
	assert_int_equal(read_pattern(in, 9), 150000);
	(void)close(in);
}

static volatile sig_atomic_t stop_flag;

static void *
set_stop_later(void *arg)
{
	(void)arg;
	(void)usleep(200000);
	stop_flag = 1;
	return NULL;
}

static void
test_relay_stops_within_a_second_of_the_stop_flag(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;
	struct timespec t0;
	pthread_t tid;

	stop_flag = 1;
	assert_int_equal(lp_relay(fx->person[1], fx->person[1], fx->node[1],
	    0, &stop_flag, &st), -EINTR);
	assert_int_equal(st.end, LP_RELAY_SIGNAL);

	/* Set while the relay waits in poll, with no signal to wake it. */
	stop_flag = 0;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&tid, NULL, set_stop_later, NULL), 0);
	assert_int_equal(lp_relay(fx->person[1], fx->person[1], fx->node[1],
	    0, &stop_flag, &st), -EINTR);
	assert_int_equal(pthread_join(tid, NULL), 0);
	assert_int_equal(st.end, LP_RELAY_SIGNAL);
	assert_true(ms_since(&t0) < 1500);
}

static void
test_relay_ends_after_idle_seconds(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;
	struct timespec t0;
	int64_t ms;

	assert_int_equal(write_pattern(fx->person[0], 10, 10), 0);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(lp_relay(fx->person[1], fx->person[1], fx->node[1],
	    1, NULL, &st), -ETIMEDOUT);
	ms = ms_since(&t0);
	assert_int_equal(st.end, LP_RELAY_IDLE);
	assert_int_equal(st.sent, 10);
	assert_true(ms >= 990 && ms < 2500);
}

static void
test_relay_reports_a_node_error_when_the_node_is_gone(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;
	sigset_t pend;
	int r;

	close_fd(&fx->node[0]);
	assert_int_equal(write_pattern(fx->person[0], 100, 11), 0);
	r = lp_relay(fx->person[1], fx->person[1], fx->node[1], 0, NULL, &st);
	/* The process is still here: the relay raised no SIGPIPE on it. */
	assert_int_equal(r, -EPIPE);
	assert_int_equal(st.end, LP_RELAY_NODE_ERROR);
	assert_int_equal(sigpending(&pend), 0);
	assert_false(sigismember(&pend, SIGPIPE));
}

static void
test_relay_ends_as_client_closed_when_its_output_is_closed(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;

	close_fd(&fx->out[0]);
	assert_int_equal(write_pattern(fx->node[0], 100, 12), 0);
	assert_int_equal(lp_relay(fx->in[0], fx->out[1], fx->node[1], 0, NULL,
	    &st), 0);
	assert_int_equal(st.end, LP_RELAY_CLIENT_CLOSED);
	assert_int_equal(st.received, 0);
	assert_string_equal(lp_relay_end_word(st.end), "client_closed");
}

static void
test_relay_refuses_bad_descriptors(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;
	int fd;

	assert_int_equal(lp_relay(-1, fx->person[1], fx->node[1], 0, NULL,
	    &st), -EINVAL);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.received, 0);
	fd = dup(fx->node[1]);
	(void)close(fd);
	assert_int_equal(lp_relay(fx->person[1], fx->person[1], fd, 0, NULL,
	    &st), -EBADF);
	assert_int_equal(st.end, LP_RELAY_NODE_ERROR);
}

static void
test_relay_leaves_descriptor_flags_as_it_found_them(void **state)
{
	struct fx *fx = *state;
	struct lp_relay_stats st;

	assert_int_equal(shutdown(fx->person[0], SHUT_WR), 0);
	assert_int_equal(shutdown(fx->node[0], SHUT_WR), 0);
	assert_int_equal(lp_relay(fx->person[1], fx->person[1], fx->node[1],
	    0, NULL, &st), 0);
	assert_int_equal(fcntl(fx->person[1], F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(fx->node[1], F_GETFL) & O_NONBLOCK, 0);
}

static void
test_relay_end_words_are_fixed(void **state)
{
	(void)state;
	assert_string_equal(lp_relay_end_word(LP_RELAY_BOTH_CLOSED), "closed");
	assert_string_equal(lp_relay_end_word(LP_RELAY_CLIENT_ERROR),
	    "client_error");
	assert_string_equal(lp_relay_end_word(LP_RELAY_NODE_ERROR),
	    "node_error");
	assert_string_equal(lp_relay_end_word(LP_RELAY_SIGNAL), "signal");
	assert_string_equal(lp_relay_end_word(LP_RELAY_IDLE), "idle");
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_request_accepts_node_names),
		T(test_parse_request_folds_upper_case),
		T(test_parse_request_ignores_blanks_around_the_name),
		T(test_parse_request_refuses_empty_request),
		T(test_parse_request_refuses_more_than_one_word),
		T(test_parse_request_refuses_shell_metacharacters),
		T(test_parse_request_refuses_paths_and_dots),
		T(test_parse_request_refuses_dash_at_either_end),
		T(test_parse_request_refuses_non_ascii_and_control_bytes),
		T(test_parse_request_refuses_over_long_names_and_requests),
		T(test_req_error_words_are_fixed),
		T(test_group_allowed_refuses_a_person_without_groups),
		T(test_group_allowed_accepts_one_of_many),
		T(test_group_allowed_never_matches_a_substring),
		T(test_group_allowed_refuses_a_node_without_groups),
		T(test_group_allowed_reads_only_the_given_length),
		T(test_group_allowed_ignores_empty_elements),
		T(test_relay_carries_bytes_both_ways_and_counts_them),
		T(test_relay_keeps_node_to_person_flowing_after_person_eof),
		T(test_relay_keeps_person_to_node_flowing_after_node_eof),
		T(test_relay_closes_an_output_pipe_at_node_eof),
		T(test_relay_moves_8_mib_each_way_through_pipes),
		T(test_relay_moves_8_mib_each_way_over_tcp),
		T(test_relay_copies_when_splice_is_refused),
		T(test_relay_stops_within_a_second_of_the_stop_flag),
		T(test_relay_ends_after_idle_seconds),
		T(test_relay_reports_a_node_error_when_the_node_is_gone),
		T(test_relay_ends_as_client_closed_when_its_output_is_closed),
		T(test_relay_refuses_bad_descriptors),
		T(test_relay_leaves_descriptor_flags_as_it_found_them),
		T(test_relay_end_words_are_fixed),
	};

	/* A relay that never ends must fail the run, not hang it. */
	(void)alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
