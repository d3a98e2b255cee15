/* SPDX-License-Identifier: MIT */
/*
 * The follow-up's environment and alerts: opening, the record codec, the
 * write transactions, what the pipeline says of an alert, and staff's actions.
 * Silences and escalation are in followup_silence.c.
 */
#include "followup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "followup_internal.h"
#include "lmdb_util.h"
#include "pw/error.h"
#include "pw/text.h"
#include "pw/util.h"

/* A follow-up holds notes, not measurements: small, but never refused for want of map. */
#define FU_MAP_INITIAL ((size_t)64 << 20)
#define FU_MAP_MAX     ((size_t)4 << 30)

static const char *const db_names[FU_DB_COUNT] = {"meta",   "alerts", "actions",
                                                  "opened", "series", "silences"};

int pw_followup_open(const char *dir, bool writable, pw_followup_t **out)
{
    *out = NULL;
    MDB_txn *txn = NULL;
    int rc;
    if (!writable && !pw__mdb_env_exists(dir))
        return -ENOENT;
    pw_followup_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->readonly = !writable;
    self->writer = -1;
    /* The lock before anything else: LMDB would only serialise two writers'
     * transactions, and both would go on believing they were alone. */
    if (writable &&
        ((rc = pw_mkdir_p(dir)) != 0 || (rc = pw__writer_lock(dir, &self->writer)) != 0))
        goto fail;
    if ((rc = pw__mdb_rc(mdb_env_create(&self->env))) != 0)
        goto fail;
    mdb_env_set_maxdbs(self->env, FU_DB_COUNT);
    if (writable && !pw__mdb_env_exists(dir))
        mdb_env_set_mapsize(self->env, FU_MAP_INITIAL);
    /* NOTLS: a reader's transaction is not tied to its thread, so a callback
     * of pw_followup_each() may read while the walk's is open. Not write: a
     * write that grows the map may not while any transaction is open. */
    unsigned flags = MDB_NOTLS | (writable ? 0 : MDB_RDONLY);
    rc = writable ? pw__mdb_env_open_rw(self->env, dir, flags, 0600)
                  : pw__mdb_rc(mdb_env_open(self->env, dir, flags, 0600));
    if (rc != 0)
        goto fail;
    /* A reader left behind by a killed process would pin old pages forever. */
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    if ((rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, writable ? 0 : MDB_RDONLY, &txn))) != 0)
        goto fail;
    for (int i = 0; i < FU_DB_COUNT; i++) {
        int mrc = mdb_dbi_open(txn, db_names[i], writable ? MDB_CREATE : 0, &self->dbi[i]);
        if (mrc != 0) {
            rc = mrc == MDB_NOTFOUND ? PW_ESTORE : pw__mdb_rc(mrc);
            goto fail;
        }
    }
    MDB_val k = pw__mdb_val("format", 6), v;
    int grc = mdb_get(txn, self->dbi[FU_META], &k, &v);
    uint32_t fmt = FU_FORMAT;
    if (grc == MDB_NOTFOUND && writable) {
        MDB_val nv = {sizeof(fmt), &fmt};
        if ((rc = pw__mdb_rc(mdb_put(txn, self->dbi[FU_META], &k, &nv, 0))) != 0)
            goto fail;
    } else if (grc != 0) {
        rc = grc == MDB_NOTFOUND ? PW_ESTORE : pw__mdb_rc(grc);
        goto fail;
    } else if (v.mv_size != sizeof(fmt) ||
               (memcpy(&fmt, v.mv_data, sizeof(fmt)), fmt != FU_FORMAT)) {
        rc = PW_EINCOMPAT;
        goto fail;
    }
    /* Committing, even a read-only transaction, keeps the database handles
     * open for the environment's lifetime; an abort would close them. */
    rc = pw__mdb_rc(mdb_txn_commit(txn));
    txn = NULL;
    if (rc != 0)
        goto fail;
    *out = self;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (self->env)
        mdb_env_close(self->env);
    pw__writer_unlock(&self->writer);
    free(self);
    return rc;
}

void pw_followup_destroy(pw_followup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mdb_env_close((*self_p)->env);
    pw__writer_unlock(&(*self_p)->writer);
    free(*self_p);
    *self_p = NULL;
}

int pw__fu_begin(pw_followup_t *self, bool write, MDB_txn **out)
{
    unsigned flags = write ? 0 : MDB_RDONLY;
    int rc = mdb_txn_begin(self->env, NULL, flags, out);
    if (rc == MDB_MAP_RESIZED) {
        /* The writer grew the map: adopt its size and retry once. */
        mdb_env_set_mapsize(self->env, 0);
        rc = mdb_txn_begin(self->env, NULL, flags, out);
    }
    return pw__mdb_rc(rc);
}

int pw__fu_write(pw_followup_t *self, int (*body)(pw_followup_t *self, MDB_txn *txn, void *ctx),
                 void *ctx)
{
    if (self->readonly)
        return -EROFS;
    for (;;) {
        MDB_txn *txn;
        int rc = pw__fu_begin(self, true, &txn);
        if (rc != 0)
            return rc;
        if ((rc = body(self, txn, ctx)) != 0)
            mdb_txn_abort(txn);
        else
            rc = pw__mdb_rc(mdb_txn_commit(txn));
        if (rc != PW_ESTOREFULL)
            return rc;
        /* No transaction is open now: the map may be grown, and the body run again. */
        MDB_envinfo info;
        mdb_env_info(self->env, &info);
        if (info.me_mapsize >= FU_MAP_MAX ||
            mdb_env_set_mapsize(self->env, info.me_mapsize * 2 > FU_MAP_MAX
                                               ? FU_MAP_MAX
                                               : info.me_mapsize * 2) != 0)
            return PW_ESTOREFULL;
    }
}

/* The alert key "INDICATOR/SERIES#N" ("INDICATOR#N" for a single series); its length. */
static size_t alert_key(char *buf, const char *indicator, const char *series, uint32_t n)
{
    int len = snprintf(buf, PW_FU_KEY_MAX, "%.*s%s%.*s#%u", PW_ID_MAX - 1, indicator,
                       series[0] ? "/" : "", PW_ID_MAX - 1, series, n);
    return len < 0 ? 0 : (size_t)len;
}

static size_t series_key(char *buf, const char *indicator, const char *series)
{
    size_t a = strnlen(indicator, PW_ID_MAX - 1), b = strnlen(series, PW_ID_MAX - 1);
    memcpy(buf, indicator, a);
    buf[a] = '\0';
    memcpy(buf + a + 1, series, b);
    return a + 1 + b;
}

/* Orders opened times as unsigned bytes: the sign bit flipped. */
static size_t opened_key(unsigned char *buf, const pw_fu_alert_t *a)
{
    size_t n = strlen(a->key);
    pw__put_be64(buf, (uint64_t)a->opened_ms ^ ((uint64_t)1 << 63));
    memcpy(buf + 8, a->key, n);
    return 8 + n;
}

static int put_alert(pw_followup_t *self, MDB_txn *txn, const pw_fu_alert_t *a)
{
    fu_wr_t w = {0};
    pw__fu_put_alert(&w, a);
    int rc = w.err;
    if (rc == 0) {
        MDB_val k = pw__mdb_val(a->key, strlen(a->key)), v = {w.len, w.p};
        rc = pw__mdb_rc(mdb_put(txn, self->dbi[FU_ALERTS], &k, &v, 0));
    }
    free(w.p);
    return rc;
}

static int get_alert(pw_followup_t *self, MDB_txn *txn, const char *key, pw_fu_alert_t *out)
{
    MDB_val k = pw__mdb_val(key, strlen(key)), v;
    int rc = pw__mdb_rc(mdb_get(txn, self->dbi[FU_ALERTS], &k, &v));
    return rc != 0 ? rc : pw__fu_get_alert(&k, &v, out);
}

int pw__fu_log_action(pw_followup_t *self, MDB_txn *txn, pw_fu_alert_t *al, const pw_fu_action_t *a)
{
    unsigned char key[PW_FU_KEY_MAX + 9];
    size_t n = strlen(al->key);
    memcpy(key, al->key, n);
    key[n] = '\0';
    pw__put_be64(key + n + 1, al->nactions);
    fu_wr_t w = {0};
    pw__fu_put_action(&w, a);
    int rc = w.err;
    if (rc == 0) {
        MDB_val k = pw__mdb_val(key, n + 9), v = {w.len, w.p};
        rc = pw__mdb_rc(mdb_put(txn, self->dbi[FU_ACTIONS], &k, &v, 0));
    }
    free(w.p);
    al->nactions++;
    return rc != 0 ? rc : put_alert(self, txn, al);
}

/* The series' open alert in *out: 0, or PW_ENOTFOUND (then *last the series' last N). */
static int current_in(pw_followup_t *self, MDB_txn *txn, const char *indicator, const char *series,
                      uint32_t *last, pw_fu_alert_t *out)
{
    char sk[2 * PW_ID_MAX];
    MDB_val k = pw__mdb_val(sk, series_key(sk, indicator, series)), v;
    *last = 0;
    int rc = pw__mdb_rc(mdb_get(txn, self->dbi[FU_SERIES], &k, &v));
    if (rc != 0)
        return rc;
    if ((rc = pw__fu_get_series(&v, last)) != 0)
        return rc;
    char key[PW_FU_KEY_MAX];
    alert_key(key, indicator, series, *last);
    if ((rc = get_alert(self, txn, key, out)) != 0)
        return rc;
    return out->resolved_ms == 0 ? 0 : PW_ENOTFOUND;
}

struct observe {
    const pw_event_t *ev;
    int64_t now_ms;
    bool created;
    pw_fu_alert_t a;
};

/* The pipeline's latest figures of an alert. */
static void take_figures(pw_fu_alert_t *a, const pw_event_t *ev)
{
    if (pw_period_cmp(ev->period, a->period) >= 0 || a->period.months == 0)
        a->period = ev->period;
    a->has_rate = ev->has_rate;
    a->centi = ev->centi;
    a->band = ev->band;
    snprintf(a->why, sizeof(a->why), "%s", ev->why);
}

static int observe_body(pw_followup_t *self, MDB_txn *txn, void *ctx)
{
    struct observe *o = ctx;
    const pw_event_t *ev = o->ev;
    uint32_t last;
    o->created = false;
    int rc = current_in(self, txn, ev->indicator, ev->series, &last, &o->a);
    if (rc != 0 && rc != PW_ENOTFOUND)
        return rc;
    bool open = rc == 0;
    if (ev->action == PW_ALERT_RESOLVE) {
        if (!open) {
            memset(&o->a, 0, sizeof(o->a));
            return 0; /* nothing open: a resolve seen twice, or of an alert never seen */
        }
        take_figures(&o->a, ev);
        o->a.resolved_ms = o->now_ms;
        return put_alert(self, txn, &o->a);
    }
    if (open) {
        take_figures(&o->a, ev);
        return put_alert(self, txn, &o->a);
    }
    memset(&o->a, 0, sizeof(o->a));
    snprintf(o->a.indicator, sizeof(o->a.indicator), "%s", ev->indicator);
    snprintf(o->a.series, sizeof(o->a.series), "%s", ev->series);
    o->a.instance = last + 1;
    alert_key(o->a.key, ev->indicator, ev->series, o->a.instance);
    o->a.opened_ms = o->now_ms;
    o->a.state = PW_FU_NEW;
    o->a.period = ev->period;
    take_figures(&o->a, ev);
    char sk[2 * PW_ID_MAX];
    unsigned char ok[8 + PW_FU_KEY_MAX];
    unsigned char sv[FU_SERIES_REC];
    pw__fu_put_series(sv, o->a.instance);
    MDB_val k = pw__mdb_val(sk, series_key(sk, ev->indicator, ev->series)), v = {sizeof(sv), sv};
    MDB_val kk = pw__mdb_val(ok, opened_key(ok, &o->a)), empty = {0, NULL};
    if ((rc = pw__mdb_rc(mdb_put(txn, self->dbi[FU_SERIES], &k, &v, 0))) != 0 ||
        (rc = pw__mdb_rc(mdb_put(txn, self->dbi[FU_OPENED], &kk, &empty, 0))) != 0 ||
        (rc = put_alert(self, txn, &o->a)) != 0)
        return rc;
    o->created = true;
    return 0;
}

int pw_followup_observe(pw_followup_t *self, const pw_event_t *ev, int64_t now_ms, bool *created,
                        pw_fu_alert_t *out)
{
    if (created)
        *created = false;
    /* A snapshot's open alert may come without its type; rates and heartbeats are not alerts. */
    if (ev->type != PW_EV_ALERT && ev->type != 0)
        return 0;
    if (!pw__id_valid(ev->indicator, strnlen(ev->indicator, PW_ID_MAX)) ||
        (ev->series[0] && !pw__id_valid(ev->series, strnlen(ev->series, PW_ID_MAX))))
        return -EINVAL;
    struct observe *o = malloc(sizeof(*o)); /* the record is 5 KiB: not on the stack */
    if (!o)
        return -ENOMEM;
    o->ev = ev;
    o->now_ms = now_ms;
    int rc = pw__fu_write(self, observe_body, o);
    if (rc == 0 && created)
        *created = o->created;
    if (rc == 0 && out)
        *out = o->a;
    free(o);
    return rc;
}

struct act {
    const char *key, *who, *text;
    pw_fu_kind_t kind;
    int64_t now_ms;
    pw_fu_alert_t a;
    pw_fu_action_t action;
};

/* Whether the alert's state allows the action, and the state after it. */
static int transition(pw_fu_alert_t *a, const struct act *x)
{
    switch (x->kind) {
    case PW_FU_ACK:
        if (a->state != PW_FU_NEW)
            return -EALREADY;
        a->state = PW_FU_ACKED;
        snprintf(a->acked_by, sizeof(a->acked_by), "%s", x->who);
        a->acked_ms = x->now_ms;
        return 0;
    case PW_FU_ASSIGN:
        if (a->state == PW_FU_CLOSED)
            return -EALREADY;
        snprintf(a->assignee, sizeof(a->assignee), "%s", x->text);
        return 0;
    case PW_FU_COMMENT:
        return a->state == PW_FU_CLOSED ? -EALREADY : 0;
    case PW_FU_CLOSE:
        if (a->state == PW_FU_CLOSED)
            return -EALREADY;
        a->state = PW_FU_CLOSED;
        return 0;
    case PW_FU_REOPEN:
        if (a->state != PW_FU_CLOSED)
            return -EALREADY;
        a->state = a->acked_ms ? PW_FU_ACKED : PW_FU_NEW;
        return 0;
    default:
        return -EINVAL;
    }
}

static int act_body(pw_followup_t *self, MDB_txn *txn, void *ctx)
{
    struct act *x = ctx;
    int rc = get_alert(self, txn, x->key, &x->a);
    if (rc == 0)
        rc = transition(&x->a, x);
    return rc != 0 ? rc : pw__fu_log_action(self, txn, &x->a, &x->action);
}

int pw_followup_act(pw_followup_t *self, const char *key, pw_fu_kind_t kind, const char *who,
                    const char *text, int64_t now_ms)
{
    if (!text)
        text = "";
    bool needs_text = kind == PW_FU_ASSIGN || kind == PW_FU_COMMENT;
    size_t wlen = who ? strlen(who) : 0, tlen = strlen(text);
    if (kind < PW_FU_ACK || kind >= PW_FU_ESCALATE || wlen == 0 || wlen >= PW_FU_WHO_MAX ||
        !pw__utf8_valid(who, wlen) || tlen >= PW_FU_TEXT_MAX || !pw__utf8_valid(text, tlen) ||
        (needs_text && tlen == 0) || !key || strlen(key) >= PW_FU_KEY_MAX)
        return -EINVAL;
    struct act *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->key = key;
    x->who = who;
    x->text = text;
    x->kind = kind;
    x->now_ms = now_ms;
    x->action.time_ms = now_ms;
    x->action.kind = kind;
    memcpy(x->action.who, who, wlen + 1);
    memcpy(x->action.text, text, tlen + 1);
    int rc = pw__fu_write(self, act_body, x);
    free(x);
    return rc;
}

/* The alert's log, in order, into a new array of a->nactions. */
static int read_actions(pw_followup_t *self, MDB_txn *txn, const pw_fu_alert_t *a,
                        pw_fu_action_t **out)
{
    *out = NULL;
    pw_fu_action_t *arr = calloc(a->nactions ? a->nactions : 1, sizeof(*arr));
    if (!arr)
        return -ENOMEM;
    unsigned char key[PW_FU_KEY_MAX + 9];
    size_t n = strlen(a->key);
    memcpy(key, a->key, n);
    key[n] = '\0';
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < a->nactions; i++) {
        pw__put_be64(key + n + 1, i);
        MDB_val k = pw__mdb_val(key, n + 9), v;
        rc = pw__mdb_rc(mdb_get(txn, self->dbi[FU_ACTIONS], &k, &v));
        if (rc == 0)
            rc = pw__fu_get_action(&v, &arr[i]);
    }
    if (rc != 0) {
        free(arr);
        return rc == PW_ENOTFOUND ? PW_ESTORE : rc; /* the record counts an action not kept */
    }
    *out = arr;
    return 0;
}

int pw_followup_get(pw_followup_t *self, const char *key, pw_fu_alert_t *out,
                    pw_fu_action_t **actions)
{
    if (actions)
        *actions = NULL;
    if (strlen(key) >= PW_FU_KEY_MAX)
        return PW_ENOTFOUND;
    /* A copy: key may be out->key itself, which the read overwrites. */
    char k[PW_FU_KEY_MAX];
    snprintf(k, sizeof(k), "%s", key);
    MDB_txn *txn;
    int rc = pw__fu_begin(self, false, &txn);
    if (rc != 0)
        return rc;
    rc = get_alert(self, txn, k, out);
    if (rc == 0 && actions)
        rc = read_actions(self, txn, out, actions);
    mdb_txn_abort(txn);
    return rc;
}

int pw_followup_each(pw_followup_t *self, int (*fn)(void *ctx, const pw_fu_alert_t *a), void *ctx)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    pw_fu_alert_t *a = malloc(sizeof(*a));
    int rc = a ? pw__fu_begin(self, false, &txn) : -ENOMEM;
    if (rc == 0)
        rc = pw__mdb_rc(mdb_cursor_open(txn, self->dbi[FU_OPENED], &cur));
    if (rc != 0)
        goto out;
    MDB_val k, v;
    int mrc;
    for (MDB_cursor_op op = MDB_LAST; (mrc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_PREV) {
        char key[PW_FU_KEY_MAX];
        if (k.mv_size <= 8 || k.mv_size - 8 >= sizeof(key)) {
            rc = PW_ESTORE;
            break;
        }
        memcpy(key, (const char *)k.mv_data + 8, k.mv_size - 8);
        key[k.mv_size - 8] = '\0';
        if ((rc = get_alert(self, txn, key, a)) != 0)
            break;
        if ((rc = fn(ctx, a)) != 0)
            break;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = pw__mdb_rc(mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    free(a);
    return rc;
}

int pw_followup_current(pw_followup_t *self, const char *indicator, const char *series,
                        pw_fu_alert_t *out)
{
    MDB_txn *txn;
    uint32_t last;
    int rc = pw__fu_begin(self, false, &txn);
    if (rc != 0)
        return rc;
    rc = current_in(self, txn, indicator, series ? series : "", &last, out);
    mdb_txn_abort(txn);
    return rc;
}

uint64_t pw_followup_generation(pw_followup_t *self)
{
    MDB_envinfo info;
    /* Read from the meta pages in the map, which the writer's commits update. */
    if (mdb_env_info(self->env, &info) != 0)
        return 0;
    return (uint64_t)info.me_last_txnid;
}

const char *pw_fu_state_name(pw_fu_state_t s)
{
    switch (s) {
    case PW_FU_NEW:
        return "new";
    case PW_FU_ACKED:
        return "acknowledged";
    case PW_FU_CLOSED:
        return "closed";
    }
    return "unknown";
}

static const char *const kind_names[] = {NULL,    "ack",    "assign",  "comment",
                                         "close", "reopen", "escalate"};

const char *pw_fu_kind_name(pw_fu_kind_t k)
{
    return k >= PW_FU_ACK && k <= PW_FU_ESCALATE ? kind_names[k] : "unknown";
}

pw_fu_kind_t pw_fu_kind_parse(const char *name)
{
    for (int k = PW_FU_ACK; name && k <= PW_FU_ESCALATE; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return (pw_fu_kind_t)k;
    return (pw_fu_kind_t)0;
}
