/* SPDX-License-Identifier: MIT */
/* The store's rates, open alerts, alert history, events and district statuses. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

static int put_event(pw_txn_t *t, int db, const void *key, size_t klen, const pw_event_t *ev)
{
    int rc = pw_event_encode(ev, &t->buf);
    if (rc != 0)
        return rc;
    return pw__store_cursor_put(t, db, key, klen, t->buf.data, t->buf.len);
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
    return pw__store_walk(t->txn, t->store->dbi[db], 0, event_cb, &ec);
}

static size_t rate_key(char *key, const pw_event_t *ev)
{
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(ev->period, ptext);
    return pw__store_key(key, ev->indicator, ev->series, ptext);
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
    size_t klen = pw__store_key(key, ev->indicator, ev->series, NULL);
    return put_event(txn, DB_OPEN, key, klen, ev);
}

int pw_store_open_del(pw_txn_t *txn, const char *indicator, const char *series)
{
    char key[KEYMAX];
    size_t klen = pw__store_key(key, indicator, series, NULL);
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
    return pw__store_append_seq(txn, DB_ALERTS, txn->buf.data, txn->buf.len, NULL);
}

int pw_store_alert_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx)
{
    return events_all(txn, DB_ALERTS, fn, ctx);
}

int pw_store_event_append(pw_txn_t *txn, pw_event_t *ev)
{
    uint64_t seq;
    int rc = pw__store_cached_last(txn, DB_EVENTS, &seq);
    if (rc != 0)
        return rc;
    ev->seq = seq + 1; /* the event carries it: pw__store_append_seq() numbers it the same */
    if ((rc = pw_event_encode(ev, &txn->buf)) != 0)
        return rc;
    return pw__store_append_seq(txn, DB_EVENTS, txn->buf.data, txn->buf.len, NULL);
}

int pw_store_event_head(pw_txn_t *txn, uint64_t *out)
{
    return pw__store_last_seq(txn, DB_EVENTS, out);
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
    return pw__store_seq_foreach(txn, DB_EVENTS, from, to, max, event_seq_cb, &ec);
}

/* A status row on disk: fixed-width big-endian fields. */
#define STATUS_SIZE 32

int pw_store_status_put(pw_txn_t *txn, const pw_district_status_t *st)
{
    char key[KEYMAX];
    size_t klen = pw__store_key(key, st->district, NULL, NULL);
    unsigned char v[STATUS_SIZE];
    pw__put_be64(v, st->epoch);
    pw__put_be64(v + 8, st->last_seq);
    pw__put_be64(v + 16, (uint64_t)st->last_seen_ms);
    pw__put_be64(v + 24, st->lag);
    return pw__store_put(txn, DB_STATUS, key, klen, v, sizeof(v), 0);
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
    return pw__store_walk(txn->txn, txn->store->dbi[DB_STATUS], 1, status_cb, &sc);
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
        return pw__store_cursor_put(txn, DB_RATES, key, klen, txn->buf.data, txn->buf.len);
    }
    if (ev->action == PW_ALERT_UPDATE) /* the open alert's figures, not a new state */
        return pw_store_open_put(txn, ev);
    if ((rc = pw_store_alert_append(txn, ev)) != 0)
        return rc;
    if (ev->action == PW_ALERT_OPEN)
        return pw_store_open_put(txn, ev);
    return pw_store_open_del(txn, ev->indicator, ev->series);
}
