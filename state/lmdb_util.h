/* SPDX-License-Identifier: MIT */
#ifndef PW_LMDB_UTIL_H
#define PW_LMDB_UTIL_H

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pw/error.h"

/* Helpers shared by the two LMDB users, the aggregator's store and the
 * collector's spool. Private: not part of any component's interface. */

/** LMDB's codes translated at the boundary; raw codes never leak past it. */
static inline int pw__mdb_rc(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return PW_OK;
    case MDB_NOTFOUND:
        return PW_ENOTFOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
        return PW_ESTOREFULL;
    default:
        return rc > 0 ? -rc : PW_ESTORE;
    }
}

/**
 * Whether rc, a code of pw__mdb_rc(), is a write that failed for want of
 * room: ENOSPC, EDQUOT, or EIO, which LMDB returns for a short write.
 */
static inline bool pw__mdb_nospace(int rc)
{
    return rc == -ENOSPC || rc == -EDQUOT || rc == -EIO;
}

/** Whether dir holds an LMDB environment already (a data file not empty). */
bool pw__mdb_env_exists(const char *dir);

/**
 * mdb_env_open() for writing, safe on a full file system. LMDB maps its lock
 * file (lock.mdb) and writes it through the map: touching a page that the
 * file system has no room for kills the process with SIGBUS. So the lock
 * file's blocks are allocated first, and without room for them the open is
 * refused with -ENOSPC (or -EDQUOT). A new data file that the open left cut
 * short is removed, so a later open creates it afresh. The process must not
 * have this environment open already. 0, -ENOSPC, -EDQUOT, or
 * pw__mdb_rc() of mdb_env_open(); the caller closes env either way.
 */
int pw__mdb_env_open_rw(MDB_env *env, const char *dir, unsigned flags, mdb_mode_t mode);

/**
 * Takes the writer's lock of directory dir: an exclusive flock() on
 * dir/writer.pid, which then holds this process's pid. The kernel releases
 * it when the process dies, however it dies. 0 with *fd_out the lock (give
 * it back with pw__writer_unlock()), -EBUSY when another process holds it,
 * or -errno (-ENOSPC: no room for the pid).
 */
int pw__writer_lock(const char *dir, int *fd_out);

/** Releases a lock of pw__writer_lock() and sets *fd_p to -1. No-op when -1. */
void pw__writer_unlock(int *fd_p);

/** The pid of dir's writer as its lock file says, or 0 when it says none. */
long pw__writer_pid(const char *dir);

/** An MDB_val over p: LMDB takes keys and values through non-const pointers but only reads them. */
static inline MDB_val pw__mdb_val(const void *p, size_t n)
{
    MDB_val v;
    v.mv_size = n;
    memcpy(&v.mv_data, &p, sizeof(p));
    return v;
}

/** Writes v big-endian, so that sequence keys sort in number order. */
static inline void pw__put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/** Reads a big-endian 64-bit number. */
static inline uint64_t pw__get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
