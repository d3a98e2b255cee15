/* SPDX-License-Identifier: MIT */
/* The spool's reading and acks: stored frames read back, answered updates removed. */
#include "spool_internal.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_util.h"
#include "pw/error.h"
#include "pw/util.h"

/* A msgpack unsigned integer at p (at most n bytes); false if there is none. */
static bool mp_uint(const unsigned char *p, size_t n, uint64_t *out)
{
    size_t w;
    if (n == 0)
        return false;
    if (p[0] <= 0x7f) {
        *out = p[0];
        return true;
    }
    if (p[0] < 0xcc || p[0] > 0xcf)
        return false;
    w = (size_t)1 << (p[0] - 0xcc);
    if (n < 1 + w)
        return false;
    *out = 0;
    for (size_t i = 1; i <= w; i++)
        *out = (*out << 8) | p[i];
    return true;
}

/*
 * Whether a stored record is an update of this spool numbered seq, so that
 * it can go on the wire as it is. The common case costs a prefix comparison;
 * a record in another layout (an older encoder's) is checked by the strict
 * decoder, and is sent as stored too when it passes: it is a valid frame.
 */
static bool frame_ok(const pw_spool_t *self, uint64_t seq, const unsigned char *p, size_t n)
{
    uint64_t s;
    if (n > self->prefix_len && memcmp(p, self->prefix, self->prefix_len) == 0 &&
        mp_uint(p + self->prefix_len, n - self->prefix_len, &s))
        return s == seq;
    pw_msg_t m;
    return pw_msg_decode(p, n, &m) == 0 && m.type == PW_MSG_UPDATE && m.seq == seq &&
           m.epoch == self->epoch && strcmp(m.district, self->district) == 0;
}

int pw_spool_read_frames(pw_spool_t *self, uint64_t from, size_t max,
                         int (*fn)(void *ctx, uint64_t seq, const void *frame, size_t len),
                         void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn));
    if (rc != 0)
        return rc;
    if ((rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi[DB_PENDING], &cur))) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    unsigned char key[8];
    pw__put_be64(key, from);
    MDB_val k = pw__mdb_val(key, 8), v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (size_t n = 0; mrc == 0 && n < max && rc == 0; n++) {
        uint64_t seq = k.mv_size == 8 ? pw__get_be64(k.mv_data) : 0;
        if (!frame_ok(self, seq, v.mv_data, v.mv_size))
            rc = PW_ESTORE;
        else if (seq > self->acked)
            rc = fn(ctx, seq, v.mv_data, v.mv_size);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

struct decode_ctx {
    int (*fn)(void *ctx, const pw_msg_t *update);
    void *ctx;
};

static int decode_frame(void *ctx, uint64_t seq, const void *frame, size_t len)
{
    struct decode_ctx *d = ctx;
    pw_msg_t m;
    (void)seq;
    if (pw_msg_decode(frame, len, &m) != 0)
        return PW_ESTORE;
    return d->fn(d->ctx, &m);
}

int pw_spool_read(pw_spool_t *self, uint64_t from, size_t max,
                  int (*fn)(void *ctx, const pw_msg_t *update), void *ctx)
{
    struct decode_ctx d = {fn, ctx};
    return pw_spool_read_frames(self, from, max, decode_frame, &d);
}

/* Removes the answered updates still stored, one by one. */
static int remove_answered(pw_spool_t *self, MDB_txn *txn)
{
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi[DB_PENDING], &cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    while (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8 &&
           pw__get_be64(k.mv_data) <= self->acked)
        if ((rc = pw__mdb_rc(mdb_cursor_del(cur, 0))) != 0)
            break;
    mdb_cursor_close(cur);
    return rc;
}

int pw_spool_flush(pw_spool_t *self)
{
    if (self->acked == self->stored_acked)
        return 0;
    MDB_txn *txn;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    uint64_t removed = self->removed;
    /* Removing records one by one costs more than spooling them: LMDB shifts
     * a page's contents for each removal from its front. So answered ones
     * stay until everything is answered, when the whole DB is emptied at
     * once, or until remove_batch of them wait (a spool that never drains). */
    if (self->acked == self->head) {
        rc = pw__mdb_rc(mdb_drop(txn, self->dbi[DB_PENDING], 0));
        removed = self->head;
    } else if (self->acked - self->removed >= self->remove_batch) {
        rc = remove_answered(self, txn);
        removed = self->acked;
    }
    if (rc == 0)
        rc = pw__spool_meta_put_u64(txn, self->dbi[DB_META], "acked", self->acked);
    if (rc == 0)
        rc = pw__mdb_rc(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (rc == 0) {
        self->stored_acked = self->acked;
        self->removed = removed;
    }
    return rc;
}

int pw_spool_ack(pw_spool_t *self, uint64_t seq)
{
    if (seq > self->head)
        seq = self->head;
    if (seq <= self->acked)
        return 0;
    self->acked = seq;
    /* Recording answers needs a synced commit; batching them costs at worst
     * a resend after a crash, which the aggregator absorbs. */
    if (self->acked - self->stored_acked >= ACK_BATCH || self->acked == self->head)
        return pw_spool_flush(self);
    return 0;
}
