/*
 * lib/tunnel.c: the strict record text (round trips, every malformed
 * form and every truncation refused, one spelling per record) and the
 * run directory (atomic writes, checks on owner, mode and links, stale
 * pids, removal only by the pid that wrote the record).  Runs as root:
 * files are given to uid 1 to test owners.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "tunnel.h"

#define GOOD_TEXT \
	"lp-tunnel 1\n" \
	"node gpu01\n" \
	"port 22001\n" \
	"peer 192.0.2.7\n" \
	"pid 4242\n" \
	"since 1700000000\n" \
	"end\n"
/* A record of gpu01 held by pid 1, which always runs, written now. */
#define LIVE_FMT \
	"lp-tunnel 1\nnode gpu01\nport 22001\npeer 192.0.2.7\npid 1\n" \
	"since %lld\nend\n"

struct fx {
	char	dir[64];	/* the test's own directory, root 0755 */
	char	run[128];	/* dir/run/lp/tunnels, made by the test */
	int	dirfd;
	mode_t	umask;
};

static int
setup(void **state)
{
	struct fx *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	(void)strcpy(fx->dir, "/tmp/lp-test-tunnel.XXXXXX");
	if (mkdtemp(fx->dir) == NULL || chmod(fx->dir, 0755) != 0) {
		free(fx);
		return -1;
	}
	(void)snprintf(fx->run, sizeof(fx->run), "%s/run/lp/tunnels",
	    fx->dir);
	fx->umask = umask(022);
	fx->dirfd = -1;
	*state = fx;
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->dirfd != -1)
		(void)close(fx->dirfd);
	(void)umask(fx->umask);
	(void)nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Makes the run directory by hand and opens it as fx->dirfd. */
static void
make_run(struct fx *fx)
{
	char path[128];

	(void)snprintf(path, sizeof(path), "%s/run", fx->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	(void)snprintf(path, sizeof(path), "%s/run/lp", fx->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(mkdir(fx->run, 0755), 0);
	fx->dirfd = open(fx->run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fx->dirfd != -1);
}

static void
put_text(int dirfd, const char *name, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static int
exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A record written now: its process, if it runs, started before. */
static void
make_rec(struct lp_tunnel_rec *rec, const char *node, pid_t pid)
{
	memset(rec, 0, sizeof(*rec));
	(void)snprintf(rec->node, sizeof(rec->node), "%s", node);
	rec->port = 22001;
	(void)strcpy(rec->peer, "192.0.2.7");
	rec->pid = pid;
	rec->since = (int64_t)time(NULL);
}

static void
put_live_text(int dirfd, const char *name, mode_t mode)
{
	char text[256];

	(void)snprintf(text, sizeof(text), LIVE_FMT, (long long)time(NULL));
	put_text(dirfd, name, text, mode);
}

static void
assert_rec_equal(const struct lp_tunnel_rec *a, const struct lp_tunnel_rec *b)
{
	assert_string_equal(a->node, b->node);
	assert_int_equal(a->port, b->port);
	assert_string_equal(a->peer, b->peer);
	assert_int_equal(a->pid, b->pid);
	assert_true(a->since == b->since);
}

/* The pid of a process that has exited and been reaped. */
static pid_t
dead_pid(void)
{
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return pid;
}

static void
assert_parse_fails(const char *text, size_t len)
{
	struct lp_tunnel_rec rec;

	if (lp_tunnel_rec_parse(text, len, &rec) != -EBADMSG)
		fail_msg("accepted: \"%.*s\"", (int)len, text);
}

/* ------------------------------------------------------------ format */

static void
test_tunnel_parse_reads_every_field(void **state)
{
	struct lp_tunnel_rec rec, want;

	(void)state;
	make_rec(&want, "gpu01", 4242);
	want.since = 1700000000;
	assert_int_equal(lp_tunnel_rec_parse(GOOD_TEXT, strlen(GOOD_TEXT),
	    &rec), 0);
	assert_rec_equal(&rec, &want);
}

static void
test_tunnel_format_writes_the_exact_text(void **state)
{
	struct lp_tunnel_rec rec;
	char buf[512];
	size_t len = 0;

	(void)state;
	make_rec(&rec, "gpu01", 4242);
	rec.since = 1700000000;
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf), &len),
	    0);
	assert_int_equal(len, strlen(GOOD_TEXT));
	assert_string_equal(buf, GOOD_TEXT);
}

static void
test_tunnel_format_then_parse_round_trips_extremes(void **state)
{
	struct lp_tunnel_rec rec, back;
	char buf[512];
	size_t len;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		make_rec(&rec, "a", 1);
		if (i == 0) {
			rec.port = 1024;
			rec.since = 0;
			(void)strcpy(rec.peer, "::1");
		} else if (i == 1) {
			(void)memset(rec.node, 'z', LP_NODE_NAME_MAX);
			rec.node[LP_NODE_NAME_MAX] = '\0';
			rec.port = 65535;
			rec.pid = INT_MAX;
			rec.since = INT64_MAX;
			(void)memset(rec.peer, '~', LP_PEER_MAX);
			rec.peer[LP_PEER_MAX] = '\0';
		} else {
			(void)strcpy(rec.node, "0-9");
			(void)strcpy(rec.peer,
			    "2001:db8:ffff:ffff:ffff:ffff:255.255.255.255");
		}
		assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf),
		    &len), 0);
		assert_int_equal(lp_tunnel_rec_parse(buf, len, &back), 0);
		assert_rec_equal(&rec, &back);
	}
}

static void
test_tunnel_format_refuses_record_that_would_not_parse(void **state)
{
	static const char *const nodes[] = { "", "Gpu01", "gpu_01", "-gpu",
	    "gpu-", "gpu.01", "../etc", "a/b", ".gpu", "gpu 01" };
	static const char *const peers[] = { "", "a b", "a\nb", "a\tb",
	    "caf\xc3\xa9", "\x7f" };
	struct lp_tunnel_rec rec;
	char buf[512];
	size_t i, len = 7;

	(void)state;
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		make_rec(&rec, nodes[i], 4242);
		assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf),
		    &len), -EINVAL);
	}
	for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		make_rec(&rec, "gpu01", 4242);
		(void)strcpy(rec.peer, peers[i]);
		assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf),
		    &len), -EINVAL);
	}
	/* A name or peer that fills its array has no room for its NUL. */
	make_rec(&rec, "gpu01", 4242);
	(void)memset(rec.node, 'a', sizeof(rec.node));
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf), &len),
	    -EINVAL);
	make_rec(&rec, "gpu01", 4242);
	(void)memset(rec.peer, 'a', sizeof(rec.peer));
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf), &len),
	    -EINVAL);

	make_rec(&rec, "gpu01", 0);
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf), &len),
	    -EINVAL);
	make_rec(&rec, "gpu01", -1);
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf), &len),
	    -EINVAL);
	make_rec(&rec, "gpu01", 4242);
	rec.port = 1023;
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf), &len),
	    -EINVAL);
	rec.port = 65536;
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf), &len),
	    -EINVAL);
	make_rec(&rec, "gpu01", 4242);
	rec.since = -1;
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, sizeof(buf), &len),
	    -EINVAL);
	assert_int_equal(lp_tunnel_rec_format(NULL, buf, sizeof(buf), &len),
	    -EINVAL);
	assert_int_equal(len, 7);
}

static void
test_tunnel_format_refuses_every_buffer_too_small(void **state)
{
	struct lp_tunnel_rec rec;
	char buf[512];
	size_t size, len = 7, need = strlen(GOOD_TEXT);

	(void)state;
	make_rec(&rec, "gpu01", 4242);
	for (size = 0; size <= need; size++)
		if (lp_tunnel_rec_format(&rec, buf, size, &len) != -ENOBUFS)
			fail_msg("size %zu accepted", size);
	assert_int_equal(len, 7);
	assert_int_equal(lp_tunnel_rec_format(&rec, buf, need + 1, &len), 0);
	assert_int_equal(len, need);
}

/* The lines of a good record, to build bad ones from. */
#define V	"lp-tunnel 1\n"
#define N	"node gpu01\n"
#define P	"port 22001\n"
#define R	"peer p\n"
#define I	"pid 1\n"
#define S	"since 0\n"
#define E	"end\n"
/* 64 characters: one more than a node name or a peer may have. */
#define LONG	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void
test_tunnel_parse_refuses_every_malformed_text(void **state)
{
	static const char *const bad[] = {
		"", "\n",
		"lp-tunnel 2\n" N P R I S E,
		"lp-tunnel 1 \n" N P R I S E,
		"lp-tunnel 1\r\n" N P R I S E,
		" " V N P R I S E,
		V "node gpu01\r\n" P R I S E,
		V N P R I S "end\r\n",
		/* fields missing, repeated, reordered, renamed, added */
		V P R I S E, V N R I S E, V N P I S E, V N P R S E,
		V N P R I E, V N P R I S, V N N P R I S E, V P N R I S E,
		V N P R S I E, V N P R I S "extra 1\n" E,
		V "name gpu01\n" P R I S E, V "Node gpu01\n" P R I S E,
		/* spacing */
		V "node  gpu01\n" P R I S E, V "node gpu01 \n" P R I S E,
		V "node\tgpu01\n" P R I S E, V N "port  22001\n" R I S E,
		V N "port 22001 \n" R I S E, V N P "peer p \n" I S E,
		V N P R I S "end \n", V "node \n" P R I S E,
		V "node\n" P R I S E,
		/* node names */
		V "node GPU01\n" P R I S E, V "node -gpu\n" P R I S E,
		V "node gpu-\n" P R I S E, V "node ..\n" P R I S E,
		V "node a/b\n" P R I S E, V "node " LONG "\n" P R I S E,
		/* numbers */
		V N "port 1023\n" R I S E, V N "port 65536\n" R I S E,
		V N "port 022001\n" R I S E, V N "port +22001\n" R I S E,
		V N "port 0x55f1\n" R I S E, V N "port \n" R I S E,
		V N P R "pid 0\n" S E, V N P R "pid -1\n" S E,
		V N P R "pid 2147483648\n" S E, V N P R "pid 01\n" S E,
		V N P R I "since -1\n" E, V N P R I "since 00\n" E,
		V N P R I "since 9223372036854775808\n" E,
		V N P R I "since 18446744073709551616\n" E,
		V N P R I "since 1e9\n" E,
		/* peers */
		V N P "peer \n" I S E, V N P "peer a b\n" I S E,
		V N P "peer a\tb\n" I S E, V N P "peer a\x1b[0m\n" I S E,
		V N P "peer caf\xc3\xa9\n" I S E, V N P "peer " LONG "\n" I S E,
		/* after the end line */
		V N P R I S E "\n", V N P R I S E E, V N P R I S E "x",
		V N P R I S "endx\n",
	};
	size_t i;

	(void)state;
	/* The parts make a good record, which the bad ones vary. */
	assert_int_equal(lp_tunnel_rec_parse(V N P R I S E,
	    strlen(V N P R I S E), &(struct lp_tunnel_rec){ .port = 0 }), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_parse_fails(bad[i], strlen(bad[i]));
}

static void
test_tunnel_parse_refuses_nul_byte_anywhere(void **state)
{
	char text[sizeof(GOOD_TEXT)];
	size_t i, len = strlen(GOOD_TEXT);

	(void)state;
	for (i = 0; i < len; i++) {
		memcpy(text, GOOD_TEXT, sizeof(text));
		text[i] = '\0';
		assert_parse_fails(text, len);
	}
}

static void
test_tunnel_parse_refuses_every_truncation(void **state)
{
	size_t len, full = strlen(GOOD_TEXT);

	(void)state;
	for (len = 0; len < full; len++)
		assert_parse_fails(GOOD_TEXT, len);
}

/*
 * Each byte replaced by each printable character, '\n' and '\t': a text
 * that still parses must be the one format writes for what it parses
 * to, so that no record has two spellings.
 */
static void
test_tunnel_parse_accepts_only_the_canonical_text(void **state)
{
	struct lp_tunnel_rec rec;
	char text[sizeof(GOOD_TEXT)], again[512];
	size_t i, len = strlen(GOOD_TEXT), alen;
	int ch, accepted = 0;

	(void)state;
	for (i = 0; i < len; i++) {
		for (ch = '\t'; ch <= '~'; ch++) {
			if (ch > '\n' && ch < ' ')
				continue;
			memcpy(text, GOOD_TEXT, sizeof(text));
			text[i] = (char)ch;
			if (lp_tunnel_rec_parse(text, len, &rec) != 0)
				continue;
			accepted++;
			assert_int_equal(lp_tunnel_rec_format(&rec, again,
			    sizeof(again), &alen), 0);
			assert_int_equal(alen, len);
			assert_memory_equal(again, text, len);
		}
	}
	/* Some variants are good records (another peer, pid, since). */
	assert_true(accepted > 100);
}

static void
test_tunnel_parse_refuses_oversized_text_and_null(void **state)
{
	struct lp_tunnel_rec rec;
	char big[2048];

	(void)state;
	memset(big, 'a', sizeof(big));
	memcpy(big, GOOD_TEXT, strlen(GOOD_TEXT));
	assert_parse_fails(big, sizeof(big));
	assert_int_equal(lp_tunnel_rec_parse(NULL, 0, &rec), -EBADMSG);
	assert_int_equal(lp_tunnel_rec_parse(GOOD_TEXT, strlen(GOOD_TEXT),
	    NULL), -EINVAL);
}

static void
test_tunnel_parse_leaves_output_alone_on_failure(void **state)
{
	struct lp_tunnel_rec rec, before;

	(void)state;
	make_rec(&rec, "kept", 99);
	before = rec;
	assert_int_equal(lp_tunnel_rec_parse(GOOD_TEXT, 20, &rec), -EBADMSG);
	assert_rec_equal(&rec, &before);
}

/* ------------------------------------------------------------ files */

static void
test_tunnel_write_then_read_round_trips(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec, back;

	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	assert_rec_equal(&rec, &back);
}

static void
test_tunnel_write_creates_missing_directories_for_all(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;
	char path[192];
	struct stat st;

	/* Whoever loads the module may run with a tight umask. */
	(void)umask(077);
	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	(void)snprintf(path, sizeof(path), "%s/run/lp", fx->dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(lstat(fx->run, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_uid, 0);
	(void)snprintf(path, sizeof(path), "%s/gpu01", fx->run);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_uid, 0);
}

static void
test_tunnel_write_replaces_record_and_leaves_no_temporary(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec, back;

	make_run(fx);
	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	rec.port = 22002;
	(void)strcpy(rec.peer, "198.51.100.1");
	rec.since = 1800000000;
	/* A temporary file left by a crash does not block the write. */
	put_text(fx->dirfd, ".gpu01.tmp", "junk", 0644);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	assert_rec_equal(&rec, &back);
	assert_false(exists(fx->dirfd, ".gpu01.tmp"));
}

static void
test_tunnel_write_refuses_a_node_held_by_a_live_process(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec live, mine, holder, back;

	/* pid 1 always runs, and started before this record was written. */
	make_rec(&live, "gpu01", 1);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &live, NULL), 0);
	make_rec(&mine, "gpu01", getpid());
	memset(&holder, 0, sizeof(holder));
	assert_int_equal(lp_tunnel_rec_write(fx->run, &mine, &holder),
	    -EEXIST);
	assert_rec_equal(&holder, &live);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &mine, NULL), -EEXIST);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	assert_rec_equal(&back, &live);
}

static void
test_tunnel_write_replaces_a_dead_or_damaged_holder(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec mine, back;

	make_run(fx);
	make_rec(&mine, "gpu01", getpid());
	put_text(fx->dirfd, "gpu01", GOOD_TEXT, 0644);	/* pid 4242, long ago */
	assert_int_equal(lp_tunnel_rec_write(fx->run, &mine, NULL), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	assert_rec_equal(&back, &mine);
	put_text(fx->dirfd, "gpu01", "lp-tunnel 1\nnode gpu01\n", 0644);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &mine, NULL), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	assert_rec_equal(&back, &mine);
}

static void
test_tunnel_write_removes_the_down_marker(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;
	int64_t since;

	assert_int_equal(lp_tunnel_down_write(fx->run, "gpu01", 17), 0);
	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(lp_tunnel_down_read(fx->run, "gpu01", &since),
	    -ENOENT);
}

static void
test_tunnel_write_refuses_invalid_record_and_writes_nothing(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;

	make_rec(&rec, "../gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), -EINVAL);
	make_rec(&rec, "gpu01", 0);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), -EINVAL);
	assert_int_equal(access(fx->run, F_OK), -1);
	assert_int_equal(lp_tunnel_rec_write(NULL, &rec, NULL), -EINVAL);
	assert_int_equal(lp_tunnel_rec_write(fx->run, NULL, NULL), -EINVAL);
	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write("relative/dir", &rec, NULL), -EINVAL);
}

static void
test_tunnel_write_refuses_unsafe_directory(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;
	char link[192];

	make_run(fx);
	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(chmod(fx->run, 0775), 0);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), -EPERM);
	assert_int_equal(chmod(fx->run, 0757), 0);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), -EPERM);
	assert_int_equal(chmod(fx->run, 0755), 0);
	assert_int_equal(chown(fx->run, 1, 0), 0);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), -EPERM);
	assert_int_equal(chown(fx->run, 0, 0), 0);
	(void)snprintf(link, sizeof(link), "%s/link", fx->dir);
	assert_int_equal(symlink(fx->run, link), 0);
	assert_int_equal(lp_tunnel_rec_write(link, &rec, NULL), -ELOOP);
	assert_false(exists(fx->dirfd, "gpu01"));
}

static void
test_tunnel_write_replaces_a_planted_link_not_its_target(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec, back;
	char target[192], buf[16];
	ssize_t n;
	int fd;

	make_run(fx);
	(void)snprintf(target, sizeof(target), "%s/target", fx->dir);
	fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "precious", 8), 8);
	assert_int_equal(close(fd), 0);
	assert_int_equal(symlinkat(target, fx->dirfd, "gpu01"), 0);

	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	fd = open(target, O_RDONLY);
	assert_true(fd != -1);
	n = read(fd, buf, sizeof(buf));
	assert_int_equal(close(fd), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "precious", 8);
}

static void
test_tunnel_read_reports_missing_record(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;

	make_run(fx);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -ENOENT);
	assert_int_equal(rmdir(fx->run), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -ENOENT);
}

static void
test_tunnel_read_reports_stale_record_of_dead_pid(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec, back;

	make_rec(&rec, "gpu01", dead_pid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	make_rec(&back, "kept", 99);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), -ESTALE);
	assert_string_equal(back.node, "kept");
	/* pid 1 always runs. */
	make_rec(&rec, "gpu01", 1);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	assert_int_equal(back.pid, 1);
}

static void
test_tunnel_read_reports_stale_record_whose_pid_was_reused(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec, back;
	int fds[2], st;
	pid_t child;
	char c;

	/* A process that runs until the test closes its pipe. */
	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child != -1);
	if (child == 0) {
		(void)close(fds[1]);
		_exit(read(fds[0], &c, 1) < 0);
	}
	(void)close(fds[0]);

	/*
	 * Written ten seconds before the process started: not its record.
	 * (The machine itself started longer ago than that.)
	 */
	make_rec(&rec, "gpu01", child);
	rec.since -= 10;
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), -ESTALE);
	/* Written after it started: its own. */
	make_rec(&rec, "gpu01", child);
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	assert_int_equal(back.pid, child);

	(void)close(fds[1]);
	assert_int_equal(waitpid(child, &st, 0), child);
}

static void
test_tunnel_read_refuses_hostile_node_names(void **state)
{
	static const char *const names[] = { "", ".", "..", "../gpu01",
	    "a/b", ".gpu01.lock", ".gpu01.tmp", "GPU01", "-gpu01",
	    LONG };
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;
	size_t i;

	make_run(fx);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(lp_tunnel_rec_read(fx->run, names[i], &rec),
		    -EINVAL);
	assert_int_equal(lp_tunnel_rec_read(fx->run, NULL, &rec), -EINVAL);
	assert_int_equal(lp_tunnel_rec_read(NULL, "gpu01", &rec), -EINVAL);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", NULL), -EINVAL);
}

static void
test_tunnel_read_refuses_symlinked_record(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;

	make_run(fx);
	make_rec(&rec, "gpu02", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(symlinkat("gpu02", fx->dirfd, "gpu01"), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -ELOOP);
}

static void
test_tunnel_read_refuses_wrong_owner_or_writable_record(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;

	make_run(fx);
	(void)snprintf(rec.node, sizeof(rec.node), "x");
	put_live_text(fx->dirfd, "gpu01", 0664);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EPERM);
	put_live_text(fx->dirfd, "gpu01", 0646);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EPERM);
	put_live_text(fx->dirfd, "gpu01", 0644);
	assert_int_equal(fchownat(fx->dirfd, "gpu01", 1, 0, 0), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EPERM);
	assert_string_equal(rec.node, "x");
	/* Read bits for all are expected: the record holds no secret. */
	assert_int_equal(fchownat(fx->dirfd, "gpu01", 0, 0, 0), 0);
	put_live_text(fx->dirfd, "gpu01", 0644);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), 0);
	assert_int_equal(rec.pid, 1);
}

static void
test_tunnel_read_refuses_unsafe_directory(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;
	char link[192];

	make_run(fx);
	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(chmod(fx->run, 0777), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EPERM);
	assert_int_equal(chmod(fx->run, 0755), 0);
	assert_int_equal(chown(fx->run, 1, 1), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EPERM);
	assert_int_equal(chown(fx->run, 0, 0), 0);
	(void)snprintf(link, sizeof(link), "%s/link", fx->dir);
	assert_int_equal(symlink(fx->run, link), 0);
	assert_int_equal(lp_tunnel_rec_read(link, "gpu01", &rec), -ELOOP);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), 0);
}

static void
test_tunnel_read_refuses_non_regular_or_linked_record(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;

	make_run(fx);
	assert_int_equal(mkdirat(fx->dirfd, "gpu01", 0755), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EINVAL);
	assert_int_equal(unlinkat(fx->dirfd, "gpu01", AT_REMOVEDIR), 0);
	assert_int_equal(mkfifoat(fx->dirfd, "gpu01", 0644), 0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EINVAL);
	assert_int_equal(unlinkat(fx->dirfd, "gpu01", 0), 0);
	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(linkat(fx->dirfd, "gpu01", fx->dirfd, "other", 0),
	    0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EINVAL);
}

static void
test_tunnel_read_refuses_damaged_or_misnamed_record(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;
	char big[4096];

	make_run(fx);
	put_text(fx->dirfd, "gpu01", "lp-tunnel 1\nnode gpu01\n", 0644);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EBADMSG);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_text(fx->dirfd, "gpu01", big, 0644);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -EFBIG);
	/* The record of gpu01, copied under another node's name. */
	put_text(fx->dirfd, "gpu02", GOOD_TEXT, 0644);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu02", &rec), -EBADMSG);
}

static void
test_tunnel_remove_deletes_record_of_its_own_pid(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;

	make_run(fx);
	make_rec(&rec, "gpu01", getpid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &rec, NULL), 0);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", getpid()), 0);
	assert_false(exists(fx->dirfd, "gpu01"));
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -ENOENT);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", getpid()),
	    -ENOENT);
}

static void
test_tunnel_remove_by_another_pid_keeps_the_newer_record(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec old, newer, back;

	make_run(fx);
	make_rec(&old, "gpu01", dead_pid());
	assert_int_equal(lp_tunnel_rec_write(fx->run, &old, NULL), 0);
	/* The node came back before the old session closed. */
	make_rec(&newer, "gpu01", getpid());
	newer.since = old.since + 60;
	assert_int_equal(lp_tunnel_rec_write(fx->run, &newer, NULL), 0);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", old.pid),
	    -ESRCH);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &back), 0);
	assert_rec_equal(&back, &newer);
}

static void
test_tunnel_remove_leaves_damaged_or_foreign_record(void **state)
{
	struct fx *fx = *state;

	make_run(fx);
	put_text(fx->dirfd, "gpu01", "lp-tunnel 1\n", 0644);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", 4242),
	    -EBADMSG);
	assert_true(exists(fx->dirfd, "gpu01"));
	put_text(fx->dirfd, "gpu01", GOOD_TEXT, 0666);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", 4242), -EPERM);
	assert_true(exists(fx->dirfd, "gpu01"));
	assert_int_equal(unlinkat(fx->dirfd, "gpu01", 0), 0);
	assert_int_equal(symlinkat("/etc/passwd", fx->dirfd, "gpu01"), 0);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", 4242), -ELOOP);
	assert_true(exists(fx->dirfd, "gpu01"));
}

static void
test_tunnel_remove_refuses_hostile_name_or_pid(void **state)
{
	struct fx *fx = *state;

	make_run(fx);
	put_text(fx->dirfd, "gpu01", GOOD_TEXT, 0644);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "../run/gpu01", 4242),
	    -EINVAL);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, ".gpu01.lock", 4242),
	    -EINVAL);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", 0), -EINVAL);
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", -1), -EINVAL);
	assert_int_equal(lp_tunnel_rec_remove(NULL, "gpu01", 4242), -EINVAL);
	assert_true(exists(fx->dirfd, "gpu01"));
	assert_int_equal(lp_tunnel_rec_remove(fx->run, "gpu01", 4242), 0);
}

/* ------------------------------------------------------- down markers */

static void
test_tunnel_down_write_then_read_gives_the_time(void **state)
{
	struct fx *fx = *state;
	int64_t since = 0;
	int dirfd;

	assert_int_equal(lp_tunnel_down_write(fx->run, "gpu01", 1700000123),
	    0);
	assert_int_equal(lp_tunnel_down_read(fx->run, "gpu01", &since), 0);
	assert_true(since == 1700000123);
	dirfd = open(fx->run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd != -1);
	assert_true(exists(dirfd, "gpu01.down"));
	assert_false(exists(dirfd, ".gpu01.down.tmp"));
	assert_false(exists(dirfd, "gpu01"));
	(void)close(dirfd);
}

static void
test_tunnel_down_marker_is_not_a_tunnel_record(void **state)
{
	struct fx *fx = *state;
	struct lp_tunnel_rec rec;

	assert_int_equal(lp_tunnel_down_write(fx->run, "gpu01", 1700000123),
	    0);
	assert_int_equal(lp_tunnel_rec_read(fx->run, "gpu01", &rec), -ENOENT);
}

static void
test_tunnel_down_read_reports_missing_marker(void **state)
{
	struct fx *fx = *state;
	int64_t since = 42;

	make_run(fx);
	assert_int_equal(lp_tunnel_down_read(fx->run, "gpu01", &since),
	    -ENOENT);
	assert_true(since == 42);
}

static void
test_tunnel_down_read_refuses_damaged_or_foreign_marker(void **state)
{
	static const char *bad[] = {
		"",
		"lp-tunnel-down 1\nnode gpu01\nsince 17\nend",
		"lp-tunnel-down 1\nnode gpu02\nsince 17\nend\n",
		"lp-tunnel-down 2\nnode gpu01\nsince 17\nend\n",
		"lp-tunnel-down 1\nnode gpu01\nsince -17\nend\n",
		"lp-tunnel-down 1\nnode gpu01\nsince 017\nend\n",
		"lp-tunnel-down 1\nnode gpu01\nsince 17\nend\nx",
		GOOD_TEXT,
	};
	struct fx *fx = *state;
	int64_t since = 42;
	size_t i;

	make_run(fx);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_text(fx->dirfd, "gpu01.down", bad[i], 0644);
		if (lp_tunnel_down_read(fx->run, "gpu01", &since) != -EBADMSG)
			fail_msg("accepted: \"%s\"", bad[i]);
	}
	assert_true(since == 42);
	put_text(fx->dirfd, "gpu01.down", "lp-tunnel-down 1\nnode gpu01\n"
	    "since 17\nend\n", 0666);
	assert_int_equal(lp_tunnel_down_read(fx->run, "gpu01", &since),
	    -EPERM);
}

static void
test_tunnel_down_refuses_hostile_names_and_times(void **state)
{
	struct fx *fx = *state;
	int64_t since;

	assert_int_equal(lp_tunnel_down_write(fx->run, "../gpu01", 17),
	    -EINVAL);
	assert_int_equal(lp_tunnel_down_write(fx->run, "gpu01", -1), -EINVAL);
	assert_int_equal(lp_tunnel_down_write(NULL, "gpu01", 17), -EINVAL);
	assert_int_equal(lp_tunnel_down_read(fx->run, "a/b", &since),
	    -EINVAL);
	assert_int_equal(lp_tunnel_down_read(fx->run, ".gpu01", &since),
	    -EINVAL);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_tunnel_parse_reads_every_field),
		T(test_tunnel_format_writes_the_exact_text),
		T(test_tunnel_format_then_parse_round_trips_extremes),
		T(test_tunnel_format_refuses_record_that_would_not_parse),
		T(test_tunnel_format_refuses_every_buffer_too_small),
		T(test_tunnel_parse_refuses_every_malformed_text),
		T(test_tunnel_parse_refuses_nul_byte_anywhere),
		T(test_tunnel_parse_refuses_every_truncation),
		T(test_tunnel_parse_accepts_only_the_canonical_text),
		T(test_tunnel_parse_refuses_oversized_text_and_null),
		T(test_tunnel_parse_leaves_output_alone_on_failure),
		T(test_tunnel_write_then_read_round_trips),
		T(test_tunnel_write_creates_missing_directories_for_all),
		T(test_tunnel_write_replaces_record_and_leaves_no_temporary),
		T(test_tunnel_write_refuses_a_node_held_by_a_live_process),
		T(test_tunnel_write_replaces_a_dead_or_damaged_holder),
		T(test_tunnel_write_removes_the_down_marker),
		T(test_tunnel_write_refuses_invalid_record_and_writes_nothing),
		T(test_tunnel_write_refuses_unsafe_directory),
		T(test_tunnel_write_replaces_a_planted_link_not_its_target),
		T(test_tunnel_read_reports_missing_record),
		T(test_tunnel_read_reports_stale_record_of_dead_pid),
		T(test_tunnel_read_reports_stale_record_whose_pid_was_reused),
		T(test_tunnel_read_refuses_hostile_node_names),
		T(test_tunnel_read_refuses_symlinked_record),
		T(test_tunnel_read_refuses_wrong_owner_or_writable_record),
		T(test_tunnel_read_refuses_unsafe_directory),
		T(test_tunnel_read_refuses_non_regular_or_linked_record),
		T(test_tunnel_read_refuses_damaged_or_misnamed_record),
		T(test_tunnel_remove_deletes_record_of_its_own_pid),
		T(test_tunnel_remove_by_another_pid_keeps_the_newer_record),
		T(test_tunnel_remove_leaves_damaged_or_foreign_record),
		T(test_tunnel_remove_refuses_hostile_name_or_pid),
		T(test_tunnel_down_write_then_read_gives_the_time),
		T(test_tunnel_down_marker_is_not_a_tunnel_record),
		T(test_tunnel_down_read_reports_missing_marker),
		T(test_tunnel_down_read_refuses_damaged_or_foreign_marker),
		T(test_tunnel_down_refuses_hostile_names_and_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
