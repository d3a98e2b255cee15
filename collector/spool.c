/* SPDX-License-Identifier: MIT */
/*
 * The spool's environment: opened and checked against its district, its
 * counters, and a restart under a new epoch. Adding is in spool_add.c,
 * reading and acks in spool_read.c, rejections in spool_reject.c.
 */
#include "spool.h"
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

static const char *const db_names[DB_COUNT] = {"meta", "pending", "last", "rejected"};

static int meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *out)
{
    MDB_val k = pw__mdb_val(key, strlen(key)), v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc != 0)
        return pw__mdb_rc(rc);
    if (v.mv_size != 8)
        return PW_ESTORE;
    *out = pw__get_be64(v.mv_data);
    return 0;
}

int pw__spool_meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t value)
{
    unsigned char b[8];
    pw__put_be64(b, value);
    MDB_val k = pw__mdb_val(key, strlen(key)), v = pw__mdb_val(b, 8);
    return pw__mdb_rc(mdb_put(txn, dbi, &k, &v, 0));
}

/* Reads or, in a new spool, writes the identity: district and epoch. */
static int identity(pw_spool_t *self, MDB_txn *txn, const char *district)
{
    MDB_dbi meta = self->dbi[DB_META];
    MDB_val k = pw__mdb_val("district", 8), v;
    int rc = mdb_get(txn, meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        self->epoch = pw_random_u64();
        MDB_val nv = pw__mdb_val(district, strlen(district));
        if ((rc = pw__mdb_rc(mdb_put(txn, meta, &k, &nv, 0))) != 0 ||
            (rc = pw__spool_meta_put_u64(txn, meta, "epoch", self->epoch)) != 0 ||
            (rc = pw__spool_meta_put_u64(txn, meta, "next", 1)) != 0 ||
            (rc = pw__spool_meta_put_u64(txn, meta, "acked", 0)) != 0)
            return rc;
        self->head = self->acked = 0;
        return 0;
    }
    if (rc != 0)
        return pw__mdb_rc(rc);
    if (v.mv_size != strlen(district) || memcmp(v.mv_data, district, v.mv_size) != 0)
        return PW_EINCOMPAT;
    uint64_t next;
    if ((rc = meta_get_u64(txn, meta, "epoch", &self->epoch)) != 0 ||
        (rc = meta_get_u64(txn, meta, "next", &next)) != 0 ||
        (rc = meta_get_u64(txn, meta, "acked", &self->acked)) != 0)
        return rc;
    self->head = next - 1;
    return 0;
}

/* Where the updates still stored start: self->removed is the one before. */
static int first_pending(pw_spool_t *self, MDB_txn *txn)
{
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi[DB_PENDING], &cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (mrc == 0 && k.mv_size == 8)
        self->removed = pw__get_be64(k.mv_data) - 1;
    else if (mrc == MDB_NOTFOUND)
        self->removed = self->head;
    else
        rc = mrc == 0 ? PW_ESTORE : pw__mdb_rc(mrc);
    mdb_cursor_close(cur);
    return rc;
}

/* Whether "rejected" holds records: most spools have none, and then spooling
 * a changed value need not look for one to forget. */
static int rejected_count(pw_spool_t *self, MDB_txn *txn)
{
    MDB_stat st;
    int rc = pw__mdb_rc(mdb_stat(txn, self->dbi[DB_REJECTED], &st));
    if (rc == 0)
        self->has_rejected = st.ms_entries > 0;
    return rc;
}

/* The message's fixed part of an update of this spool. */
void pw__spool_update_template(const pw_spool_t *self, pw_msg_t *m, int64_t now_ms)
{
    memset(m, 0, sizeof(*m));
    m->type = PW_MSG_UPDATE;
    memcpy(m->district, self->district, sizeof(m->district));
    m->epoch = self->epoch;
    m->observed_ms = now_ms;
}

/*
 * Finds the prefix by encoding two updates that differ only in their sequence
 * (1 and 2, one byte each): the first byte where they differ is where the
 * sequence starts. This keeps the encoder's layout knowledge in msg.c.
 */
static int frame_prefix(pw_spool_t *self)
{
    pw_msg_t m;
    pw_buf_t a = {0};
    pw__spool_update_template(self, &m, 1);
    m.seq = 1;
    snprintf(m.element, sizeof(m.element), "x");
    int rc = pw_msg_encode(&m, &a);
    if (rc == 0) {
        m.seq = 2;
        rc = pw_msg_encode(&m, &self->buf);
    }
    if (rc == 0) {
        size_t i = 0;
        while (i < a.len && i < self->buf.len && a.data[i] == self->buf.data[i])
            i++;
        if (i > sizeof(self->prefix) || i == a.len)
            rc = PW_ESTORE;
        else
            memcpy(self->prefix, a.data, self->prefix_len = i);
    }
    pw_buf_free(&a);
    return rc;
}

int pw_spool_open(pw_spool_t **out, const char *dir, const char *district, size_t max_bytes)
{
    *out = NULL;
    int rc;
    MDB_txn *txn = NULL;
    pw_spool_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    snprintf(self->district, sizeof(self->district), "%s", district);
    if ((rc = pw_mkdir_p(dir)) != 0)
        goto fail;
    if ((rc = pw__mdb_rc(mdb_env_create(&self->env))) != 0)
        goto fail;
    mdb_env_set_maxdbs(self->env, DB_COUNT);
    /* The bound is kept in updates (about 256 bytes each with their index
     * and the last-value table), against a map twice that size: the spool
     * never nears LMDB's own limit, where even removing entries can fail. */
    if (!max_bytes)
        max_bytes = (size_t)1 << 30;
    self->max_pending = max_bytes / 256;
    mdb_env_set_mapsize(self->env, 2 * max_bytes + ((size_t)1 << 20));
    if ((rc = pw__mdb_env_open_rw(self->env, dir, 0, 0600)) != 0)
        goto fail;
    int dead;
    mdb_reader_check(self->env, &dead);
    if ((rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn))) != 0)
        goto fail;
    for (int i = 0; i < DB_COUNT; i++)
        if ((rc = pw__mdb_rc(mdb_dbi_open(txn, db_names[i], MDB_CREATE, &self->dbi[i]))) != 0)
            goto fail;
    if ((rc = identity(self, txn, district)) != 0 ||
        (rc = first_pending(self, txn)) != 0 ||
        (rc = rejected_count(self, txn)) != 0)
        goto fail;
    rc = pw__mdb_rc(mdb_txn_commit(txn));
    txn = NULL;
    if (rc != 0)
        goto fail;
    if ((rc = frame_prefix(self)) != 0)
        goto fail;
    self->stored_acked = self->acked;
    /* Answered updates are removed in batches: a bounded number (within the
     * map's margin over max_pending) may linger, and are found here. */
    self->remove_batch = self->max_pending / 4;
    if (self->remove_batch < REMOVE_MIN)
        self->remove_batch = REMOVE_MIN;
    if (self->remove_batch > REMOVE_MAX)
        self->remove_batch = REMOVE_MAX;
    *out = self;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (self->env)
        mdb_env_close(self->env);
    free(self);
    return rc;
}

void pw_spool_destroy(pw_spool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_spool_t *self = *self_p;
    pw_spool_flush(self);
    mdb_env_close(self->env);
    pw_buf_free(&self->buf);
    free(self);
    *self_p = NULL;
}

uint64_t pw_spool_epoch(const pw_spool_t *self)
{
    return self->epoch;
}

uint64_t pw_spool_head(const pw_spool_t *self)
{
    return self->head;
}

uint64_t pw_spool_acked(const pw_spool_t *self)
{
    return self->acked;
}

uint64_t pw_spool_pending(const pw_spool_t *self)
{
    return self->head - self->acked;
}

int pw_spool_restart(pw_spool_t *self)
{
    MDB_txn *txn;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    uint64_t epoch = pw_random_u64();
    MDB_dbi meta = self->dbi[DB_META];
    if ((rc = pw__mdb_rc(mdb_drop(txn, self->dbi[DB_PENDING], 0))) != 0 ||
        (rc = pw__mdb_rc(mdb_drop(txn, self->dbi[DB_LAST], 0))) != 0 ||
        (rc = pw__mdb_rc(mdb_drop(txn, self->dbi[DB_REJECTED], 0))) != 0 ||
        (rc = pw__spool_meta_put_u64(txn, meta, "epoch", epoch)) != 0 ||
        (rc = pw__spool_meta_put_u64(txn, meta, "next", 1)) != 0 ||
        (rc = pw__spool_meta_put_u64(txn, meta, "acked", 0)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = pw__mdb_rc(mdb_txn_commit(txn))) != 0)
        return rc;
    self->epoch = epoch;
    self->head = self->acked = self->stored_acked = self->removed = 0;
    self->has_rejected = false;
    return frame_prefix(self); /* the stored updates start with the epoch */
}
