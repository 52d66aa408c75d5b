/*
 * lib/file.c: checked opening of directories and secret files, bounded
 * reading, atomic replacement (with faults injected at every step) and
 * per-name locks.  Runs as root: files are given to uid 1 to test owners.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "lp_util.h"

#define OLD_TEXT	"old contents\n"
#define NEW_TEXT	"new contents, longer than the old ones\n"
#define WAIT_MS		5000	/* bound on any wait for a child */
#define HOLD_MS		300	/* how long a blocked taker must stay blocked */

struct fx {
	char	dir[64];
	int	dirfd;
	mode_t	umask;
};

/* What the fault hook does; reset by every setup. */
static struct {
	int	step;		/* step to fail, or -1 */
	int	skip;		/* calls of that step to let through first */
	int	err;		/* negative errno to fail with */
	int	cap;		/* bytes each write may write; 0: all */
	int	calls[LP_FILE_STEP_DIRSYNC + 1];
} inj;

static int
inject(enum lp_file_step step)
{
	int n = inj.calls[step]++;

	if ((int)step == inj.step && n >= inj.skip)
		return inj.err;
	if (step == LP_FILE_STEP_WRITE)
		return inj.cap;
	return 0;
}

static int
setup(void **state)
{
	struct fx *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	(void)strcpy(fx->dir, "/tmp/lp-test-file.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	fx->dirfd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fx->umask = umask(022);
	memset(&inj, 0, sizeof(inj));
	inj.step = -1;
	lp_file_fault = NULL;
	*state = fx;
	return fx->dirfd == -1 ? -1 : 0;
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

	lp_file_fault = NULL;
	(void)umask(fx->umask);
	(void)close(fx->dirfd);
	(void)nftw(fx->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void
put_file(int dirfd, const char *name, const void *data, size_t len,
    mode_t mode)
{
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void
put_text(int dirfd, const char *name, const char *text, mode_t mode)
{
	put_file(dirfd, name, text, strlen(text), mode);
}

/* Asserts that name holds exactly text, byte for byte. */
static void
assert_contents(int dirfd, const char *name, const char *text)
{
	char buf[256];
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	assert_true(fd != -1);
	n = read(fd, buf, sizeof(buf));
	(void)close(fd);
	assert_int_equal(n, (ssize_t)strlen(text));
	assert_memory_equal(buf, text, strlen(text));
}

static int
exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static mode_t
mode_of(int dirfd, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_mode;
}

static void
make_path(char *out, size_t size, const struct fx *fx, const char *name)
{
	int n = snprintf(out, size, "%s/%s", fx->dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

/* ---------------------------------------------------- lp_dir_open_checked */

static void
test_dir_open_checked_accepts_private_directory(void **state)
{
	struct fx *fx = *state;
	char path[128];
	int fd = -1;

	assert_int_equal(mkdirat(fx->dirfd, "d", 0700), 0);
	make_path(path, sizeof(path), fx, "d");
	assert_int_equal(lp_dir_open_checked(path, 0, 077, &fd), 0);
	assert_true(fd >= 0);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	(void)close(fd);
}

static void
test_dir_open_checked_refuses_symlinked_directory(void **state)
{
	struct fx *fx = *state;
	char path[128];
	int fd = -1;

	assert_int_equal(mkdirat(fx->dirfd, "d", 0700), 0);
	assert_int_equal(symlinkat("d", fx->dirfd, "link"), 0);
	make_path(path, sizeof(path), fx, "link");
	assert_int_equal(lp_dir_open_checked(path, 0, 077, &fd), -ELOOP);
	assert_int_equal(fd, -1);
}

static void
test_dir_open_checked_refuses_missing_directory(void **state)
{
	struct fx *fx = *state;
	char path[128];
	int fd = -1;

	make_path(path, sizeof(path), fx, "none");
	assert_int_equal(lp_dir_open_checked(path, 0, 077, &fd), -ENOENT);
	assert_int_equal(fd, -1);
}

static void
test_dir_open_checked_refuses_regular_file(void **state)
{
	struct fx *fx = *state;
	char path[128];
	int fd = -1;

	put_text(fx->dirfd, "f", OLD_TEXT, 0600);
	make_path(path, sizeof(path), fx, "f");
	assert_int_equal(lp_dir_open_checked(path, 0, 077, &fd), -ENOTDIR);
	assert_int_equal(fd, -1);
}

static void
test_dir_open_checked_refuses_group_or_world_bits(void **state)
{
	static const mode_t modes[] = { 0750, 0710, 0705, 0701, 0770, 0777 };
	struct fx *fx = *state;
	char path[128];
	size_t i;
	int fd = -1;

	assert_int_equal(mkdirat(fx->dirfd, "d", 0700), 0);
	make_path(path, sizeof(path), fx, "d");
	for (i = 0; i < LP_ARRAY_SIZE(modes); i++) {
		assert_int_equal(chmod(path, modes[i]), 0);
		assert_int_equal(lp_dir_open_checked(path, 0, 077, &fd),
		    -EPERM);
		assert_int_equal(fd, -1);
	}
}

static void
test_dir_open_checked_refuses_directory_of_another_owner(void **state)
{
	struct fx *fx = *state;
	char path[128];
	int fd = -1;

	assert_int_equal(mkdirat(fx->dirfd, "d", 0700), 0);
	make_path(path, sizeof(path), fx, "d");
	assert_int_equal(chown(path, 1, 0), 0);
	assert_int_equal(lp_dir_open_checked(path, 0, 077, &fd), -EPERM);
	assert_int_equal(fd, -1);
	assert_int_equal(lp_dir_open_checked(path, 1, 077, &fd), 0);
	(void)close(fd);
}

/* --------------------------------------------------------- lp_open_secret */

static void
test_open_secret_accepts_private_regular_file(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, 1024, &fd), 0);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	(void)close(fd);

	/* A read-only file is fine too: only the forbidden bits count. */
	assert_int_equal(fchmodat(fx->dirfd, "s", 0400, 0), 0);
	assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, 1024, &fd), 0);
	(void)close(fd);
}

static void
test_open_secret_accepts_absolute_path_with_at_fdcwd(void **state)
{
	struct fx *fx = *state;
	char path[128];
	int fd = -1;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	make_path(path, sizeof(path), fx, "s");
	assert_int_equal(lp_open_secret(AT_FDCWD, path, 0, 077, 1024, &fd), 0);
	(void)close(fd);
}

static void
test_open_secret_refuses_symlink_even_to_good_file(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(symlinkat("s", fx->dirfd, "link"), 0);
	assert_int_equal(symlinkat("nowhere", fx->dirfd, "dangling"), 0);
	assert_int_equal(lp_open_secret(fx->dirfd, "link", 0, 077, 1024, &fd),
	    -ELOOP);
	assert_int_equal(lp_open_secret(fx->dirfd, "dangling", 0, 077, 1024,
	    &fd), -ELOOP);
	assert_int_equal(fd, -1);
}

static void
test_open_secret_refuses_missing_file(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	assert_int_equal(lp_open_secret(fx->dirfd, "none", 0, 077, 1024, &fd),
	    -ENOENT);
	assert_int_equal(fd, -1);
}

static void
test_open_secret_refuses_file_of_another_owner(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(fchownat(fx->dirfd, "s", 1, 0, 0), 0);
	assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, 1024, &fd),
	    -EPERM);
	assert_int_equal(fd, -1);
}

static void
test_open_secret_refuses_group_or_world_bits(void **state)
{
	static const mode_t modes[] = { 0640, 0604, 0644, 0660, 0602, 0610,
	    0601, 0666 };
	struct fx *fx = *state;
	size_t i;
	int fd = -1;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	for (i = 0; i < LP_ARRAY_SIZE(modes); i++) {
		assert_int_equal(fchmodat(fx->dirfd, "s", modes[i], 0), 0);
		assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, 1024,
		    &fd), -EPERM);
		assert_int_equal(fd, -1);
	}
}

static void
test_open_secret_refuses_fifo_without_blocking(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	assert_int_equal(mkfifoat(fx->dirfd, "s", 0600), 0);
	/* Should the open block, SIGALRM ends the test as a failure. */
	(void)alarm(10);
	assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, 1024, &fd),
	    -EINVAL);
	(void)alarm(0);
	assert_int_equal(fd, -1);
}

static void
test_open_secret_refuses_hard_linked_file(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(linkat(fx->dirfd, "s", fx->dirfd, "other", 0), 0);
	assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, 1024, &fd),
	    -EINVAL);
	assert_int_equal(lp_open_secret(fx->dirfd, "other", 0, 077, 1024,
	    &fd), -EINVAL);
	assert_int_equal(fd, -1);
}

static void
test_open_secret_refuses_directory(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	assert_int_equal(mkdirat(fx->dirfd, "s", 0700), 0);
	assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, 1024, &fd),
	    -EINVAL);
	assert_int_equal(fd, -1);
}

static void
test_open_secret_refuses_file_over_size_cap(void **state)
{
	struct fx *fx = *state;
	size_t len = strlen(OLD_TEXT);
	int fd = -1;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, len, &fd), 0);
	(void)close(fd);
	fd = -1;
	assert_int_equal(lp_open_secret(fx->dirfd, "s", 0, 077, len - 1, &fd),
	    -EFBIG);
	assert_int_equal(fd, -1);
}

/* ------------------------------------------------------------ lp_read_all */

static void
check_read_all(int fd, size_t max, const unsigned char *want, size_t len)
{
	char *buf = NULL;
	size_t got = 0;

	assert_int_equal(lp_read_all(fd, max, &buf, &got), 0);
	assert_int_equal(got, len);
	assert_memory_equal(buf, want, len);
	assert_int_equal(buf[len], '\0');
	lp_freezero(buf, got + 1);
}

static void
test_read_all_reads_file_of_exactly_max_bytes(void **state)
{
	struct fx *fx = *state;
	size_t len = strlen(OLD_TEXT);
	int fd;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	fd = openat(fx->dirfd, "s", O_RDONLY | O_CLOEXEC);
	check_read_all(fd, len, (const unsigned char *)OLD_TEXT, len);
	(void)close(fd);
}

static void
test_read_all_refuses_file_over_max_and_keeps_outputs(void **state)
{
	static char sentinel;
	struct fx *fx = *state;
	char *buf = &sentinel;
	size_t len = 7;
	int fd;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	fd = openat(fx->dirfd, "s", O_RDONLY | O_CLOEXEC);
	assert_int_equal(lp_read_all(fd, strlen(OLD_TEXT) - 1, &buf, &len),
	    -EFBIG);
	assert_ptr_equal(buf, &sentinel);
	assert_int_equal(len, 7);
	(void)close(fd);
}

static void
test_read_all_reads_empty_file(void **state)
{
	struct fx *fx = *state;
	int fd;

	put_text(fx->dirfd, "s", "", 0600);
	fd = openat(fx->dirfd, "s", O_RDONLY | O_CLOEXEC);
	check_read_all(fd, 0, (const unsigned char *)"", 0);
	(void)close(fd);
}

static void
test_read_all_reads_file_larger_than_its_first_buffer(void **state)
{
	struct fx *fx = *state;
	unsigned char *data;
	size_t i, len = 100000;
	char *buf = NULL;
	size_t got;
	int fd;

	data = malloc(len);
	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	put_file(fx->dirfd, "s", data, len, 0600);

	fd = openat(fx->dirfd, "s", O_RDONLY | O_CLOEXEC);
	check_read_all(fd, len, data, len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	check_read_all(fd, 10 * len, data, len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(lp_read_all(fd, len - 1, &buf, &got), -EFBIG);
	assert_null(buf);
	(void)close(fd);
	free(data);
}

static void
test_read_all_reads_pipe_written_in_pieces(void **state)
{
	static const char *const pieces[] = { "lp-", "totp-", "state", " 1\n" };
	pid_t pid;
	size_t i;
	int p[2], status;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		(void)close(p[0]);
		for (i = 0; i < LP_ARRAY_SIZE(pieces); i++) {
			if (write(p[1], pieces[i], strlen(pieces[i])) == -1)
				_exit(1);
			(void)usleep(20000);
		}
		_exit(0);
	}
	(void)close(p[1]);
	check_read_all(p[0], 64, (const unsigned char *)"lp-totp-state 1\n",
	    16);
	(void)close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_read_all_refuses_bad_descriptor(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(lp_read_all(-1, 16, &buf, &len), -EBADF);
	assert_null(buf);
}

/* --------------------------------------------------------- lp_read_secret */

static void
test_read_secret_reads_a_checked_file_whole(void **state)
{
	struct fx *fx = *state;
	char *buf = NULL;
	size_t len = 0;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(lp_read_secret(fx->dirfd, "s", 0, 077,
	    strlen(OLD_TEXT), &buf, &len), 0);
	assert_int_equal(len, strlen(OLD_TEXT));
	assert_string_equal(buf, OLD_TEXT);
	lp_freezero(buf, len + 1);
}

static void
test_read_secret_refuses_what_open_secret_refuses(void **state)
{
	struct fx *fx = *state;
	char *buf = NULL;
	size_t len = 99;

	put_text(fx->dirfd, "s", OLD_TEXT, 0640);
	assert_int_equal(lp_read_secret(fx->dirfd, "s", 0, 077, 4096, &buf,
	    &len), -EPERM);
	assert_int_equal(symlinkat("s", fx->dirfd, "l"), 0);
	assert_int_equal(lp_read_secret(fx->dirfd, "l", 0, 0, 4096, &buf,
	    &len), -ELOOP);
	assert_int_equal(lp_read_secret(fx->dirfd, "s", 0, 0,
	    strlen(OLD_TEXT) - 1, &buf, &len), -EFBIG);
	assert_int_equal(lp_read_secret(fx->dirfd, "none", 0, 0, 4096, &buf,
	    &len), -ENOENT);
	assert_null(buf);
	assert_int_equal(len, 99);
}

/* -------------------------------------------------------- lp_file_replace */

static void
replace_new(struct fx *fx, int want)
{
	assert_int_equal(lp_file_replace(fx->dirfd, "s", ".s.tmp", NEW_TEXT,
	    strlen(NEW_TEXT), 0600), want);
}

static void
test_file_replace_creates_missing_file(void **state)
{
	struct fx *fx = *state;

	replace_new(fx, 0);
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_int_equal(mode_of(fx->dirfd, "s") & 07777, 0600);
	assert_false(exists(fx->dirfd, ".s.tmp"));
}

static void
test_file_replace_replaces_old_contents(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	replace_new(fx, 0);
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_false(exists(fx->dirfd, ".s.tmp"));
	assert_int_equal(lp_file_replace(fx->dirfd, "s", ".s.tmp", "", 0,
	    0600), 0);
	assert_contents(fx->dirfd, "s", "");
}

static void
test_file_replace_sets_mode_whatever_the_umask(void **state)
{
	struct fx *fx = *state;

	(void)umask(0777);
	replace_new(fx, 0);
	assert_int_equal(mode_of(fx->dirfd, "s") & 07777, 0600);

	(void)umask(0);
	replace_new(fx, 0);
	assert_int_equal(mode_of(fx->dirfd, "s") & 07777, 0600);
	assert_int_equal(lp_file_replace(fx->dirfd, "p", ".p.tmp", "x", 1,
	    0644), 0);
	assert_int_equal(mode_of(fx->dirfd, "p") & 07777, 0644);
}

/* Fails step (after skip calls of it) and checks that nothing changed. */
static void
check_step_failure(struct fx *fx, enum lp_file_step step, int skip,
    int cap)
{
	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	inj.step = (int)step;
	inj.skip = skip;
	inj.cap = cap;
	inj.err = -ENOSPC;
	lp_file_fault = inject;

	replace_new(fx, -ENOSPC);
	assert_true(inj.calls[step] == skip + 1);
	assert_contents(fx->dirfd, "s", OLD_TEXT);
	assert_int_equal(mode_of(fx->dirfd, "s") & 07777, 0600);
	assert_false(exists(fx->dirfd, ".s.tmp"));

	/* Once the fault is gone the same call works. */
	lp_file_fault = NULL;
	replace_new(fx, 0);
	assert_contents(fx->dirfd, "s", NEW_TEXT);
}

static void
test_file_replace_keeps_old_file_when_open_fails(void **state)
{
	check_step_failure(*state, LP_FILE_STEP_OPEN, 0, 0);
}

static void
test_file_replace_keeps_old_file_when_fchmod_fails(void **state)
{
	check_step_failure(*state, LP_FILE_STEP_FCHMOD, 0, 0);
}

static void
test_file_replace_keeps_old_file_when_write_fails(void **state)
{
	check_step_failure(*state, LP_FILE_STEP_WRITE, 0, 0);
}

static void
test_file_replace_keeps_old_file_when_write_fails_midway(void **state)
{
	/* Two 5-byte writes land in the temporary file, the third fails. */
	check_step_failure(*state, LP_FILE_STEP_WRITE, 2, 5);
}

static void
test_file_replace_keeps_old_file_when_fsync_fails(void **state)
{
	check_step_failure(*state, LP_FILE_STEP_FSYNC, 0, 0);
}

static void
test_file_replace_keeps_old_file_when_close_fails(void **state)
{
	check_step_failure(*state, LP_FILE_STEP_CLOSE, 0, 0);
}

static void
test_file_replace_keeps_old_file_when_rename_fails(void **state)
{
	check_step_failure(*state, LP_FILE_STEP_RENAME, 0, 0);
}

static void
test_file_replace_leaves_nothing_when_creation_fails(void **state)
{
	struct fx *fx = *state;

	inj.step = LP_FILE_STEP_RENAME;
	inj.err = -EIO;
	lp_file_fault = inject;
	replace_new(fx, -EIO);
	assert_false(exists(fx->dirfd, "s"));
	assert_false(exists(fx->dirfd, ".s.tmp"));
}

static void
test_file_replace_reports_directory_sync_failure(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	inj.step = LP_FILE_STEP_DIRSYNC;
	inj.err = -EIO;
	lp_file_fault = inject;
	replace_new(fx, -EIO);
	/* As documented: the rename happened, only its durability is unsure. */
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_false(exists(fx->dirfd, ".s.tmp"));
}

static void
test_file_replace_completes_short_writes(void **state)
{
	struct fx *fx = *state;

	inj.cap = 3;
	lp_file_fault = inject;
	replace_new(fx, 0);
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_int_equal(inj.calls[LP_FILE_STEP_WRITE],
	    (int)(strlen(NEW_TEXT) + 2) / 3);
}

static void
test_file_replace_is_not_blocked_by_stale_tmp_file(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	put_text(fx->dirfd, ".s.tmp", "half-writ", 0644);
	assert_int_equal(fchownat(fx->dirfd, ".s.tmp", 1, 1, 0), 0);
	replace_new(fx, 0);
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_false(exists(fx->dirfd, ".s.tmp"));
}

static void
test_file_replace_is_not_blocked_by_stale_tmp_symlink(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	put_text(fx->dirfd, "target", OLD_TEXT, 0600);
	assert_int_equal(symlinkat("target", fx->dirfd, ".s.tmp"), 0);
	replace_new(fx, 0);
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_contents(fx->dirfd, "target", OLD_TEXT);
	assert_false(exists(fx->dirfd, ".s.tmp"));

	assert_int_equal(symlinkat("nowhere", fx->dirfd, ".s.tmp"), 0);
	replace_new(fx, 0);
	assert_false(exists(fx->dirfd, "nowhere"));
	assert_false(exists(fx->dirfd, ".s.tmp"));
}

static void
test_file_replace_is_not_blocked_by_stale_empty_tmp_directory(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(mkdirat(fx->dirfd, ".s.tmp", 0700), 0);
	replace_new(fx, 0);
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_false(exists(fx->dirfd, ".s.tmp"));
}

static void
test_file_replace_fails_cleanly_on_full_tmp_directory(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(mkdirat(fx->dirfd, ".s.tmp", 0700), 0);
	put_text(fx->dirfd, ".s.tmp/x", "x", 0600);
	replace_new(fx, -ENOTEMPTY);
	assert_contents(fx->dirfd, "s", OLD_TEXT);
	assert_true(S_ISDIR(mode_of(fx->dirfd, ".s.tmp")));
}

static void
test_file_replace_replaces_symlink_without_following_it(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "target", OLD_TEXT, 0600);
	assert_int_equal(symlinkat("target", fx->dirfd, "s"), 0);
	replace_new(fx, 0);
	assert_true(S_ISREG(mode_of(fx->dirfd, "s")));
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_contents(fx->dirfd, "target", OLD_TEXT);
}

/* ------------------------------------------- lp_file_replace_with, ... */

/* What fill_text() writes, and what it then returns. */
struct fill_arg {
	const char	*text;
	int		 result;
};

/* A streaming writer: two writes of its own, then its verdict. */
static int
fill_text(int fd, const void *arg)
{
	const struct fill_arg *a = arg;
	size_t half = strlen(a->text) / 2;

	if (write(fd, a->text, half) != (ssize_t)half ||
	    write(fd, a->text + half, strlen(a->text) - half) !=
	    (ssize_t)(strlen(a->text) - half))
		return -EIO;
	return a->result;
}

static void
test_file_replace_with_writes_what_fill_writes(void **state)
{
	struct fx *fx = *state;
	struct fill_arg a = { NEW_TEXT, 0 };

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	(void)umask(077);
	assert_int_equal(lp_file_replace_with(fx->dirfd, "s", ".s.tmp", 0644,
	    fill_text, &a), 0);
	assert_contents(fx->dirfd, "s", NEW_TEXT);
	assert_int_equal(mode_of(fx->dirfd, "s") & 07777, 0644);
	assert_false(exists(fx->dirfd, ".s.tmp"));
}

static void
test_file_replace_with_keeps_old_file_when_fill_fails(void **state)
{
	struct fx *fx = *state;
	struct fill_arg a = { NEW_TEXT, -ENOSPC };

	put_text(fx->dirfd, "s", OLD_TEXT, 0600);
	assert_int_equal(lp_file_replace_with(fx->dirfd, "s", ".s.tmp", 0600,
	    fill_text, &a), -ENOSPC);
	assert_contents(fx->dirfd, "s", OLD_TEXT);
	assert_false(exists(fx->dirfd, ".s.tmp"));
	assert_int_equal(lp_file_replace_with(fx->dirfd, "s", ".s.tmp", 0600,
	    NULL, &a), -EINVAL);
	assert_contents(fx->dirfd, "s", OLD_TEXT);
}

static void
test_file_remove_removes_the_name_and_nothing_else(void **state)
{
	struct fx *fx = *state;

	put_text(fx->dirfd, "target", OLD_TEXT, 0600);
	assert_int_equal(symlinkat("target", fx->dirfd, "s"), 0);
	assert_int_equal(lp_file_remove(fx->dirfd, "s"), 0);
	assert_false(exists(fx->dirfd, "s"));
	assert_contents(fx->dirfd, "target", OLD_TEXT);
	assert_int_equal(lp_file_remove(fx->dirfd, "target"), 0);
	assert_false(exists(fx->dirfd, "target"));
}

static void
test_file_remove_reports_missing_name(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(lp_file_remove(fx->dirfd, "s"), -ENOENT);
	assert_int_equal(lp_file_remove(fx->dirfd, ""), -EINVAL);
	assert_int_equal(lp_file_remove(fx->dirfd, NULL), -EINVAL);
	assert_int_equal(mkdirat(fx->dirfd, "d", 0700), 0);
	assert_int_equal(lp_file_remove(fx->dirfd, "d"), -EISDIR);
	assert_true(S_ISDIR(mode_of(fx->dirfd, "d")));
}

static void
test_file_dotname_builds_names_beside_a_file(void **state)
{
	char buf[12];

	(void)state;
	assert_int_equal(lp_file_dotname(buf, sizeof(buf), "gpu01", ".lock"),
	    0);
	assert_string_equal(buf, ".gpu01.lock");
	assert_int_equal(lp_file_dotname(buf, sizeof(buf), "alice", ".tmp"),
	    0);
	assert_string_equal(buf, ".alice.tmp");
	/* Exactly full, then one byte too long. */
	assert_int_equal(lp_file_dotname(buf, sizeof(buf), "gpu012", ".tmp"),
	    0);
	assert_string_equal(buf, ".gpu012.tmp");
	assert_int_equal(lp_file_dotname(buf, sizeof(buf), "gpu012", ".lock"),
	    -ENAMETOOLONG);
}

/* ------------------------------------------------------------ lp_lock_take */

/*
 * Forks a child that takes lockname, writes 'y' (or 'n' on failure) to a
 * pipe, then holds the lock for hold_ms or until killed.
 */
static pid_t
spawn_taker(int dirfd, const char *lockname, int hold_ms, int *ret_rfd)
{
	pid_t pid;
	int p[2], fd;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		(void)close(p[0]);
		c = lp_lock_take(dirfd, lockname, &fd) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		(void)usleep((useconds_t)hold_ms * 1000);
		_exit(0);
	}
	(void)close(p[1]);
	*ret_rfd = p[0];
	return pid;
}

/* Returns the byte the child wrote within ms, or 0 on timeout. */
static char
wait_report(int rfd, int ms)
{
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	char c = 0;

	if (poll(&pfd, 1, ms) == 1 && read(rfd, &c, 1) != 1)
		c = 0;
	return c;
}

static void
reap(pid_t pid, int rfd)
{
	(void)kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	(void)close(rfd);
}

static void
test_lock_take_creates_private_lock_file(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	(void)umask(0);
	assert_int_equal(lp_lock_take(fx->dirfd, ".s.lock", &fd), 0);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	assert_int_equal(mode_of(fx->dirfd, ".s.lock"), S_IFREG | 0600);
	lp_lock_release(fd);
	lp_lock_release(-1);
}

static void
test_lock_take_excludes_second_taker_until_release(void **state)
{
	struct fx *fx = *state;
	pid_t pid;
	int fd = -1, rfd;

	assert_int_equal(lp_lock_take(fx->dirfd, ".s.lock", &fd), 0);
	pid = spawn_taker(fx->dirfd, ".s.lock", 0, &rfd);
	assert_int_equal(wait_report(rfd, HOLD_MS), 0);
	lp_lock_release(fd);
	assert_int_equal(wait_report(rfd, WAIT_MS), 'y');
	reap(pid, rfd);
}

static void
test_lock_take_waits_for_lock_held_by_another_process(void **state)
{
	struct fx *fx = *state;
	pid_t pid;
	int fd = -1, rfd;

	pid = spawn_taker(fx->dirfd, ".s.lock", 60000, &rfd);
	assert_int_equal(wait_report(rfd, WAIT_MS), 'y');
	fd = openat(fx->dirfd, ".s.lock", O_RDWR | O_CLOEXEC);
	assert_true(fd != -1);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	(void)close(fd);
	reap(pid, rfd);
}

static void
test_lock_take_is_not_blocked_by_lock_file_of_killed_process(void **state)
{
	struct fx *fx = *state;
	pid_t pid;
	int rfd;

	pid = spawn_taker(fx->dirfd, ".s.lock", 60000, &rfd);
	assert_int_equal(wait_report(rfd, WAIT_MS), 'y');
	reap(pid, rfd);
	assert_true(exists(fx->dirfd, ".s.lock"));

	/* Taken in a child so that a hang is a bounded failure. */
	pid = spawn_taker(fx->dirfd, ".s.lock", 0, &rfd);
	assert_int_equal(wait_report(rfd, WAIT_MS), 'y');
	reap(pid, rfd);
}

static void
test_lock_take_does_not_block_other_names(void **state)
{
	struct fx *fx = *state;
	pid_t pid;
	int fd = -1, rfd;

	assert_int_equal(lp_lock_take(fx->dirfd, ".a.lock", &fd), 0);
	pid = spawn_taker(fx->dirfd, ".b.lock", 0, &rfd);
	assert_int_equal(wait_report(rfd, WAIT_MS), 'y');
	reap(pid, rfd);
	lp_lock_release(fd);
}

static void
test_lock_take_refuses_symlink(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	put_text(fx->dirfd, "target", OLD_TEXT, 0600);
	assert_int_equal(symlinkat("target", fx->dirfd, ".s.lock"), 0);
	assert_int_equal(symlinkat("nowhere", fx->dirfd, ".d.lock"), 0);
	assert_int_equal(lp_lock_take(fx->dirfd, ".s.lock", &fd), -ELOOP);
	assert_int_equal(lp_lock_take(fx->dirfd, ".d.lock", &fd), -ELOOP);
	assert_int_equal(fd, -1);
	assert_false(exists(fx->dirfd, "nowhere"));
}

static void
test_lock_take_refuses_anything_but_regular_file(void **state)
{
	struct fx *fx = *state;
	int fd = -1;

	assert_int_equal(mkdirat(fx->dirfd, ".d.lock", 0700), 0);
	assert_int_equal(mkfifoat(fx->dirfd, ".f.lock", 0600), 0);
	(void)alarm(10);
	assert_int_equal(lp_lock_take(fx->dirfd, ".d.lock", &fd), -EINVAL);
	assert_int_equal(lp_lock_take(fx->dirfd, ".f.lock", &fd), -EINVAL);
	(void)alarm(0);
	assert_int_equal(fd, -1);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dir_open_checked_accepts_private_directory),
		T(test_dir_open_checked_refuses_symlinked_directory),
		T(test_dir_open_checked_refuses_missing_directory),
		T(test_dir_open_checked_refuses_regular_file),
		T(test_dir_open_checked_refuses_group_or_world_bits),
		T(test_dir_open_checked_refuses_directory_of_another_owner),
		T(test_open_secret_accepts_private_regular_file),
		T(test_open_secret_accepts_absolute_path_with_at_fdcwd),
		T(test_open_secret_refuses_symlink_even_to_good_file),
		T(test_open_secret_refuses_missing_file),
		T(test_open_secret_refuses_file_of_another_owner),
		T(test_open_secret_refuses_group_or_world_bits),
		T(test_open_secret_refuses_fifo_without_blocking),
		T(test_open_secret_refuses_hard_linked_file),
		T(test_open_secret_refuses_directory),
		T(test_open_secret_refuses_file_over_size_cap),
		T(test_read_all_reads_file_of_exactly_max_bytes),
		T(test_read_all_refuses_file_over_max_and_keeps_outputs),
		T(test_read_all_reads_empty_file),
		T(test_read_all_reads_file_larger_than_its_first_buffer),
		T(test_read_all_reads_pipe_written_in_pieces),
		T(test_read_all_refuses_bad_descriptor),
		T(test_read_secret_reads_a_checked_file_whole),
		T(test_read_secret_refuses_what_open_secret_refuses),
		T(test_file_replace_creates_missing_file),
		T(test_file_replace_replaces_old_contents),
		T(test_file_replace_sets_mode_whatever_the_umask),
		T(test_file_replace_keeps_old_file_when_open_fails),
		T(test_file_replace_keeps_old_file_when_fchmod_fails),
		T(test_file_replace_keeps_old_file_when_write_fails),
		T(test_file_replace_keeps_old_file_when_write_fails_midway),
		T(test_file_replace_keeps_old_file_when_fsync_fails),
		T(test_file_replace_keeps_old_file_when_close_fails),
		T(test_file_replace_keeps_old_file_when_rename_fails),
		T(test_file_replace_leaves_nothing_when_creation_fails),
		T(test_file_replace_reports_directory_sync_failure),
		T(test_file_replace_completes_short_writes),
		T(test_file_replace_is_not_blocked_by_stale_tmp_file),
		T(test_file_replace_is_not_blocked_by_stale_tmp_symlink),
		T(test_file_replace_is_not_blocked_by_stale_empty_tmp_directory),
		T(test_file_replace_fails_cleanly_on_full_tmp_directory),
		T(test_file_replace_replaces_symlink_without_following_it),
		T(test_file_replace_with_writes_what_fill_writes),
		T(test_file_replace_with_keeps_old_file_when_fill_fails),
		T(test_file_remove_removes_the_name_and_nothing_else),
		T(test_file_remove_reports_missing_name),
		T(test_file_dotname_builds_names_beside_a_file),
		T(test_lock_take_creates_private_lock_file),
		T(test_lock_take_excludes_second_taker_until_release),
		T(test_lock_take_waits_for_lock_held_by_another_process),
		T(test_lock_take_is_not_blocked_by_lock_file_of_killed_process),
		T(test_lock_take_does_not_block_other_names),
		T(test_lock_take_refuses_symlink),
		T(test_lock_take_refuses_anything_but_regular_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
