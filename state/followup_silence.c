/* SPDX-License-Identifier: MIT */
/* The follow-up's silences, and the escalation of alerts nobody acknowledged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "followup.h"
#include "followup_internal.h"
#include "lmdb_util.h"
#include "pw/error.h"
#include "pw/text.h"

static int silence_body(pw_followup_t *self, MDB_txn *txn, void *ctx)
{
    const pw_fu_silence_t *s = ctx;
    char key[PW_ID_MAX + 1];
    fu_wr_t w = {0};
    pw__fu_put_silence(&w, s);
    int rc = w.err;
    if (rc == 0) {
        MDB_val k = pw__mdb_val(key, pw__fu_silence_key(key, s->district, s->id));
        MDB_val v = {w.len, w.p};
        rc = pw__mdb_rc(mdb_put(txn, self->dbi[FU_SILENCES], &k, &v, 0));
    }
    free(w.p);
    return rc;
}

int pw_followup_silence(pw_followup_t *self, const pw_fu_silence_t *s, int64_t now_ms)
{
    size_t idlen = strnlen(s->id, PW_ID_MAX), wlen = strnlen(s->who, PW_FU_WHO_MAX);
    size_t nlen = strnlen(s->note, PW_FU_TEXT_MAX);
    if (!pw__id_valid(s->id, idlen) || s->until_ms <= now_ms || wlen == 0 ||
        wlen >= PW_FU_WHO_MAX || !pw__utf8_valid(s->who, wlen) || nlen >= PW_FU_TEXT_MAX ||
        !pw__utf8_valid(s->note, nlen))
        return -EINVAL;
    pw_fu_silence_t *copy = malloc(sizeof(*copy));
    if (!copy)
        return -ENOMEM;
    *copy = *s;
    copy->set_ms = now_ms; /* when it was set is the store's to say, not the caller's */
    int rc = pw__fu_write(self, silence_body, copy);
    free(copy);
    return rc;
}

struct unsilence {
    bool district;
    const char *id;
    int64_t now_ms;
    bool expired;
};

static int unsilence_body(pw_followup_t *self, MDB_txn *txn, void *ctx)
{
    struct unsilence *u = ctx;
    char key[PW_ID_MAX + 1];
    MDB_val k = pw__mdb_val(key, pw__fu_silence_key(key, u->district, u->id)), v;
    pw_fu_silence_t *s = malloc(sizeof(*s));
    int rc = s ? pw__mdb_rc(mdb_get(txn, self->dbi[FU_SILENCES], &k, &v)) : -ENOMEM;
    if (rc == 0)
        rc = pw__fu_get_silence(&v, s);
    u->expired = rc == 0 && s->until_ms <= u->now_ms;
    free(s);
    /* An expired silence goes too: it is lifted already, and would only be in the way. */
    return rc != 0 ? rc : pw__mdb_rc(mdb_del(txn, self->dbi[FU_SILENCES], &k, NULL));
}

int pw_followup_unsilence(pw_followup_t *self, bool district, const char *id, const char *who,
                          int64_t now_ms)
{
    /* who is not kept: a silence has no log, and lifting one leaves nothing behind. */
    (void)who;
    if (!id || !pw__id_valid(id, strnlen(id, PW_ID_MAX)))
        return -EINVAL;
    struct unsilence u = {district, id, now_ms, false};
    int rc = pw__fu_write(self, unsilence_body, &u);
    return rc == 0 && u.expired ? PW_ENOTFOUND : rc;
}

int pw_followup_silences(pw_followup_t *self, int64_t now_ms,
                         int (*fn)(void *ctx, const pw_fu_silence_t *s), void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    pw_fu_silence_t *s = malloc(sizeof(*s));
    int rc = s ? pw__fu_begin(self, false, &txn) : -ENOMEM;
    if (rc == 0)
        rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi[FU_SILENCES], &cur));
    if (rc != 0)
        goto out;
    MDB_val k, v;
    int mrc;
    while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if ((rc = pw__fu_get_silence(&v, s)) != 0)
            break;
        if (s->until_ms > now_ms && (rc = fn(ctx, s)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = pw__mdb_rc(mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    free(s);
    return rc;
}

/* Whether (district, id) has a silence in force at now_ms, in txn. */
static bool silenced_in(pw_followup_t *self, MDB_txn *txn, bool district, const char *id,
                        int64_t now_ms)
{
    if (!id || !id[0] || strnlen(id, PW_ID_MAX) >= PW_ID_MAX)
        return false;
    char key[PW_ID_MAX + 1];
    MDB_val k = pw__mdb_val(key, pw__fu_silence_key(key, district, id)), v;
    if (mdb_get(txn, self->dbi[FU_SILENCES], &k, &v) != 0)
        return false;
    pw_fu_silence_t s;
    return pw__fu_get_silence(&v, &s) == 0 && s.until_ms > now_ms;
}

bool pw_followup_silenced(pw_followup_t *self, const char *indicator, const char *const *districts,
                          size_t n, int64_t now_ms)
{
    MDB_txn *txn;
    if (pw__fu_begin(self, false, &txn) != 0)
        return false;
    bool yes = silenced_in(self, txn, false, indicator, now_ms);
    for (size_t i = 0; !yes && districts && i < n; i++)
        yes = silenced_in(self, txn, true, districts[i], now_ms);
    mdb_txn_abort(txn);
    return yes;
}

struct escalate {
    int64_t now_ms, after_ms;
    pw_fu_alert_t *done; /* the alerts escalated, for fn once committed */
    size_t n, cap;
};

/* Whether a is due: open in the pipeline, nobody acknowledged or closed it, not escalated yet. */
static bool due(const pw_fu_alert_t *a, const struct escalate *e)
{
    return a->resolved_ms == 0 && a->state == PW_FU_NEW && a->escalated_ms == 0 &&
           a->opened_ms <= e->now_ms - e->after_ms;
}

static int escalate_body(pw_followup_t *self, MDB_txn *txn, void *ctx)
{
    struct escalate *e = ctx;
    e->n = 0; /* run again from the start after the map grew */
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi[FU_ALERTS], &cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int mrc;
    pw_fu_action_t *act = calloc(1, sizeof(*act));
    if (!act)
        rc = -ENOMEM;
    /* The alerts due are gathered first: writing under the walking cursor would move it. */
    while (rc == 0 && (mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if (e->n == e->cap) {
            size_t ncap = e->cap ? e->cap * 2 : 16;
            pw_fu_alert_t *d = realloc(e->done, ncap * sizeof(*d));
            if (!d) {
                rc = -ENOMEM;
                break;
            }
            e->done = d;
            e->cap = ncap;
        }
        pw_fu_alert_t *a = &e->done[e->n];
        if ((rc = pw__fu_get_alert(&k, &v, a)) != 0)
            break;
        if (due(a, e) && !silenced_in(self, txn, false, a->indicator, e->now_ms))
            e->n++;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = pw__mdb_rc(mrc);
    mdb_cursor_close(cur);
    if (act) {
        act->time_ms = e->now_ms;
        act->kind = PW_FU_ESCALATE;
        snprintf(act->who, sizeof(act->who), "planwatch");
    }
    for (size_t i = 0; rc == 0 && i < e->n; i++) {
        e->done[i].escalated_ms = e->now_ms;
        rc = pw__fu_log_action(self, txn, &e->done[i], act);
    }
    free(act);
    return rc;
}

int pw_followup_escalate(pw_followup_t *self, int64_t now_ms, int64_t after_ms,
                         void (*fn)(void *ctx, const pw_fu_alert_t *a), void *ctx)
{
    if (after_ms < 0)
        return -EINVAL;
    struct escalate e = {now_ms, after_ms, NULL, 0, 0};
    int rc = pw__fu_write(self, escalate_body, &e);
    /* Told only once committed: nobody is notified of an escalation that was not kept. */
    for (size_t i = 0; rc == 0 && fn && i < e.n; i++)
        fn(ctx, &e.done[i]);
    free(e.done);
    if (rc != 0)
        return rc;
    return e.n > (size_t)INT32_MAX ? INT32_MAX : (int)e.n;
}
