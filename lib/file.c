/* Safe opening, reading, atomic replacement and locking of files. */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "lp_util.h"

#define READ_CHUNK	4096

int	(*lp_file_fault)(enum lp_file_step);

/*
 * Asks the test hook, when one is set, whether step should fail.  Returns
 * 0 to go on, a negative errno to fail, or (for a write) a positive cap.
 */
static int
fault(enum lp_file_step step)
{
	if (lp_file_fault == NULL)
		return 0;
	return lp_file_fault(step);
}

static int
check_owner_mode(const struct stat *st, uid_t uid, mode_t forbidden)
{
	if (st->st_uid != uid || (st->st_mode & forbidden) != 0)
		return -EPERM;
	return 0;
}

int
lp_dir_open_checked(const char *path, uid_t uid, mode_t forbidden,
    int *ret_fd)
{
	struct stat st;
	int fd = -1, r = -EINVAL;

	if (path == NULL || *path == '\0')
		goto out;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY);
	if (fd == -1) {
		r = -errno;
		/*
		 * Linux reports a final symbolic link as ENOTDIR when
		 * O_DIRECTORY is given; tell the two apart for the caller.
		 * The lstat only chooses the errno, so its race is harmless.
		 */
		if (r == -ENOTDIR &&
		    fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			r = -ELOOP;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto out;
	}
	if ((r = check_owner_mode(&st, uid, forbidden)) != 0)
		goto out;

	*ret_fd = fd;
	fd = -1;
	r = 0;
out:
	if (fd != -1)
		(void)close(fd);
	return r;
}

int
lp_open_secret(int dirfd, const char *name, uid_t uid, mode_t forbidden,
    size_t max, int *ret_fd)
{
	struct stat st;
	int fd = -1, r = -EINVAL;

	if (name == NULL || *name == '\0')
		goto out;
	/* O_NONBLOCK: a FIFO planted in place of the file must not hang us. */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out;
	}
	/*
	 * A second link could be a name the attacker controls.  No link at
	 * all is a file renamed over after we opened it: what we read is
	 * the content of a moment ago, as for a reader a moment earlier.
	 */
	if (!S_ISREG(st.st_mode) || st.st_nlink > 1) {
		r = -EINVAL;
		goto out;
	}
	if ((r = check_owner_mode(&st, uid, forbidden)) != 0)
		goto out;
	if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}

	*ret_fd = fd;
	fd = -1;
	r = 0;
out:
	if (fd != -1)
		(void)close(fd);
	return r;
}

/*
 * Moves the len bytes of *bufp into a buffer of newcap bytes, wiping the
 * old one: realloc(3) could leave a copy of a secret in freed memory.
 */
static int
grow_buffer(char **bufp, size_t len, size_t cap, size_t newcap)
{
	char *nbuf;

	if ((nbuf = malloc(newcap)) == NULL)
		return -ENOMEM;
	memcpy(nbuf, *bufp, len);
	lp_freezero(*bufp, cap);
	*bufp = nbuf;
	return 0;
}

int
lp_read_all(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	char *buf = NULL;
	size_t cap = 0, len = 0, want;
	ssize_t n;
	int r = -EINVAL;

	/* One byte past max tells an oversized file; one more for the NUL. */
	if (max > SSIZE_MAX - 2)
		goto out;
	want = max + 2;
	cap = want < READ_CHUNK ? want : READ_CHUNK;
	if ((buf = malloc(cap)) == NULL) {
		cap = 0;
		r = -ENOMEM;
		goto out;
	}
	while (len <= max) {
		if (cap - len < 2) {
			size_t ncap = cap > want / 2 ? want : cap * 2;

			if ((r = grow_buffer(&buf, len, cap, ncap)) != 0)
				goto out;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		r = -EFBIG;
		goto out;
	}
	buf[len] = '\0';

	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	lp_freezero(buf, cap);
	return r;
}

int
lp_read_secret(int dirfd, const char *name, uid_t uid, mode_t forbidden,
    size_t max, char **ret_buf, size_t *ret_len)
{
	int fd = -1, r;

	if ((r = lp_open_secret(dirfd, name, uid, forbidden, max, &fd)) != 0)
		goto out;
	r = lp_read_all(fd, max, ret_buf, ret_len);
out:
	if (fd != -1)
		(void)close(fd);
	return r;
}

/* Removes a stale temporary file, link or empty directory; 0 if none. */
static int
remove_stale(int dirfd, const char *tmpname)
{
	if (unlinkat(dirfd, tmpname, 0) == 0 || errno == ENOENT)
		return 0;
	/* Linux says EISDIR for a directory, POSIX says EPERM. */
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (unlinkat(dirfd, tmpname, AT_REMOVEDIR) == 0)
		return 0;
	return -errno;
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;
	size_t chunk;
	int f;

	while (len > 0) {
		chunk = len;
		if ((f = fault(LP_FILE_STEP_WRITE)) < 0)
			return f;
		if (f > 0 && (size_t)f < chunk)
			chunk = (size_t)f;
		n = write(fd, p, chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The bytes of lp_file_replace(), for write_tmp(). */
struct bytes {
	const void	*data;
	size_t		 len;
};

static int
write_bytes(int fd, const void *arg)
{
	const struct bytes *b = arg;

	return write_all(fd, b->data, b->len);
}

/*
 * Creates tmpname with mode, fills it, syncs and closes it.  Sets
 * *created once the file exists, so that the caller can remove it.
 */
static int
write_tmp(int dirfd, const char *tmpname, mode_t mode,
    int (*fill)(int, const void *), const void *arg, int *created)
{
	int fd = -1, r;

	if ((r = fault(LP_FILE_STEP_OPEN)) < 0)
		goto out;
	fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, mode);
	if (fd == -1) {
		r = -errno;
		goto out;
	}
	*created = 1;

	/* The umask of whoever runs us must not change mode. */
	if ((r = fault(LP_FILE_STEP_FCHMOD)) < 0)
		goto out;
	if (fchmod(fd, mode) == -1) {
		r = -errno;
		goto out;
	}
	if ((r = fill(fd, arg)) != 0)
		goto out;
	if ((r = fault(LP_FILE_STEP_FSYNC)) < 0)
		goto out;
	if (fsync(fd) == -1) {
		r = -errno;
		goto out;
	}

	/* close(2) can report a write error late (NFS); so can the hook. */
	r = fault(LP_FILE_STEP_CLOSE);
	if (close(fd) == -1 && r >= 0)
		r = -errno;
	fd = -1;
	if (r < 0)
		goto out;
	r = 0;
out:
	if (fd != -1)
		(void)close(fd);
	return r;
}

int
lp_file_replace_with(int dirfd, const char *name, const char *tmpname,
    mode_t mode, int (*fill)(int fd, const void *arg), const void *arg)
{
	int created = 0, r = -EINVAL;

	if (name == NULL || tmpname == NULL || *name == '\0' ||
	    *tmpname == '\0' || fill == NULL)
		goto out;
	if ((r = remove_stale(dirfd, tmpname)) != 0)
		goto out;
	if ((r = write_tmp(dirfd, tmpname, mode, fill, arg, &created)) != 0)
		goto out;

	if ((r = fault(LP_FILE_STEP_RENAME)) < 0)
		goto out;
	if (renameat(dirfd, tmpname, dirfd, name) == -1) {
		r = -errno;
		goto out;
	}
	created = 0;

	/*
	 * Without this the rename may not survive a crash.  A failure here
	 * is reported although name already holds the new bytes.
	 */
	if ((r = fault(LP_FILE_STEP_DIRSYNC)) < 0)
		goto out;
	if (fsync(dirfd) == -1) {
		r = -errno;
		goto out;
	}
	r = 0;
out:
	if (created)
		(void)unlinkat(dirfd, tmpname, 0);
	return r;
}

int
lp_file_replace(int dirfd, const char *name, const char *tmpname,
    const void *data, size_t len, mode_t mode)
{
	struct bytes b = { data, len };

	if (data == NULL && len > 0)
		return -EINVAL;
	return lp_file_replace_with(dirfd, name, tmpname, mode, write_bytes,
	    &b);
}

int
lp_file_remove(int dirfd, const char *name)
{
	if (name == NULL || *name == '\0')
		return -EINVAL;
	if (unlinkat(dirfd, name, 0) == -1)
		return -errno;
	/* Without this the removal may not survive a crash. */
	if (fsync(dirfd) == -1)
		return -errno;
	return 0;
}

int
lp_file_dotname(char *out, size_t size, const char *name, const char *suffix)
{
	int n;

	n = snprintf(out, size, ".%s%s", name, suffix);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int
lp_lock_take(int dirfd, const char *lockname, int *ret_fd)
{
	struct stat st;
	int fd = -1, r = -EINVAL;

	if (lockname == NULL || *lockname == '\0')
		goto out;
	/* O_NONBLOCK keeps a FIFO or device put in its place from hanging. */
	fd = openat(dirfd, lockname, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	/*
	 * A read-only filesystem has no writer to keep out: the lock file
	 * is taken as it is, or not at all when there is none, so that the
	 * state can still be read; any write fails there anyway.
	 */
	if (fd == -1 && errno == EROFS) {
		fd = openat(dirfd, lockname, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd == -1 && errno == ENOENT) {
			*ret_fd = -1;
			r = 0;
			goto out;
		}
	}
	if (fd == -1) {
		/* A directory is "not a regular file" like any other. */
		r = errno == EISDIR ? -EINVAL : -errno;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			r = -errno;
			goto out;
		}
	}

	*ret_fd = fd;
	fd = -1;
	r = 0;
out:
	if (fd != -1)
		(void)close(fd);
	return r;
}

void
lp_lock_release(int fd)
{
	if (fd < 0)
		return;
	/* Unlock first: a forked child may still hold a copy of fd. */
	(void)flock(fd, LOCK_UN);
	(void)close(fd);
}
