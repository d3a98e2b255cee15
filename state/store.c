/* SPDX-License-Identifier: MIT */
/*
 * The store's environment and transactions: opening (and converting a format 1
 * store), map growth, begin/commit/abort, the key and cursor helpers the
 * other store_*.c files share, and the plan digest.
 */
#include "store.h"
#include "store_internal.h"

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

static const char *const db_names[DB_COUNT] = {"meta",  "log",  "current", "seqs",  "rates",
                                               "open",  "alerts", "events", "status"};

/* Joins up to three strings with NUL separators into a key. */
size_t pw__store_key(char *buf, const char *a, const char *b, const char *c)
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
int pw__store_walk(MDB_txn *txn, MDB_dbi dbi, int nparts,
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
    size_t klen = pw__store_key((char *)e + 2, parts[0], parts[2], parts[1]);
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
    int rc = pw__store_walk(txn, dbi, 3, keep_v2, &a);
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

int pw__store_put(pw_txn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen,
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
int pw__store_cursor_put(pw_txn_t *t, int db, const void *k, size_t klen, const void *v,
                         size_t vlen)
{
    int rc;
    if (!t->tail[db] &&
        (rc = pw__mdb_rc(mdb_cursor_open(t->txn, t->store->dbi[db], &t->tail[db]))) != 0)
        return rc;
    MDB_val key = pw__mdb_val(k, klen), val = pw__mdb_val(v, vlen);
    return pw__mdb_rc(mdb_cursor_put(t->tail[db], &key, &val, 0));
}

int pw__store_get(pw_txn_t *t, int db, const void *k, size_t klen, MDB_val *val)
{
    MDB_val key = pw__mdb_val(k, klen);
    return pw__mdb_rc(mdb_get(t->txn, t->store->dbi[db], &key, val));
}

int pw_store_get_digest(pw_txn_t *txn, unsigned char digest[32])
{
    MDB_val v;
    int rc = pw__store_get(txn, DB_META, "catalog", 7, &v);
    if (rc != 0)
        return rc;
    if (v.mv_size != 32)
        return PW_EINCOMPAT;
    memcpy(digest, v.mv_data, 32);
    return PW_OK;
}

int pw_store_put_digest(pw_txn_t *txn, const unsigned char digest[32])
{
    return pw__store_put(txn, DB_META, "catalog", 7, digest, 32, 0);
}
