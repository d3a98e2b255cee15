/* SPDX-License-Identifier: MIT */
/* The publisher's snapshot socket: requests read, answered from one read transaction. */
#include "pub_internal.h"

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
    int rc = pw__pub_ensure_store(self);
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
void pw__pub_serve_requests(pw_publisher_t *self)
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
