/* SPDX-License-Identifier: MIT */
#include "publisher.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "loader.h"
#include "model.h"
#include "pub_metrics.h"
#include "pw/auth.h"
#include "pw/bureau.h"
#include "pw/endpoint.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/log.h"
#include "pw/prom.h"
#include "pw/util.h"
#include "store.h"

#define PUBLISH_MAX 4096 /* events per round, so requests are served in between */

struct pw_publisher {
    pw_publisher_opts_t opts;
    void *ctx, *pub, *router, *notify;
    pw_store_t *store;
    uint64_t last; /* last event published */
    int64_t next_hb;
    bool store_warned;
    pw_buf_t buf;
    pw_reply_t reply;
    pw_reply_t batch; /* rate events waiting to go out together */
    int64_t last_flush;
    char endpoints[768];
    char pub_ep[256];     /* the stream endpoint as bound, to bind again */
    pw_key_t key;         /* CURVE only: ours, for sockets opened again */
    pw_zap_t *zap;        /* CURVE only: the handshake handler */
    /* Logs the snapshot endpoint's handshakes refused before ZAP sees them.
     * The stream's socket has the metrics' monitor (a socket has one at
     * most); every monitor asks for a snapshot first, so its failures show
     * here, and ZAP logs the refused keys of both. */
    pw_handshake_t *hs;
    pw_keyring_t *ring;   /* CURVE only: the desk keys accepted */
    uint64_t n_refused;   /* requests from keys no longer accepted */
    pw_pub_metrics_t *metrics; /* with --metrics only */
    pw_catalog_t *plan;        /* the plan the store records, once read; owned */
    const pw_catalog_t *cat;   /* what answers use: plan, else opts.catalog */
    int64_t next_metrics;
    pw_model_t *model;    /* the current values, as of model_log and model_head */
    uint64_t model_log, model_head;
};

/* Reads the desk keys. On error the current ones stay in force. *removed:
 * keys of the current ring that are gone. */
static int load_ring(pw_publisher_t *self, size_t *removed)
{
    char dir[4096], err[512] = "";
    snprintf(dir, sizeof(dir), "%s/desks", self->opts.keys_dir);
    pw_keyring_t *ring = NULL;
    int rc = pw_keyring_load(dir, &ring, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("desk keys: %s", err[0] ? err : pw_strerror(rc));
        return rc;
    }
    *removed = 0;
    for (size_t i = 0; i < pw_keyring_size(self->ring); i++)
        if (!pw_keyring_find(ring, pw_keyring_key(self->ring, i)->public_z85))
            (*removed)++;
    PW_INFO("CURVE: %zu desk keys accepted", pw_keyring_size(ring));
    pw_keyring_destroy(&self->ring);
    self->ring = ring;
    return 0;
}

/* Options every stream socket gets, the first time and when opened again. */
static int setup_pub(pw_publisher_t *self, void *sock)
{
    int zero = 0, hwm = 100000;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    /* A subscriber that falls this far behind loses events and refills the
     * gap from the stored log: the publisher itself never blocks. */
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    /* What a subscriber sends are subscriptions, a few bytes; the bound also
     * covers the CURVE handshake's commands, a few hundred bytes. */
    int64_t maxsize = PW_MSG_MAXSIZE;
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    int rc = self->metrics ? pw_pub_metrics_watch(self->metrics, sock) : 0;
    return rc == 0 && self->zap ? pw_curve_server(sock, &self->key) : rc;
}

/*
 * A removed desk key must stop receiving too, but a PUB socket cannot drop
 * one subscriber: open the stream again, so that every subscriber shakes
 * hands anew and the revoked one is refused. Monitors refill the moment's
 * gap from the stored log, as after any reconnect.
 */
static int reopen_pub(pw_publisher_t *self)
{
    void *sock = zmq_socket(self->ctx, ZMQ_PUB);
    if (!sock)
        return -zmq_errno();
    zmq_close(self->pub);
    self->pub = NULL;
    int rc = setup_pub(self, sock);
    /* The old listener goes away asynchronously: retry the bind briefly. */
    for (int i = 0; rc == 0 && zmq_bind(sock, self->pub_ep) != 0; i++) {
        if (zmq_errno() != EADDRINUSE || i == 100) {
            rc = -zmq_errno();
            break;
        }
        zmq_poll(NULL, 0, 10);
    }
    if (rc != 0) {
        zmq_close(sock);
        return rc;
    }
    self->pub = sock;
    return 0;
}

static void reload(pw_publisher_t *self)
{
    size_t removed = 0;
    if (load_ring(self, &removed) != 0) {
        PW_ERROR("keys not reloaded: the previous desk keys stay in force");
        return;
    }
    if (removed == 0)
        return;
    int rc = reopen_pub(self);
    if (rc != 0)
        PW_ERROR("cannot open the stream %s again: %s", self->pub_ep, pw_strerror(rc));
    else
        PW_INFO("%zu desk keys revoked: stream opened again, subscribers re-authenticated",
                removed);
}

/* CURVE with our ZAP handler when there are keys; otherwise ipc:// only, or
 * TCP with a loud --insecure. */
static int secure(pw_publisher_t *self, const char *snap_ep)
{
    if (!self->opts.keys_dir) {
        int rc = pw_transport_check(self->opts.bind, NULL, self->opts.insecure);
        return rc ? rc : pw_transport_check(snap_ep, NULL, self->opts.insecure);
    }
    char err[512] = "";
    size_t removed;
    int rc = pw_key_load_secret(self->opts.keys_dir, "publisher", &self->key, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("publisher key: %s", err);
        return rc;
    }
    /* The handler first: a CURVE socket without one would let any key in. */
    if ((rc = pw_zap_new(self->ctx, &self->zap)) != 0) {
        PW_ERROR("refusing to start: cannot bind the ZAP handler: %s", pw_strerror(rc));
        return rc;
    }
    if ((rc = load_ring(self, &removed)) != 0)
        return rc;
    return pw_curve_server(self->router, &self->key);
}

static int bind_one(void *sock, const char *ep, char *out, size_t *off, size_t cap)
{
    if (zmq_bind(sock, ep) != 0) {
        int rc = -zmq_errno();
        PW_ERROR("zmq_bind(%s) failed: %s", ep, pw_strerror(rc));
        return rc;
    }
    char last[256];
    size_t n = sizeof(last);
    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, last, &n);
    *off += (size_t)snprintf(out + *off, cap - *off, "%s%s", *off ? " " : "", last);
    return 0;
}

int pw_publisher_new(const pw_publisher_opts_t *opts, pw_publisher_t **out)
{
    *out = NULL;
    int rc;
    pw_publisher_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->opts = *opts;
    if (self->opts.heartbeat_ms <= 0)
        self->opts.heartbeat_ms = 1000;
    char snap[512], notify[512];
    const char *snap_ep = opts->snapshot_bind;
    if (!snap_ep) {
        if ((rc = pw_snapshot_endpoint(opts->bind, snap, sizeof(snap))) != 0) {
            PW_ERROR("cannot derive a snapshot endpoint from %s: give --snapshot-bind",
                     opts->bind);
            goto fail;
        }
        snap_ep = snap;
    }
    const char *notify_ep = opts->notify;
    if (!notify_ep) {
        pw_notify_endpoint(opts->store_dir, notify, sizeof(notify));
        notify_ep = notify;
    }
    self->ctx = zmq_ctx_new();
    if (!self->ctx) {
        rc = -zmq_errno();
        goto fail;
    }
    self->pub = zmq_socket(self->ctx, ZMQ_PUB);
    self->router = zmq_socket(self->ctx, ZMQ_ROUTER);
    self->notify = zmq_socket(self->ctx, ZMQ_SUB);
    if (!self->pub || !self->router || !self->notify) {
        rc = -zmq_errno();
        goto fail;
    }
    if (opts->metrics_path && (rc = pw_pub_metrics_new(self->ctx, &self->metrics)) != 0)
        goto fail;
    int zero = 0;
    zmq_setsockopt(self->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(self->notify, ZMQ_LINGER, &zero, sizeof(zero));
    if ((rc = secure(self, snap_ep)) != 0 || (rc = setup_pub(self, self->pub)) != 0)
        goto fail;
    int64_t maxsize = PW_MSG_MAXSIZE;
    zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    zmq_setsockopt(self->notify, ZMQ_SUBSCRIBE, "", 0);
    if ((rc = pw_handshake_watch(self->ctx, self->router, true, "snapshot", &self->hs)) != 0) {
        PW_ERROR("cannot watch the snapshot endpoint's handshakes: %s", pw_strerror(rc));
        goto fail;
    }
    size_t off = 0;
    if ((rc = bind_one(self->pub, opts->bind, self->endpoints, &off, sizeof(self->endpoints))) ||
        (rc = bind_one(self->router, snap_ep, self->endpoints, &off, sizeof(self->endpoints))))
        goto fail;
    size_t eplen = sizeof(self->pub_ep);
    zmq_getsockopt(self->pub, ZMQ_LAST_ENDPOINT, self->pub_ep, &eplen);
    if (zmq_connect(self->notify, notify_ep) != 0) {
        rc = -zmq_errno();
        PW_ERROR("zmq_connect(%s) failed: %s", notify_ep, pw_strerror(rc));
        goto fail;
    }
    *out = self;
    return 0;
fail:
    pw_publisher_destroy(&self);
    return rc;
}

void pw_publisher_destroy(pw_publisher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_publisher_t *self = *self_p;
    pw_pub_metrics_destroy(&self->metrics); /* its monitor watches pub */
    pw_handshake_destroy(&self->hs);        /* its monitor watches router */
    if (self->pub)
        zmq_close(self->pub);
    if (self->router)
        zmq_close(self->router);
    if (self->notify)
        zmq_close(self->notify);
    pw_zap_destroy(&self->zap);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pw_keyring_destroy(&self->ring);
    pw_secure_zero(&self->key, sizeof(self->key));
    pw_model_destroy(&self->model);
    pw_store_destroy(&self->store);
    pw_buf_free(&self->buf);
    pw_reply_clear(&self->reply);
    pw_reply_clear(&self->batch);
    pw_catalog_destroy(&self->plan);
    free(self);
    *self_p = NULL;
}

/* Opens the store once the aggregator has created it. */
static int ensure_store(pw_publisher_t *self)
{
    if (self->store)
        return 0;
    pw_store_opts_t o = {.readonly = true};
    int rc = pw_store_open(&self->store, self->opts.store_dir, &o);
    if (rc != 0) {
        if (!self->store_warned)
            PW_WARN("store %s not readable yet (%s): waiting for the aggregator",
                    self->opts.store_dir, pw_strerror(rc));
        self->store_warned = true;
        return rc;
    }
    pw_txn_t *txn;
    if ((rc = pw_store_begin(self->store, false, &txn)) != 0)
        return rc;
    /* Start from the head: earlier events are in every snapshot already. */
    rc = pw_store_event_head(txn, &self->last);
    pw_store_abort(&txn);
    PW_INFO("following store %s from event %llu", self->opts.store_dir,
            (unsigned long long)self->last);
    return rc;
}

#define BATCH_MAX 1024 /* rate events per "rates" message */
#define BATCH_MS  10   /* rate events wait at most this long for company */

/* Sends the rate events gathered so far as one message. */
static int flush_rates(pw_publisher_t *self)
{
    if (self->batch.nevents == 0)
        return 0;
    self->batch.type = PW_REQ_RANGE;
    self->batch.seq = self->batch.events[self->batch.nevents - 1].seq;
    int rc = pw_reply_encode(&self->batch, &self->buf);
    size_t nevents = self->batch.nevents;
    self->batch.nevents = 0;
    self->last_flush = pw_mono_ms();
    if (rc != 0)
        return rc;
    zmq_send(self->pub, "rates", 5, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->pub, self->buf.data, self->buf.len, ZMQ_DONTWAIT);
    if (self->metrics)
        pw_pub_metrics_published(self->metrics, PW_PUB_TOPIC_RATES, nevents);
    return 0;
}

/*
 * Rate events go out in batches, one message for a run of them: a PUB socket
 * hands one message to every subscriber without copying it, so a hundred
 * subscribers cost little more than one. While the intake is busy a batch
 * waits up to BATCH_MS for more. Alerts never wait: one goes out at once,
 * after the rate events before it, under "alert.<indicator>".
 */
static int publish_one(void *ctx, const pw_event_t *ev)
{
    pw_publisher_t *self = ctx;
    self->last = ev->seq;
    if (ev->type == PW_EV_RATE) {
        int rc = pw_reply_add(&self->batch, 2, ev);
        return rc == 0 && self->batch.nevents >= BATCH_MAX ? flush_rates(self) : rc;
    }
    int rc = flush_rates(self);
    if (rc != 0)
        return rc;
    char topic[PW_ID_MAX + 8];
    int n = snprintf(topic, sizeof(topic), "%s.%s", pw_event_type_name(ev->type), ev->indicator);
    if (pw_event_encode(ev, &self->buf) != 0)
        return -ENOMEM;
    zmq_send(self->pub, topic, (size_t)n, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->pub, self->buf.data, self->buf.len, ZMQ_DONTWAIT);
    if (self->metrics)
        pw_pub_metrics_published(self->metrics, PW_PUB_TOPIC_ALERT, 1);
    return 0;
}

static int publish_new(pw_publisher_t *self)
{
    if (ensure_store(self) != 0)
        return 0;
    pw_txn_t *txn;
    int rc = pw_store_begin(self->store, false, &txn);
    if (rc != 0)
        return rc;
    uint64_t head;
    rc = pw_store_event_head(txn, &head);
    if (rc == 0 && head > self->last)
        rc = pw_store_event_foreach(txn, self->last + 1, head, PUBLISH_MAX, publish_one, self);
    if (rc == 0 && pw_mono_ms() - self->last_flush >= BATCH_MS)
        rc = flush_rates(self);
    pw_store_abort(&txn);
    return rc;
}

static void heartbeat(pw_publisher_t *self)
{
    pw_event_t hb;
    memset(&hb, 0, sizeof(hb));
    hb.type = PW_EV_HB;
    /* Only what has gone out: a batch still waiting is not announced. */
    hb.seq = self->batch.nevents ? self->batch.events[0].seq - 1 : self->last;
    hb.time_ms = pw_now_ms();
    if (pw_event_encode(&hb, &self->buf) != 0)
        return;
    zmq_send(self->pub, "hb", 2, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->pub, self->buf.data, self->buf.len, ZMQ_DONTWAIT);
    if (self->metrics)
        pw_pub_metrics_published(self->metrics, PW_PUB_TOPIC_HB, 0);
}

static int add_row(void *ctx, const pw_event_t *ev)
{
    return pw_reply_add(ctx, 0, ev);
}

static int add_alert(void *ctx, const pw_event_t *ev)
{
    return pw_reply_add(ctx, 1, ev);
}

static int add_event(void *ctx, const pw_event_t *ev)
{
    return pw_reply_add(ctx, 2, ev);
}

#define CONNECTED_MS 5000 /* a collector heard from this recently is connected */

/*
 * The reporters' current values, for questions the stored rows do not answer.
 * Loading them reads the whole store, so the model is kept for the next
 * request until the store changes (every update goes through the log, every
 * rate change through the event log): a report's many requests then cost one
 * load, not one each. Borrowed; valid until the next call.
 */
static int load_model(pw_publisher_t *self, pw_txn_t *txn, const pw_model_t **out)
{
    uint64_t log = 0, head = 0;
    int rc = pw_store_log_head(txn, &log);
    if (rc == 0)
        rc = pw_store_event_head(txn, &head);
    if (rc == 0 && (!self->model || log != self->model_log || head != self->model_head)) {
        pw_model_destroy(&self->model);
        rc = pw_state_load_values(self->cat, txn, &self->model);
        self->model_log = log;
        self->model_head = head;
    }
    *out = self->model;
    return rc;
}

/*
 * The plan answers use: the one the store records, read again when the
 * aggregator records a revision; for a store that records none, the catalog
 * the publisher was started with. A recorded plan that does not parse keeps
 * the one in force, with an error logged.
 */
static int refresh_plan(pw_publisher_t *self, pw_txn_t *txn)
{
    pw_store_plan_t plan;
    int rc = pw_store_plan_latest(txn, &plan);
    if (rc == PW_ENOTFOUND) {
        self->cat = self->opts.catalog;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (self->plan && self->plan->text_len == plan.len &&
        memcmp(self->plan->text, plan.text, plan.len) == 0)
        return 0;
    pw_catalog_t *cat = NULL;
    char err[512] = "";
    if ((rc = pw_catalog_parse("the store's plan", plan.text, plan.len, &cat, err, sizeof(err)))) {
        PW_ERROR("%s", err[0] ? err : pw_strerror(rc));
        return self->cat ? 0 : rc;
    }
    PW_INFO("serving the store's plan \"%s\" (%zu indicators, %zu reporters)", cat->name,
            cat->nindicators, cat->ndistricts);
    pw_model_destroy(&self->model); /* made for the plan before: it reads that catalog */
    pw_catalog_destroy(&self->plan);
    self->plan = cat;
    self->cat = cat;
    return 0;
}

/* The period asked, or the latest with data. */
static bool pick_period(const pw_model_t *m, const pw_request_t *req, pw_period_t *out)
{
    size_t n;
    const pw_period_t *periods = pw_model_periods(m, &n);
    if (req->has_period)
        *out = req->period;
    else if (n > 0)
        *out = periods[n - 1];
    return req->has_period || n > 0;
}

struct status_ctx {
    pw_district_status_t *rows;
    const pw_catalog_t *cat;
};

static int take_status(void *ctx, const pw_district_status_t *st)
{
    struct status_ctx *sc = ctx;
    int d = pw_catalog_district(sc->cat, st->district, strlen(st->district));
    if (d >= 0)
        sc->rows[d] = *st;
    return 0;
}

static int answer_status(pw_publisher_t *self, pw_txn_t *txn, const pw_request_t *req)
{
    const pw_catalog_t *cat = self->cat;
    const pw_model_t *m = NULL;
    pw_district_status_t *rows = calloc(cat->ndistricts + 1, sizeof(*rows));
    int rc = rows ? load_model(self, txn, &m) : -ENOMEM;
    struct status_ctx sc = {rows, cat};
    if (rc == 0)
        rc = pw_store_status_foreach(txn, take_status, &sc);
    pw_period_t p = {0, 0};
    self->reply.has_period = rc == 0 && pick_period(m, req, &p);
    self->reply.period = p;
    int64_t now = pw_now_ms();
    for (size_t d = 0; rc == 0 && d < cat->ndistricts; d++) {
        pw_district_status_t *st = &rows[d];
        snprintf(st->district, sizeof(st->district), "%s", cat->districts[d].id);
        st->connected = st->last_seen_ms > 0 && now - st->last_seen_ms < CONNECTED_MS;
        if (self->reply.has_period)
            pw_model_reporting(m, (int)d, p, &st->reported, &st->expected, st->missing,
                               sizeof(st->missing));
        rc = pw_reply_add_status(&self->reply, st);
    }
    free(rows);
    return rc;
}

struct since_ctx {
    pw_reply_t *reply;
    int64_t since;
    uint64_t n; /* alerts since then: past PW_RANGE_MAX, events[] is a ring */
};

/* Keeps the latest PW_RANGE_MAX: a long history costs one pass, not a shift per alert. */
static int add_alert_since(void *ctx, const pw_event_t *ev)
{
    struct since_ctx *sc = ctx;
    if (ev->time_ms < sc->since)
        return 0;
    if (sc->n++ < PW_RANGE_MAX)
        return pw_reply_add(sc->reply, 2, ev);
    sc->reply->events[(sc->n - 1) % PW_RANGE_MAX] = *ev;
    return 0;
}

/* Puts the ring's oldest alert first. */
static int unwind_alerts(const struct since_ctx *sc)
{
    size_t first = (size_t)(sc->n % PW_RANGE_MAX);
    if (sc->n <= PW_RANGE_MAX || first == 0)
        return 0;
    pw_event_t *evs = sc->reply->events, *tmp = malloc(first * sizeof(*tmp));
    if (!tmp)
        return -ENOMEM;
    memcpy(tmp, evs, first * sizeof(*tmp));
    memmove(evs, evs + first, (PW_RANGE_MAX - first) * sizeof(*evs));
    memcpy(evs + PW_RANGE_MAX - first, tmp, first * sizeof(*tmp));
    free(tmp);
    return 0;
}

/* Adds reporter d's (d < 0: the city's) figure for series s of indicator i at p. */
static int add_cell(pw_publisher_t *self, const pw_model_t *m, int d, size_t i, size_t s,
                    pw_period_t p)
{
    const pw_catalog_t *cat = self->cat;
    pw_cell_t c;
    if (d < 0)
        pw_model_eval(m, (int)i, (int)s, p, &c);
    else
        pw_model_eval_reporter(m, d, (int)i, (int)s, p, &c);
    pw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = PW_EV_RATE;
    ev.seq = self->reply.seq;
    snprintf(ev.indicator, sizeof(ev.indicator), "%s", cat->indicators[i].id);
    snprintf(ev.series, sizeof(ev.series), "%s", cat->indicators[i].series[s].name);
    ev.period = p;
    ev.has_value = c.has_value;
    ev.value = c.value;
    ev.has_rate = c.rate.has_rate;
    ev.centi = c.rate.centi;
    ev.band = c.rate.band;
    ev.achieved = c.rate.achieved;
    ev.have = c.have;
    ev.want = c.want;
    return pw_reply_add(&self->reply, 0, &ev);
}

static int answer_district(pw_publisher_t *self, pw_txn_t *txn, const pw_request_t *req)
{
    const pw_catalog_t *cat = self->cat;
    int d = pw_catalog_district(cat, req->district, strlen(req->district));
    if (d < 0)
        return PW_EDISTRICT;
    const pw_model_t *m = NULL;
    int rc = load_model(self, txn, &m);
    pw_period_t p = {0, 0};
    if (rc != 0 || !pick_period(m, req, &p))
        return rc;
    self->reply.has_period = true;
    self->reply.period = p;
    for (size_t i = 0; rc == 0 && i < cat->nindicators; i++)
        for (size_t s = 0; rc == 0 && s < cat->indicators[i].nseries; s++)
            rc = add_cell(self, m, d, i, s, p);
    return rc;
}

/*
 * One page of the city's (or a reporter's) figures at every period with data
 * up to the one asked: row k is period k / nseries, series k % nseries in
 * catalog order. PW_ROWS_MAX rows at most, so a request costs the same
 * whatever the store holds, and a large table takes several requests.
 */
static int answer_rows(pw_publisher_t *self, pw_txn_t *txn, const pw_request_t *req)
{
    const pw_catalog_t *cat = self->cat;
    int d = -1;
    if (req->district[0] && (d = pw_catalog_district(cat, req->district, strlen(req->district))) < 0)
        return PW_EDISTRICT;
    const pw_model_t *m = NULL;
    int rc = load_model(self, txn, &m);
    if (rc != 0)
        return rc;
    size_t nperiods, nseries = pw_catalog_nseries(cat);
    const pw_period_t *periods = pw_model_periods(m, &nperiods);
    while (req->has_period && nperiods > 0 && pw_period_cmp(periods[nperiods - 1], req->period) > 0)
        nperiods--;
    uint64_t total = (uint64_t)nperiods * nseries, k = req->from;
    if (k >= total)
        return 0;
    /* The series of row k, then on in catalog order. */
    size_t i = 0, s = (size_t)(k % nseries);
    while (s >= cat->indicators[i].nseries)
        s -= cat->indicators[i++].nseries;
    for (; rc == 0 && k < total && self->reply.nrows < PW_ROWS_MAX; k++) {
        rc = add_cell(self, m, d, i, s, periods[k / nseries]);
        if (++s == cat->indicators[i].nseries) {
            s = 0;
            i = (i + 1) % cat->nindicators;
        }
    }
    self->reply.has_next = k < total;
    self->reply.next = k;
    return rc;
}

/* Answers one request from a single read transaction. */
static int answer(pw_publisher_t *self, const pw_request_t *req)
{
    pw_reply_clear(&self->reply);
    self->reply.type = req->type;
    int rc = ensure_store(self);
    if (rc != 0) /* nothing stored yet: an empty state at sequence 0 */
        return pw_reply_encode(&self->reply, &self->buf);
    pw_txn_t *txn;
    if ((rc = pw_store_begin(self->store, false, &txn)) != 0)
        return rc;
    rc = pw_store_event_head(txn, &self->reply.seq);
    if (rc == 0)
        rc = refresh_plan(self, txn);
    if (rc == 0 && req->type == PW_REQ_PLAN) {
        pw_store_plan_t plan;
        if ((rc = pw_store_plan_latest(txn, &plan)) == 0)
            rc = pw_reply_set_plan(&self->reply, plan.text, plan.len);
        rc = rc == PW_ENOTFOUND ? 0 : rc;
    } else if (rc == 0 && req->type == PW_REQ_SNAP) {
        rc = pw_store_rate_foreach(txn, add_row, &self->reply);
        if (rc == 0)
            rc = pw_store_open_foreach(txn, add_alert, &self->reply);
        /* Who reports what belongs to the state a late joiner must see too. */
        if (rc == 0 && self->cat)
            rc = answer_status(self, txn, req);
    } else if (rc == 0 && req->type == PW_REQ_RANGE && req->from <= req->to) {
        rc = pw_store_event_foreach(txn, req->from, req->to, PW_RANGE_MAX, add_event,
                                    &self->reply);
    } else if (rc == 0 && req->type == PW_REQ_ALERTS) {
        struct since_ctx sc = {&self->reply, (int64_t)req->from, 0};
        rc = pw_store_alert_foreach(txn, add_alert_since, &sc);
        if (rc == 0)
            rc = unwind_alerts(&sc);
    } else if (rc == 0 && !self->cat) {
        rc = PW_ECATALOG; /* status and district answers need the catalog */
    } else if (rc == 0 && req->type == PW_REQ_STATUS) {
        rc = answer_status(self, txn, req);
    } else if (rc == 0 && req->type == PW_REQ_DISTRICT) {
        rc = answer_district(self, txn, req);
    } else if (rc == 0 && req->type == PW_REQ_ROWS) {
        rc = answer_rows(self, txn, req);
    }
    pw_store_abort(&txn);
    if (rc == 0)
        rc = pw_reply_encode(&self->reply, &self->buf);
    return rc;
}

#define SERVE_MS 50 /* serving requests, at most, between two rounds of publishing */

/*
 * Each request's work is bounded; this bounds their sum too, so that a desk
 * asking as fast as it can delays the stream and the heartbeats by SERVE_MS
 * at most. What is left waits in the socket for the next round.
 */
static void serve_requests(pw_publisher_t *self)
{
    int64_t until = pw_mono_ms() + SERVE_MS;
    while (pw_mono_ms() < until) {
        zmq_msg_t id, msg;
        zmq_msg_init(&id);
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&id, self->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&msg);
            return;
        }
        bool ok = zmq_msg_more(&id) && zmq_msg_recv(&msg, self->router, 0) >= 0 &&
                  !zmq_msg_more(&msg);
        if (ok && self->zap && !pw_keyring_find(self->ring, zmq_msg_gets(&msg, "User-Id"))) {
            /* Shook hands with a key revoked since: no more answers. */
            self->n_refused++;
            PW_WARN("request from a revoked desk key refused (%llu so far)",
                    (unsigned long long)self->n_refused);
            zmq_msg_close(&id);
            zmq_msg_close(&msg);
            continue;
        }
        pw_request_t req;
        int rc = ok ? pw_request_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &req)
                    : PW_EMALFORMED;
        if (rc == 0)
            rc = answer(self, &req);
        if (self->metrics)
            pw_pub_metrics_request(self->metrics, ok && rc != PW_EMALFORMED ? (int)req.type : 0,
                                   rc == 0);
        if (rc == 0) {
            zmq_msg_send(&id, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(self->router, self->buf.data, self->buf.len, ZMQ_DONTWAIT);
        } else {
            PW_WARN("request not answered: %s", pw_strerror(rc));
        }
        zmq_msg_close(&id);
        zmq_msg_close(&msg);
    }
}

/* Writes --metrics every few seconds (force: now, at exit). */
static void write_metrics(pw_publisher_t *self, bool force)
{
    if (!self->metrics)
        return;
    pw_pub_metrics_poll(self->metrics);
    if (!force && pw_mono_ms() < self->next_metrics)
        return;
    self->next_metrics = pw_mono_ms() + PW_METRICS_INTERVAL_MS;
    int rc = pw_pub_metrics_write(self->metrics, self->opts.metrics_path, self->last);
    if (rc != 0)
        PW_WARN("cannot write metrics to %s: %s", self->opts.metrics_path, pw_strerror(rc));
}

int pw_publisher_run(pw_publisher_t *self, volatile sig_atomic_t *stop)
{
    ensure_store(self);
    PW_INFO("ready pub=%s", self->endpoints);
    self->next_hb = pw_mono_ms();
    int rc = 0;
    while (!*stop) {
        if (self->opts.reload && *self->opts.reload) {
            *self->opts.reload = 0;
            if (self->zap)
                reload(self);
        }
        zmq_pollitem_t items[] = {{self->notify, 0, ZMQ_POLLIN, 0},
                                  {self->router, 0, ZMQ_POLLIN, 0},
                                  {pw_handshake_socket(self->hs), 0, ZMQ_POLLIN, 0},
                                  {self->zap ? pw_zap_socket(self->zap) : NULL, 0, ZMQ_POLLIN, 0}};
        int wait = 100;
        if (self->batch.nevents) {
            int64_t due = self->last_flush + BATCH_MS - pw_mono_ms();
            wait = due < 0 ? 0 : due < wait ? (int)due : wait;
        }
        int n = zmq_poll(items, self->zap ? 4 : 3, wait);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = -zmq_errno();
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char head[8];
            while (zmq_recv(self->notify, head, sizeof(head), ZMQ_DONTWAIT) >= 0)
                ;
        }
        /* Publishing on every wake-up and every 100 ms also covers a missed
         * notification, such as one sent before this process started. */
        if ((rc = publish_new(self)) != 0) {
            PW_ERROR("reading events failed: %s", pw_strerror(rc));
            break;
        }
        if (items[2].revents & ZMQ_POLLIN)
            pw_handshake_read(self->hs);
        if (self->zap && (items[3].revents & ZMQ_POLLIN))
            pw_zap_serve(self->zap, self->ring);
        if (items[1].revents & ZMQ_POLLIN)
            serve_requests(self);
        write_metrics(self, false);
        if (pw_mono_ms() >= self->next_hb) {
            heartbeat(self);
            self->next_hb = pw_mono_ms() + self->opts.heartbeat_ms;
        }
    }
    if (rc == 0)
        flush_rates(self); /* what was read goes out before we go */
    write_metrics(self, true);
    PW_INFO("stopping at event %llu", (unsigned long long)self->last);
    return rc;
}
