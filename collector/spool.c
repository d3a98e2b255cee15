/* SPDX-License-Identifier: MIT */
#include "spool.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_util.h"
#include "pw/error.h"
#include "pw/util.h"

/* Answers recorded per transaction. Each record is a synced commit, and
 * losing the last ones in a crash costs only their resending, which the
 * aggregator absorbs as duplicates: so they are recorded rarely. */
#define ACK_BATCH  8192
#define REMOVE_MIN 512   /* answered updates removed together at least */
#define REMOVE_MAX 65536 /* answered updates left in the spool at most */

enum { DB_META, DB_PENDING, DB_LAST, DB_REJECTED, DB_COUNT };
static const char *const db_names[DB_COUNT] = {"meta", "pending", "last", "rejected"};

struct pw_spool {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    char district[PW_ID_MAX];
    uint64_t epoch;
    uint64_t head;   /* highest seq spooled */
    uint64_t acked;  /* answered, in memory */
    uint64_t stored_acked; /* answered, on disk */
    uint64_t removed;      /* every update up to it is gone from pending */
    uint64_t remove_batch; /* answered updates left in pending before removal */
    uint64_t max_pending;  /* the spool's bound, in updates */
    bool has_rejected;     /* "rejected" may hold records: changed values clear theirs */
    bool resending;        /* pw_spool_resend(): spool values even when unchanged */
    pw_buf_t buf;
    /* What every stored update of this spool starts with, up to its sequence
     * number: map header, version, type, district, epoch and the "s" key. */
    unsigned char prefix[48 + PW_ID_MAX];
    size_t prefix_len;
};

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

static int meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t value)
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
            (rc = meta_put_u64(txn, meta, "epoch", self->epoch)) != 0 ||
            (rc = meta_put_u64(txn, meta, "next", 1)) != 0 ||
            (rc = meta_put_u64(txn, meta, "acked", 0)) != 0)
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
static void update_template(const pw_spool_t *self, pw_msg_t *m, int64_t now_ms)
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
    update_template(self, &m, 1);
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

/*
 * A chunk's writer of the last-value table. Data files run period after
 * period, so the period's text is kept from one key to the next. A key above
 * every key in the table is new: it is appended, with no search, filling
 * pages instead of splitting them in half (most keys of a first load).
 */
struct last_table {
    MDB_cursor *cur;
    size_t maxlen;        /* the table's highest key; none when 0 */
    char max[PW_PERIOD_STRMAX + PW_ID_MAX];
    pw_period_t period;   /* of ptext, when plen > 0 */
    size_t plen;
    char ptext[PW_PERIOD_STRMAX];
};

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
static size_t last_key(struct last_table *t, char *buf, const pw_obs_t *o)
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
    MDB_val k = pw__mdb_val(key, last_key(t, key, o));
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
    MDB_val k = pw__mdb_val(key, last_key(t, key, o));
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
    update_template(self, &m, now_ms);
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
        rc = meta_put_u64(txn, self->dbi[DB_META], "next", seq + 1);
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
        rc = meta_put_u64(txn, self->dbi[DB_META], "acked", self->acked);
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

int pw_spool_resend(pw_spool_t *self, const pw_obs_t *obs, size_t n, int64_t now_ms,
                    size_t *added_out)
{
    self->resending = true;
    int rc = pw_spool_add(self, obs, n, now_ms, added_out);
    self->resending = false;
    return rc;
}

/*
 * A rejection record: the value, the reason code and the line, in this
 * machine's layout like the last-value table (a spool never moves between
 * machines), then the reason's text.
 */
#define REJ_HEAD 16

int pw_spool_reject(pw_spool_t *self, const pw_spool_rejection_t *rej, size_t n)
{
    if (n == 0)
        return 0;
    MDB_txn *txn;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    struct last_table t = {0};
    for (size_t i = 0; i < n && rc == 0; i++) {
        pw_obs_t o = {.period = rej[i].period, .element = rej[i].element, .value = rej[i].value};
        char key[PW_PERIOD_STRMAX + PW_ID_MAX];
        MDB_val k = pw__mdb_val(key, last_key(&t, key, &o)), v;
        /* Only while the rejected value is still the last one spooled: an
         * answer that comes after a newer value was spooled is about a value
         * the file no longer holds. */
        int mrc = mdb_get(txn, self->dbi[DB_LAST], &k, &v);
        double last;
        if (mrc == MDB_NOTFOUND)
            continue;
        if (mrc != 0) {
            rc = pw__mdb_rc(mrc);
            break;
        }
        if (v.mv_size != sizeof(last))
            continue;
        memcpy(&last, v.mv_data, sizeof(last));
        if (last != rej[i].value)
            continue;
        unsigned char rec[REJ_HEAD + sizeof(rej[i].text)];
        size_t tlen = strnlen(rej[i].text, sizeof(rej[i].text) - 1);
        int32_t reason = rej[i].reason, line = rej[i].line;
        memcpy(rec, &rej[i].value, 8);
        memcpy(rec + 8, &reason, 4);
        memcpy(rec + 12, &line, 4);
        memcpy(rec + REJ_HEAD, rej[i].text, tlen);
        v = pw__mdb_val(rec, REJ_HEAD + tlen);
        rc = pw__mdb_rc(mdb_put(txn, self->dbi[DB_REJECTED], &k, &v, 0));
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = pw__mdb_rc(mdb_txn_commit(txn))) == 0)
        self->has_rejected = true;
    return rc;
}

int pw_spool_rejected(pw_spool_t *self, const pw_obs_t *obs, size_t n,
                      void (*fn)(void *ctx, const pw_obs_t *o, const pw_spool_rejection_t *rej),
                      void *ctx, size_t *found_out)
{
    size_t found = 0;
    if (found_out)
        *found_out = 0;
    if (!self->has_rejected || n == 0)
        return 0;
    MDB_txn *txn;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn));
    if (rc != 0)
        return rc;
    struct last_table t = {0};
    for (size_t i = 0; i < n; i++) {
        char key[PW_PERIOD_STRMAX + PW_ID_MAX];
        MDB_val k = pw__mdb_val(key, last_key(&t, key, &obs[i])), v;
        int mrc = mdb_get(txn, self->dbi[DB_REJECTED], &k, &v);
        if (mrc == MDB_NOTFOUND)
            continue;
        if (mrc != 0) {
            rc = pw__mdb_rc(mrc);
            break;
        }
        pw_spool_rejection_t rej;
        const unsigned char *p = v.mv_data;
        if (v.mv_size < REJ_HEAD || v.mv_size > REJ_HEAD + sizeof(rej.text) - 1) {
            rc = PW_ESTORE;
            break;
        }
        memcpy(&rej.value, p, 8);
        if (rej.value != obs[i].value)
            continue; /* the line was changed: it is spooled anew */
        rej.period = obs[i].period;
        snprintf(rej.element, sizeof(rej.element), "%s", obs[i].element);
        int32_t reason, line;
        memcpy(&reason, p + 8, 4);
        memcpy(&line, p + 12, 4);
        rej.reason = reason;
        rej.line = line;
        memcpy(rej.text, p + REJ_HEAD, v.mv_size - REJ_HEAD);
        rej.text[v.mv_size - REJ_HEAD] = '\0';
        found++;
        if (fn)
            fn(ctx, &obs[i], &rej);
    }
    mdb_txn_abort(txn);
    if (found_out)
        *found_out = found;
    return rc;
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
        (rc = meta_put_u64(txn, meta, "epoch", epoch)) != 0 ||
        (rc = meta_put_u64(txn, meta, "next", 1)) != 0 ||
        (rc = meta_put_u64(txn, meta, "acked", 0)) != 0) {
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
