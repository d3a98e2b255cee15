/* SPDX-License-Identifier: MIT */
#include "aggregator.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <zmq.h>

#include "lmdb_util.h"
#include "metrics.h"
#include "model.h"
#include "pw/auth.h"
#include "pw/endpoint.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/log.h"
#include "pw/msg.h"
#include "pw/prom.h"
#include "pw/util.h"
#include "store.h"

#define BATCH_DEFAULT 16384
#define PEERS_MAX     256 /* distinct (district, epoch) pairs in one batch */
/* Messages one frame may add to a batch: its updates, or as many and the
 * nack for what follows them. */
#define FRAME_ROOM    (PW_FRAME_UPDATES_MAX + 1)

/* One received frame waiting for the batch's commit. */
struct item {
    zmq_msg_t id;  /* the collector's routing id */
    zmq_msg_t msg; /* the payload */
    int auth;      /* the district its CURVE key speaks for: AUTH_NONE, AUTH_REVOKED or >= 0 */
};

/* One message of a received frame, decoded on receipt. */
struct message {
    pw_msg_t m;
    int item; /* its frame */
    int rc;   /* the decoder's verdict: 0, or the code to nack it with */
};

#define AUTH_NONE    (-2) /* CURVE is off: nothing to check */
#define AUTH_REVOKED (-1) /* a key that is no longer in the keyring */

/* Per (district, epoch) state while a batch is applied. */
struct peer {
    int district;
    uint64_t epoch;
    uint64_t last;     /* last decided sequence */
    uint64_t stored;   /* last sequence as read from the store */
    int item;          /* index of the item to answer with the final ack */
    bool gap_reported;
};

/* A reply that is sent only after the batch commits. */
struct reply {
    int item;
    pw_msg_t msg;
};

/* What the aggregator knows of each reporter, for status and logs. */
struct district_status {
    bool connected;
    bool dirty;        /* to be written to the store with the next batch */
    int64_t last_seen; /* monotonic ms */
    int64_t seen_ms;   /* the same, unix ms, for the bureau */
    uint64_t epoch;    /* of the latest message */
    uint64_t last_seq; /* last committed for that epoch */
    uint64_t spool_head; /* the highest sequence in its spool, as its last hello said */
};

#define SILENT_MS 5000 /* no message for this long: the collector is gone */
#define SKEW_MS   (5 * 60 * 1000) /* how far ahead of our clock an observation may be */

struct pw_aggregator {
    pw_aggregator_opts_t opts;
    const pw_catalog_t *cat;
    pw_store_t *store;
    pw_model_t *model;
    void *ctx;
    void *router;
    void *notify;
    size_t batch_max;
    struct item *items;
    size_t nitems;
    struct message *msgs; /* of the items, in order; room for a frame past batch_max */
    size_t msgs_len;      /* its mapping's length, for pw_big_free() */
    size_t nmsgs;
    struct peer peers[PEERS_MAX];
    size_t npeers;
    struct reply *replies;
    size_t nreplies;
    pw_txn_t *txn;    /* the open write transaction while a batch is applied */
    uint64_t head;    /* last event seq committed */
    uint64_t pending; /* events appended in the open transaction */
    pw_buf_t out;
    struct district_status *status;
    bool full;             /* the store is at --map-max or its disk is full: updates are refused */
    int64_t last_now;      /* commit time of the last batch */
    int64_t full_since;
    char full_text[PW_MSG_TEXTMAX]; /* why, in the refusals' text */
    bool disk_full;        /* a commit failed for want of room on the store's file system */
    int64_t disk_full_since, disk_logged;
    char endpoints[1024];
    uint64_t n_stored, n_dup, n_rejected, n_batches;
    pw_zap_t *zap;         /* CURVE only: the handshake handler */
    pw_handshake_t *hs;    /* logs the handshakes refused before ZAP sees them */
    pw_keyring_t *ring;    /* CURVE only: the district keys accepted */
    int *ring_district;    /* the district of each key of ring */
    uint64_t n_forbidden;  /* updates or hellos naming another district than their key's */
    pw_agg_metrics_t *metrics; /* with --metrics only */
    int64_t next_metrics;
    int metrics_rc;            /* the last write's result */
};

/* Writes each event the model emits into the open transaction. */
static int persist_event(void *ctx, pw_event_t *ev)
{
    pw_aggregator_t *self = ctx;
    int rc = pw_store_persist_event(self->txn, ev);
    if (rc != 0)
        return rc;
    self->pending = ev->seq;
    if (ev->type == PW_EV_ALERT && ev->action != PW_ALERT_UPDATE) {
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(ev->period, ptext);
        PW_INFO("alert %s: %s%s%s %s rate %.2f (%s)",
                ev->action == PW_ALERT_OPEN ? "open" : "resolve", ev->indicator,
                ev->series[0] ? "/" : "", ev->series, ptext, (double)ev->centi / 100.0, ev->why);
    }
    return 0;
}

static int load_current(void *ctx, const char *district, const char *element, pw_period_t p,
                        double value)
{
    pw_aggregator_t *self = ctx;
    int d = pw_catalog_district(self->cat, district, strlen(district));
    int e = pw_catalog_element(self->cat, element, strlen(element));
    if (d < 0 || e < 0) {
        PW_WARN("store holds %s/%s, unknown to the catalog: ignored", district, element);
        return 0;
    }
    return pw_model_set(self->model, d, e, p, value, NULL);
}

static int load_rate(void *ctx, const pw_event_t *ev)
{
    return pw_model_restore_rate(((pw_aggregator_t *)ctx)->model, ev);
}

static int load_alert(void *ctx, const pw_event_t *ev)
{
    return pw_model_restore_alert(((pw_aggregator_t *)ctx)->model, ev);
}

/*
 * Records the plan the store is written with from now on, when it is not the
 * one it records already: a new version, applying from the next log record,
 * so that every reader reads each record under the plan it was rated with.
 * A store of before plans were recorded takes the plan from its first record
 * when its digest says it is the one it was written with.
 */
static int record_plan(pw_aggregator_t *self, int64_t now)
{
    const pw_catalog_t *cat = self->cat;
    pw_store_plan_t plan;
    int rc = pw_store_plan_latest(self->txn, &plan);
    if (rc != 0 && rc != PW_ENOTFOUND)
        return rc;
    bool recorded = rc == 0;
    /* Written only when it changes: a full store must still restore. */
    if (recorded && plan.len == cat->text_len && memcmp(plan.text, cat->text, plan.len) == 0)
        return PW_OK;
    uint64_t head;
    unsigned char digest[32];
    int drc = pw_store_get_digest(self->txn, digest);
    if (drc != 0 && drc != PW_ENOTFOUND)
        return drc;
    bool same = drc == 0 && memcmp(digest, cat->digest, 32) == 0;
    if ((rc = pw_store_log_head(self->txn, &head)) != 0)
        return rc;
    uint64_t from = !recorded && (same || head == 0) ? 1 : head + 1;
    if (!same && drc == 0)
        PW_WARN("plan revised: \"%s\" applies from log record %llu on; recomputing every rate",
                cat->name, (unsigned long long)from);
    if ((rc = pw_store_plan_put(self->txn, from, now, cat->text, cat->text_len)) != 0)
        return rc;
    return same ? PW_OK : pw_store_put_digest(self->txn, cat->digest);
}

/*
 * Rebuilds the model from the store: current values, then the rows and alerts
 * as last published. A flush afterwards emits only what differs, which is
 * nothing unless the catalog changed.
 */
static int restore(pw_aggregator_t *self)
{
    pw_model_destroy(&self->model);
    int rc = pw_model_new(self->cat, &self->model);
    if (rc != 0)
        return rc;
    rc = pw_store_begin(self->store, true, &self->txn);
    if (rc != 0)
        return rc;
    if ((rc = pw_store_current_foreach(self->txn, load_current, self)) != 0 ||
        (rc = pw_store_rate_foreach(self->txn, load_rate, self)) != 0 ||
        (rc = pw_store_open_foreach(self->txn, load_alert, self)) != 0 ||
        (rc = pw_store_event_head(self->txn, &self->head)) != 0)
        goto fail;
    int64_t now = pw_now_ms();
    if ((rc = record_plan(self, now)) != 0)
        goto fail;
    pw_model_restore_finish(self->model);
    pw_model_touch_all(self->model);
    self->pending = self->head;
    /* The rates a revised plan changes carry the time the revision took
     * effect, which the store records with it: a replay stamps them alike. */
    if ((rc = pw_model_flush(self->model, now, persist_event, self)) != 0)
        goto fail;
    rc = pw_store_commit(&self->txn);
    if (rc == 0)
        self->head = self->pending;
    return rc;
fail:
    pw_store_abort(&self->txn);
    return rc;
}

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof(v)) == 0 ? 0 : -zmq_errno();
}

/* Reads the keyring of district keys and maps each key to its district. On
 * error the current keyring is kept. */
static int load_ring(pw_aggregator_t *self)
{
    char dir[4096], err[512] = "";
    snprintf(dir, sizeof(dir), "%s/districts", self->opts.keys_dir);
    pw_keyring_t *ring = NULL;
    int rc = pw_keyring_load(dir, &ring, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("district keys: %s", err[0] ? err : pw_strerror(rc));
        return rc;
    }
    size_t n = pw_keyring_size(ring);
    int *map = calloc(n ? n : 1, sizeof(*map));
    if (!map) {
        pw_keyring_destroy(&ring);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = pw_keyring_key(ring, i)->name;
        map[i] = pw_catalog_district(self->cat, name, strlen(name));
        if (map[i] < 0) {
            PW_ERROR("district keys: %s/%s.pub: '%s' is not a district of the catalog", dir,
                     name, name);
            free(map);
            pw_keyring_destroy(&ring);
            return PW_EKEY;
        }
    }
    size_t removed = 0;
    for (size_t i = 0; i < pw_keyring_size(self->ring); i++)
        if (!pw_keyring_find(ring, pw_keyring_key(self->ring, i)->public_z85))
            removed++;
    PW_INFO("CURVE: %zu district keys accepted%s", n,
            self->ring && removed ? " (some revoked or rotated: their connections are refused)" : "");
    pw_keyring_destroy(&self->ring);
    free(self->ring_district);
    self->ring = ring;
    self->ring_district = map;
    return 0;
}

/* CURVE with our ZAP handler when there are keys; otherwise only ipc://
 * endpoints, or TCP with a loud --insecure. */
static int secure(pw_aggregator_t *self)
{
    if (!self->opts.keys_dir) {
        for (size_t i = 0; i < self->opts.nbinds; i++) {
            int rc = pw_transport_check(self->opts.binds[i], NULL, self->opts.insecure);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    pw_key_t key;
    char err[512] = "";
    int rc = pw_key_load_secret(self->opts.keys_dir, "aggregator", &key, err, sizeof(err));
    if (rc != 0) {
        PW_ERROR("aggregator key: %s", err);
        return rc;
    }
    /* The handler first: a CURVE socket without one would let any key in. */
    if ((rc = pw_zap_new(self->ctx, &self->zap)) != 0) {
        PW_ERROR("refusing to start: cannot bind the ZAP handler: %s", pw_strerror(rc));
    } else if ((rc = load_ring(self)) == 0) {
        rc = pw_curve_server(self->router, &key);
    }
    pw_secure_zero(&key, sizeof(key));
    return rc;
}

static int bind_all(pw_aggregator_t *self)
{
    int64_t maxsize = PW_FRAME_MAXSIZE;
    zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    set_int(self->router, ZMQ_ROUTER_MANDATORY, 1);
    set_int(self->router, ZMQ_LINGER, 500);
    /* No ZMTP heartbeats, here or in collectors: libzmq 4.3.4 aborts the
     * process ("!_io_error", stream_engine_base.cpp; libzmq issue #4364) when
     * a connection whose input is stopped drops and a heartbeat is then sent
     * or answered, and our tests hit it. Liveness is ours instead: collectors
     * say hello every second when idle and resync after 2 s of silence; the
     * aggregator counts a collector gone after 5 s without a word. A
     * high-water mark far above a collector's window (64 frames of 64
     * updates by default; 1 024 frames from a collector that sends one
     * update a frame) also keeps an honest collector's input from ever
     * stopping. Per connection, it bounds what one waits in memory to
     * 16 384 frames of at most PW_FRAME_MAXSIZE. */
    set_int(self->router, ZMQ_RCVHWM, 16384);
    /* Every reply is sent without waiting: room for a full window of nacks
     * per collector, or some would be dropped at the default 1000. */
    set_int(self->router, ZMQ_SNDHWM, 100000);
    set_int(self->notify, ZMQ_LINGER, 0);
    int rc = secure(self);
    if (rc != 0)
        return rc;
    if ((rc = pw_handshake_watch(self->ctx, self->router, true, "intake", &self->hs)) != 0) {
        PW_ERROR("cannot watch the intake's handshakes: %s", pw_strerror(rc));
        return rc;
    }
    size_t off = 0;
    for (size_t i = 0; i < self->opts.nbinds; i++) {
        if (zmq_bind(self->router, self->opts.binds[i]) != 0) {
            rc = -zmq_errno();
            PW_ERROR("zmq_bind(%s) failed: %s", self->opts.binds[i], pw_strerror(rc));
            return rc;
        }
        char ep[256];
        size_t eplen = sizeof(ep);
        zmq_getsockopt(self->router, ZMQ_LAST_ENDPOINT, ep, &eplen);
        off += (size_t)snprintf(self->endpoints + off, sizeof(self->endpoints) - off, "%s%s",
                                off ? " " : "", ep);
    }
    char def[512];
    const char *notify = self->opts.notify;
    if (!notify) {
        pw_notify_endpoint(self->opts.store_dir, def, sizeof(def));
        notify = def;
    }
    if (zmq_bind(self->notify, notify) != 0) {
        rc = -zmq_errno();
        PW_ERROR("zmq_bind(%s) failed: %s", notify, pw_strerror(rc));
        return rc;
    }
    return 0;
}

/* Says why the store cannot be opened, in the words an operator needs. */
static void open_failed(const char *dir, bool existed, int rc)
{
    char text[4200];
    if (rc == -EBUSY) {
        pw_store_busy_text(dir, text, sizeof(text));
        PW_ERROR("%s", text);
    } else if (pw__mdb_nospace(rc) && !existed) {
        PW_ERROR("cannot create store in %s: no space left on device", dir);
    } else if (pw__mdb_nospace(rc)) {
        PW_ERROR("cannot open store %s: no space left on its file system", dir);
    } else {
        PW_ERROR("cannot open store %s: %s", dir, pw_strerror(rc));
    }
}

int pw_aggregator_new(const pw_aggregator_opts_t *opts, pw_aggregator_t **out)
{
    *out = NULL;
    int rc;
    pw_aggregator_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->opts = *opts;
    self->cat = opts->catalog;
    self->batch_max = opts->batch_max ? opts->batch_max : BATCH_DEFAULT;
    self->items = calloc(self->batch_max, sizeof(*self->items));
    /* The decoded messages are megabytes (16 384 of 376 bytes), filled as
     * batches grow: in huge pages, that is a few page faults instead of
     * 1 500, at 13 us each on the VMs we run on, for at most 2 MiB more
     * resident than the batches ever used. */
    self->msgs =
        pw_big_calloc(self->batch_max + FRAME_ROOM, sizeof(*self->msgs), &self->msgs_len);
    self->status = calloc(self->cat->ndistricts + 1, sizeof(*self->status));
    self->replies = calloc(self->batch_max + FRAME_ROOM + PEERS_MAX, sizeof(*self->replies));
    if (opts->metrics_path)
        self->metrics = pw_agg_metrics_new(self->cat);
    if (!self->items || !self->msgs || !self->replies || !self->status ||
        (opts->metrics_path && !self->metrics)) {
        rc = -ENOMEM;
        goto fail;
    }
    /* The store first: its writer's lock keeps a second aggregator from
     * going any further, before it could take over the notify socket. */
    pw_store_opts_t sopts = {.readonly = false, .map_size = opts->map_size};
    bool existed = pw__mdb_env_exists(opts->store_dir);
    if ((rc = pw_store_open(&self->store, opts->store_dir, &sopts)) != 0) {
        open_failed(opts->store_dir, existed, rc);
        goto fail;
    }
    if ((rc = restore(self)) != 0) {
        PW_ERROR("cannot restore state from %s: %s", opts->store_dir, pw_strerror(rc));
        goto fail;
    }
    self->ctx = zmq_ctx_new();
    self->router = self->ctx ? zmq_socket(self->ctx, ZMQ_ROUTER) : NULL;
    self->notify = self->ctx ? zmq_socket(self->ctx, ZMQ_PUB) : NULL;
    if (!self->router || !self->notify) {
        rc = -zmq_errno();
        goto fail;
    }
    if ((rc = bind_all(self)) != 0)
        goto fail;
    *out = self;
    return 0;
fail:
    pw_aggregator_destroy(&self);
    return rc;
}

const char *pw_aggregator_endpoints(const pw_aggregator_t *self)
{
    return self->endpoints;
}

void pw_aggregator_destroy(pw_aggregator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_aggregator_t *self = *self_p;
    pw_handshake_destroy(&self->hs); /* stops the monitor: before the socket goes */
    if (self->router)
        zmq_close(self->router);
    if (self->notify)
        zmq_close(self->notify);
    pw_zap_destroy(&self->zap);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pw_store_abort(&self->txn);
    pw_model_destroy(&self->model);
    pw_store_destroy(&self->store);
    pw_buf_free(&self->out);
    pw_agg_metrics_destroy(&self->metrics);
    free(self->items);
    pw_big_free(self->msgs, self->msgs_len);
    free(self->replies);
    free(self->status);
    pw_keyring_destroy(&self->ring);
    free(self->ring_district);
    free(self);
    *self_p = NULL;
}

static void queue_reply(pw_aggregator_t *self, int item, const pw_msg_t *msg)
{
    if (self->nreplies < self->batch_max + FRAME_ROOM + PEERS_MAX)
        self->replies[self->nreplies++] = (struct reply){item, *msg};
}

static void nack(pw_aggregator_t *self, int item, uint64_t epoch, uint64_t seq, int reason,
                 const char *text)
{
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_NACK;
    m.epoch = epoch;
    m.seq = seq;
    m.reason = reason;
    snprintf(m.text, sizeof(m.text), "%s", text);
    queue_reply(self, item, &m);
}

/* Finds or loads the batch state of (district, epoch). NULL if the table is full. */
static struct peer *peer_get(pw_aggregator_t *self, int d, uint64_t epoch, int *rc_out)
{
    *rc_out = 0;
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers[i].district == d && self->peers[i].epoch == epoch)
            return &self->peers[i];
    if (self->npeers == PEERS_MAX)
        return NULL;
    struct peer *p = &self->peers[self->npeers];
    memset(p, 0, sizeof(*p));
    p->district = d;
    p->epoch = epoch;
    p->item = -1;
    *rc_out = pw_store_seq_get(self->txn, self->cat->districts[d].id, epoch, &p->stored, NULL);
    if (*rc_out != 0)
        return NULL;
    p->last = p->stored;
    self->npeers++;
    return p;
}

/* Notes that district d spoke: it is connected and up to date. */
static void seen(pw_aggregator_t *self, int d, uint64_t epoch)
{
    struct district_status *st = &self->status[d];
    st->last_seen = pw_mono_ms();
    st->seen_ms = pw_now_ms();
    st->dirty = true;
    if (st->epoch != epoch)
        st->last_seq = 0;
    st->epoch = epoch;
    if (!st->connected)
        PW_INFO("%s connected (epoch %016llx)", self->cat->districts[d].id,
                (unsigned long long)epoch);
    st->connected = true;
}

/* Marks collectors that have been silent too long as gone. */
static void check_silence(pw_aggregator_t *self)
{
    int64_t now = pw_mono_ms();
    for (size_t d = 0; d < self->cat->ndistricts; d++) {
        struct district_status *st = &self->status[d];
        if (st->connected && now - st->last_seen > SILENT_MS) {
            st->connected = false;
            PW_INFO("%s silent for %d s: disconnected (last committed sequence %llu)",
                    self->cat->districts[d].id, SILENT_MS / 1000,
                    (unsigned long long)st->last_seq);
        }
    }
}

/* With CURVE, a message may only speak for the district of the key that
 * sent it. False (and the message answered) when it may not. */
static bool authorized(pw_aggregator_t *self, int item, int d, const pw_msg_t *m)
{
    int auth = self->items[item].auth;
    if (auth == AUTH_NONE || auth == d)
        return true;
    self->n_rejected++;
    if (auth == AUTH_REVOKED) {
        PW_WARN("%s: message from a revoked key refused", m->district);
        nack(self, item, m->epoch, m->seq, PW_EAUTH, "key unknown or revoked");
        return false;
    }
    self->n_forbidden++;
    PW_WARN("%s's key sent a message for %s: refused (%llu so far)",
            self->cat->districts[auth].id, m->district, (unsigned long long)self->n_forbidden);
    nack(self, item, m->epoch, m->seq, PW_EFORBIDDEN, "this key may not speak for that district");
    return false;
}

static void hello(pw_aggregator_t *self, int item, const pw_msg_t *m)
{
    int d = pw_catalog_district(self->cat, m->district, strlen(m->district));
    if (d < 0) {
        PW_WARN("hello from unknown district '%s'", m->district);
        nack(self, item, m->epoch, 0, PW_EDISTRICT, "unknown district");
        return;
    }
    if (!authorized(self, item, d, m))
        return;
    seen(self, d, m->epoch);
    self->status[d].spool_head = m->spool_head;
    int rc;
    struct peer *p = peer_get(self, d, m->epoch, &rc);
    if (!p) {
        nack(self, item, m->epoch, 0, rc ? rc : -EBUSY, "try again");
        return;
    }
    pw_msg_t w;
    memset(&w, 0, sizeof(w));
    w.type = PW_MSG_WELCOME;
    snprintf(w.district, sizeof(w.district), "%s", m->district);
    w.epoch = m->epoch;
    w.seq = p->last;
    /* Only to a collector that asked: an older one would refuse the key. */
    if (m->frame_max)
        w.frame_max = m->frame_max < PW_FRAME_UPDATES_MAX ? m->frame_max : PW_FRAME_UPDATES_MAX;
    queue_reply(self, item, &w);
}

/* Applies one update inside the open transaction. A non-zero return is a
 * store failure that aborts the whole batch. */
static int update(pw_aggregator_t *self, int item, const pw_msg_t *m, int64_t now, bool refuse)
{
    int d = pw_catalog_district(self->cat, m->district, strlen(m->district));
    if (d < 0) {
        self->n_rejected++;
        nack(self, item, m->epoch, m->seq, PW_EDISTRICT, "unknown district");
        return 0;
    }
    if (!authorized(self, item, d, m))
        return 0;
    seen(self, d, m->epoch);
    if (refuse) {
        nack(self, item, m->epoch, m->seq, PW_ESTOREFULL, self->full_text);
        return 0;
    }
    int rc;
    struct peer *p = peer_get(self, d, m->epoch, &rc);
    if (!p) {
        if (rc != 0)
            return rc;
        nack(self, item, m->epoch, m->seq, -EBUSY, "too many collectors in one batch");
        return 0;
    }
    p->item = item;
    if (m->seq <= p->last) {
        self->n_dup++; /* resent after a lost ack: acknowledged again, applied once */
        return 0;
    }
    if (m->seq != p->last + 1) {
        /* Something before it was lost in flight: take nothing out of order. */
        if (!p->gap_reported) {
            p->gap_reported = true;
            nack(self, item, m->epoch, p->last, PW_EGAP, "resend after the acknowledged sequence");
        }
        return 0;
    }
    p->last = m->seq;
    int e;
    int crc = pw_msg_check_update(m, self->cat, d, &e);
    char why[PW_MSG_TEXTMAX];
    why[0] = '\0';
    /* The bound is checked on intake only, not by pw_msg_check_update(): a
     * record stored before it existed (or before the catalog lowered it)
     * must still restore, export, import and replay. */
    if (crc == 0)
        crc = pw_catalog_check_value(self->cat, e, m->value, NULL, why, sizeof(why));
    if (crc == 0 && m->observed_ms > now + SKEW_MS)
        crc = PW_ETIME; /* a clock this wrong makes every "as of" question wrong */
    if (crc != 0) {
        /* A rejected update still uses its sequence number, so the ones after
         * it are not taken for a gap; nothing of it is stored. */
        self->n_rejected++;
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(m->period, ptext);
        const char *text = why[0] ? why : pw_strerror(crc);
        PW_WARN("%s: update %llu (%s %s = %g) rejected: %s", m->district,
                (unsigned long long)m->seq, m->element, ptext, m->value, text);
        nack(self, item, m->epoch, m->seq, crc, text);
        return 0;
    }
    /* The model holds every current value of the store (restored from it, and
     * rebuilt from it after a failed commit), so it answers without a second
     * search of the current-value tree. */
    double old;
    bool had = pw_model_get(self->model, d, e, m->period, &old);
    pw_msg_t rec = *m;
    rec.type = PW_MSG_RECORD;
    rec.received_ms = now;
    rec.kind = !had ? PW_RECORD_NEW : (old == m->value ? PW_RECORD_SAME : PW_RECORD_REVISION);
    uint64_t logseq;
    if ((rc = pw_store_log_append(self->txn, &rec, &logseq)) != 0 ||
        (rc = pw_store_current_put(self->txn, m->district, m->element, m->period, m->value,
                                   logseq)) != 0 ||
        (rc = pw_model_set(self->model, d, e, m->period, m->value, NULL)) != 0)
        return rc;
    self->n_stored++;
    return 0;
}

static void send_frame(pw_aggregator_t *self, zmq_msg_t *id, const pw_msg_t *m)
{
    if (pw_msg_encode(m, &self->out) != 0)
        return;
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, id);
    /* A collector that vanished cannot be routed to: it resends after
     * reconnecting and the duplicate is absorbed, so a failed send is harmless. */
    if (zmq_msg_send(&copy, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&copy);
        return;
    }
    zmq_send(self->router, self->out.data, self->out.len, ZMQ_DONTWAIT);
}

/* Applies the received batch in one transaction; refuse: take no update. */
static int apply_batch(pw_aggregator_t *self, bool refuse, int64_t now)
{
    self->npeers = 0;
    self->nreplies = 0;
    int rc = pw_store_begin(self->store, true, &self->txn);
    if (rc != 0)
        return rc;
    self->pending = self->head;
    for (size_t i = 0; i < self->nmsgs && rc == 0; i++) {
        const struct message *dm = &self->msgs[i];
        int item = dm->item;
        if (dm->rc != 0) {
            self->n_rejected++;
            nack(self, item, 0, 0, dm->rc, pw_strerror(dm->rc));
            continue;
        }
        if (dm->m.type == PW_MSG_HELLO)
            hello(self, item, &dm->m);
        else if (dm->m.type == PW_MSG_UPDATE)
            rc = update(self, item, &dm->m, now, refuse);
        else
            nack(self, item, dm->m.epoch, dm->m.seq, PW_ETYPE, "collectors send hello and update");
    }
    for (size_t i = 0; i < self->npeers && rc == 0; i++) {
        struct peer *p = &self->peers[i];
        if (p->epoch == self->status[p->district].epoch)
            self->status[p->district].last_seq = p->last;
        if (p->last != p->stored)
            rc = pw_store_seq_put(self->txn, self->cat->districts[p->district].id, p->epoch,
                                  p->last, now);
    }
    /* What the bureau sees of each collector; not while refusing, when the
     * store has no room for anything. */
    for (size_t d = 0; d < self->cat->ndistricts && rc == 0 && !refuse; d++) {
        struct district_status *ds = &self->status[d];
        if (!ds->dirty)
            continue;
        pw_district_status_t st;
        memset(&st, 0, sizeof(st));
        snprintf(st.district, sizeof(st.district), "%s", self->cat->districts[d].id);
        st.epoch = ds->epoch;
        st.last_seq = ds->last_seq;
        st.last_seen_ms = ds->seen_ms;
        /* What is spooled beyond what is committed is still on its way. */
        st.lag = ds->spool_head > ds->last_seq ? ds->spool_head - ds->last_seq : 0;
        rc = pw_store_status_put(self->txn, &st);
    }
    if (rc == 0 && !refuse)
        rc = pw_model_flush(self->model, now, persist_event, self);
    /* A refused batch changes nothing: with the disk full, even a commit
     * with nothing in it could fail. */
    if (rc == 0 && !refuse)
        return pw_store_commit(&self->txn);
    pw_store_abort(&self->txn);
    return rc;
}

/* Whether the store's file system has room left (a MiB at least). */
static bool disk_has_room(const char *dir)
{
    struct statvfs vfs;
    return statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize >= ((uint64_t)1 << 20);
}

/*
 * A commit failed for want of room on the store's file system (ENOSPC,
 * EDQUOT, or EIO: LMDB's code for a write cut short). Nothing of the batch is
 * stored and the model is back to the store, so the aggregator can go on: it
 * refuses updates with the retryable ESTOREFULL, as at --map-max, and tries a
 * real commit again now and then. Logged when it starts, then once a minute.
 */
static void disk_full(pw_aggregator_t *self, int rc)
{
    const char *dir = self->opts.store_dir;
    int64_t now = pw_mono_ms();
    self->full = true;
    self->full_since = now;
    if (rc == -EIO && disk_has_room(dir))
        snprintf(self->full_text, sizeof(self->full_text), "cannot write to %s's file system (%s)",
                 dir, pw_strerror(rc));
    else
        snprintf(self->full_text, sizeof(self->full_text), "no space left on %s's file system",
                 dir);
    if (!self->disk_full) {
        PW_ERROR("%s (commit of %zu messages failed: %s): refusing updates with ESTOREFULL; "
                 "collectors keep them until there is room",
                 self->full_text, self->nmsgs, pw_strerror(rc));
        self->disk_full = true;
        self->disk_full_since = self->disk_logged = now;
    } else if (now - self->disk_logged >= 60000) {
        PW_WARN("%s for %lld s: still refusing updates with ESTOREFULL", self->full_text,
                (long long)((now - self->disk_full_since) / 1000));
        self->disk_logged = now;
    }
}

/*
 * Applies a batch and answers it. When the map is full the batch is undone,
 * the map doubled (up to --map-max) and the batch applied again; at the cap,
 * updates are refused with the retryable ESTOREFULL and collectors keep them.
 * Nothing is ever acknowledged that was not committed.
 */
static int process_batch(pw_aggregator_t *self)
{
    /* Each batch gets its own commit time, strictly increasing: a rebuild
     * tells the original batches apart by it (replay/rebuild.h). */
    int64_t now = pw_now_ms();
    if (now <= self->last_now)
        now = self->last_now + 1;
    self->last_now = now;
    size_t map_max = self->opts.map_max ? self->opts.map_max : (size_t)64 << 30;
    if (self->full && pw_mono_ms() - self->full_since >= 5000)
        self->full = false; /* try again now and then: an operator may have made room */
    int rc;
    uint64_t stored0 = self->n_stored, dup0 = self->n_dup, rejected0 = self->n_rejected,
             forbidden0 = self->n_forbidden;
    int64_t t0 = 0;
    for (;;) {
        /* A batch applied again after the map grew is counted once, and one
         * that failed not at all: the counts are of what was committed. */
        self->n_stored = stored0;
        self->n_dup = dup0;
        self->n_rejected = rejected0;
        self->n_forbidden = forbidden0;
        t0 = pw_mono_us();
        rc = apply_batch(self, self->full, now);
        if (rc == 0)
            break;
        self->n_stored = stored0;
        self->n_dup = dup0;
        /* Nothing of the batch is stored: bring the model back to the store. */
        int rrc = restore(self);
        if (rrc != 0) {
            PW_ERROR("cannot restore state after a failed commit: %s", pw_strerror(rrc));
            return rrc;
        }
        if (pw__mdb_nospace(rc) && !self->full) {
            disk_full(self, rc);
            continue;
        }
        if (rc != PW_ESTOREFULL || self->full) {
            PW_ERROR("commit of %zu messages failed: %s", self->nmsgs, pw_strerror(rc));
            return rc;
        }
        size_t size;
        if (pw_store_grow(self->store, map_max, &size) == 0) {
            PW_INFO("store map grown to %zu MiB", size >> 20);
            continue;
        }
        PW_ERROR("store full at %zu MiB (--map-max): refusing updates with ESTOREFULL; "
                 "collectors keep them until there is room",
                 pw_store_map_size(self->store) >> 20);
        self->full = true;
        self->full_since = pw_mono_ms();
        snprintf(self->full_text, sizeof(self->full_text), "store full: retry later");
    }
    if (self->disk_full && !self->full) {
        PW_INFO("room again on %s's file system after %lld s: taking updates",
                self->opts.store_dir, (long long)((pw_mono_ms() - self->disk_full_since) / 1000));
        self->disk_full = false;
    }
    self->n_batches++;
    if (self->metrics)
        pw_agg_metrics_batch(self->metrics, self->nitems, self->nmsgs, self->n_stored - stored0,
                             self->n_dup - dup0, (double)(pw_mono_us() - t0) / 1e6);
    for (size_t d = 0; d < self->cat->ndistricts; d++)
        self->status[d].dirty = false;
    for (size_t i = 0; i < self->npeers; i++) {
        struct peer *p = &self->peers[i];
        self->status[p->district].last_seq = p->last;
        if (p->item < 0)
            continue;
        pw_msg_t ack;
        memset(&ack, 0, sizeof(ack));
        ack.type = PW_MSG_ACK;
        ack.epoch = p->epoch;
        ack.seq = p->last;
        queue_reply(self, p->item, &ack);
    }
    for (size_t i = 0; i < self->nreplies; i++) {
        if (self->metrics && self->replies[i].msg.type == PW_MSG_NACK)
            pw_agg_metrics_nack(self->metrics, self->replies[i].msg.reason);
        send_frame(self, &self->items[self->replies[i].item].id, &self->replies[i].msg);
    }
    if (self->pending != self->head) {
        self->head = self->pending;
        zmq_send(self->notify, &self->head, sizeof(self->head), ZMQ_DONTWAIT);
    }
    return 0;
}

/* The district a message's CURVE key speaks for (see struct item). */
static int key_district(const pw_aggregator_t *self, zmq_msg_t *msg)
{
    if (!self->ring)
        return AUTH_NONE;
    const char *user = zmq_msg_gets(msg, "User-Id");
    for (size_t i = 0; user && i < pw_keyring_size(self->ring); i++)
        if (strcmp(pw_keyring_key(self->ring, i)->public_z85, user) == 0)
            return self->ring_district[i];
    return AUTH_REVOKED;
}

/*
 * Decodes the messages of the frame just received. A frame's first message
 * that cannot be decoded ends it: what follows it is not read (one nack
 * answers for the rest), nor anything past PW_FRAME_UPDATES_MAX messages.
 */
static void decode_frame(pw_aggregator_t *self, int item)
{
    zmq_msg_t *msg = &self->items[item].msg;
    const void *data = zmq_msg_data(msg);
    size_t len = zmq_msg_size(msg), pos = 0, n = 0;
    int a = self->items[item].auth;
    const char *who = a >= 0 ? self->cat->districts[a].id : "peer without a key";
    do {
        struct message *dm = &self->msgs[self->nmsgs++];
        dm->item = item;
        if (n++ == PW_FRAME_UPDATES_MAX) {
            memset(&dm->m, 0, sizeof(dm->m));
            dm->rc = PW_EMALFORMED;
            PW_WARN("%s: frame of more than %d messages: the rest of it (%zu bytes) rejected",
                    who, PW_FRAME_UPDATES_MAX, len - pos);
            return;
        }
        size_t at = pos;
        dm->rc = pw_msg_decode_next(data, len, &pos, &dm->m);
        if (dm->rc != 0) {
            PW_WARN("%s: malformed message (%zu bytes at byte %zu of a %zu-byte frame) "
                    "rejected%s: %s",
                    who, pos - at, at, len, pos < len ? " with the rest of the frame" : "",
                    pw_strerror(dm->rc));
            return;
        }
    } while (pos < len);
}

/* Receives the waiting frames without blocking, until their messages reach
 * batch_max (a frame is never split: the last may go past it). */
static int receive_batch(pw_aggregator_t *self)
{
    self->nitems = 0;
    self->nmsgs = 0;
    while (self->nmsgs < self->batch_max) {
        struct item *it = &self->items[self->nitems];
        zmq_msg_init(&it->id);
        zmq_msg_init(&it->msg);
        if (zmq_msg_recv(&it->id, self->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&it->id);
            zmq_msg_close(&it->msg);
            int err = zmq_errno();
            return err == EAGAIN || err == EINTR ? 0 : -err;
        }
        bool ok = zmq_msg_more(&it->id) && zmq_msg_recv(&it->msg, self->router, 0) >= 0;
        /* A well-behaved DEALER sends one frame: drain and drop anything longer. */
        bool extra = ok && zmq_msg_more(&it->msg), more = extra;
        while (more) {
            zmq_msg_t skip;
            zmq_msg_init(&skip);
            more = zmq_msg_recv(&skip, self->router, 0) >= 0 && zmq_msg_more(&skip);
            zmq_msg_close(&skip);
        }
        it->auth = key_district(self, &it->msg);
        if (!ok || extra) {
            self->n_rejected++;
            if (self->metrics)
                pw_agg_metrics_nack(self->metrics, PW_EMALFORMED);
            PW_WARN("message with a wrong number of frames rejected");
            pw_msg_t nk;
            memset(&nk, 0, sizeof(nk));
            nk.type = PW_MSG_NACK;
            nk.reason = PW_EMALFORMED;
            snprintf(nk.text, sizeof(nk.text), "one frame per message");
            send_frame(self, &it->id, &nk);
            zmq_msg_close(&it->id);
            zmq_msg_close(&it->msg);
            continue;
        }
        decode_frame(self, (int)self->nitems);
        self->nitems++;
    }
    return 0;
}

static void release_batch(pw_aggregator_t *self)
{
    for (size_t i = 0; i < self->nitems; i++) {
        zmq_msg_close(&self->items[i].id);
        zmq_msg_close(&self->items[i].msg);
    }
    self->nitems = 0;
}

/* Writes --metrics every few seconds (force: now, at exit). */
static void write_metrics(pw_aggregator_t *self, bool force)
{
    if (!self->metrics || (!force && pw_mono_ms() < self->next_metrics))
        return;
    self->next_metrics = pw_mono_ms() + PW_METRICS_INTERVAL_MS;
    for (size_t d = 0; d < self->cat->ndistricts; d++) {
        const struct district_status *st = &self->status[d];
        pw_agg_metrics_district(self->metrics, d, st->connected, st->seen_ms,
                                st->spool_head > st->last_seq ? st->spool_head - st->last_seq : 0,
                                st->last_seq);
    }
    pw_agg_metrics_handshakes(self->metrics, pw_zap_accepted(self->zap), pw_zap_refused(self->zap));
    int rc = pw_agg_metrics_write(self->metrics, self->opts.metrics_path, self->opts.store_dir,
                                  pw_store_map_size(self->store), self->head);
    /* Once per cause: a full disk would otherwise say so every few seconds. */
    if (rc != 0 && rc != self->metrics_rc)
        PW_WARN("cannot write metrics to %s: %s", self->opts.metrics_path, pw_strerror(rc));
    self->metrics_rc = rc;
}

int pw_aggregator_run(pw_aggregator_t *self, volatile sig_atomic_t *stop)
{
    PW_INFO("ready intake=%s events=%llu", self->endpoints, (unsigned long long)self->head);
    int rc = 0;
    while (!*stop) {
        if (self->opts.reload && *self->opts.reload) {
            *self->opts.reload = 0;
            if (self->ring && load_ring(self) != 0)
                PW_ERROR("keys not reloaded: the previous district keys stay in force");
        }
        zmq_pollitem_t items[] = {{self->router, 0, ZMQ_POLLIN, 0},
                                  {pw_handshake_socket(self->hs), 0, ZMQ_POLLIN, 0},
                                  {self->zap ? pw_zap_socket(self->zap) : NULL, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, self->zap ? 3 : 2, 200);
        check_silence(self);
        write_metrics(self, false);
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            pw_handshake_read(self->hs);
        if (n > 0 && self->zap && (items[2].revents & ZMQ_POLLIN))
            pw_zap_serve(self->zap, self->ring);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = -zmq_errno();
            break;
        }
        if (n == 0)
            continue;
        if ((rc = receive_batch(self)) != 0)
            break;
        if (self->nitems == 0)
            continue;
        rc = process_batch(self);
        release_batch(self);
        if (rc != 0)
            break;
    }
    write_metrics(self, true);
    PW_INFO("stopping: %llu updates stored, %llu duplicates, %llu rejected (%llu for another "
            "district), %llu handshakes refused, in %llu batches",
            (unsigned long long)self->n_stored, (unsigned long long)self->n_dup,
            (unsigned long long)self->n_rejected, (unsigned long long)self->n_forbidden,
            (unsigned long long)pw_zap_refused(self->zap), (unsigned long long)self->n_batches);
    return rc;
}
