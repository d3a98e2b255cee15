/* SPDX-License-Identifier: MIT */
#include "sender.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "pw/error.h"
#include "pw/util.h"

#define WINDOW      1024 /* updates in flight at most, over all reporters */
#define STREAMS_MAX 256

/* One reporter's replay instance. */
struct stream {
    char district[PW_ID_MAX];
    uint64_t epoch;
    uint64_t sent;     /* last sequence sent */
    uint64_t answered; /* everything up to here is answered */
    bool welcomed;
};

struct pw_sender {
    void *ctx, *sock;
    int timeout_ms;
    struct stream streams[STREAMS_MAX];
    size_t nstreams;
    uint64_t in_flight, stored, rejected;
    pw_buf_t buf;
};

int pw_sender_new(const char *endpoint, int timeout_ms, pw_sender_t **out)
{
    *out = NULL;
    pw_sender_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    self->ctx = zmq_ctx_new();
    self->sock = self->ctx ? zmq_socket(self->ctx, ZMQ_DEALER) : NULL;
    int zero = 0, hwm = 100000;
    if (!self->sock) {
        int rc = -zmq_errno();
        pw_sender_destroy(&self);
        return rc;
    }
    zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_connect(self->sock, endpoint) != 0) {
        int rc = -zmq_errno();
        pw_sender_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void pw_sender_destroy(pw_sender_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_sender_t *self = *self_p;
    if (self->sock)
        zmq_close(self->sock);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pw_buf_free(&self->buf);
    free(self);
    *self_p = NULL;
}

void pw_sender_counts(const pw_sender_t *self, uint64_t *stored, uint64_t *rejected)
{
    *stored = self->stored;
    *rejected = self->rejected;
}

static int send_msg(pw_sender_t *self, const pw_msg_t *m)
{
    int rc = pw_msg_encode(m, &self->buf);
    if (rc == 0 && zmq_send(self->sock, self->buf.data, self->buf.len, 0) < 0)
        rc = -zmq_errno();
    return rc;
}

static struct stream *find(pw_sender_t *self, uint64_t epoch)
{
    for (size_t i = 0; i < self->nstreams; i++)
        if (self->streams[i].epoch == epoch)
            return &self->streams[i];
    return NULL;
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

/* Waits up to timeout_ms for one answer and applies it. */
static int receive(pw_sender_t *self, int timeout_ms)
{
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0)
        return zmq_errno() == EINTR ? 0 : -zmq_errno();
    if (n == 0)
        return PW_ETIMEOUT;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    pw_msg_t m;
    int rc = zmq_msg_recv(&msg, self->sock, 0) >= 0 &&
                     pw_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m) == 0
                 ? 0
                 : 1;
    zmq_msg_close(&msg);
    if (rc != 0)
        return 0;
    struct stream *s = find(self, m.epoch);
    if (!s)
        return 0;
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
        pw_msg_t hello;
        memset(&hello, 0, sizeof(hello));
        hello.type = PW_MSG_HELLO;
        snprintf(hello.district, sizeof(hello.district), "%s", rec->district);
        hello.epoch = s->epoch;
        if ((rc = send_msg(self, &hello)) != 0 || (rc = wait_until(self, welcomed, s)) != 0)
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
    return send_msg(self, &m);
}

int pw_sender_finish(pw_sender_t *self)
{
    return wait_until(self, all_answered, NULL);
}
