/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lmdb_util.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

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
static const char *const db_names[DB_COUNT] = {"meta",  "log",  "current", "seqs",  "rates",
                                               "open",  "alerts", "events", "status"};

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

/* Joins up to three strings with NUL separators into a key. */
static size_t make_key(char *buf, const char *a, const char *b, const char *c)
{
    size_t n = 0;
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3 && parts[i]; i++) {
        size_t len = strnlen(parts[i], PW_ID_MAX);
        memcpy(buf + n, parts[i], len);
        n += len;
        buf[n++] = '\0';
    }
    return n;
}

/* Splits a NUL-joined key into up to n parts; 0 when it has exactly n. */
static int split_key(const MDB_val *k, const char **parts, int n)
{
    const char *p = k->mv_data, *end = p + k->mv_size;
    for (int i = 0; i < n; i++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            return PW_ESTORE;
        parts[i] = p;
        p = nul + 1;
    }
    return p == end ? 0 : PW_ESTORE;
}

/*
 * Calls fn with every entry of a database, in key order: the key split into
 * its nparts NUL-joined parts (PW_ESTORE for a key that has not exactly
 * that many; nparts 0: not split), and the value. Stops at fn's first
 * non-zero return, which it returns.
 */
static int walk(MDB_txn *txn, MDB_dbi dbi, int nparts,
                int (*fn)(void *ctx, const char *parts[], const MDB_val *v), void *ctx)
{
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int mrc;
    while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        const char *parts[3];
        bool bad = nparts > 0 && split_key(&k, parts, nparts) != 0;
        if ((rc = bad ? PW_ESTORE : fn(ctx, parts, &v)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = pw__mdb_rc(mrc);
    mdb_cursor_close(cur);
    return rc;
}

/* Entries of a conversion: key length, value length, new key, value. */
_Static_assert(KEYMAX <= 255, "a key's length fits the byte of a conversion entry");
struct arena {
    unsigned char *data;
    size_t len, cap, n;
};

static int keep_v2(void *ctx, const char *parts[], const MDB_val *v)
{
    struct arena *a = ctx;
    if (v->mv_size > 255)
        return PW_ESTORE;
    if (a->len + 2 + KEYMAX + v->mv_size > a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 65536;
        unsigned char *d = realloc(a->data, ncap);
        if (!d)
            return -ENOMEM;
        a->data = d;
        a->cap = ncap;
    }
    unsigned char *e = a->data + a->len;
    size_t klen = make_key((char *)e + 2, parts[0], parts[2], parts[1]);
    e[0] = (unsigned char)klen;
    e[1] = (unsigned char)v->mv_size;
    memcpy(e + 2 + klen, v->mv_data, v->mv_size);
    a->len += 2 + klen + v->mv_size;
    a->n++;
    return 0;
}

/*
 * Rewrites a format-1 store's current-value keys in format 2's order, inside
 * the opening transaction, so the conversion is all or nothing. The entries
 * are held in memory meanwhile (about 60 bytes each), once in a store's life.
 */
static int convert_v1(pw_store_t *self, MDB_txn *txn)
{
    MDB_dbi dbi = self->dbi[DB_CURRENT];
    struct arena a = {0};
    int rc = walk(txn, dbi, 3, keep_v2, &a);
    if (rc == 0)
        rc = pw__mdb_rc(mdb_drop(txn, dbi, 0));
    for (size_t off = 0; rc == 0 && off < a.len;) {
        unsigned char *e = a.data + off;
        MDB_val nk = {e[0], e + 2}, nv = {e[1], e + 2 + e[0]};
        rc = pw__mdb_rc(mdb_put(txn, dbi, &nk, &nv, 0));
        off += 2 + (size_t)e[0] + e[1];
    }
    free(a.data);
    if (rc != 0)
        return rc;
    uint32_t fmt = STORE_FORMAT;
    MDB_val fk = pw__mdb_val("format", 6), fv = {sizeof(fmt), &fmt};
    if ((rc = pw__mdb_rc(mdb_put(txn, self->dbi[DB_META], &fk, &fv, 0))) != 0)
        return rc;
    self->format = STORE_FORMAT;
    PW_INFO("store converted to format %u: %zu current values keyed anew", STORE_FORMAT, a.n);
    return 0;
}

int pw_store_open(pw_store_t **out, const char *dir, const pw_store_opts_t *opts)
{
    *out = NULL;
    pw_store_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    int rc;
    MDB_txn *txn = NULL;
    pw_store_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->readonly = opts->readonly;
    self->writer = -1;
    self->dir = strdup(dir);
    if (!self->dir) {
        rc = -ENOMEM;
        goto fail;
    }
    /* One writer at a time, before anything else is touched: LMDB would
     * only serialise two writers' transactions, and both would commit. */
    if (!opts->readonly &&
        ((rc = pw_mkdir_p(dir)) != 0 || (rc = pw__writer_lock(dir, &self->writer)) != 0))
        goto fail;
    if ((rc = pw__mdb_rc(mdb_env_create(&self->env))) != 0)
        goto fail;
    mdb_env_set_maxdbs(self->env, DB_COUNT);
    size_t map_size = opts->map_size ? opts->map_size : (size_t)1 << 30;
    if (!opts->readonly)
        mdb_env_set_mapsize(self->env, map_size);
    unsigned flags = opts->readonly ? MDB_RDONLY : 0;
    rc = opts->readonly ? pw__mdb_rc(mdb_env_open(self->env, dir, flags, 0600))
                        : pw__mdb_env_open_rw(self->env, dir, flags, 0600);
    if (rc != 0)
        goto fail;
    /* A reader left behind by a killed process would pin old pages forever. */
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    if ((rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, flags, &txn))) != 0)
        goto fail;
    for (int i = 0; i < DB_COUNT; i++) {
        unsigned dflags = opts->readonly ? 0 : MDB_CREATE;
        int mrc = mdb_dbi_open(txn, db_names[i], dflags, &self->dbi[i]);
        if (mrc != 0) {
            rc = mrc == MDB_NOTFOUND ? PW_EINCOMPAT : pw__mdb_rc(mrc);
            goto fail;
        }
    }
    MDB_val k = pw__mdb_val("format", 6), v;
    int grc = mdb_get(txn, self->dbi[DB_META], &k, &v);
    if (grc == MDB_SUCCESS) {
        uint32_t fmt;
        if (v.mv_size != sizeof(fmt)) {
            rc = PW_EINCOMPAT;
            goto fail;
        }
        memcpy(&fmt, v.mv_data, sizeof(fmt));
        if (fmt != STORE_FORMAT && fmt != 1) {
            rc = PW_EINCOMPAT;
            goto fail;
        }
        self->format = fmt;
        if (fmt == 1 && !opts->readonly && (rc = convert_v1(self, txn)) != 0)
            goto fail;
    } else if (grc == MDB_NOTFOUND && !opts->readonly) {
        uint32_t fmt = STORE_FORMAT;
        MDB_val nv = {sizeof(fmt), &fmt};
        if ((rc = pw__mdb_rc(mdb_put(txn, self->dbi[DB_META], &k, &nv, 0))) != 0)
            goto fail;
        self->format = STORE_FORMAT;
    } else if (grc != MDB_NOTFOUND) {
        rc = pw__mdb_rc(grc);
        goto fail;
    }
    /* Committing, even a read-only transaction, keeps the database handles
     * open for the environment's lifetime; an abort would close them. */
    if ((rc = pw__mdb_rc(mdb_txn_commit(txn))) != 0) {
        txn = NULL;
        goto fail;
    }
    *out = self;
    return PW_OK;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (self->env)
        mdb_env_close(self->env);
    pw__writer_unlock(&self->writer);
    free(self->dir);
    free(self);
    return rc;
}

void pw_store_busy_text(const char *dir, char *buf, size_t len)
{
    long pid = pw__writer_pid(dir);
    if (pid > 0)
        snprintf(buf, len, "store %s in use by pid %ld", dir, pid);
    else
        snprintf(buf, len, "store %s in use by another process", dir);
}

void pw_store_destroy(pw_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_store_t *self = *self_p;
    mdb_env_close(self->env);
    pw__writer_unlock(&self->writer);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

size_t pw_store_map_size(const pw_store_t *self)
{
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    return info.me_mapsize;
}

int pw_store_grow(pw_store_t *self, size_t max, size_t *size_out)
{
    size_t cur = pw_store_map_size(self);
    size_t next = cur > max / 2 ? max : cur * 2;
    if (next <= cur)
        return PW_ESTOREFULL;
    int rc = pw__mdb_rc(mdb_env_set_mapsize(self->env, next));
    if (rc == 0 && size_out)
        *size_out = next;
    return rc;
}

const char *pw_store_dir(const pw_store_t *self)
{
    return self->dir;
}

int pw_store_begin(pw_store_t *self, bool write, pw_txn_t **out)
{
    *out = NULL;
    if (write && self->readonly)
        return -EROFS;
    pw_txn_t *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->store = self;
    int rc = mdb_txn_begin(self->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and retry once. */
        mdb_env_set_mapsize(self->env, 0);
        rc = mdb_txn_begin(self->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    }
    if (rc != 0) {
        free(t);
        return pw__mdb_rc(rc);
    }
    t->format = self->format;
    MDB_val k = pw__mdb_val("format", 6), v;
    if (!write && mdb_get(t->txn, self->dbi[DB_META], &k, &v) == 0 && v.mv_size == sizeof(uint32_t))
        memcpy(&t->format, v.mv_data, sizeof(uint32_t));
    *out = t;
    return PW_OK;
}

static void txn_free(pw_txn_t *t)
{
    /* Write-txn cursors are freed by the commit or abort itself; nothing to close. */
    pw_buf_free(&t->buf);
    free(t);
}

int pw_store_commit(pw_txn_t **txn_p)
{
    pw_txn_t *t = *txn_p;
    *txn_p = NULL;
    int rc = pw__mdb_rc(mdb_txn_commit(t->txn));
    txn_free(t);
    return rc;
}

void pw_store_abort(pw_txn_t **txn_p)
{
    if (!txn_p || !*txn_p)
        return;
    mdb_txn_abort((*txn_p)->txn);
    txn_free(*txn_p);
    *txn_p = NULL;
}

static int put(pw_txn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen,
               unsigned flags)
{
    MDB_val key = pw__mdb_val(k, klen), val = pw__mdb_val(v, vlen);
    return pw__mdb_rc(mdb_put(t->txn, t->store->dbi[db], &key, &val, flags));
}

/*
 * Puts through the transaction's cursor on db rather than mdb_put(), which
 * sets up a cursor and searches from the root every time: LMDB first looks
 * for the key on the page the cursor was left on, so keys that come near
 * each other cost a search of one page (a fifth of the aggregator's work
 * per update went into these searches).
 */
static int cursor_put(pw_txn_t *t, int db, const void *k, size_t klen, const void *v,
                      size_t vlen)
{
    int rc;
    if (!t->tail[db] &&
        (rc = pw__mdb_rc(mdb_cursor_open(t->txn, t->store->dbi[db], &t->tail[db]))) != 0)
        return rc;
    MDB_val key = pw__mdb_val(k, klen), val = pw__mdb_val(v, vlen);
    return pw__mdb_rc(mdb_cursor_put(t->tail[db], &key, &val, 0));
}

static int get(pw_txn_t *t, int db, const void *k, size_t klen, MDB_val *val)
{
    MDB_val key = pw__mdb_val(k, klen);
    return pw__mdb_rc(mdb_get(t->txn, t->store->dbi[db], &key, val));
}

int pw_store_get_digest(pw_txn_t *txn, unsigned char digest[32])
{
    MDB_val v;
    int rc = get(txn, DB_META, "catalog", 7, &v);
    if (rc != 0)
        return rc;
    if (v.mv_size != 32)
        return PW_EINCOMPAT;
    memcpy(digest, v.mv_data, 32);
    return PW_OK;
}

int pw_store_put_digest(pw_txn_t *txn, const unsigned char digest[32])
{
    return put(txn, DB_META, "catalog", 7, digest, 32, 0);
}

/*
 * Plan versions live in meta under "plan:", the big-endian log sequence from
 * which they apply and the big-endian time they took effect, so they sort in
 * the order they took effect (two revisions between the same records keep
 * both); the value is the catalog's text.
 */
#define PLAN_PREFIX     "plan:"
#define PLAN_PREFIX_LEN 5
#define PLAN_KEY_LEN    (PLAN_PREFIX_LEN + 16)

int pw_store_plan_put(pw_txn_t *txn, uint64_t from, int64_t time_ms, const char *text, size_t len)
{
    unsigned char key[PLAN_KEY_LEN];
    memcpy(key, PLAN_PREFIX, PLAN_PREFIX_LEN);
    pw__put_be64(key + PLAN_PREFIX_LEN, from);
    pw__put_be64(key + PLAN_PREFIX_LEN + 8, (uint64_t)time_ms);
    return put(txn, DB_META, key, sizeof(key), text, len, 0);
}

static int plan_of(const MDB_val *k, const MDB_val *v, pw_store_plan_t *out)
{
    if (k->mv_size != PLAN_KEY_LEN)
        return PW_ESTORE;
    out->from = pw__get_be64((const unsigned char *)k->mv_data + PLAN_PREFIX_LEN);
    out->time_ms = (int64_t)pw__get_be64((const unsigned char *)k->mv_data + PLAN_PREFIX_LEN + 8);
    out->text = v->mv_data;
    out->len = v->mv_size;
    return PW_OK;
}

int pw_store_plan_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_store_plan_t *plan),
                          void *ctx)
{
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_cursor_open(txn->txn, txn->store->dbi[DB_META], &cur));
    if (rc != 0)
        return rc;
    MDB_val k = pw__mdb_val(PLAN_PREFIX, PLAN_PREFIX_LEN), v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == 0 && rc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < PLAN_PREFIX_LEN || memcmp(k.mv_data, PLAN_PREFIX, PLAN_PREFIX_LEN) != 0)
            break;
        pw_store_plan_t plan;
        if ((rc = plan_of(&k, &v, &plan)) == 0)
            rc = fn(ctx, &plan);
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = pw__mdb_rc(mrc);
    mdb_cursor_close(cur);
    return rc;
}

static int keep_plan(void *ctx, const pw_store_plan_t *plan)
{
    *(pw_store_plan_t *)ctx = *plan;
    return PW_OK;
}

int pw_store_plan_latest(pw_txn_t *txn, pw_store_plan_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = pw_store_plan_foreach(txn, keep_plan, out);
    return rc != 0 ? rc : out->text ? PW_OK : PW_ENOTFOUND;
}

/* The last u64 key of a sequence-keyed database, 0 when empty. */
static int last_seq(pw_txn_t *t, int db, uint64_t *out)
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
static int cached_last(pw_txn_t *t, int db, uint64_t *out)
{
    if (!t->known[db]) {
        int rc = last_seq(t, db, &t->last[db]);
        if (rc != 0)
            return rc;
        t->known[db] = true;
    }
    *out = t->last[db];
    return 0;
}

static int append_seq(pw_txn_t *t, int db, const void *v, size_t vlen, uint64_t *seq_out)
{
    uint64_t seq;
    int rc = cached_last(t, db, &seq);
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
    return append_seq(txn, DB_LOG, txn->buf.data, txn->buf.len, seq_out);
}

int pw_store_log_append_raw(pw_txn_t *txn, const void *data, size_t len, uint64_t *seq_out)
{
    return append_seq(txn, DB_LOG, data, len, seq_out);
}

int pw_store_log_head(pw_txn_t *txn, uint64_t *out)
{
    return last_seq(txn, DB_LOG, out);
}

/* Walks a sequence-keyed database from `from` to `to`, at most max entries. */
static int seq_foreach(pw_txn_t *t, int db, uint64_t from, uint64_t to, size_t max,
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
    return seq_foreach(txn, DB_LOG, from, to, SIZE_MAX, log_cb, &lc);
}

int pw_store_log_foreach_raw(pw_txn_t *txn, uint64_t from, uint64_t to,
                             int (*fn)(void *ctx, uint64_t seq, const pw_msg_t *rec,
                                       const void *raw, size_t len),
                             void *ctx)
{
    struct log_ctx lc = {NULL, fn, ctx};
    return seq_foreach(txn, DB_LOG, from, to, SIZE_MAX, log_cb, &lc);
}

struct current_val {
    double value;
    uint64_t logseq;
};

static size_t current_key(uint32_t format, char *buf, const char *district,
                          const char *element, pw_period_t p)
{
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(p, ptext);
    return format == 1 ? make_key(buf, district, element, ptext)
                           : make_key(buf, district, ptext, element);
}

int pw_store_current_get(pw_txn_t *txn, const char *district, const char *element,
                         pw_period_t period, double *value_out, uint64_t *logseq_out)
{
    char key[KEYMAX];
    size_t klen = current_key(txn->format, key, district, element, period);
    MDB_val v;
    int rc = get(txn, DB_CURRENT, key, klen, &v);
    if (rc != 0)
        return rc;
    struct current_val cv;
    if (v.mv_size != sizeof(cv))
        return PW_ESTORE;
    memcpy(&cv, v.mv_data, sizeof(cv));
    if (value_out)
        *value_out = cv.value;
    if (logseq_out)
        *logseq_out = cv.logseq;
    return PW_OK;
}

int pw_store_current_put(pw_txn_t *txn, const char *district, const char *element,
                         pw_period_t period, double value, uint64_t logseq)
{
    char key[KEYMAX];
    size_t klen = current_key(txn->format, key, district, element, period);
    struct current_val cv = {value, logseq};
    /* A district's updates come element after element of a period: next to
     * each other in this table. */
    return cursor_put(txn, DB_CURRENT, key, klen, &cv, sizeof(cv));
}

struct current_ctx {
    int (*fn)(void *ctx, const char *district, const char *element, pw_period_t period,
              double value);
    void *ctx;
    int pi; /* the part that is the period: 1 in format 2, 2 in format 1 */
};

static int current_cb(void *ctx, const char *parts[], const MDB_val *v)
{
    struct current_ctx *cc = ctx;
    struct current_val cv;
    pw_period_t p;
    if (v->mv_size != sizeof(cv) || pw_period_parse(parts[cc->pi], strlen(parts[cc->pi]), &p) != 0)
        return PW_ESTORE;
    memcpy(&cv, v->mv_data, sizeof(cv));
    return cc->fn(cc->ctx, parts[0], parts[3 - cc->pi], p, cv.value);
}

int pw_store_current_foreach(pw_txn_t *txn,
                             int (*fn)(void *ctx, const char *district, const char *element,
                                       pw_period_t period, double value),
                             void *ctx)
{
    struct current_ctx cc = {fn, ctx, txn->format == 1 ? 2 : 1};
    return walk(txn->txn, txn->store->dbi[DB_CURRENT], 3, current_cb, &cc);
}

static size_t seq_key(char *buf, const char *district, uint64_t epoch)
{
    size_t n = make_key(buf, district, NULL, NULL);
    pw__put_be64((unsigned char *)buf + n, epoch);
    return n + 8;
}

int pw_store_seq_get(pw_txn_t *txn, const char *district, uint64_t epoch, uint64_t *seq_out,
                     int64_t *seen_out)
{
    char key[KEYMAX];
    size_t klen = seq_key(key, district, epoch);
    MDB_val v;
    *seq_out = 0;
    if (seen_out)
        *seen_out = 0;
    int rc = get(txn, DB_SEQS, key, klen, &v);
    if (rc == PW_ENOTFOUND)
        return PW_OK;
    if (rc != 0)
        return rc;
    if (v.mv_size != 16)
        return PW_ESTORE;
    *seq_out = pw__get_be64(v.mv_data);
    if (seen_out)
        *seen_out = (int64_t)pw__get_be64((const unsigned char *)v.mv_data + 8);
    return PW_OK;
}

int pw_store_seq_put(pw_txn_t *txn, const char *district, uint64_t epoch, uint64_t seq,
                     int64_t seen_ms)
{
    char key[KEYMAX];
    size_t klen = seq_key(key, district, epoch);
    unsigned char v[16];
    pw__put_be64(v, seq);
    pw__put_be64(v + 8, (uint64_t)seen_ms);
    return put(txn, DB_SEQS, key, klen, v, sizeof(v), 0);
}

static int put_event(pw_txn_t *t, int db, const void *key, size_t klen, const pw_event_t *ev)
{
    int rc = pw_event_encode(ev, &t->buf);
    if (rc != 0)
        return rc;
    return cursor_put(t, db, key, klen, t->buf.data, t->buf.len);
}

struct ev_ctx {
    int (*fn)(void *ctx, const pw_event_t *ev);
    void *ctx;
};

static int decode_and_call(struct ev_ctx *ec, const MDB_val *v)
{
    pw_event_t ev;
    if (pw_event_decode(v->mv_data, v->mv_size, &ev) != 0)
        return PW_ESTORE;
    return ec->fn(ec->ctx, &ev);
}

static int event_cb(void *ctx, const char *parts[], const MDB_val *v)
{
    (void)parts;
    return decode_and_call(ctx, v);
}

/* Walks every value of a database as an event. */
static int events_all(pw_txn_t *t, int db, int (*fn)(void *ctx, const pw_event_t *ev),
                      void *ctx)
{
    struct ev_ctx ec = {fn, ctx};
    return walk(t->txn, t->store->dbi[db], 0, event_cb, &ec);
}

static size_t rate_key(char *key, const pw_event_t *ev)
{
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(ev->period, ptext);
    return make_key(key, ev->indicator, ev->series, ptext);
}

int pw_store_rate_put(pw_txn_t *txn, const pw_event_t *ev)
{
    char key[KEYMAX];
    size_t klen = rate_key(key, ev);
    return put_event(txn, DB_RATES, key, klen, ev);
}

int pw_store_rate_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx)
{
    return events_all(txn, DB_RATES, fn, ctx);
}

int pw_store_open_put(pw_txn_t *txn, const pw_event_t *ev)
{
    char key[KEYMAX];
    size_t klen = make_key(key, ev->indicator, ev->series, NULL);
    return put_event(txn, DB_OPEN, key, klen, ev);
}

int pw_store_open_del(pw_txn_t *txn, const char *indicator, const char *series)
{
    char key[KEYMAX];
    size_t klen = make_key(key, indicator, series, NULL);
    MDB_val k = {klen, key};
    int rc = pw__mdb_rc(mdb_del(txn->txn, txn->store->dbi[DB_OPEN], &k, NULL));
    return rc == PW_ENOTFOUND ? PW_OK : rc;
}

int pw_store_open_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx)
{
    return events_all(txn, DB_OPEN, fn, ctx);
}

int pw_store_alert_append(pw_txn_t *txn, const pw_event_t *ev)
{
    int rc = pw_event_encode(ev, &txn->buf);
    if (rc != 0)
        return rc;
    return append_seq(txn, DB_ALERTS, txn->buf.data, txn->buf.len, NULL);
}

int pw_store_alert_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx)
{
    return events_all(txn, DB_ALERTS, fn, ctx);
}

int pw_store_event_append(pw_txn_t *txn, pw_event_t *ev)
{
    uint64_t seq;
    int rc = cached_last(txn, DB_EVENTS, &seq);
    if (rc != 0)
        return rc;
    ev->seq = seq + 1; /* the event carries it: append_seq() numbers it the same */
    if ((rc = pw_event_encode(ev, &txn->buf)) != 0)
        return rc;
    return append_seq(txn, DB_EVENTS, txn->buf.data, txn->buf.len, NULL);
}

int pw_store_event_head(pw_txn_t *txn, uint64_t *out)
{
    return last_seq(txn, DB_EVENTS, out);
}

static int event_seq_cb(void *ctx, uint64_t seq, const MDB_val *v)
{
    (void)seq;
    return decode_and_call(ctx, v);
}

int pw_store_event_foreach(pw_txn_t *txn, uint64_t from, uint64_t to, size_t max,
                           int (*fn)(void *ctx, const pw_event_t *ev), void *ctx)
{
    struct ev_ctx ec = {fn, ctx};
    return seq_foreach(txn, DB_EVENTS, from, to, max, event_seq_cb, &ec);
}

/* A status row on disk: fixed-width big-endian fields. */
#define STATUS_SIZE 32

int pw_store_status_put(pw_txn_t *txn, const pw_district_status_t *st)
{
    char key[KEYMAX];
    size_t klen = make_key(key, st->district, NULL, NULL);
    unsigned char v[STATUS_SIZE];
    pw__put_be64(v, st->epoch);
    pw__put_be64(v + 8, st->last_seq);
    pw__put_be64(v + 16, (uint64_t)st->last_seen_ms);
    pw__put_be64(v + 24, st->lag);
    return put(txn, DB_STATUS, key, klen, v, sizeof(v), 0);
}

struct status_ctx {
    int (*fn)(void *ctx, const pw_district_status_t *st);
    void *ctx;
};

static int status_cb(void *ctx, const char *parts[], const MDB_val *v)
{
    struct status_ctx *sc = ctx;
    if (v->mv_size != STATUS_SIZE)
        return PW_ESTORE;
    pw_district_status_t st;
    memset(&st, 0, sizeof(st));
    snprintf(st.district, sizeof(st.district), "%s", parts[0]);
    const unsigned char *b = v->mv_data;
    st.epoch = pw__get_be64(b);
    st.last_seq = pw__get_be64(b + 8);
    st.last_seen_ms = (int64_t)pw__get_be64(b + 16);
    st.lag = pw__get_be64(b + 24);
    return sc->fn(sc->ctx, &st);
}

int pw_store_status_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_district_status_t *st),
                            void *ctx)
{
    struct status_ctx sc = {fn, ctx};
    return walk(txn->txn, txn->store->dbi[DB_STATUS], 1, status_cb, &sc);
}

int pw_store_persist_event(pw_txn_t *txn, pw_event_t *ev)
{
    int rc = pw_store_event_append(txn, ev);
    if (rc != 0)
        return rc;
    if (ev->type == PW_EV_RATE) {
        /* The latest rate is the event just appended, byte for byte: its
         * encoding is still in the buffer. */
        char key[KEYMAX];
        size_t klen = rate_key(key, ev);
        return cursor_put(txn, DB_RATES, key, klen, txn->buf.data, txn->buf.len);
    }
    if (ev->action == PW_ALERT_UPDATE) /* the open alert's figures, not a new state */
        return pw_store_open_put(txn, ev);
    if ((rc = pw_store_alert_append(txn, ev)) != 0)
        return rc;
    if (ev->action == PW_ALERT_OPEN)
        return pw_store_open_put(txn, ev);
    return pw_store_open_del(txn, ev->indicator, ev->series);
}
