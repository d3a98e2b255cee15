/* SPDX-License-Identifier: MIT */
/*
 * The notifier's outbox: an LMDB environment of its own, one database "msgs".
 *
 *   key   decision id, NUL, receiver name
 *   value version u8 (1), state u8, type u8, 0 u8, attempts u32,
 *         next_ms i64, done_ms i64, target_len u32, ctype_len u32,
 *         body_len u32, target, content type, body (all big-endian)
 *
 * Messages stay after they were sent (state sent, done_ms the time) so that
 * a decision submitted again is known and not sent twice; they are pruned
 * once older than the keep time, when the outbox is opened.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "lmdb_util.h"
#include "notify_internal.h"
#include "pw/util.h"

#define HDR     36
#define VERSION 1

struct pw__outbox {
    MDB_env *env;
    MDB_dbi dbi;
    int lock_fd;
};

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The fixed part of a value; the variable part is only written on add. */
static void put_header(unsigned char *h, const pw__msg_t *m, size_t tl, size_t cl, size_t bl)
{
    h[0] = VERSION;
    h[1] = (unsigned char)m->state;
    h[2] = (unsigned char)m->type;
    h[3] = 0;
    put32(h + 4, m->attempts);
    pw__put_be64(h + 8, (uint64_t)m->next_ms);
    pw__put_be64(h + 16, (uint64_t)m->done_ms);
    put32(h + 24, (uint32_t)tl);
    put32(h + 28, (uint32_t)cl);
    put32(h + 32, (uint32_t)bl);
}

/* Reads the fixed part; false for a value this version cannot read. */
static bool get_header(const MDB_val *v, pw__msg_t *m, size_t *tl, size_t *cl, size_t *bl)
{
    const unsigned char *h = v->mv_data;
    if (v->mv_size < HDR || h[0] != VERSION)
        return false;
    m->state = (pw__msg_state_t)h[1];
    m->type = (pw__rcv_type_t)h[2];
    m->attempts = get32(h + 4);
    m->next_ms = (int64_t)pw__get_be64(h + 8);
    m->done_ms = (int64_t)pw__get_be64(h + 16);
    *tl = get32(h + 24);
    *cl = get32(h + 28);
    *bl = get32(h + 32);
    return HDR + *tl + *cl + *bl == v->mv_size;
}

/* Removes what was sent before cutoff and counts what is pending. */
static int prune(pw__outbox_t *self, MDB_txn *txn, int64_t cutoff, uint64_t *pending_out)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t pending = 0;
    int rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi, &cur));
    if (rc != 0)
        return rc;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0) {
        pw__msg_t m;
        size_t tl, cl, bl;
        memset(&m, 0, sizeof(m));
        bool ok = get_header(&v, &m, &tl, &cl, &bl);
        if (ok && m.state == PW__MSG_PENDING) {
            pending++;
        } else if (ok && m.done_ms < cutoff) {
            if ((mrc = mdb_cursor_del(cur, 0)) != 0)
                break;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (mrc != MDB_NOTFOUND)
        return pw__mdb_rc(mrc);
    *pending_out = pending;
    return 0;
}

int pw__outbox_open(const char *dir, int64_t now_ms, int64_t keep_ms, pw__outbox_t **out,
                    uint64_t *pending_out)
{
    MDB_txn *txn = NULL;
    int rc;
    *out = NULL;
    pw__outbox_t *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return -ENOMEM;
    self->lock_fd = -1;
    if ((rc = pw_mkdir_p(dir)) != 0 || (rc = pw__writer_lock(dir, &self->lock_fd)) != 0)
        goto cleanup;
    if ((rc = pw__mdb_rc(mdb_env_create(&self->env))) != 0)
        goto cleanup;
    mdb_env_set_maxdbs(self->env, 2);
    /* Messages are a few KiB; 256 MiB is room for a month of busy days. */
    mdb_env_set_mapsize(self->env, (size_t)256 << 20);
    /* The submitting thread and the sender both open transactions. */
    if ((rc = pw__mdb_env_open_rw(self->env, dir, MDB_NOTLS, 0600)) != 0)
        goto cleanup;
    int dead;
    mdb_reader_check(self->env, &dead);
    if ((rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn))) != 0 ||
        (rc = pw__mdb_rc(mdb_dbi_open(txn, "msgs", MDB_CREATE, &self->dbi))) != 0 ||
        (rc = prune(self, txn, now_ms - keep_ms, pending_out)) != 0)
        goto cleanup;
    rc = pw__mdb_rc(mdb_txn_commit(txn));
    txn = NULL;
    if (rc != 0)
        goto cleanup;
    *out = self;
    self = NULL;
cleanup:
    if (txn)
        mdb_txn_abort(txn);
    pw__outbox_destroy(&self);
    return rc;
}

int pw__outbox_prune(pw__outbox_t *self, int64_t now_ms, int64_t keep_ms)
{
    MDB_txn *txn = NULL;
    uint64_t pending = 0;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc == 0 && (rc = prune(self, txn, now_ms - keep_ms, &pending)) == 0) {
        rc = pw__mdb_rc(mdb_txn_commit(txn));
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

void pw__outbox_destroy(pw__outbox_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    pw__outbox_t *self = *self_p;
    if (self->env)
        mdb_env_close(self->env);
    pw__writer_unlock(&self->lock_fd);
    free(self);
    *self_p = NULL;
}

int pw__outbox_add(pw__outbox_t *self, const pw__msg_t *msgs, size_t n, size_t *existing_out)
{
    MDB_txn *txn = NULL;
    size_t existing = 0;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const pw__msg_t *m = &msgs[i];
        size_t tl = strlen(m->target), cl = strlen(m->ctype), bl = m->bodylen;
        MDB_val k = pw__mdb_val(m->key, m->keylen);
        MDB_val v = {.mv_size = HDR + tl + cl + bl, .mv_data = NULL};
        int mrc = mdb_put(txn, self->dbi, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
        if (mrc == MDB_KEYEXIST) {
            existing++;
            continue;
        }
        if ((rc = pw__mdb_rc(mrc)) != 0)
            break;
        unsigned char *p = v.mv_data;
        put_header(p, m, tl, cl, bl);
        memcpy(p + HDR, m->target, tl);
        memcpy(p + HDR + tl, m->ctype, cl);
        memcpy(p + HDR + tl + cl, m->body, bl);
    }
    if (rc == 0) {
        rc = pw__mdb_rc(mdb_txn_commit(txn));
    } else {
        mdb_txn_abort(txn);
    }
    if (rc == 0)
        *existing_out = existing;
    return rc;
}

static char *dup_n(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static int copy_msg(const MDB_val *k, const MDB_val *v, pw__msg_t *m, size_t tl, size_t cl,
                    size_t bl)
{
    const char *p = (const char *)v->mv_data + HDR;
    m->key = dup_n(k->mv_data, k->mv_size);
    m->keylen = k->mv_size;
    m->target = dup_n(p, tl);
    m->ctype = dup_n(p + tl, cl);
    m->body = dup_n(p + tl + cl, bl);
    m->bodylen = bl;
    if (!m->key || !m->target || !m->ctype || !m->body) {
        pw__msg_free(m);
        return -ENOMEM;
    }
    return 0;
}

int pw__outbox_due(pw__outbox_t *self, int64_t now_ms, pw__msg_t *out, size_t max, size_t *n_out,
                   int64_t *next_ms_out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t n = 0;
    int64_t next = INT64_MAX;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn));
    if (rc != 0)
        goto cleanup;
    if ((rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi, &cur))) != 0)
        goto cleanup;
    /* A full scan: sent messages are few (a month of decisions), and this
     * runs only when something is due or was submitted. */
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        pw__msg_t m;
        size_t tl, cl, bl;
        memset(&m, 0, sizeof(m));
        if (!get_header(&v, &m, &tl, &cl, &bl) || m.state != PW__MSG_PENDING)
            continue;
        if (m.next_ms > now_ms || (n == max && m.next_ms >= out[n - 1].next_ms)) {
            next = m.next_ms < next ? m.next_ms : next;
            continue;
        }
        /* Keep the max earliest, in order: receivers hear of decisions in
         * the order they were taken, whatever their ids sort like. */
        if (n == max) {
            next = out[n - 1].next_ms < next ? out[n - 1].next_ms : next;
            pw__msg_free(&out[--n]);
        }
        if ((rc = copy_msg(&k, &v, &m, tl, cl, bl)) != 0)
            goto cleanup;
        size_t i = n++;
        for (; i > 0 && out[i - 1].next_ms > m.next_ms; i--)
            out[i] = out[i - 1];
        out[i] = m;
    }
    if (mrc != MDB_NOTFOUND)
        rc = pw__mdb_rc(mrc);
cleanup:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    if (rc != 0) {
        while (n > 0)
            pw__msg_free(&out[--n]);
    }
    *n_out = n;
    *next_ms_out = next;
    return rc;
}

int pw__outbox_update(pw__outbox_t *self, const pw__msg_t *msg)
{
    MDB_txn *txn = NULL;
    MDB_val k = pw__mdb_val(msg->key, msg->keylen), v;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    if ((rc = pw__mdb_rc(mdb_get(txn, self->dbi, &k, &v))) != 0)
        goto cleanup;
    pw__msg_t old;
    size_t tl, cl, bl;
    memset(&old, 0, sizeof(old));
    if (!get_header(&v, &old, &tl, &cl, &bl)) {
        rc = PW_ESTORE;
        goto cleanup;
    }
    /* Rewrite in place: the value keeps its size, only the header changes. */
    unsigned char *copy = malloc(v.mv_size);
    if (copy == NULL) {
        rc = -ENOMEM;
        goto cleanup;
    }
    memcpy(copy, v.mv_data, v.mv_size);
    put_header(copy, msg, tl, cl, bl);
    MDB_val nv = {.mv_size = v.mv_size, .mv_data = copy};
    rc = pw__mdb_rc(mdb_put(txn, self->dbi, &k, &nv, 0));
    free(copy);
    if (rc == 0) {
        rc = pw__mdb_rc(mdb_txn_commit(txn));
        txn = NULL;
    }
cleanup:
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

void pw__msg_free(pw__msg_t *msg)
{
    free(msg->key);
    free(msg->target);
    free(msg->ctype);
    free(msg->body);
    memset(msg, 0, sizeof(*msg));
}
