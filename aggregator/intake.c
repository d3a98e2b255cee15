/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "aggregator_internal.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

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

int pw__intake_process(pw_aggregator_t *self)
{
    uint64_t head = pw_batch_head(self->batch);
    pw_batch_counts_t n0 = *pw_batch_counts(self->batch);
    int rc = pw_batch_apply(self->batch, self->msgs, self->nmsgs, pw_now_ms());
    if (rc != 0)
        return rc;
    if (self->metrics) {
        const pw_batch_counts_t *n = pw_batch_counts(self->batch);
        pw_agg_metrics_batch(self->metrics, self->nitems, self->nmsgs, n->stored - n0.stored,
                             n->dup - n0.dup, pw_batch_seconds(self->batch));
    }
    size_t nreplies;
    const pw_batch_reply_t *replies = pw_batch_replies(self->batch, &nreplies);
    for (size_t i = 0; i < nreplies; i++) {
        if (self->metrics && replies[i].msg.type == PW_MSG_NACK)
            pw_agg_metrics_nack(self->metrics, replies[i].msg.reason);
        send_frame(self, &self->items[replies[i].to].id, &replies[i].msg);
    }
    if (pw_batch_head(self->batch) != head) {
        head = pw_batch_head(self->batch);
        zmq_send(self->notify, &head, sizeof(head), ZMQ_DONTWAIT);
    }
    return 0;
}

/* The district a message's CURVE key speaks for (see struct pw_agg_item). */
static int key_district(const pw_aggregator_t *self, zmq_msg_t *msg)
{
    if (!self->ring)
        return PW_BATCH_AUTH_NONE;
    const char *user = zmq_msg_gets(msg, "User-Id");
    for (size_t i = 0; user && i < pw_keyring_size(self->ring); i++)
        if (strcmp(pw_keyring_key(self->ring, i)->public_z85, user) == 0)
            return self->ring_district[i];
    return PW_BATCH_AUTH_REVOKED;
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
        pw_batch_msg_t *dm = &self->msgs[self->nmsgs++];
        dm->from = item;
        dm->auth = a;
        if (n++ == PW_FRAME_UPDATES_MAX) {
            memset(&dm->m, 0, sizeof(dm->m));
            dm->rc = PW_EMALFORMED;
            PW_WARN("%s: frame of more than %d messages: the rest of it (%zu bytes) rejected", who,
                    PW_FRAME_UPDATES_MAX, len - pos);
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

/* Refuses a message of a wrong number of frames, unread. */
static void refuse_frames(pw_aggregator_t *self, struct pw_agg_item *it)
{
    self->n_bad_frames++;
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
}

int pw__intake_receive(pw_aggregator_t *self)
{
    self->nitems = 0;
    self->nmsgs = 0;
    while (self->nmsgs < self->batch_max) {
        struct pw_agg_item *it = &self->items[self->nitems];
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
            refuse_frames(self, it);
            continue;
        }
        decode_frame(self, (int)self->nitems);
        self->nitems++;
    }
    return 0;
}

void pw__intake_release(pw_aggregator_t *self)
{
    for (size_t i = 0; i < self->nitems; i++) {
        zmq_msg_close(&self->items[i].id);
        zmq_msg_close(&self->items[i].msg);
    }
    self->nitems = 0;
}
