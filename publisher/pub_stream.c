/* SPDX-License-Identifier: MIT */
/* The publisher's stream: new events from the store, rate events batched, heartbeats. */
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

/* Sends the rate events gathered so far as one message. */
int pw__pub_flush_rates(pw_publisher_t *self)
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
        return rc == 0 && self->batch.nevents >= BATCH_MAX ? pw__pub_flush_rates(self) : rc;
    }
    int rc = pw__pub_flush_rates(self);
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

int pw__pub_publish_new(pw_publisher_t *self)
{
    if (pw__pub_ensure_store(self) != 0)
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
        rc = pw__pub_flush_rates(self);
    pw_store_abort(&txn);
    return rc;
}

void pw__pub_heartbeat(pw_publisher_t *self)
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
