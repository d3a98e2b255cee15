/* SPDX-License-Identifier: MIT */
/*
 * What the store's files (store.c, store_log.c, store_current.c,
 * store_events.c, plan_versions.c) share and nothing else sees: the layout
 * of the environment and of a transaction, and the key and cursor helpers.
 */
#ifndef PW_STORE_INTERNAL_H
#define PW_STORE_INTERNAL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lmdb_util.h"
#include "pw/util.h"
#include "store.h"

/*
 * Format 2 keys current values district, period, element (format 1:
 * district, element, period), so that a batch of a district's updates, which
 * come period by period, dirties a few neighbouring pages of that table
 * instead of one page per element: half the bytes written per commit. A
 * store of format 1 is read as it is, and converted when opened for writing.
 */
#define STORE_FORMAT 2u
#define KEYMAX       (3 * PW_ID_MAX + PW_PERIOD_STRMAX)

enum {
    DB_META,
    DB_LOG,
    DB_CURRENT,
    DB_SEQS,
    DB_RATES,
    DB_OPEN,
    DB_ALERTS,
    DB_EVENTS,
    DB_STATUS,
    DB_COUNT
};

struct pw_store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    uint32_t format; /* of the keys on disk: 1 until converted, or 2 */
    bool readonly;
    char *dir;
    int writer; /* the writer's lock (lmdb_util.h), -1 when read-only */
};

struct pw_txn {
    pw_store_t *store;
    MDB_txn *txn;
    uint32_t format; /* of this snapshot: a writer may convert the store under a reader */
    pw_buf_t buf;
    uint64_t last[DB_COUNT]; /* last key of a sequence-keyed database, once known */
    bool known[DB_COUNT];
    MDB_cursor *tail[DB_COUNT]; /* appends and hot puts: one cursor per database and txn */
};

/* Joins up to three strings (c may be NULL) with NUL separators into buf; its length. */
size_t pw__store_key(char *buf, const char *a, const char *b, const char *c);

/*
 * Calls fn with every entry of a database, in key order: the key split into
 * its nparts NUL-joined parts (PW_ESTORE for a key that has not exactly
 * that many; nparts 0: not split), and the value. Stops at fn's first
 * non-zero return, which it returns.
 */
int pw__store_walk(MDB_txn *txn, MDB_dbi dbi, int nparts,
                   int (*fn)(void *ctx, const char *parts[], const MDB_val *v), void *ctx);

/* Puts one entry into db with mdb_put() flags; an error code. */
int pw__store_put(pw_txn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen,
                  unsigned flags);

/* Puts one entry through the transaction's cursor on db (near keys are cheap); an error code. */
int pw__store_cursor_put(pw_txn_t *t, int db, const void *k, size_t klen, const void *v,
                         size_t vlen);

/* Looks one key up in db; PW_ENOTFOUND when absent. */
int pw__store_get(pw_txn_t *t, int db, const void *k, size_t klen, MDB_val *val);

/* The last u64 key of a sequence-keyed database, 0 when empty. */
int pw__store_last_seq(pw_txn_t *t, int db, uint64_t *out);

/* The last key, looked up once per transaction: appends then just count on. */
int pw__store_cached_last(pw_txn_t *t, int db, uint64_t *out);

/* Appends a value under the next sequence of db; that sequence in *seq_out. */
int pw__store_append_seq(pw_txn_t *t, int db, const void *v, size_t vlen, uint64_t *seq_out);

/* Walks a sequence-keyed database from `from` to `to`, at most max entries. */
int pw__store_seq_foreach(pw_txn_t *t, int db, uint64_t from, uint64_t to, size_t max,
                          int (*fn)(void *ctx, uint64_t seq, const MDB_val *v), void *ctx);

#endif
