/*
 * Files that hold secrets or policy: opened without following links,
 * checked for owner and mode before they are trusted, and replaced
 * atomically under a lock.
 */
#ifndef LP_FILE_H
#define LP_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Opens the directory at path without following a final symbolic link and
 * checks that it is a directory owned by uid whose mode has none of the
 * bits in forbidden (077 for a private directory).  Returns 0 and sets
 * *ret_fd (O_CLOEXEC), or -ENOENT, -ELOOP (a symbolic link), -ENOTDIR,
 * -EPERM (wrong owner or mode) or another negative errno.
 */
int	lp_dir_open_checked(const char *path, uid_t uid, mode_t forbidden,
	    int *ret_fd);

/*
 * Opens name, relative to dirfd (or absolute, with dirfd AT_FDCWD), for
 * reading, with O_NOFOLLOW, O_CLOEXEC, O_NOCTTY and O_NONBLOCK (a FIFO
 * never blocks), then checks with fstat(2) that it is a regular file with
 * at most one link (none: it was replaced since), owned by uid, whose
 * mode has none of the bits in forbidden, and whose size is at most max
 * bytes.  Returns 0 and sets *ret_fd, or -ENOENT, -ELOOP (a symbolic
 * link), -EINVAL (not a regular file, or hard-linked), -EPERM (wrong
 * owner or mode), -EFBIG, or another negative errno.  Logs nothing.
 */
int	lp_open_secret(int dirfd, const char *name, uid_t uid,
	    mode_t forbidden, size_t max, int *ret_fd);

/*
 * Reads the whole of fd, at most max bytes, into a new NUL-terminated
 * buffer.  Returns 0 and sets *ret_buf (caller frees it with
 * lp_freezero(buf, len + 1)) and *ret_len, or -EFBIG when the file holds
 * more than max bytes, or another negative errno.  On failure whatever
 * was read is wiped.
 */
int	lp_read_all(int fd, size_t max, char **ret_buf, size_t *ret_len);

/*
 * lp_open_secret(), then lp_read_all() of the file, then close(2): the
 * whole of a checked file in a new NUL-terminated buffer.  Returns 0
 * and sets *ret_buf (caller frees it with lp_freezero(buf, len + 1)) and
 * *ret_len, or any error of the two.  On failure nothing read is kept.
 */
int	lp_read_secret(int dirfd, const char *name, uid_t uid,
	    mode_t forbidden, size_t max, char **ret_buf, size_t *ret_len);

/*
 * Replaces name in dirfd with len bytes of data, atomically: a stale
 * tmpname is removed, tmpname is created with O_EXCL and O_NOFOLLOW and
 * the given mode, written, fsync'd, renamed over name, and dirfd is
 * fsync'd.  The caller holds the lock that covers name and tmpname.  On
 * failure tmpname is removed and name is untouched, except when only the
 * final fsync of dirfd fails: name then already holds the new bytes.  A
 * stale tmpname that is a non-empty directory is not removed and fails
 * the call.  Returns 0 or a negative errno (-ENOSPC, -EROFS, -EIO, ...).
 */
int	lp_file_replace(int dirfd, const char *name, const char *tmpname,
	    const void *data, size_t len, mode_t mode);

/*
 * As lp_file_replace(), for a writer that streams: the bytes come from
 * fill, called once with the descriptor of tmpname (open for writing,
 * mode already set) and arg.  fill writes and returns 0, or a negative
 * errno that fails the call; it does not close the descriptor.  Returns
 * 0 or a negative errno, as lp_file_replace() does.
 */
int	lp_file_replace_with(int dirfd, const char *name, const char *tmpname,
	    mode_t mode, int (*fill)(int fd, const void *arg),
	    const void *arg);

/*
 * Removes name from dirfd, then fsyncs dirfd so that the removal
 * survives a crash.  The caller holds the lock that covers name.
 * Returns 0, -ENOENT, or another negative errno.
 */
int	lp_file_remove(int dirfd, const char *name);

/*
 * Writes "." name suffix into out, of size bytes: the name of the lock
 * (".lock") or temporary file (".tmp") that goes beside name.  No name
 * of a record or user starts with '.', so the two never collide.
 * Returns 0, or -ENAMETOOLONG when out is too small.
 */
int	lp_file_dotname(char *out, size_t size, const char *name,
	    const char *suffix);

/*
 * Takes an exclusive flock(2) on lockname in dirfd, creating it with mode
 * 0600 without following links; waits for another holder.  A lock file
 * left by a crashed process never blocks, since the kernel releases the
 * lock when its holder dies.  On a read-only filesystem, where nothing
 * can write, an existing lock file is taken read-only and a missing one
 * is not made: *ret_fd is then -1.  Returns 0 and sets *ret_fd, or a
 * negative errno (-ELOOP for a link, -EINVAL for anything but a regular
 * file).
 */
int	lp_lock_take(int dirfd, const char *lockname, int *ret_fd);

/* Releases a lock from lp_lock_take(); accepts -1. */
void	lp_lock_release(int fd);

/*
 * For tests only: when lp_file_fault is set, lp_file_replace() calls it
 * before each step.  It returns 0 to go on, or a negative errno that the
 * step then fails with; before a write(2) a positive value caps the bytes
 * that call may write.  Production code never sets it.
 */
enum lp_file_step {
	LP_FILE_STEP_OPEN,
	LP_FILE_STEP_FCHMOD,
	LP_FILE_STEP_WRITE,
	LP_FILE_STEP_FSYNC,
	LP_FILE_STEP_CLOSE,
	LP_FILE_STEP_RENAME,
	LP_FILE_STEP_DIRSYNC
};
extern int	(*lp_file_fault)(enum lp_file_step);

#endif /* LP_FILE_H */
