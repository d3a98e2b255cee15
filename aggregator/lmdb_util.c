/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE /* flock */
#include "lmdb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define WRITER_FILE "writer.pid"
/* The pid, space-padded to a fixed width: rewriting it in place never needs
 * a new block, even on a full file system. */
#define PID_BYTES 12

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
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
