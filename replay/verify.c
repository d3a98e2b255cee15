/* SPDX-License-Identifier: MIT */
#include "verify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"
#include "pw/event.h"
#include "pw/rate.h"

#define KEYMAX    (3 * PW_ID_MAX + PW_PERIOD_STRMAX + 16)
#define TEXTMAX   (PW_TOP_MAX * (PW_ID_MAX + 96) + 256)
#define NUMMAX    32
#define LOG_CHUNK 4096 /* log records held per side at a time */

struct verify {
    pw_verify_fn fn;
    void *ctx;
    uint64_t count;
};

/* A growable array of fixed-size elements. */
struct vec {
    char *data;
    size_t n, cap, elem;
};

static void *vec_push(struct vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        if (cap > SIZE_MAX / v->elem)
            return NULL;
        char *p = realloc(v->data, cap * v->elem);
        if (!p)
            return NULL;
        v->data = p;
        v->cap = cap;
    }
    return v->data + v->n++ * v->elem;
}

static void *vec_at(const struct vec *v, size_t i)
{
    return i < v->n ? v->data + i * v->elem : NULL;
}

static void vec_free(struct vec *v)
{
    free(v->data);
    v->data = NULL;
    v->n = v->cap = 0;
}

const char *pw_verify_part_name(pw_verify_part_t part)
{
    static const char *const names[PW_VERIFY_NPARTS] = {"catalog", "current", "rate",
                                                        "open",    "alert",   "log"};
    return (unsigned)part < PW_VERIFY_NPARTS ? names[part] : "?";
}

static int report(struct verify *v, pw_verify_part_t part, const char *key, const char *a,
                  const char *b)
{
    pw_verify_diff_t d = {part, key, a, b};
    v->count++;
    return v->fn(v->ctx, &d);
}

/* The shortest of %.15g..%.17g that reads back as x: "5120", "0.1", "38.7". */
static void fmt_num(double x, char buf[NUMMAX])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, NUMMAX, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* A rate in hundredths as text, exactly: -16667 is "-166.67". */
static void fmt_centi(bool has, int64_t centi, char buf[NUMMAX])
{
    if (!has) {
        snprintf(buf, NUMMAX, "-");
        return;
    }
    uint64_t mag = centi < 0 ? (uint64_t)0 - (uint64_t)centi : (uint64_t)centi;
    snprintf(buf, NUMMAX, "%s%" PRIu64 ".%02" PRIu64, centi < 0 ? "-" : "", mag / 100, mag % 100);
}

static const char *action_name(pw_alert_action_t a)
{
    switch (a) {
    case PW_ALERT_OPEN:
        return "open";
    case PW_ALERT_RESOLVE:
        return "resolve";
    case PW_ALERT_UPDATE:
        return "update";
    }
    return "?";
}

/* The plan versions a store records; the texts are borrowed from its txn. */
struct plans {
    pw_store_plan_t *v;
    size_t n, cap;
};

static int add_plan(void *ctx, const pw_store_plan_t *plan)
{
    struct plans *p = ctx;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        pw_store_plan_t *n = realloc(p->v, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        p->v = n;
        p->cap = cap;
    }
    p->v[p->n++] = *plan;
    return 0;
}

static void describe_plan(const pw_store_plan_t *p, char *buf, size_t len)
{
    snprintf(buf, len, "from record %llu, %zu bytes", (unsigned long long)p->from, p->len);
}

/*
 * Each version of the plan, in order: from which record, its text. When it
 * took effect is a stamp of when it was written, ignored like the rows' stamps.
 */
static int diff_plans(struct verify *v, pw_txn_t *ta, pw_txn_t *tb)
{
    struct plans a = {0}, b = {0};
    int rc = pw_store_plan_foreach(ta, add_plan, &a);
    if (rc == 0)
        rc = pw_store_plan_foreach(tb, add_plan, &b);
    for (size_t i = 0; rc == 0 && i < (a.n > b.n ? a.n : b.n); i++) {
        const pw_store_plan_t *pa = i < a.n ? &a.v[i] : NULL, *pb = i < b.n ? &b.v[i] : NULL;
        if (pa && pb && pa->from == pb->from && pa->len == pb->len && memcmp(pa->text, pb->text, pa->len) == 0)
            continue;
        char key[48], da[96] = "", db[96] = "";
        snprintf(key, sizeof(key), "plan version %zu", i + 1);
        if (pa)
            describe_plan(pa, da, sizeof(da));
        if (pb)
            describe_plan(pb, db, sizeof(db));
        if (pa && pb && strcmp(da, db) == 0) /* the same shape: the texts differ */
            snprintf(db + strlen(db), sizeof(db) - strlen(db), ", another text");
        rc = report(v, PW_VERIFY_CATALOG, key, pa ? da : NULL, pb ? db : NULL);
    }
    free(a.v);
    free(b.v);
    return rc;
}

static int diff_catalog(struct verify *v, pw_txn_t *ta, pw_txn_t *tb)
{
    unsigned char da[32], db[32];
    char ha[65] = "none", hb[65] = "none";
    int ra = pw_store_get_digest(ta, da), rb = pw_store_get_digest(tb, db);
    if ((ra != 0 && ra != PW_ENOTFOUND) || (rb != 0 && rb != PW_ENOTFOUND))
        return ra != 0 && ra != PW_ENOTFOUND ? ra : rb;
    for (int i = 0; i < 32; i++) {
        if (ra == 0)
            snprintf(ha + 2 * i, 3, "%02x", da[i]);
        if (rb == 0)
            snprintf(hb + 2 * i, 3, "%02x", db[i]);
    }
    int rc = strcmp(ha, hb) != 0 ? report(v, PW_VERIFY_CATALOG, "", ha, hb) : 0;
    return rc == 0 ? diff_plans(v, ta, tb) : rc;
}

struct cur_row {
    char key[KEYMAX];
    double value;
};

static int collect_current(void *ctx, const char *district, const char *element, pw_period_t p,
                           double value)
{
    struct cur_row *r = vec_push(ctx);
    if (!r)
        return -ENOMEM;
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(p, ptext);
    snprintf(r->key, sizeof(r->key), "%s/%s/%s", district, element, ptext);
    r->value = value;
    return 0;
}

static int cmp_cur(const void *x, const void *y)
{
    return strcmp(((const struct cur_row *)x)->key, ((const struct cur_row *)y)->key);
}

/* Which side a merge step is on: -1 only A, 1 only B, 0 both (same key). */
static int merge_side(const char *ka, const char *kb)
{
    if (!kb)
        return -1;
    if (!ka)
        return 1;
    int c = strcmp(ka, kb);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

static int diff_current(struct verify *v, pw_txn_t *ta, pw_txn_t *tb)
{
    struct vec A = {.elem = sizeof(struct cur_row)}, B = {.elem = sizeof(struct cur_row)};
    int rc = pw_store_current_foreach(ta, collect_current, &A);
    if (rc == 0)
        rc = pw_store_current_foreach(tb, collect_current, &B);
    if (rc == 0 && A.n)
        qsort(A.data, A.n, A.elem, cmp_cur);
    if (rc == 0 && B.n)
        qsort(B.data, B.n, B.elem, cmp_cur);
    size_t i = 0, j = 0;
    while (rc == 0 && (i < A.n || j < B.n)) {
        const struct cur_row *x = vec_at(&A, i), *y = vec_at(&B, j);
        char na[NUMMAX], nb[NUMMAX];
        int side = merge_side(x ? x->key : NULL, y ? y->key : NULL);
        if (side < 0 && x) {
            fmt_num(x->value, na);
            rc = report(v, PW_VERIFY_CURRENT, x->key, na, NULL);
            i++;
        } else if (side > 0 && y) {
            fmt_num(y->value, nb);
            rc = report(v, PW_VERIFY_CURRENT, y->key, NULL, nb);
            j++;
        } else if (x && y) {
            if (x->value != y->value) {
                fmt_num(x->value, na);
                fmt_num(y->value, nb);
                rc = report(v, PW_VERIFY_CURRENT, x->key, na, nb);
            }
            i++;
            j++;
        }
    }
    vec_free(&A);
    vec_free(&B);
    return rc;
}

/* A rate row, an open alert or an alert transition, under its key. */
struct ev_row {
    char key[KEYMAX];
    size_t ord; /* position in the store's own order */
    size_t pos; /* alert history: 1-based position within its series */
    pw_event_t ev;
};

struct ev_collect {
    struct vec *vec;
    bool with_period; /* rate rows are per period; alerts per series */
};

static int collect_event(void *ctx, const pw_event_t *ev)
{
    struct ev_collect *c = ctx;
    struct ev_row *r = vec_push(c->vec);
    if (!r)
        return -ENOMEM;
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(ev->period, ptext);
    snprintf(r->key, sizeof(r->key), "%s%s%s%s%s", ev->indicator, ev->series[0] ? "/" : "",
             ev->series, c->with_period ? "/" : "", c->with_period ? ptext : "");
    r->ord = c->vec->n - 1;
    r->pos = 0;
    r->ev = *ev;
    return 0;
}

static int cmp_ev(const void *x, const void *y)
{
    const struct ev_row *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    if (c != 0)
        return c;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

typedef int (*collect_fn)(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx);

/* Loads one side's rows, sorted by key (and, within a key, in the store's order). */
static int load_events(pw_txn_t *txn, collect_fn each, bool with_period, struct vec *out)
{
    struct ev_collect c = {out, with_period};
    int rc = each(txn, collect_event, &c);
    if (rc == 0 && out->n)
        qsort(out->data, out->n, out->elem, cmp_ev);
    for (size_t i = 0; rc == 0 && i < out->n; i++) {
        struct ev_row *r = vec_at(out, i), *prev = i ? vec_at(out, i - 1) : NULL;
        r->pos = prev && strcmp(prev->key, r->key) == 0 ? prev->pos + 1 : 1;
    }
    return rc;
}

static bool same_value(bool has_a, double a, bool has_b, double b)
{
    return has_a == has_b && (!has_a || a == b);
}

static bool same_rate(const pw_event_t *a, const pw_event_t *b)
{
    return same_value(a->has_value, a->value, b->has_value, b->value) &&
           a->has_rate == b->has_rate && (!a->has_rate || a->centi == b->centi) &&
           a->band == b->band && a->achieved == b->achieved && a->have == b->have &&
           a->want == b->want;
}

static void rate_text(const pw_event_t *ev, char *buf, size_t len)
{
    char val[NUMMAX] = "-", rate[NUMMAX];
    if (ev->has_value)
        fmt_num(ev->value, val);
    fmt_centi(ev->has_rate, ev->centi, rate);
    snprintf(buf, len, "%s rate %s %s %" PRIu32 "/%" PRIu32 "%s", val, rate, pw_band_name(ev->band),
             ev->have, ev->want, ev->achieved ? " achieved" : "");
}

static bool same_detail(const pw_event_t *a, const pw_event_t *b)
{
    if (a->has_detail != b->has_detail)
        return false;
    if (!a->has_detail)
        return true;
    if (a->planned != b->planned || a->target != b->target ||
        a->needed_per_year != b->needed_per_year || a->ntop != b->ntop)
        return false;
    for (uint32_t i = 0; i < a->ntop && i < PW_TOP_MAX; i++) {
        const pw_event_district_t *x = &a->top[i], *y = &b->top[i];
        if (strcmp(x->district, y->district) != 0 || x->value != y->value ||
            x->weight != y->weight || x->shortfall != y->shortfall)
            return false;
    }
    return true;
}

static bool same_open(const pw_event_t *a, const pw_event_t *b)
{
    return strcmp(a->indicator, b->indicator) == 0 && strcmp(a->series, b->series) == 0 &&
           pw_period_eq(a->period, b->period) && a->action == b->action &&
           same_value(a->has_value, a->value, b->has_value, b->value) &&
           a->has_rate == b->has_rate && (!a->has_rate || a->centi == b->centi) &&
           a->band == b->band && same_detail(a, b);
}

/* An alert as text; with detail, its planned value, target and who weighs most. */
static void alert_text(const pw_event_t *ev, bool detail, char *buf, size_t len)
{
    char ptext[PW_PERIOD_STRMAX], val[NUMMAX] = "-", rate[NUMMAX];
    pw_period_format(ev->period, ptext);
    if (ev->has_value)
        fmt_num(ev->value, val);
    fmt_centi(ev->has_rate, ev->centi, rate);
    int n = snprintf(buf, len, "%s %s %s rate %s %s", action_name(ev->action), ptext, val, rate,
                     pw_band_name(ev->band));
    if (!detail || n < 0 || (size_t)n >= len)
        return;
    size_t used = (size_t)n;
    if (!ev->has_detail) {
        snprintf(buf + used, len - used, ", no detail");
        return;
    }
    char pl[NUMMAX], tg[NUMMAX], np[NUMMAX];
    fmt_num(ev->planned, pl);
    fmt_num(ev->target, tg);
    fmt_num(ev->needed_per_year, np);
    n = snprintf(buf + used, len - used, ", planned %s, target %s, needs %s a year, top", pl, tg,
                 np);
    for (uint32_t i = 0; n >= 0 && i < ev->ntop && i < PW_TOP_MAX; i++) {
        used += (size_t)n;
        if (used >= len)
            return;
        const pw_event_district_t *d = &ev->top[i];
        char dv[NUMMAX], dw[NUMMAX], ds[NUMMAX];
        fmt_num(d->value, dv);
        fmt_num(d->weight, dw);
        fmt_num(d->shortfall, ds);
        n = snprintf(buf + used, len - used, " %s %s (weight %s, shortfall %s)", d->district, dv,
                     dw, ds);
    }
}

static bool same_transition(const pw_event_t *a, const pw_event_t *b)
{
    return a->action == b->action && pw_period_eq(a->period, b->period) &&
           a->has_rate == b->has_rate && (!a->has_rate || a->centi == b->centi);
}

static void transition_text(const pw_event_t *ev, char *buf, size_t len)
{
    char ptext[PW_PERIOD_STRMAX], rate[NUMMAX];
    pw_period_format(ev->period, ptext);
    fmt_centi(ev->has_rate, ev->centi, rate);
    snprintf(buf, len, "%s %s %s", action_name(ev->action), ptext, rate);
}

/* Describes one row (or, with other, the pair) of a part as text for a report. */
static void row_text(pw_verify_part_t part, const struct ev_row *r, const struct ev_row *other,
                     char *buf, size_t len)
{
    if (part == PW_VERIFY_RATE) {
        rate_text(&r->ev, buf, len);
    } else if (part == PW_VERIFY_OPEN) {
        /* The short form, unless the pair differs only in the detail. */
        bool detail = false;
        if (other) {
            char mine[TEXTMAX], theirs[TEXTMAX];
            alert_text(&r->ev, false, mine, sizeof(mine));
            alert_text(&other->ev, false, theirs, sizeof(theirs));
            detail = strcmp(mine, theirs) == 0;
        }
        alert_text(&r->ev, detail, buf, len);
    } else {
        transition_text(&r->ev, buf, len);
    }
}

static bool same_row(pw_verify_part_t part, const struct ev_row *x, const struct ev_row *y)
{
    if (part == PW_VERIFY_RATE)
        return same_rate(&x->ev, &y->ev);
    if (part == PW_VERIFY_OPEN)
        return same_open(&x->ev, &y->ev);
    return same_transition(&x->ev, &y->ev);
}

/*
 * Merges the two sides by key. For the alert history the key is the series
 * and rows of one series pair up by position, so a series whose history is
 * longer on one side reports the extra transitions as only on that side.
 */
static int diff_events(struct verify *v, pw_verify_part_t part, pw_txn_t *ta, pw_txn_t *tb,
                       collect_fn each)
{
    bool with_period = part == PW_VERIFY_RATE;
    struct vec A = {.elem = sizeof(struct ev_row)}, B = {.elem = sizeof(struct ev_row)};
    int rc = load_events(ta, each, with_period, &A);
    if (rc == 0)
        rc = load_events(tb, each, with_period, &B);
    char *ka = malloc(TEXTMAX), *ta_text = malloc(TEXTMAX), *tb_text = malloc(TEXTMAX);
    if (rc == 0 && (!ka || !ta_text || !tb_text))
        rc = -ENOMEM;
    size_t i = 0, j = 0;
    while (rc == 0 && (i < A.n || j < B.n)) {
        const struct ev_row *x = vec_at(&A, i), *y = vec_at(&B, j);
        int side = merge_side(x ? x->key : NULL, y ? y->key : NULL);
        const struct ev_row *r = side <= 0 ? x : y;
        if (!r)
            break;
        if (part == PW_VERIFY_ALERT)
            snprintf(ka, TEXTMAX, "%s #%zu", r->key, r->pos);
        else
            snprintf(ka, TEXTMAX, "%s", r->key);
        if (side < 0 && x) {
            row_text(part, x, NULL, ta_text, TEXTMAX);
            rc = report(v, part, ka, ta_text, NULL);
            i++;
        } else if (side > 0 && y) {
            row_text(part, y, NULL, tb_text, TEXTMAX);
            rc = report(v, part, ka, NULL, tb_text);
            j++;
        } else if (x && y) {
            if (!same_row(part, x, y)) {
                row_text(part, x, y, ta_text, TEXTMAX);
                row_text(part, y, x, tb_text, TEXTMAX);
                rc = report(v, part, ka, ta_text, tb_text);
            }
            i++;
            j++;
        }
    }
    free(ka);
    free(ta_text);
    free(tb_text);
    vec_free(&A);
    vec_free(&B);
    return rc;
}

struct log_row {
    uint64_t seq;
    pw_msg_t rec;
};

static int collect_log(void *ctx, uint64_t seq, const pw_msg_t *rec)
{
    struct log_row *r = vec_push(ctx);
    if (!r)
        return -ENOMEM;
    r->seq = seq;
    r->rec = *rec;
    return 0;
}

static bool same_record(const pw_msg_t *a, const pw_msg_t *b)
{
    return strcmp(a->district, b->district) == 0 && a->epoch == b->epoch && a->seq == b->seq &&
           strcmp(a->element, b->element) == 0 && pw_period_eq(a->period, b->period) &&
           a->value == b->value && a->observed_ms == b->observed_ms &&
           a->received_ms == b->received_ms && a->kind == b->kind;
}

static void record_text(const pw_msg_t *m, char *buf, size_t len)
{
    static const char *const kinds[] = {"new", "revision", "same"};
    char ptext[PW_PERIOD_STRMAX], val[NUMMAX];
    pw_period_format(m->period, ptext);
    fmt_num(m->value, val);
    snprintf(buf, len,
             "%s/%s/%s = %s, epoch %" PRIu64 " seq %" PRIu64 ", t %" PRId64 ", rt %" PRId64 ", %s",
             m->district, m->element, ptext, val, m->epoch, m->seq, m->observed_ms, m->received_ms,
             (unsigned)m->kind <= PW_RECORD_SAME ? kinds[m->kind] : "?");
}

/* Compares the logs chunk by chunk, pairing records by log sequence. */
static int diff_log(struct verify *v, pw_txn_t *ta, pw_txn_t *tb)
{
    uint64_t ha, hb;
    int rc = pw_store_log_head(ta, &ha);
    if (rc == 0)
        rc = pw_store_log_head(tb, &hb);
    if (rc != 0)
        return rc;
    char *text_a = malloc(TEXTMAX), *text_b = malloc(TEXTMAX);
    if (!text_a || !text_b)
        rc = -ENOMEM;
    if (rc == 0 && ha != hb) {
        snprintf(text_a, TEXTMAX, "%" PRIu64 " records", ha);
        snprintf(text_b, TEXTMAX, "%" PRIu64 " records", hb);
        rc = report(v, PW_VERIFY_LOG, "", text_a, text_b);
    }
    struct vec A = {.elem = sizeof(struct log_row)}, B = {.elem = sizeof(struct log_row)};
    uint64_t head = ha > hb ? ha : hb;
    for (uint64_t from = 1; rc == 0 && from <= head;) {
        uint64_t to = head - from >= LOG_CHUNK ? from + LOG_CHUNK - 1 : head;
        A.n = B.n = 0;
        if ((rc = pw_store_log_foreach(ta, from, to, collect_log, &A)) != 0 ||
            (rc = pw_store_log_foreach(tb, from, to, collect_log, &B)) != 0)
            break;
        size_t i = 0, j = 0;
        while (rc == 0 && (i < A.n || j < B.n)) {
            const struct log_row *x = vec_at(&A, i), *y = vec_at(&B, j);
            /* Only A's record (x), only B's (y), or the pair at one sequence. */
            if (x && y && x->seq != y->seq) {
                if (x->seq < y->seq)
                    y = NULL;
                else
                    x = NULL;
            }
            char key[32];
            if (x && y) {
                if (!same_record(&x->rec, &y->rec)) {
                    snprintf(key, sizeof(key), "#%" PRIu64, x->seq);
                    record_text(&x->rec, text_a, TEXTMAX);
                    record_text(&y->rec, text_b, TEXTMAX);
                    rc = report(v, PW_VERIFY_LOG, key, text_a, text_b);
                }
                i++;
                j++;
            } else if (x) {
                snprintf(key, sizeof(key), "#%" PRIu64, x->seq);
                record_text(&x->rec, text_a, TEXTMAX);
                rc = report(v, PW_VERIFY_LOG, key, text_a, NULL);
                i++;
            } else if (y) {
                snprintf(key, sizeof(key), "#%" PRIu64, y->seq);
                record_text(&y->rec, text_b, TEXTMAX);
                rc = report(v, PW_VERIFY_LOG, key, NULL, text_b);
                j++;
            }
        }
        if (to == UINT64_MAX)
            break;
        from = to + 1;
    }
    vec_free(&A);
    vec_free(&B);
    free(text_a);
    free(text_b);
    return rc;
}

int pw_verify_stores(pw_store_t *a, pw_store_t *b, pw_verify_fn fn, void *ctx, uint64_t *count_out)
{
    struct verify v = {fn, ctx, 0};
    pw_txn_t *ta = NULL, *tb = NULL;
    if (count_out)
        *count_out = 0;
    /* One store compared with itself: one transaction (LMDB allows a thread
     * a single read transaction per environment). */
    int rc = pw_store_begin(a, false, &ta);
    if (rc != 0)
        goto out;
    if (b == a)
        tb = ta;
    else if ((rc = pw_store_begin(b, false, &tb)) != 0)
        goto out;
    if ((rc = diff_catalog(&v, ta, tb)) != 0 || (rc = diff_current(&v, ta, tb)) != 0 ||
        (rc = diff_events(&v, PW_VERIFY_RATE, ta, tb, pw_store_rate_foreach)) != 0 ||
        (rc = diff_events(&v, PW_VERIFY_OPEN, ta, tb, pw_store_open_foreach)) != 0 ||
        (rc = diff_events(&v, PW_VERIFY_ALERT, ta, tb, pw_store_alert_foreach)) != 0)
        goto out;
    rc = diff_log(&v, ta, tb);
out:
    if (tb != ta)
        pw_store_abort(&tb);
    pw_store_abort(&ta);
    if (count_out)
        *count_out = v.count;
    return rc;
}
