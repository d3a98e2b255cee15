/* SPDX-License-Identifier: MIT */
/* Comparing two stores' rate rows, open alerts and alert transitions, key by key. */
#include "verify_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"
#include "pw/event.h"
#include "pw/rate.h"

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
    struct ev_row *r = pw__verify_vec_push(c->vec);
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

/* Loads one side's rows, sorted by key (and, within a key, in the store's order). */
static int load_events(pw_txn_t *txn, collect_fn each, bool with_period, struct vec *out)
{
    struct ev_collect c = {out, with_period};
    int rc = each(txn, collect_event, &c);
    if (rc == 0 && out->n)
        qsort(out->data, out->n, out->elem, cmp_ev);
    for (size_t i = 0; rc == 0 && i < out->n; i++) {
        struct ev_row *r = pw__verify_vec_at(out, i);
        struct ev_row *prev = i ? pw__verify_vec_at(out, i - 1) : NULL;
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
        pw__verify_fmt_num(ev->value, val);
    pw__verify_fmt_centi(ev->has_rate, ev->centi, rate);
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
        pw__verify_fmt_num(ev->value, val);
    pw__verify_fmt_centi(ev->has_rate, ev->centi, rate);
    int n = snprintf(buf, len, "%s %s %s rate %s %s", pw__verify_action_name(ev->action), ptext,
                     val, rate, pw_band_name(ev->band));
    if (!detail || n < 0 || (size_t)n >= len)
        return;
    size_t used = (size_t)n;
    if (!ev->has_detail) {
        snprintf(buf + used, len - used, ", no detail");
        return;
    }
    char pl[NUMMAX], tg[NUMMAX], np[NUMMAX];
    pw__verify_fmt_num(ev->planned, pl);
    pw__verify_fmt_num(ev->target, tg);
    pw__verify_fmt_num(ev->needed_per_year, np);
    n = snprintf(buf + used, len - used, ", planned %s, target %s, needs %s a year, top", pl, tg,
                 np);
    for (uint32_t i = 0; n >= 0 && i < ev->ntop && i < PW_TOP_MAX; i++) {
        used += (size_t)n;
        if (used >= len)
            return;
        const pw_event_district_t *d = &ev->top[i];
        char dv[NUMMAX], dw[NUMMAX], ds[NUMMAX];
        pw__verify_fmt_num(d->value, dv);
        pw__verify_fmt_num(d->weight, dw);
        pw__verify_fmt_num(d->shortfall, ds);
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
    pw__verify_fmt_centi(ev->has_rate, ev->centi, rate);
    snprintf(buf, len, "%s %s %s", pw__verify_action_name(ev->action), ptext, rate);
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
int pw__verify_diff_events(struct verify *v, pw_verify_part_t part, pw_txn_t *ta, pw_txn_t *tb,
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
        const struct ev_row *x = pw__verify_vec_at(&A, i), *y = pw__verify_vec_at(&B, j);
        int side = pw__verify_merge_side(x ? x->key : NULL, y ? y->key : NULL);
        const struct ev_row *r = side <= 0 ? x : y;
        if (!r)
            break;
        if (part == PW_VERIFY_ALERT)
            snprintf(ka, TEXTMAX, "%s #%zu", r->key, r->pos);
        else
            snprintf(ka, TEXTMAX, "%s", r->key);
        if (side < 0 && x) {
            row_text(part, x, NULL, ta_text, TEXTMAX);
            rc = pw__verify_report(v, part, ka, ta_text, NULL);
            i++;
        } else if (side > 0 && y) {
            row_text(part, y, NULL, tb_text, TEXTMAX);
            rc = pw__verify_report(v, part, ka, NULL, tb_text);
            j++;
        } else if (x && y) {
            if (!same_row(part, x, y)) {
                row_text(part, x, y, ta_text, TEXTMAX);
                row_text(part, y, x, tb_text, TEXTMAX);
                rc = pw__verify_report(v, part, ka, ta_text, tb_text);
            }
            i++;
            j++;
        }
    }
    free(ka);
    free(ta_text);
    free(tb_text);
    pw__verify_vec_free(&A);
    pw__verify_vec_free(&B);
    return rc;
}
