/* SPDX-License-Identifier: MIT */
/* The store's log: intake records in arrival order, keyed by sequence. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

/* The last u64 key of a sequence-keyed database, 0 when empty. */
int pw__store_last_seq(pw_txn_t *t, int db, uint64_t *out)
{
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_cursor_open(t->txn, t->store->dbi[db], &cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (mrc == MDB_NOTFOUND) {
        *out = 0;
        return PW_OK;
    }
    if (mrc != 0)
        return pw__mdb_rc(mrc);
    if (k.mv_size != 8)
        return PW_ESTORE;
    *out = pw__get_be64(k.mv_data);
    return PW_OK;
}

/* The last key, looked up once per transaction: appends then just count on. */
int pw__store_cached_last(pw_txn_t *t, int db, uint64_t *out)
{
    if (!t->known[db]) {
        int rc = pw__store_last_seq(t, db, &t->last[db]);
        if (rc != 0)
            return rc;
        t->known[db] = true;
    }
    *out = t->last[db];
    return 0;
}

int pw__store_append_seq(pw_txn_t *t, int db, const void *v, size_t vlen, uint64_t *seq_out)
{
    uint64_t seq;
    int rc = pw__store_cached_last(t, db, &seq);
    if (rc != 0)
        return rc;
    seq++;
    unsigned char key[8];
    pw__put_be64(key, seq);
    /* A cursor kept for the transaction saves mdb_put() setting one up for
     * every record of a large batch or a replay. */
    if (!t->tail[db] &&
        (rc = pw__mdb_rc(mdb_cursor_open(t->txn, t->store->dbi[db], &t->tail[db]))) != 0)
        return rc;
    MDB_val k = pw__mdb_val(key, 8), val = pw__mdb_val(v, vlen);
    rc = pw__mdb_rc(mdb_cursor_put(t->tail[db], &k, &val, MDB_APPEND));
    if (rc == 0) {
        t->last[db] = seq;
        if (seq_out)
            *seq_out = seq;
    }
    return rc;
}

int pw_store_log_append(pw_txn_t *txn, const pw_msg_t *rec, uint64_t *seq_out)
{
    int rc = pw_msg_encode(rec, &txn->buf);
    if (rc != 0)
        return rc;
    return pw__store_append_seq(txn, DB_LOG, txn->buf.data, txn->buf.len, seq_out);
}

int pw_store_log_append_raw(pw_txn_t *txn, const void *data, size_t len, uint64_t *seq_out)
{
    return pw__store_append_seq(txn, DB_LOG, data, len, seq_out);
}

int pw_store_log_head(pw_txn_t *txn, uint64_t *out)
{
    return pw__store_last_seq(txn, DB_LOG, out);
}

/* Walks a sequence-keyed database from `from` to `to`, at most max entries. */
int pw__store_seq_foreach(pw_txn_t *t, int db, uint64_t from, uint64_t to, size_t max,
                          int (*fn)(void *ctx, uint64_t seq, const MDB_val *v), void *ctx)
{
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_cursor_open(t->txn, t->store->dbi[db], &cur));
    if (rc != 0)
        return rc;
    unsigned char key[8];
    pw__put_be64(key, from);
    MDB_val k = {8, key}, v;
    size_t n = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && n < max) {
        if (k.mv_size != 8) {
            rc = PW_ESTORE;
            break;
        }
        uint64_t seq = pw__get_be64(k.mv_data);
        if (seq > to)
            break;
        if ((rc = fn(ctx, seq, &v)) != 0)
            break;
        n++;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = pw__mdb_rc(mrc);
    mdb_cursor_close(cur);
    return rc;
}

struct log_ctx {
    int (*fn)(void *ctx, uint64_t seq, const pw_msg_t *rec);
    int (*raw_fn)(void *ctx, uint64_t seq, const pw_msg_t *rec, const void *raw, size_t len);
    void *ctx;
};

static int log_cb(void *ctx, uint64_t seq, const MDB_val *v)
{
    struct log_ctx *lc = ctx;
    pw_msg_t rec;
    /* The log holds only records that passed the strict decode on intake and
     * were written by our encoder: the fast reader of that layout is safe here,
     * and it is most of the cost of a replay (it is never used on the wire). */
    int rc = pw_msg_decode_stored(v->mv_data, v->mv_size, &rec);
    if (rc != 0 || rec.type != PW_MSG_RECORD)
        return PW_ESTORE;
    if (lc->raw_fn)
        return lc->raw_fn(lc->ctx, seq, &rec, v->mv_data, v->mv_size);
    return lc->fn(lc->ctx, seq, &rec);
}

int pw_store_log_foreach(pw_txn_t *txn, uint64_t from, uint64_t to,
                         int (*fn)(void *ctx, uint64_t seq, const pw_msg_t *rec), void *ctx)
{
    struct log_ctx lc = {fn, NULL, ctx};
    return pw__store_seq_foreach(txn, DB_LOG, from, to, SIZE_MAX, log_cb, &lc);
}

int pw_store_log_foreach_raw(pw_txn_t *txn, uint64_t from, uint64_t to,
                             int (*fn)(void *ctx, uint64_t seq, const pw_msg_t *rec,
                                       const void *raw, size_t len),
                             void *ctx)
{
    struct log_ctx lc = {NULL, fn, ctx};
    return pw__store_seq_foreach(txn, DB_LOG, from, to, SIZE_MAX, log_cb, &lc);
}
