/* SPDX-License-Identifier: MIT */
#include "collector.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "pw/error.h"
#include "pw/log.h"
#include "pw/msg.h"
#include "pw/util.h"

struct session {
    const pw_collector_opts_t *opts;
    const pw_obs_t *obs;
    size_t n;
    void *sock;
    uint64_t epoch;
    uint64_t first;   /* seq of obs[0] */
    uint64_t acked;   /* everything up to here is answered */
    uint64_t next;    /* next seq to send */
    uint64_t highest; /* highest seq ever sent */
    unsigned char *nacked; /* per observation: rejected */
    pw_buf_t buf;
    pw_collector_reject_fn on_reject;
    void *ctx;
    pw_collector_result_t *res;
};

static int send_msg(struct session *s, const pw_msg_t *m)
{
    int rc = pw_msg_encode(m, &s->buf);
    if (rc != 0)
        return rc;
    if (zmq_send(s->sock, s->buf.data, s->buf.len, 0) < 0)
        return -zmq_errno();
    return 0;
}

static int send_update(struct session *s, uint64_t seq)
{
    const pw_obs_t *o = &s->obs[seq - s->first];
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_UPDATE;
    snprintf(m.district, sizeof(m.district), "%s", s->opts->district);
    m.epoch = s->epoch;
    m.seq = seq;
    snprintf(m.element, sizeof(m.element), "%s", o->element);
    m.period = o->period;
    m.value = o->value;
    m.observed_ms = pw_now_ms();
    if (seq <= s->highest)
        s->res->resent++;
    else
        s->highest = seq;
    return send_msg(s, &m);
}

/* Waits for one frame up to timeout_ms; 0 with *m filled, PW_ETIMEOUT, or an error. */
static int recv_msg(struct session *s, int timeout_ms, pw_msg_t *m)
{
    zmq_pollitem_t item = {s->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0)
        return zmq_errno() == EINTR ? PW_ETIMEOUT : -zmq_errno();
    if (n == 0)
        return PW_ETIMEOUT;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s->sock, 0) < 0) {
        zmq_msg_close(&msg);
        return PW_ETIMEOUT;
    }
    int rc = pw_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), m);
    zmq_msg_close(&msg);
    return rc;
}

static int handshake(struct session *s)
{
    pw_msg_t hello;
    memset(&hello, 0, sizeof(hello));
    hello.type = PW_MSG_HELLO;
    snprintf(hello.district, sizeof(hello.district), "%s", s->opts->district);
    hello.epoch = s->epoch;
    int64_t deadline = pw_mono_ms() + s->opts->timeout_ms;
    while (pw_mono_ms() < deadline) {
        int rc = send_msg(s, &hello);
        if (rc != 0)
            return rc;
        pw_msg_t m;
        int64_t until = pw_mono_ms() + 1000;
        while ((rc = recv_msg(s, (int)(until - pw_mono_ms()), &m)) != PW_ETIMEOUT) {
            if (rc != 0)
                continue; /* not ours to understand; keep waiting */
            if (m.type == PW_MSG_WELCOME && m.epoch == s->epoch) {
                s->first = s->acked = m.seq;
                s->first++;
                s->next = s->first;
                s->highest = m.seq;
                return 0;
            }
            if (m.type == PW_MSG_NACK && m.epoch == s->epoch) {
                PW_ERROR("aggregator refused %s: %s", s->opts->district, m.text);
                return m.reason ? m.reason : PW_EDISTRICT;
            }
            if (pw_mono_ms() >= until)
                break;
        }
    }
    return PW_ETIMEOUT;
}

static void on_answer(struct session *s, const pw_msg_t *m)
{
    if (m->epoch != s->epoch)
        return; /* an answer to an earlier run of this district */
    uint64_t last = s->first + s->n - 1;
    if (m->type == PW_MSG_ACK) {
        if (m->seq > s->acked && m->seq <= last)
            s->acked = m->seq;
    } else if (m->type == PW_MSG_NACK && m->reason == PW_EGAP) {
        /* The aggregator lost something in flight: go back to what it has. */
        if (m->seq >= s->acked && m->seq < s->next) {
            s->acked = m->seq;
            s->next = m->seq + 1;
        }
    } else if (m->type == PW_MSG_NACK && m->seq >= s->first && m->seq <= last) {
        size_t i = (size_t)(m->seq - s->first);
        if (!s->nacked[i]) {
            s->nacked[i] = 1;
            s->res->rejected++;
            if (s->on_reject)
                s->on_reject(s->ctx, &s->obs[i], m->reason, m->text);
        }
        if (m->seq > s->acked)
            s->acked = m->seq;
    }
    if (s->next <= s->acked)
        s->next = s->acked + 1;
}

static int run(struct session *s)
{
    int rc = handshake(s);
    if (rc != 0)
        return rc;
    uint64_t end = s->first + s->n; /* one past the last seq */
    int64_t last_progress = pw_mono_ms();
    while (s->acked + 1 < end) {
        while (s->next < end && s->next - s->acked <= s->opts->window)
            if ((rc = send_update(s, s->next++)) != 0)
                return rc;
        pw_msg_t m;
        uint64_t before = s->acked;
        rc = recv_msg(s, 100, &m);
        if (rc == 0)
            on_answer(s, &m);
        if (s->acked != before) {
            last_progress = pw_mono_ms();
            continue;
        }
        int64_t quiet = pw_mono_ms() - last_progress;
        if (quiet >= s->opts->timeout_ms)
            return PW_ETIMEOUT;
        if (rc == PW_ETIMEOUT && quiet >= s->opts->resend_ms && s->next > s->acked + 1) {
            /* Silence: whatever is in flight may be lost; the aggregator
             * absorbs anything it already has. */
            s->next = s->acked + 1;
            last_progress = pw_mono_ms() - s->opts->resend_ms / 2;
        }
    }
    s->res->stored = s->n - s->res->rejected;
    return 0;
}

int pw_collector_send(const pw_collector_opts_t *opts, const pw_obs_t *obs, size_t n,
                      pw_collector_reject_fn on_reject, void *ctx, pw_collector_result_t *res)
{
    memset(res, 0, sizeof(*res));
    res->sent = n;
    pw_collector_opts_t o = *opts;
    if (!o.window)
        o.window = 1024;
    if (o.timeout_ms <= 0)
        o.timeout_ms = 30000;
    if (o.resend_ms <= 0)
        o.resend_ms = 2000;
    struct session s = {.opts = &o, .obs = obs, .n = n, .on_reject = on_reject, .ctx = ctx,
                        .res = res};
    s.epoch = pw_random_u64();
    s.nacked = calloc(n ? n : 1, 1);
    void *zctx = zmq_ctx_new();
    int rc;
    if (!s.nacked || !zctx) {
        rc = -ENOMEM;
        goto out;
    }
    s.sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!s.sock) {
        rc = -zmq_errno();
        goto out;
    }
    int linger = 0, ivl = 1000, hb_timeout = 3000;
    zmq_setsockopt(s.sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s.sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(s.sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout));
    if (zmq_connect(s.sock, o.connect) != 0) {
        rc = -zmq_errno();
        PW_ERROR("zmq_connect(%s) failed: %s", o.connect, pw_strerror(rc));
        goto out;
    }
    rc = run(&s);
out:
    if (s.sock)
        zmq_close(s.sock);
    if (zctx)
        zmq_ctx_term(zctx);
    pw_buf_free(&s.buf);
    free(s.nacked);
    return rc;
}
