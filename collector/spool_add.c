/* SPDX-License-Identifier: MIT */
/* The spool's adding: new or changed values numbered in sequence and stored as updates. */
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

static int last_table_open(struct last_table *t, MDB_txn *txn, MDB_dbi dbi)
{
    memset(t, 0, sizeof(*t));
    int rc = pw__mdb_rc(mdb_cursor_open(txn, dbi, &t->cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(t->cur, &k, &v, MDB_LAST);
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc != 0)
        return pw__mdb_rc(mrc);
    if (k.mv_size == 0 || k.mv_size > sizeof(t->max))
        return PW_ESTORE;
    memcpy(t->max, k.mv_data, t->maxlen = k.mv_size);
    return 0;
}

/* Whether key sorts after the highest key, in LMDB's default order. */
static bool above_max(const struct last_table *t, const char *key, size_t len)
{
    if (t->maxlen == 0)
        return true;
    int c = memcmp(key, t->max, len < t->maxlen ? len : t->maxlen);
    return c > 0 || (c == 0 && len > t->maxlen);
}

/* "period\0element" into buf; its length. */
size_t pw__spool_last_key(struct last_table *t, char *buf, const pw_obs_t *o)
{
    if (t->plen == 0 || !pw_period_eq(t->period, o->period)) {
        pw_period_format(o->period, t->ptext);
        t->plen = strlen(t->ptext);
        t->period = o->period;
    }
    size_t b = strnlen(o->element, PW_ID_MAX);
    memcpy(buf, t->ptext, t->plen);
    buf[t->plen] = '\0';
    memcpy(buf + t->plen + 1, o->element, b);
    return t->plen + 1 + b;
}

/* Records o's value as the last one spooled; *changed: it was new or different. */
static int put_last(struct last_table *t, const pw_obs_t *o, bool *changed)
{
    char key[PW_PERIOD_STRMAX + PW_ID_MAX];
    MDB_val k = pw__mdb_val(key, pw__spool_last_key(t, key, o));
    MDB_val v = pw__mdb_val(&o->value, sizeof(double));
    *changed = true;
    if (above_max(t, key, k.mv_size)) {
        memcpy(t->max, key, t->maxlen = k.mv_size);
        return pw__mdb_rc(mdb_cursor_put(t->cur, &k, &v, MDB_APPEND));
    }
    /* Inserting costs one search for a new key; an existing one comes back
     * in v, with the cursor on it to overwrite in place. */
    int prc = mdb_cursor_put(t->cur, &k, &v, MDB_NOOVERWRITE);
    if (prc == MDB_KEYEXIST) {
        double old;
        if (v.mv_size == sizeof(old)) {
            memcpy(&old, v.mv_data, sizeof(old));
            if (old == o->value) {
                *changed = false; /* already spooled with this value */
                return 0;
            }
        }
        v = pw__mdb_val(&o->value, sizeof(double));
        prc = mdb_cursor_put(t->cur, &k, &v, MDB_CURRENT);
    }
    return pw__mdb_rc(prc);
}

/* A value spooled anew gets its own answer: a rejection of an earlier
 * value of the same period and element no longer applies. */
static int forget_rejected(pw_spool_t *self, MDB_txn *txn, struct last_table *t,
                           const pw_obs_t *o)
{
    char key[PW_PERIOD_STRMAX + PW_ID_MAX];
    MDB_val k = pw__mdb_val(key, pw__spool_last_key(t, key, o));
    int mrc = mdb_del(txn, self->dbi[DB_REJECTED], &k, NULL);
    return mrc == MDB_NOTFOUND ? 0 : pw__mdb_rc(mrc);
}

#define ADD_CHUNK 16384 /* observations per spool transaction at most */

/* Spools one chunk in one transaction; *added_out counts what it committed. */
static int add_chunk(pw_spool_t *self, const pw_obs_t *obs, size_t n, int64_t now_ms,
                     size_t *added_out)
{
    MDB_txn *txn;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    uint64_t seq = self->head;
    size_t added = 0;
    bool full = false;
    /* A cursor per DB for the whole chunk: mdb_put() would set one up for
     * every call. */
    struct last_table last;
    MDB_cursor *pend = NULL;
    if ((rc = last_table_open(&last, txn, self->dbi[DB_LAST])) != 0 ||
        (rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi[DB_PENDING], &pend))) != 0) {
        mdb_txn_abort(txn); /* closes the cursors */
        return rc;
    }
    /* The message's fixed part, once per chunk rather than per observation. */
    pw_msg_t m;
    pw__spool_update_template(self, &m, now_ms);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (seq - self->acked >= self->max_pending) {
            full = true;
            break;
        }
        bool changed;
        if ((rc = put_last(&last, &obs[i], &changed)) != 0)
            break;
        if (!changed && !self->resending)
            continue;
        if (self->has_rejected && (rc = forget_rejected(self, txn, &last, &obs[i])) != 0)
            break;
        m.seq = ++seq;
        size_t elen = strnlen(obs[i].element, sizeof(m.element) - 1);
        memcpy(m.element, obs[i].element, elen);
        m.element[elen] = '\0';
        m.period = obs[i].period;
        m.value = obs[i].value;
        if ((rc = pw_msg_encode(&m, &self->buf)) != 0)
            break;
        unsigned char sk[8];
        pw__put_be64(sk, seq);
        MDB_val skv = pw__mdb_val(sk, 8), val = pw__mdb_val(self->buf.data, self->buf.len);
        /* Sequence keys only grow (big-endian): appending skips the search. */
        rc = pw__mdb_rc(mdb_cursor_put(pend, &skv, &val, MDB_APPEND));
        added++;
    }
    mdb_cursor_close(pend);
    mdb_cursor_close(last.cur);
    if (rc == 0 && added)
        rc = pw__spool_meta_put_u64(txn, self->dbi[DB_META], "next", seq + 1);
    if (rc != 0 || !added) {
        mdb_txn_abort(txn);
        return rc != 0 ? rc : (full ? PW_ESTOREFULL : 0);
    }
    if ((rc = pw__mdb_rc(mdb_txn_commit(txn))) != 0)
        return rc;
    self->head = seq;
    *added_out += added;
    return full ? PW_ESTOREFULL : 0;
}

int pw_spool_add(pw_spool_t *self, const pw_obs_t *obs, size_t n, int64_t now_ms,
                 size_t *added_out)
{
    size_t added = 0;
    int rc = 0;
    /* Chunks, so that a spool with room for only part of a file takes that
     * part now and the rest (found again by the same comparison) later. */
    for (size_t i = 0; i < n && rc == 0; i += ADD_CHUNK)
        rc = add_chunk(self, obs + i, n - i < ADD_CHUNK ? n - i : ADD_CHUNK, now_ms, &added);
    if (added_out)
        *added_out = added;
    return rc;
}

int pw_spool_resend(pw_spool_t *self, const pw_obs_t *obs, size_t n, int64_t now_ms,
                    size_t *added_out)
{
    self->resending = true;
    int rc = pw_spool_add(self, obs, n, now_ms, added_out);
    self->resending = false;
    return rc;
}
