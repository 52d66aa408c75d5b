/*
 * bench_exec: the wall time of one run of a command, as sshd pays it for
 * an AuthorizedKeysCommand (issue 6; not part of the test suite).
 *
 *	bench_exec [-n N] COMMAND [ARG...]
 *
 * Runs COMMAND N times (default 200), one after the other, each through
 * posix_spawnp(3) with standard input and output on /dev/null, and times
 * each run from the spawn to the end of waitpid(2).  Fails when a run
 * does not exit with status 0.  Prints one line:
 *
 *	runs N median_us M min_us L p90_us P
 *
 * ci/bench compiles it with cc alone; it needs nothing of the build.
 */
#define _GNU_SOURCE

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS_MAX	1000000

extern char **environ;

static void
usage(void)
{
	fprintf(stderr, "usage: bench_exec [-n runs] command [arg ...]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		err(1, "clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One run; returns its wall time in nanoseconds. */
static uint64_t
run_once(char **argv, const posix_spawn_file_actions_t *fa)
{
	uint64_t t0, t1;
	pid_t pid;
	int r, status;

	t0 = now_ns();
	r = posix_spawnp(&pid, argv[0], fa, NULL, argv, environ);
	if (r != 0)
		errx(1, "%s: %s", argv[0], strerror(r));
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	t1 = now_ns();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		errx(1, "%s: status 0x%x", argv[0], (unsigned)status);
	return t1 - t0;
}

int
main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	uint64_t *t;
	long long n = 200;
	char *end;
	long long i;
	int ch;

	while ((ch = getopt(argc, argv, "+n:")) != -1) {
		switch (ch) {
		case 'n':
			errno = 0;
			n = strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || n < 1 || n > RUNS_MAX)
				errx(2, "-n: 1 to %d", RUNS_MAX);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();

	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		err(1, "calloc");
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
	    0) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
	    0) != 0)
		errx(1, "posix_spawn_file_actions");
	for (i = 0; i < n; i++)
		t[i] = run_once(argv, &fa);
	qsort(t, (size_t)n, sizeof(*t), cmp_u64);
	printf("runs %lld median_us %.1f min_us %.1f p90_us %.1f\n", n,
	    (double)t[n / 2] / 1e3, (double)t[0] / 1e3,
	    (double)t[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] / 1e3);
	posix_spawn_file_actions_destroy(&fa);
	free(t);
	return 0;
}
