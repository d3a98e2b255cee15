/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE /* flock */
#include "lmdb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* LMDB's lock file for its default 126 readers: a 192-byte header and 64
 * bytes a reader slot, 8 KiB in all (a larger file is taken as it is). */
#define LOCK_FILE_BYTES 8192
#define WRITER_FILE     "writer.pid"
/* The pid, space-padded to a fixed width: rewriting it in place never needs
 * a new block, even on a full file system. */
#define PID_BYTES 12

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Allocates the blocks of dir's lock file. Only space errors count: a file
 * system that cannot preallocate (EOPNOTSUPP) or refuses the call otherwise
 * is left to LMDB as before.
 */
static int reserve_lock_file(const char *dir, mdb_mode_t mode)
{
    char path[4096];
    int rc = path_in(path, sizeof(path), dir, "lock.mdb");
    if (rc != 0)
        return rc;
    /* Opened and closed before LMDB opens the environment: closing a file
     * LMDB holds fcntl() locks on would drop them. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    struct stat st;
    off_t len = LOCK_FILE_BYTES;
    if (fstat(fd, &st) == 0 && st.st_size > len)
        len = st.st_size;
    int frc = posix_fallocate(fd, 0, len);
    close(fd);
    return frc == ENOSPC || frc == EDQUOT ? -frc : 0;
}

bool pw__mdb_env_exists(const char *dir)
{
    char data[4096];
    struct stat st;
    return path_in(data, sizeof(data), dir, "data.mdb") == 0 && stat(data, &st) == 0 &&
           st.st_size > 0;
}

int pw__mdb_env_open_rw(MDB_env *env, const char *dir, unsigned flags, mdb_mode_t mode)
{
    char data[4096];
    int rc = path_in(data, sizeof(data), dir, "data.mdb");
    if (rc != 0)
        return rc;
    bool fresh = !pw__mdb_env_exists(dir);
    if ((rc = reserve_lock_file(dir, mode)) != 0)
        return rc;
    rc = pw__mdb_rc(mdb_env_open(env, dir, flags, mode));
    /* LMDB writes a new file's two meta pages at once; cut short, the file
     * would be "not an LMDB file" ever after. Empty, it is created again. */
    if (rc != 0 && fresh && pw__mdb_nospace(rc))
        unlink(data);
    return rc;
}

int pw__writer_lock(const char *dir, int *fd_out)
{
    *fd_out = -1;
    char path[4096];
    int rc = path_in(path, sizeof(path), dir, WRITER_FILE);
    if (rc != 0)
        return rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    /* flock, not fcntl: it belongs to this descriptor, so no other open()
     * and close() of the file in this process can drop it, and the kernel
     * drops it when the process dies, however it dies. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return rc;
    }
    char pid[PID_BYTES + 1];
    snprintf(pid, sizeof(pid), "%-*ld\n", PID_BYTES - 1, (long)getpid());
    ssize_t n = pwrite(fd, pid, PID_BYTES, 0);
    if (n != PID_BYTES) {
        rc = n < 0 ? -errno : -ENOSPC;
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

void pw__writer_unlock(int *fd_p)
{
    if (*fd_p < 0)
        return;
    /* Blanked in place, so that the file names no process that is gone. */
    char blank[PID_BYTES];
    memset(blank, ' ', sizeof(blank));
    blank[PID_BYTES - 1] = '\n';
    ssize_t n = pwrite(*fd_p, blank, sizeof(blank), 0);
    (void)n; /* harmless if it fails: a pid is believed only while its lock is held */
    close(*fd_p);
    *fd_p = -1;
}

long pw__writer_pid(const char *dir)
{
    char path[4096], buf[PID_BYTES + 1];
    if (path_in(path, sizeof(path), dir, WRITER_FILE) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, buf, PID_BYTES, 0);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? pid : 0;
}
