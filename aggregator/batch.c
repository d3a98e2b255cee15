/* SPDX-License-Identifier: MIT */
#include "batch.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"
#include "restore.h"
#include "room.h"

#define PEERS_MAX 256             /* distinct (district, epoch) pairs in one batch */
#define SILENT_MS 5000            /* no message for this long: the collector is gone */
#define SKEW_MS   (5 * 60 * 1000) /* how far ahead of our clock an observation may be */

/* Per (district, epoch) state while a batch is applied. */
struct peer {
    int district;
    uint64_t epoch;
    uint64_t last;   /* last decided sequence */
    uint64_t stored; /* last sequence as read from the store */
    int to;          /* the frame to answer with the final ack, or -1 */
    bool gap_reported;
};

struct pw_batch {
    const pw_catalog_t *cat;
    pw_store_t *store;
    pw_model_t *model;
    size_t max;
    struct peer peers[PEERS_MAX];
    size_t npeers;
    pw_batch_reply_t *replies;
    size_t nreplies, replies_max;
    pw_txn_t *txn;    /* the open write transaction while a batch is applied */
    uint64_t head;    /* last event seq committed */
    uint64_t pending; /* events appended in the open transaction */
    pw_batch_district_t *status;
    pw_batch_counts_t n;
    double seconds;   /* the last committed transaction's */
    int64_t last_now; /* commit time of the last batch */
    pw_room_t room;   /* whether the store has room for it */
};

/* Writes each event the model emits into the open transaction. */
static int persist_event(void *ctx, pw_event_t *ev)
{
    pw_batch_t *self = ctx;
    int rc = pw__restore_persist_event(self->txn, ev);
    if (rc == 0)
        self->pending = ev->seq;
    return rc;
}

static void queue_reply(pw_batch_t *self, int to, const pw_msg_t *msg)
{
    if (self->nreplies < self->replies_max)
        self->replies[self->nreplies++] = (pw_batch_reply_t){to, *msg};
}

static void nack(pw_batch_t *self, int to, uint64_t epoch, uint64_t seq, int reason,
                 const char *text)
{
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_NACK;
    m.epoch = epoch;
    m.seq = seq;
    m.reason = reason;
    snprintf(m.text, sizeof(m.text), "%s", text);
    queue_reply(self, to, &m);
}

/* Finds or loads the batch state of (district, epoch). NULL if the table is full. */
static struct peer *peer_get(pw_batch_t *self, int d, uint64_t epoch, int *rc_out)
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
    p->to = -1;
    *rc_out = pw_store_seq_get(self->txn, self->cat->districts[d].id, epoch, &p->stored, NULL);
    if (*rc_out != 0)
        return NULL;
    p->last = p->stored;
    self->npeers++;
    return p;
}

/* Notes that district d spoke: it is connected and up to date. */
static void seen(pw_batch_t *self, int d, uint64_t epoch)
{
    pw_batch_district_t *st = &self->status[d];
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

void pw_batch_check_silence(pw_batch_t *self)
{
    int64_t now = pw_mono_ms();
    for (size_t d = 0; d < self->cat->ndistricts; d++) {
        pw_batch_district_t *st = &self->status[d];
        if (st->connected && now - st->last_seen > SILENT_MS) {
            st->connected = false;
            PW_INFO("%s silent for %d s: disconnected (last committed sequence %llu)",
                    self->cat->districts[d].id, SILENT_MS / 1000, (unsigned long long)st->last_seq);
        }
    }
}

/* With CURVE, a message may only speak for the district of the key that
 * sent it. False (and the message answered) when it may not. */
static bool authorized(pw_batch_t *self, const pw_batch_msg_t *bm, int d)
{
    const pw_msg_t *m = &bm->m;
    if (bm->auth == PW_BATCH_AUTH_NONE || bm->auth == d)
        return true;
    self->n.rejected++;
    if (bm->auth == PW_BATCH_AUTH_REVOKED) {
        PW_WARN("%s: message from a revoked key refused", m->district);
        nack(self, bm->from, m->epoch, m->seq, PW_EAUTH, "key unknown or revoked");
        return false;
    }
    self->n.forbidden++;
    PW_WARN("%s's key sent a message for %s: refused (%llu so far)",
            self->cat->districts[bm->auth].id, m->district, (unsigned long long)self->n.forbidden);
    nack(self, bm->from, m->epoch, m->seq, PW_EFORBIDDEN,
         "this key may not speak for that district");
    return false;
}

static void hello(pw_batch_t *self, const pw_batch_msg_t *bm)
{
    const pw_msg_t *m = &bm->m;
    int d = pw_catalog_district(self->cat, m->district, strlen(m->district));
    if (d < 0) {
        PW_WARN("hello from unknown district '%s'", m->district);
        nack(self, bm->from, m->epoch, 0, PW_EDISTRICT, "unknown district");
        return;
    }
    if (!authorized(self, bm, d))
        return;
    seen(self, d, m->epoch);
    self->status[d].spool_head = m->spool_head;
    int rc;
    struct peer *p = peer_get(self, d, m->epoch, &rc);
    if (!p) {
        nack(self, bm->from, m->epoch, 0, rc ? rc : -EBUSY, "try again");
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
    queue_reply(self, bm->from, &w);
}

/* Whether an update in sequence may be stored: 0, or the code (and the
 * text, in why) to nack it with. */
static int check_update(pw_batch_t *self, const pw_msg_t *m, int d, int64_t now, int *e_out,
                        char *why, size_t len)
{
    int rc = pw_msg_check_update(m, self->cat, d, e_out);
    why[0] = '\0';
    /* The bound is checked on intake only, not by pw_msg_check_update(): a
     * record stored before it existed (or before the catalog lowered it)
     * must still restore, export, import and replay. */
    if (rc == 0)
        rc = pw_catalog_check_value(self->cat, *e_out, m->value, NULL, why, len);
    if (rc == 0 && m->observed_ms > now + SKEW_MS)
        rc = PW_ETIME; /* a clock this wrong makes every "as of" question wrong */
    if (rc != 0 && !why[0])
        snprintf(why, len, "%s", pw_strerror(rc));
    return rc;
}

/* Stores an update that passed its checks: its log record, its current value
 * and the model's. */
static int store_update(pw_batch_t *self, const pw_msg_t *m, int d, int e, int64_t now)
{
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
    int rc;
    if ((rc = pw_store_log_append(self->txn, &rec, &logseq)) != 0 ||
        (rc = pw_store_current_put(self->txn, m->district, m->element, m->period, m->value,
                                   logseq)) != 0 ||
        (rc = pw_model_set(self->model, d, e, m->period, m->value, NULL)) != 0)
        return rc;
    self->n.stored++;
    return 0;
}

/* Applies one update inside the open transaction. A non-zero return is a
 * store failure that aborts the whole batch. */
static int update(pw_batch_t *self, const pw_batch_msg_t *bm, int64_t now, bool refuse)
{
    const pw_msg_t *m = &bm->m;
    int d = pw_catalog_district(self->cat, m->district, strlen(m->district));
    if (d < 0) {
        self->n.rejected++;
        nack(self, bm->from, m->epoch, m->seq, PW_EDISTRICT, "unknown district");
        return 0;
    }
    if (!authorized(self, bm, d))
        return 0;
    seen(self, d, m->epoch);
    if (refuse) {
        nack(self, bm->from, m->epoch, m->seq, PW_ESTOREFULL, self->room.text);
        return 0;
    }
    int rc;
    struct peer *p = peer_get(self, d, m->epoch, &rc);
    if (!p) {
        if (rc != 0)
            return rc;
        nack(self, bm->from, m->epoch, m->seq, -EBUSY, "too many collectors in one batch");
        return 0;
    }
    p->to = bm->from;
    if (m->seq <= p->last) {
        self->n.dup++; /* resent after a lost ack: acknowledged again, applied once */
        return 0;
    }
    if (m->seq != p->last + 1) {
        /* Something before it was lost in flight: take nothing out of order. */
        if (!p->gap_reported) {
            p->gap_reported = true;
            nack(self, bm->from, m->epoch, p->last, PW_EGAP,
                 "resend after the acknowledged sequence");
        }
        return 0;
    }
    p->last = m->seq;
    int e;
    char why[PW_MSG_TEXTMAX];
    int crc = check_update(self, m, d, now, &e, why, sizeof(why));
    if (crc != 0) {
        /* A rejected update still uses its sequence number, so the ones after
         * it are not taken for a gap; nothing of it is stored. */
        self->n.rejected++;
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(m->period, ptext);
        PW_WARN("%s: update %llu (%s %s = %g) rejected: %s", m->district,
                (unsigned long long)m->seq, m->element, ptext, m->value, why);
        nack(self, bm->from, m->epoch, m->seq, crc, why);
        return 0;
    }
    return store_update(self, m, d, e, now);
}

/* Writes each peer's last sequence, and what the bureau sees of each
 * collector (not while refusing, when the store has no room for anything). */
static int put_sequences(pw_batch_t *self, int64_t now, bool refuse)
{
    int rc = 0;
    for (size_t i = 0; i < self->npeers && rc == 0; i++) {
        struct peer *p = &self->peers[i];
        if (p->epoch == self->status[p->district].epoch)
            self->status[p->district].last_seq = p->last;
        if (p->last != p->stored)
            rc = pw_store_seq_put(self->txn, self->cat->districts[p->district].id, p->epoch,
                                  p->last, now);
    }
    for (size_t d = 0; d < self->cat->ndistricts && rc == 0 && !refuse; d++) {
        pw_batch_district_t *ds = &self->status[d];
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
    return rc;
}

/* Applies the batch in one transaction; refuse: take no update. */
static int apply_once(pw_batch_t *self, const pw_batch_msg_t *msgs, size_t n, bool refuse,
                      int64_t now)
{
    self->npeers = 0;
    self->nreplies = 0;
    int rc = pw_store_begin(self->store, true, &self->txn);
    if (rc != 0)
        return rc;
    self->pending = self->head;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const pw_batch_msg_t *bm = &msgs[i];
        if (bm->rc != 0) {
            self->n.rejected++;
            nack(self, bm->from, 0, 0, bm->rc, pw_strerror(bm->rc));
            continue;
        }
        if (bm->m.type == PW_MSG_HELLO)
            hello(self, bm);
        else if (bm->m.type == PW_MSG_UPDATE)
            rc = update(self, bm, now, refuse);
        else
            nack(self, bm->from, bm->m.epoch, bm->m.seq, PW_ETYPE,
                 "collectors send hello and update");
    }
    if (rc == 0)
        rc = put_sequences(self, now, refuse);
    if (rc == 0 && !refuse)
        rc = pw_model_flush(self->model, now, persist_event, self);
    /* A refused batch changes nothing: with the disk full, even a commit
     * with nothing in it could fail. */
    if (rc == 0 && !refuse)
        return pw_store_commit(&self->txn);
    pw_store_abort(&self->txn);
    return rc;
}

/*
 * After a failed commit: 0 to apply the batch again (the map grown, or
 * updates now refused), or the code that stops the aggregator.
 */
static int after_failure(pw_batch_t *self, int rc, size_t n)
{
    /* Nothing of the batch is stored: bring the model back to the store. */
    int rrc = pw__restore_model(self->store, self->cat, &self->model, &self->head);
    if (rrc != 0) {
        PW_ERROR("cannot restore state after a failed commit: %s", pw_strerror(rrc));
        return rrc;
    }
    return pw__room_failed(&self->room, rc, n);
}

/* Applies the batch until it commits: again after the map grew, or refusing
 * updates once there is no room. */
static int commit(pw_batch_t *self, const pw_batch_msg_t *msgs, size_t n, int64_t now)
{
    bool refuse = pw__room_refusing(&self->room);
    pw_batch_counts_t n0 = self->n;
    for (;;) {
        /* A batch applied again after the map grew is counted once, and one
         * that failed not at all: the counts are of what was committed. */
        self->n = n0;
        int64_t t0 = pw_mono_us();
        int rc = apply_once(self, msgs, n, refuse, now);
        if (rc == 0) {
            self->seconds = (double)(pw_mono_us() - t0) / 1e6;
            break;
        }
        self->n.stored = n0.stored;
        self->n.dup = n0.dup;
        if ((rc = after_failure(self, rc, n)) != 0)
            return rc;
        refuse = self->room.full;
    }
    pw__room_committed(&self->room);
    return 0;
}

int pw_batch_apply(pw_batch_t *self, const pw_batch_msg_t *msgs, size_t n, int64_t now_ms)
{
    /* Each batch gets its own commit time, strictly increasing: a rebuild
     * tells the original batches apart by it (replay/rebuild.h). */
    if (now_ms <= self->last_now)
        now_ms = self->last_now + 1;
    self->last_now = now_ms;
    assert(n <= self->max); /* the replies have room for no more */
    int rc = commit(self, msgs, n, now_ms);
    if (rc != 0)
        return rc;
    self->n.batches++;
    for (size_t d = 0; d < self->cat->ndistricts; d++)
        self->status[d].dirty = false;
    for (size_t i = 0; i < self->npeers; i++) {
        struct peer *p = &self->peers[i];
        self->status[p->district].last_seq = p->last;
        if (p->to < 0)
            continue;
        pw_msg_t ack;
        memset(&ack, 0, sizeof(ack));
        ack.type = PW_MSG_ACK;
        ack.epoch = p->epoch;
        ack.seq = p->last;
        queue_reply(self, p->to, &ack);
    }
    self->head = self->pending;
    return 0;
}

const pw_batch_reply_t *pw_batch_replies(const pw_batch_t *self, size_t *n_out)
{
    *n_out = self->nreplies;
    return self->replies;
}

double pw_batch_seconds(const pw_batch_t *self)
{
    return self->seconds;
}

uint64_t pw_batch_head(const pw_batch_t *self)
{
    return self->head;
}

const pw_batch_counts_t *pw_batch_counts(const pw_batch_t *self)
{
    return &self->n;
}

const pw_batch_district_t *pw_batch_district(const pw_batch_t *self, size_t d)
{
    return &self->status[d];
}

int pw_batch_new(const pw_batch_opts_t *opts, pw_batch_t **out)
{
    *out = NULL;
    pw_batch_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->cat = opts->catalog;
    self->store = opts->store;
    self->max = opts->max;
    self->room.store = opts->store;
    self->room.map_max = opts->map_max ? opts->map_max : (size_t)64 << 30;
    self->replies_max = opts->max + PEERS_MAX;
    self->replies = calloc(self->replies_max, sizeof(*self->replies));
    self->status = calloc(self->cat->ndistricts + 1, sizeof(*self->status));
    int rc = -ENOMEM;
    if (self->replies && self->status)
        rc = pw__restore_model(self->store, self->cat, &self->model, &self->head);
    if (rc != 0) {
        pw_batch_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void pw_batch_destroy(pw_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_batch_t *self = *self_p;
    pw_store_abort(&self->txn);
    pw_model_destroy(&self->model);
    free(self->replies);
    free(self->status);
    free(self);
    *self_p = NULL;
}
