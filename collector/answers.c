/* SPDX-License-Identifier: MIT */
/* The collector's answers from the aggregator: welcomes, acks, refusals and rejections. */
#include "collector_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "lmdb_util.h"
#include "pw/auth.h"
#include "pw/error.h"
#include "pw/handshake.h"
#include "pw/log.h"
#include "pw/util.h"
#include "spool.h"

static int line_of(const struct run *r, const pw_msg_t *m)
{
    for (size_t i = 0; r->df && i < r->df->n; i++)
        if (pw_period_eq(r->df->obs[i].period, m->period) &&
            strcmp(r->df->obs[i].element, m->element) == 0)
            return r->df->obs[i].line;
    return 0;
}


struct reject_ctx {
    struct run *r;
    int reason;
    const char *text;
};

/* Keeps a rejection to record in the spool after this batch of answers:
 * one transaction for them all. */
static int keep_rejection(struct run *r, const pw_msg_t *m, int line, int reason,
                          const char *text)
{
    pw_spool_rejection_t *grown = r->rej;
    if (r->nrej == r->caprej) {
        size_t cap = r->caprej ? r->caprej * 2 : 16;
        if (!(grown = realloc(r->rej, cap * sizeof(*grown))))
            return -ENOMEM;
        r->rej = grown;
        r->caprej = cap;
    }
    pw_spool_rejection_t *k = &r->rej[r->nrej++];
    memset(k, 0, sizeof(*k));
    k->period = m->period;
    snprintf(k->element, sizeof(k->element), "%s", m->element);
    k->value = m->value;
    k->reason = reason;
    k->line = line;
    snprintf(k->text, sizeof(k->text), "%s", text);
    return 0;
}

int pw__col_record_rejections(struct run *r)
{
    int rc = pw_spool_reject(r->spool, r->rej, r->nrej);
    r->nrej = 0;
    return rc;
}

static int report_reject(void *ctx, const pw_msg_t *m)
{
    struct reject_ctx *rc = ctx;
    int line = line_of(rc->r, m);
    rc->r->res->rejected++;
    if (rc->r->on_reject)
        rc->r->on_reject(rc->r->ctx, m, line, rc->reason, rc->text, false);
    return keep_rejection(rc->r, m, line, rc->reason, rc->text) == 0 ? 1 : -ENOMEM;
}

/*
 * The aggregator lost updates it had acknowledged (its store was replaced or
 * restored from a backup). They are gone from the spool, and its last-value
 * table no longer says what the aggregator holds: start over as a new
 * instance and spool the whole file again.
 */
static int start_over(struct run *r, uint64_t has, uint64_t acked)
{
    PW_WARN("aggregator has only up to %llu of ours, %llu were answered: its store was "
            "replaced or restored; sending all of %s again as a new instance",
            (unsigned long long)has, (unsigned long long)acked, r->o->data);
    r->answered0 += (size_t)(acked - r->run_acked0);
    int rc = pw_spool_restart(r->spool);
    if (rc != 0)
        return rc;
    r->run_acked0 = 0;
    r->welcomed = false;
    r->last_hello = 0;
    r->next = 1;
    r->highest_sent = 0;
    r->loaded = false; /* read and spooled again, all of it, now */
    r->last_watch = 0;
    r->unspooled = true;
    return 0;
}

int pw__col_on_answer(struct run *r, const pw_msg_t *m)
{
    if (m->type == PW_MSG_NACK && m->epoch == 0 && m->reason == PW_EMALFORMED && !r->welcomed &&
        !r->legacy) {
        /* Our hello's b is what an older aggregator cannot read: say hello
         * without it, now, and send one update per frame. */
        PW_INFO("the aggregator takes one update per frame (an older version)");
        r->legacy = true;
        r->last_hello = 0;
        return 0;
    }
    if (m->epoch != pw_spool_epoch(r->spool))
        return 0; /* meant for an earlier instance of this district */
    uint64_t acked = pw_spool_acked(r->spool), head = pw_spool_head(r->spool);
    switch (m->type) {
    case PW_MSG_WELCOME:
        if (m->seq < acked)
            return start_over(r, m->seq, acked);
        if (!r->welcomed)
            PW_INFO("connected to %s: %llu committed, %llu waiting", r->o->connect,
                    (unsigned long long)m->seq, (unsigned long long)(head - m->seq));
        r->welcomed = true;
        r->frame_max = m->frame_max == 0                    ? 1
                       : m->frame_max > PW_FRAME_UPDATES_MAX ? PW_FRAME_UPDATES_MAX
                                                             : m->frame_max;
        r->last_answer = pw_mono_ms();
        r->next = (m->seq > acked ? m->seq : acked) + 1;
        return pw__col_spool_ack(r, m->seq);
    case PW_MSG_ACK:
        r->last_answer = pw_mono_ms();
        r->refused = false;
        return pw__col_spool_ack(r, m->seq);
    case PW_MSG_NACK:
        r->last_answer = pw_mono_ms();
        if (m->reason == PW_EGAP) {
            /* Something was lost in flight: go back to what it has. */
            r->next = m->seq + 1;
            return pw__col_spool_ack(r, m->seq);
        }
        if (m->reason == PW_ESTOREFULL || m->reason == -EBUSY) {
            /* Retryable: nothing was stored; resend after a pause. */
            if (!r->refused)
                PW_WARN("aggregator cannot take update %llu now: %s",
                        (unsigned long long)m->seq, m->text);
            /* Not at once: sent again and again, the window would only be
             * refused again, thousands of updates at a time. */
            r->refused = true;
            r->refused_until = pw_mono_ms() + REFUSED_RETRY_MS;
            r->next = acked + 1;
            r->last_send = pw_mono_ms();
            return 0;
        }
        r->refused = false;
        if (m->reason == PW_EAUTH || m->reason == PW_EFORBIDDEN) {
            /* The key, not the update, is refused: keep everything spooled
             * for when this office has a valid key again. */
            PW_ERROR("aggregator refused %s's key: %s (%s); %llu updates kept in the spool",
                     r->o->district, pw_err_name(m->reason), m->text,
                     (unsigned long long)pw_spool_pending(r->spool));
            return m->reason;
        }
        if (m->seq > acked && m->seq <= head) {
            struct reject_ctx rc = {r, m->reason, m->text};
            if (pw_spool_read(r->spool, m->seq, 1, report_reject, &rc) == -ENOMEM)
                return -ENOMEM;
            return pw__col_spool_ack(r, m->seq);
        }
        if (m->seq == 0)
            PW_ERROR("aggregator refused %s: %s (%s)", r->o->district, pw_err_name(m->reason),
                     m->text);
        return m->seq == 0 && m->reason == PW_EDISTRICT ? PW_EDISTRICT : 0;
    default:
        return 0;
    }
}
