/* SPDX-License-Identifier: MIT */
#include "sender.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "pw/auth.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/util.h"

#define WINDOW      1024 /* updates in flight at most, over all reporters */
#define STREAMS_MAX 256

/* One reporter's replay instance, on a connection of its own: with CURVE, a
 * connection speaks for the one district whose key it holds. */
struct stream {
    void *sock;
    pw_handshake_t *hs; /* failed handshakes, for a timeout to explain */
    char district[PW_ID_MAX];
    uint64_t epoch;
    uint64_t sent;     /* last sequence sent */
    uint64_t answered; /* everything up to here is answered */
    bool welcomed;
};

struct pw_sender {
    void *ctx;
    const char *endpoint;
    const char *keys_dir;
    int timeout_ms;
    struct stream streams[STREAMS_MAX];
    size_t nstreams;
    uint64_t in_flight, stored, rejected;
    pw_buf_t buf;
};

int pw_sender_new(const char *endpoint, const char *keys_dir, bool insecure, int timeout_ms,
                  pw_sender_t **out)
{
    *out = NULL;
    int rc = pw_transport_check(endpoint, keys_dir, insecure);
    if (rc != 0)
        return rc;
    pw_sender_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->endpoint = endpoint;
    self->keys_dir = keys_dir;
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    self->ctx = zmq_ctx_new();
    if (!self->ctx) {
        rc = -zmq_errno();
        pw_sender_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

/* Opens the stream's connection, with its district's key under CURVE. */
static int stream_connect(pw_sender_t *self, struct stream *s)
{
    s->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!s->sock)
        return -zmq_errno();
    int zero = 0, hwm = 100000;
    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    int rc = 0;
    if (self->keys_dir)
        rc = pw_curve_client_setup(s->sock, self->endpoint, self->keys_dir, "districts",
                                   s->district, "aggregator", false);
    if (rc == 0)
        rc = pw_handshake_watch(self->ctx, s->sock, false, s->district, &s->hs);
    if (rc == 0 && zmq_connect(s->sock, self->endpoint) != 0)
        rc = -zmq_errno();
    return rc;
}

void pw_sender_destroy(pw_sender_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_sender_t *self = *self_p;
    for (size_t i = 0; i < self->nstreams; i++) {
        pw_handshake_destroy(&self->streams[i].hs);
        if (self->streams[i].sock)
            zmq_close(self->streams[i].sock);
    }
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pw_buf_free(&self->buf);
    free(self);
    *self_p = NULL;
}

bool pw_sender_hint(pw_sender_t *self, char *buf, size_t len)
{
    for (size_t i = 0; i < self->nstreams; i++)
        if (pw_handshake_hint(self->streams[i].hs, buf, len))
            return true;
    return false;
}

void pw_sender_counts(const pw_sender_t *self, uint64_t *stored, uint64_t *rejected)
{
    *stored = self->stored;
    *rejected = self->rejected;
}

static int send_msg(pw_sender_t *self, struct stream *s, const pw_msg_t *m)
{
    int rc = pw_msg_encode(m, &self->buf);
    if (rc == 0 && zmq_send(s->sock, self->buf.data, self->buf.len, 0) < 0)
        rc = -zmq_errno();
    return rc;
}


static void answered(pw_sender_t *self, struct stream *s, uint64_t seq, bool rejected)
{
    if (seq <= s->answered || seq > s->sent)
        return;
    uint64_t n = seq - s->answered;
    if (rejected) {
        self->rejected++;
        self->stored += n - 1;
    } else {
        self->stored += n;
    }
    self->in_flight -= n;
    s->answered = seq;
}

/* Applies one answer of stream s. */
static int on_answer(pw_sender_t *self, struct stream *s, const pw_msg_t *m_)
{
    const pw_msg_t m = *m_;
    if (m.epoch != s->epoch)
        return 0;
    if (m.type == PW_MSG_NACK && (m.reason == PW_EAUTH || m.reason == PW_EFORBIDDEN))
        return m.reason; /* the key is refused: nothing more will be taken */
    if (m.type == PW_MSG_WELCOME)
        s->welcomed = true;
    else if (m.type == PW_MSG_ACK)
        answered(self, s, m.seq, false);
    else if (m.type == PW_MSG_NACK && m.reason == PW_EGAP)
        return PW_EGAP; /* cannot happen on one connection in order; never hide it */
    else if (m.type == PW_MSG_NACK && m.reason == PW_ESTOREFULL)
        return PW_ESTOREFULL;
    else if (m.type == PW_MSG_NACK)
        answered(self, s, m.seq, true);
    return 0;
}

/* Waits up to timeout_ms for answers and applies them. */
static int receive(pw_sender_t *self, int timeout_ms)
{
    zmq_pollitem_t items[STREAMS_MAX];
    for (size_t i = 0; i < self->nstreams; i++)
        items[i] = (zmq_pollitem_t){self->streams[i].sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(items, (int)self->nstreams, timeout_ms);
    if (n < 0)
        return zmq_errno() == EINTR ? 0 : -zmq_errno();
    if (n == 0)
        return PW_ETIMEOUT;
    int rc = 0;
    for (size_t i = 0; i < self->nstreams && rc == 0; i++) {
        if (!(items[i].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        pw_msg_t m;
        if (zmq_msg_recv(&msg, items[i].socket, ZMQ_DONTWAIT) >= 0 &&
            pw_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m) == 0)
            rc = on_answer(self, &self->streams[i], &m);
        zmq_msg_close(&msg);
    }
    return rc;
}

/* Waits until pred holds, failing after timeout_ms without any answer. */
static int wait_until(pw_sender_t *self, bool (*pred)(pw_sender_t *, void *), void *arg)
{
    int64_t deadline = pw_mono_ms() + self->timeout_ms;
    while (!pred(self, arg)) {
        int64_t left = deadline - pw_mono_ms();
        if (left <= 0)
            return PW_ETIMEOUT;
        int rc = receive(self, (int)left);
        if (rc == PW_ETIMEOUT)
            return rc;
        if (rc != 0)
            return rc;
        deadline = pw_mono_ms() + self->timeout_ms;
    }
    return 0;
}

static bool welcomed(pw_sender_t *self, void *arg)
{
    (void)self;
    return ((struct stream *)arg)->welcomed;
}

static bool has_room(pw_sender_t *self, void *arg)
{
    (void)arg;
    return self->in_flight < WINDOW;
}

static bool all_answered(pw_sender_t *self, void *arg)
{
    (void)arg;
    return self->in_flight == 0;
}

int pw_sender_add(pw_sender_t *self, const pw_msg_t *rec)
{
    struct stream *s = NULL;
    for (size_t i = 0; i < self->nstreams && !s; i++)
        if (strcmp(self->streams[i].district, rec->district) == 0)
            s = &self->streams[i];
    int rc;
    if (!s) {
        if (self->nstreams == STREAMS_MAX)
            return -ENOSPC;
        s = &self->streams[self->nstreams++];
        memset(s, 0, sizeof(*s));
        snprintf(s->district, sizeof(s->district), "%s", rec->district);
        s->epoch = pw_random_u64();
        if ((rc = stream_connect(self, s)) != 0)
            return rc;
        pw_msg_t hello;
        memset(&hello, 0, sizeof(hello));
        hello.type = PW_MSG_HELLO;
        snprintf(hello.district, sizeof(hello.district), "%s", rec->district);
        hello.epoch = s->epoch;
        if ((rc = send_msg(self, s, &hello)) != 0 || (rc = wait_until(self, welcomed, s)) != 0)
            return rc;
    }
    if ((rc = wait_until(self, has_room, NULL)) != 0)
        return rc;
    pw_msg_t m = *rec;
    m.type = PW_MSG_UPDATE;
    m.epoch = s->epoch;
    m.seq = ++s->sent;
    m.received_ms = 0;
    self->in_flight++;
    return send_msg(self, s, &m);
}

int pw_sender_finish(pw_sender_t *self)
{
    return wait_until(self, all_answered, NULL);
}
