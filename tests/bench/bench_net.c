/*
 * bench_net: the network driver of ci/bench's lp-hop section (issue 6;
 * not part of the test suite).  ci/bench compiles it with cc alone.
 *
 *	bench_net serve PORTFILE
 *		Listens on 127.0.0.1 (a port the kernel picks, written to
 *		PORTFILE) and serves each connection in a child of its
 *		own until TERM.  The connection's first byte picks what it
 *		gets: 'S' a sink (it answers "R", counts every byte up to
 *		EOF, answers the count and a newline, and closes), 'E' an
 *		echo (every byte back, up to EOF).
 *
 *	bench_net push [-t PID] BYTES TARGET
 *		Sends BYTES bytes to a sink and checks the count it answers.
 *		Prints "bytes N setup_ns S transfer_ns T client_cpu_ns C",
 *		then, with -t, the bastion's CPU (below).  The transfer
 *		time runs from the sink's "R" to its count: the connection's
 *		set-up (ssh's handshake and login, lp-hop's checks) is
 *		setup_ns, from the start to the "R".  client_cpu_ns is the
 *		command's CPU time over the transfer (0 for a socket).
 *
 *	bench_net ping [-h HOLDFILE] COUNT SIZE TARGET
 *		COUNT round trips of SIZE bytes through an echo, after one
 *		to warm up.  Prints "count N median_ns M mean_ns A p99_ns P
 *		setup_ns S".  With -h, writes HOLDFILE once the round trips
 *		are done and keeps the connection open until HOLDFILE is
 *		removed (at most 60 s), for a reading of the memory of the
 *		processes that carry it.
 *
 * TARGET is a port on 127.0.0.1, or "--" and a command (ssh ...) whose
 * standard input and output carry the connection.
 *
 * -t PID names the sshd that listens on the bastion.  When the transfer
 * starts, every 50 ms during it, and once more when the count has come
 * back (before the command ends), the push reads the CPU time of every
 * process below PID (the first field of /proc/PID/schedstat: nanoseconds
 * on a CPU, user and system; the processes read are single-threaded).
 * It prints one line "proc PID CPU_NS COMM" per process seen, with what
 * it used between the start of the transfer (or its own start, when it
 * came later) and its last reading, and "bastion_cpu_ns N", their sum.
 * The set-up is left out, as it is from the transfer time.  The
 * listener's cutime cannot stand in: sshd's monitor does not always
 * wait for its session process, whose CPU then never reaches it.
 */
#define _GNU_SOURCE

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE	(256 * 1024)
#define PROCS_MAX	256
#define SAMPLE_NS	50000000ull	/* 50 ms */
#define HOLD_MAX_S	60

extern char **environ;

struct conn {
	int	rfd;
	int	wfd;
	pid_t	pid;		/* the command, or -1 for a socket */
};

struct proc {
	pid_t	pid;
	pid_t	ppid;
	unsigned long long ns;		/* CPU time now */
	unsigned long long first_ns;	/* at the start, or 0 */
	char	comm[32];
};

struct tree {
	pid_t	root;
	struct proc seen[PROCS_MAX];
	size_t	nseen;
};

static unsigned char buf[BUF_SIZE];

static void
usage(void)
{
	fprintf(stderr, "usage: bench_net serve portfile\n"
	    "       bench_net push [-t pid] bytes port | -- command ...\n"
	    "       bench_net ping [-h holdfile] count size port | "
	    "-- command ...\n");
	exit(2);
}

static long long
number(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		errx(2, "%s: not a number in [%lld, %lld]", s, min, max);
	return v;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		err(1, "clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
write_all(int fd, const void *p, size_t len)
{
	const unsigned char *b = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err(1, "write");
		b += n;
		len -= (size_t)n;
	}
}

/* Reads exactly len bytes; returns false on EOF before them. */
static bool
read_all(int fd, void *p, size_t len)
{
	unsigned char *b = p;
	ssize_t n;

	while (len > 0) {
		n = read(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err(1, "read");
		if (n == 0)
			return false;
		b += n;
		len -= (size_t)n;
	}
	return true;
}

static void
nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ------------------------------------------------------------ serve */

static void
serve_sink(int fd)
{
	unsigned long long count = 0;
	char line[32];
	ssize_t n;
	int len;

	write_all(fd, "R", 1);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err(1, "sink: read");
		if (n == 0)
			break;
		count += (unsigned long long)n;
	}
	len = snprintf(line, sizeof(line), "%llu\n", count);
	write_all(fd, line, (size_t)len);
}

static void
serve_echo(int fd)
{
	ssize_t n;

	nodelay(fd);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		write_all(fd, buf, (size_t)n);
	}
}

static int
cmd_serve(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char tmp[4096];
	char mode;
	FILE *f;
	int l, c, one = 1;

	if (argc != 1)
		usage();
	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		err(1, "socket");
	(void)setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(l, 128) != 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &slen) != 0)
		err(1, "127.0.0.1");

	/* The port file appears whole, or not at all. */
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", argv[0]);
	if ((f = fopen(tmp, "w")) == NULL ||
	    fprintf(f, "%u\n", ntohs(sin.sin_port)) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[0]) != 0)
		err(1, "%s", argv[0]);

	/* Children are reaped by the kernel. */
	if (signal(SIGCHLD, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	for (;;) {
		c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err(1, "accept");
		}
		switch (fork()) {
		case -1:
			err(1, "fork");
		case 0:
			(void)close(l);
			if (read_all(c, &mode, 1)) {
				if (mode == 'S')
					serve_sink(c);
				else if (mode == 'E')
					serve_echo(c);
			}
			_exit(0);
		default:
			(void)close(c);
		}
	}
}

/* ------------------------------------------------------------ target */

static void
open_target(int argc, char **argv, struct conn *c)
{
	posix_spawn_file_actions_t fa;
	struct sockaddr_in sin;
	int in[2], out[2], s, r;

	if (argc < 1)
		usage();
	if (strcmp(argv[0], "--") != 0) {
		if (argc != 1)
			usage();
		if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			err(1, "socket");
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)number(argv[0], 1, 65535));
		if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) != 0)
			err(1, "127.0.0.1:%s", argv[0]);
		nodelay(s);
		c->rfd = c->wfd = s;
		c->pid = -1;
		return;
	}
	if (argc < 2)
		usage();
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		err(1, "pipe");
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, in[0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0)
		errx(1, "posix_spawn_file_actions");
	r = posix_spawnp(&c->pid, argv[1], &fa, NULL, argv + 1, environ);
	if (r != 0)
		errx(1, "%s: %s", argv[1], strerror(r));
	posix_spawn_file_actions_destroy(&fa);
	(void)close(in[0]);
	(void)close(out[1]);
	c->wfd = in[1];
	c->rfd = out[0];
}

/* Ends our writing: EOF for the far side. */
static void
close_write(struct conn *c)
{
	if (c->pid == -1) {
		if (shutdown(c->wfd, SHUT_WR) != 0)
			err(1, "shutdown");
	} else {
		(void)close(c->wfd);
		c->wfd = -1;
	}
}

/* Reads to EOF, closes, and waits for the command; its status. */
static int
close_target(struct conn *c)
{
	int status = 0;

	while (read(c->rfd, buf, sizeof(buf)) > 0)
		continue;
	if (c->wfd != -1 && c->wfd != c->rfd)
		(void)close(c->wfd);
	(void)close(c->rfd);
	if (c->pid == -1)
		return 0;
	while (waitpid(c->pid, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	return status;
}

/* ------------------------------------------------------------ /proc */

/* The CPU time of pid's main thread, in ns; false when it is gone. */
static bool
read_cpu(pid_t pid, unsigned long long *ret_ns)
{
	char path[64], line[256];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, line, sizeof(line) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	line[n] = '\0';
	return sscanf(line, "%llu", ret_ns) == 1;
}

static bool
read_stat(pid_t pid, struct proc *p)
{
	char path[64], line[1024], *lpar, *rpar;
	int ppid, fd;
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, line, sizeof(line) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	line[n] = '\0';
	lpar = strchr(line, '(');
	rpar = strrchr(line, ')');
	if (lpar == NULL || rpar == NULL || rpar < lpar ||
	    sscanf(rpar + 2, "%*c %d", &ppid) != 1)
		return false;
	p->pid = pid;
	p->ppid = ppid;
	(void)snprintf(p->comm, sizeof(p->comm), "%.*s",
	    (int)(rpar - lpar - 1), lpar + 1);
	return read_cpu(pid, &p->ns);
}

/*
 * Reads every process below t->root now.  On the first reading (first
 * set) each one's CPU time is the base it is counted from; one seen
 * first later is counted from 0.
 */
static void
sample_tree(struct tree *t, bool first)
{
	static struct proc all[4096];
	static bool below[4096];
	size_t n = 0, i, j, k;
	struct dirent *de;
	DIR *d;
	pid_t q;

	if ((d = opendir("/proc")) == NULL)
		err(1, "/proc");
	while ((de = readdir(d)) != NULL && n < 4096) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (read_stat((pid_t)atoi(de->d_name), &all[n]))
			n++;
	}
	(void)closedir(d);
	for (i = 0; i < n; i++) {
		below[i] = false;
		q = all[i].ppid;
		for (k = 0; k < 64 && q > 0; k++) {
			if (q == t->root) {
				below[i] = true;
				break;
			}
			for (j = 0; j < n && all[j].pid != q; j++)
				continue;
			q = j < n ? all[j].ppid : 0;
		}
	}
	for (i = 0; i < n; i++) {
		if (!below[i])
			continue;
		for (j = 0; j < t->nseen && t->seen[j].pid != all[i].pid; j++)
			continue;
		if (j == t->nseen) {
			if (t->nseen == PROCS_MAX)
				continue;
			t->seen[t->nseen] = all[i];
			t->seen[t->nseen++].first_ns = first ? all[i].ns : 0;
		} else if (all[i].ns > t->seen[j].ns)
			t->seen[j].ns = all[i].ns;
	}
}

/* ------------------------------------------------------------ push */

static int
cmd_push(int argc, char **argv)
{
	unsigned long long bytes, left, got, sum = 0, c0 = 0, c1 = 0;
	uint64_t t0, t_ready, t_done, t_sample;
	struct tree t = { 0 };
	char mark, line[64];
	struct conn c;
	size_t n, i;
	int ch, status;
	ssize_t r;

	while ((ch = getopt(argc, argv, "+t:")) != -1) {
		switch (ch) {
		case 't':
			t.root = (pid_t)number(optarg, 1, 1 << 22);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	bytes = (unsigned long long)number(argv[0], 1, 1LL << 40);
	memset(buf, 'x', sizeof(buf));

	t0 = now_ns();
	open_target(argc - 1, argv + 1, &c);
	write_all(c.wfd, "S", 1);
	if (!read_all(c.rfd, &mark, 1) || mark != 'R')
		errx(1, "push: no answer from the sink");
	t_ready = t_sample = now_ns();
	if (c.pid != -1)
		(void)read_cpu(c.pid, &c0);
	if (t.root != 0)
		sample_tree(&t, true);
	for (left = bytes; left > 0; left -= n) {
		n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		write_all(c.wfd, buf, n);
		if (t.root != 0 && now_ns() - t_sample >= SAMPLE_NS) {
			sample_tree(&t, false);
			t_sample = now_ns();
		}
	}
	close_write(&c);
	for (n = 0; n < sizeof(line) - 1; n += (size_t)r) {
		r = read(c.rfd, line + n, 1);
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r <= 0 || line[n] == '\n')
			break;
	}
	t_done = now_ns();
	line[n] = '\0';
	if (t.root != 0)
		sample_tree(&t, false);
	if (c.pid != -1 && !read_cpu(c.pid, &c1))
		c1 = c0;
	got = strtoull(line, NULL, 10);
	if (got != bytes)
		errx(1, "push: sent %llu bytes, the sink counted '%s'", bytes,
		    line);
	status = close_target(&c);
	if (status != 0)
		errx(1, "push: the command ended with status 0x%x",
		    (unsigned)status);
	printf("bytes %llu setup_ns %llu transfer_ns %llu client_cpu_ns %llu\n",
	    bytes, (unsigned long long)(t_ready - t0),
	    (unsigned long long)(t_done - t_ready), c1 - c0);
	if (t.root == 0)
		return 0;
	for (i = 0; i < t.nseen; i++) {
		printf("proc %d %llu %s\n", (int)t.seen[i].pid,
		    t.seen[i].ns - t.seen[i].first_ns, t.seen[i].comm);
		sum += t.seen[i].ns - t.seen[i].first_ns;
	}
	printf("bastion_cpu_ns %llu\n", sum);
	return 0;
}

/* ------------------------------------------------------------ ping */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
hold(const char *path)
{
	struct stat sb;
	FILE *f;
	int i;

	if ((f = fopen(path, "w")) == NULL || fclose(f) != 0)
		err(1, "%s", path);
	for (i = 0; i < HOLD_MAX_S * 100 && stat(path, &sb) == 0; i++)
		(void)usleep(10000);
}

static int
cmd_ping(int argc, char **argv)
{
	const char *holdfile = NULL;
	uint64_t t0, t_ready, t1, *rtt, sum = 0;
	unsigned char in[4096];
	long long count, size, i;
	struct conn c;
	int ch, status;

	while ((ch = getopt(argc, argv, "+h:")) != -1) {
		switch (ch) {
		case 'h':
			holdfile = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 3)
		usage();
	count = number(argv[0], 1, 10000000);
	size = number(argv[1], 1, (long long)sizeof(in));
	if ((rtt = calloc((size_t)count, sizeof(*rtt))) == NULL)
		err(1, "calloc");
	memset(buf, 'p', (size_t)size);

	t0 = now_ns();
	open_target(argc - 2, argv + 2, &c);
	write_all(c.wfd, "E", 1);
	write_all(c.wfd, buf, (size_t)size);
	if (!read_all(c.rfd, in, (size_t)size))
		errx(1, "ping: no echo");
	t_ready = now_ns();
	for (i = 0; i < count; i++) {
		t1 = now_ns();
		write_all(c.wfd, buf, (size_t)size);
		if (!read_all(c.rfd, in, (size_t)size))
			errx(1, "ping: the echo ended early");
		rtt[i] = now_ns() - t1;
		sum += rtt[i];
		if (memcmp(in, buf, (size_t)size) != 0)
			errx(1, "ping: the echo changed the bytes");
	}
	if (holdfile != NULL)
		hold(holdfile);
	close_write(&c);
	status = close_target(&c);
	if (status != 0)
		errx(1, "ping: the command ended with status 0x%x",
		    (unsigned)status);
	qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);
	printf("count %lld median_ns %llu mean_ns %llu p99_ns %llu "
	    "setup_ns %llu\n", count, (unsigned long long)rtt[count / 2],
	    (unsigned long long)(sum / (uint64_t)count),
	    (unsigned long long)rtt[(count * 99) / 100],
	    (unsigned long long)(t_ready - t0));
	free(rtt);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	(void)signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (strcmp(argv[1], "push") == 0)
		return cmd_push(argc - 1, argv + 1);
	if (strcmp(argv[1], "ping") == 0)
		return cmd_ping(argc - 1, argv + 1);
	usage();
}
