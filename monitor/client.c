/* SPDX-License-Identifier: MIT */
#include "client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "pw/endpoint.h"
#include "pw/auth.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/util.h"

struct pw_client {
    void *ctx, *sub, *dealer;
    pw_handshake_t *hs;   /* the dealer's failed handshakes, for a timeout to explain */
    char *why;            /* auth->why */
    size_t why_len;
    uint64_t last; /* last delivered */
    uint64_t head; /* highest known to exist */
    pw_buf_t buf;
};

int pw_client_new(const char *pub, const char *snap, const pw_client_auth_t *auth,
                  pw_client_t **out)
{
    *out = NULL;
    char derived[512];
    if (!snap) {
        if (pw_snapshot_endpoint(pub, derived, sizeof(derived)) != 0)
            return -EINVAL;
        snap = derived;
    }
    pw_client_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    int rc = 0, zero = 0, hwm = 100000;
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto zfail;
    self->sub = zmq_socket(self->ctx, ZMQ_SUB);
    self->dealer = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!self->sub || !self->dealer)
        goto zfail;
    zmq_setsockopt(self->sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(self->dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(self->sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "", 0);
    pw_client_auth_t none = {0};
    if (!auth)
        auth = &none;
    const char *desk = auth->desk ? auth->desk : "bureau";
    if ((rc = pw_curve_client_setup(self->sub, pub, auth->keys_dir, "desks", desk, "publisher",
                                    auth->insecure)) != 0 ||
        (rc = pw_curve_client_setup(self->dealer, snap, auth->keys_dir, "desks", desk,
                                    "publisher", auth->insecure)) != 0) {
        pw_client_destroy(&self);
        return rc;
    }
    self->why = auth->why;
    self->why_len = auth->why_len;
    if ((rc = pw_handshake_watch(self->ctx, self->dealer, false, "snapshot", &self->hs)) != 0) {
        pw_client_destroy(&self);
        return rc;
    }
    if (zmq_connect(self->sub, pub) != 0 || zmq_connect(self->dealer, snap) != 0)
        goto zfail;
    *out = self;
    return 0;
zfail:
    rc = -zmq_errno();
    pw_client_destroy(&self);
    return rc;
}

void pw_client_destroy(pw_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_client_t *self = *self_p;
    pw_handshake_destroy(&self->hs); /* its monitor watches the dealer */
    if (self->sub)
        zmq_close(self->sub);
    if (self->dealer)
        zmq_close(self->dealer);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pw_buf_free(&self->buf);
    free(self);
    *self_p = NULL;
}

/* One request, one reply; a reply to an older, timed-out request is skipped. */
static int request(pw_client_t *self, const pw_request_t *req, int timeout_ms, pw_reply_t *out)
{
    int rc = pw_request_encode(req, &self->buf);
    if (rc != 0)
        return rc;
    if (zmq_send(self->dealer, self->buf.data, self->buf.len, 0) < 0)
        return -zmq_errno();
    int64_t deadline = pw_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - pw_mono_ms();
        if (left <= 0) {
            if (self->why && self->why_len)
                pw_handshake_hint(self->hs, self->why, self->why_len);
            return PW_ETIMEOUT;
        }
        zmq_pollitem_t item = {self->dealer, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, (long)left);
        if (n < 0 && zmq_errno() != EINTR)
            return -zmq_errno();
        if (n <= 0)
            continue;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->dealer, 0) < 0) {
            zmq_msg_close(&msg);
            continue;
        }
        rc = pw_reply_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), out);
        zmq_msg_close(&msg);
        if (rc != 0)
            return rc;
        bool matches = out->type == req->type &&
                       (req->type != PW_REQ_RANGE || out->nevents == 0 ||
                        out->events[0].seq == req->from);
        if (matches)
            break;
        pw_reply_clear(out);
    }
    if (out->seq > self->head)
        self->head = out->seq;
    return 0;
}

int pw_client_snapshot(pw_client_t *self, int timeout_ms, pw_reply_t *out)
{
    pw_request_t req = {.type = PW_REQ_SNAP};
    pw_reply_clear(out);
    int rc = request(self, &req, timeout_ms, out);
    if (rc == 0)
        self->last = out->seq;
    return rc;
}

/* Fetches and delivers the stored events last+1..to. */
static int fill(pw_client_t *self, uint64_t to, int timeout_ms, pw_client_fn fn, void *ctx)
{
    while (self->last < to) {
        pw_request_t req = {.type = PW_REQ_RANGE, .from = self->last + 1, .to = to};
        pw_reply_t rep = {0};
        int rc = request(self, &req, timeout_ms, &rep);
        if (rc != 0)
            return rc;
        if (rep.nevents == 0) {
            pw_reply_clear(&rep);
            return PW_ENOTFOUND; /* the publisher's store does not have them (yet) */
        }
        for (size_t i = 0; i < rep.nevents && rc == 0; i++) {
            if (rep.events[i].seq != self->last + 1)
                continue;
            self->last = rep.events[i].seq;
            rc = fn(ctx, &rep.events[i]);
        }
        pw_reply_clear(&rep);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int on_event(pw_client_t *self, const pw_event_t *ev, int timeout_ms, pw_client_fn fn,
                    void *ctx)
{
    if (ev->seq > self->head)
        self->head = ev->seq;
    /* A publisher that does not answer a fill (it is restarting) is no
     * reason to give up: the live event is dropped, not delivered out of
     * order, and the next heartbeat or event fills the gap again. */
    if (ev->type == PW_EV_HB) {
        /* An idle stream says how far it got: anything missed is fetched now. */
        int rc = ev->seq > self->last ? fill(self, ev->seq, timeout_ms, fn, ctx) : 0;
        return rc == PW_ETIMEOUT || rc == PW_ENOTFOUND ? 0 : rc;
    }
    if (ev->seq <= self->last)
        return 0; /* already in the snapshot or delivered */
    if (ev->seq > self->last + 1) {
        int rc = fill(self, ev->seq - 1, timeout_ms, fn, ctx);
        if (rc == PW_ETIMEOUT || rc == PW_ENOTFOUND)
            return 0;
        if (rc != 0)
            return rc;
    }
    self->last = ev->seq;
    return fn(ctx, ev);
}

int pw_client_poll(pw_client_t *self, int timeout_ms, pw_client_fn fn, void *ctx)
{
    zmq_pollitem_t item = {self->sub, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0)
        return zmq_errno() == EINTR ? 0 : -zmq_errno();
    int rc = 0;
    while (rc == 0) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&topic, self->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            break;
        }
        if (zmq_msg_more(&topic) && zmq_msg_recv(&body, self->sub, 0) >= 0) {
            bool batch = zmq_msg_size(&topic) == 5 && memcmp(zmq_msg_data(&topic), "rates", 5) == 0;
            pw_event_t ev;
            if (batch) {
                pw_reply_t rep = {0};
                if (pw_reply_decode(zmq_msg_data(&body), zmq_msg_size(&body), &rep) == 0)
                    for (size_t i = 0; i < rep.nevents && rc == 0; i++)
                        rc = on_event(self, &rep.events[i], 2000, fn, ctx);
                pw_reply_clear(&rep);
            } else if (pw_event_decode(zmq_msg_data(&body), zmq_msg_size(&body), &ev) == 0) {
                rc = on_event(self, &ev, 2000, fn, ctx);
            }
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
    return rc;
}

int pw_client_catch_up(pw_client_t *self, int timeout_ms, pw_client_fn fn, void *ctx)
{
    int rc = pw_client_poll(self, 0, fn, ctx);
    while (rc == 0) {
        pw_request_t req = {.type = PW_REQ_RANGE, .from = self->last + 1, .to = UINT64_MAX};
        pw_reply_t rep = {0};
        if ((rc = request(self, &req, timeout_ms, &rep)) != 0)
            break;
        for (size_t i = 0; i < rep.nevents && rc == 0; i++) {
            if (rep.events[i].seq != self->last + 1)
                continue;
            self->last = rep.events[i].seq;
            rc = fn(ctx, &rep.events[i]);
        }
        bool done = rep.nevents == 0 || self->last >= rep.seq;
        pw_reply_clear(&rep);
        if (done)
            break;
    }
    return rc;
}

int pw_client_request(pw_client_t *self, const pw_request_t *req, int timeout_ms,
                      pw_reply_t *out)
{
    pw_reply_clear(out);
    return request(self, req, timeout_ms, out);
}

uint64_t pw_client_seq(const pw_client_t *self)
{
    return self->last;
}

uint64_t pw_client_head(const pw_client_t *self)
{
    return self->head;
}
