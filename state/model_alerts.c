/* SPDX-License-Identifier: MIT */
/* The model's alert decisions: rows re-evaluated on flush, rate events, alerts opened and resolved. */
#include "model_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

static bool cell_eq(const pw_cell_t *a, const pw_cell_t *b)
{
    return a->has_value == b->has_value && (!a->has_value || a->value == b->value) &&
           a->rate.has_rate == b->rate.has_rate && a->rate.centi == b->rate.centi &&
           a->rate.band == b->rate.band && a->rate.achieved == b->rate.achieved &&
           a->have == b->have && a->want == b->want;
}

void pw__model_fill_ids(const pw_model_t *self, size_t sidx, pw_event_t *ev)
{
    const pw_indicator_t *ind = &self->cat->indicators[self->sref[sidx].ind];
    /* Catalog ids are NUL-terminated within PW_ID_MAX: a copy, not a format
     * (this runs for every event). */
    const char *series = ind->series[self->sref[sidx].s].name;
    memcpy(ev->indicator, ind->id, strnlen(ind->id, PW_ID_MAX - 1) + 1);
    memcpy(ev->series, series, strnlen(series, PW_ID_MAX - 1) + 1);
}

void pw__model_cell_to_event(const pw_model_t *self, size_t sidx, pw_period_t p,
                             const pw_cell_t *c, int64_t now_ms, pw_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = PW_EV_RATE;
    ev->time_ms = now_ms;
    pw__model_fill_ids(self, sidx, ev);
    ev->period = p;
    ev->has_value = c->has_value;
    ev->value = c->value;
    ev->has_rate = c->rate.has_rate;
    ev->centi = c->rate.centi;
    ev->band = c->rate.band;
    ev->achieved = c->rate.achieved;
    ev->have = c->have;
    ev->want = c->want;
}

static bool decides(const pw_model_t *self, size_t row)
{
    const pw_cell_t *c = &self->pub[row];
    return self->pub_valid[row] && c->has_value && c->rate.has_rate && c->want > 0 &&
           c->have == c->want;
}

/* The latest period whose row is complete and rated: it alone opens or resolves alerts. */
static const pw_cell_t *governing(const pw_model_t *self, size_t sidx, pw_period_t *p_out)
{
    for (size_t k = self->np; k-- > 0;) {
        size_t row = self->order[k] * self->ns + sidx;
        if (decides(self, row)) {
            *p_out = self->sorted[k];
            return &self->pub[row];
        }
    }
    return NULL;
}

/* True when some period after p already has a value for the series. */
static bool later_data(const pw_model_t *self, size_t sidx, pw_period_t p)
{
    for (size_t k = self->np; k-- > 0 && pw_period_cmp(self->sorted[k], p) > 0;) {
        size_t row = self->order[k] * self->ns + sidx;
        if (self->pub_valid[row] && self->pub[row].has_value)
            return true;
    }
    return false;
}

/* Orders district parts by shortfall, largest first. */
static int cmp_shortfall(const void *a, const void *b)
{
    const pw_event_district_t *x = a, *y = b;
    return x->shortfall < y->shortfall ? 1 : x->shortfall > y->shortfall ? -1 : 0;
}

/*
 * What an alert needs to be acted on: the value planned to date, the target,
 * the change still needed each year, and the districts that weigh most on the
 * shortfall. For a ratio, a district's part is its own ratio's distance below
 * the planned value, times its weight in the city-wide denominator. For a sum,
 * it is its distance below its share of the planned value, the share taken
 * from the base year's data when there is some.
 */
static void alert_detail(const pw_model_t *self, size_t sidx, pw_period_t p, const pw_cell_t *c,
                         pw_event_t *ev)
{
    const pw_catalog_t *cat = self->cat;
    const pw_indicator_t *ind = &cat->indicators[self->sref[sidx].ind];
    const pw_series_t *sr = &ind->series[self->sref[sidx].s];
    double f = pw_elapsed(cat, p);
    ev->has_detail = true;
    ev->target = ind->target;
    if (!ind->has_base || ind->target_kind == PW_TARGET_RANGE)
        ev->planned = ind->target;
    else
        ev->planned = pw_round(pw_planned(ind, f), ind->decimals + 2);
    int months_left = 12 * (cat->target_year - cat->base_year) -
                      pw_period_months_after(p, cat->base_year);
    double years_left = months_left > 12 ? months_left / 12.0 : 1.0;
    ev->needed_per_year = pw_round((ind->target - c->value) / years_left, ind->decimals + 2);

    int pidx = pw__model_find_period(self, p);
    pw_period_t base_p = {.end = cat->base_year * 12 + 11, .months = 12};
    int bidx = pw__model_find_period(self, base_p);
    pw_level_t lb = cat->elements[sr->b >= 0 ? sr->b : sr->a].level;
    if (pidx < 0 || lb != PW_LEVEL_DISTRICT || cat->elements[sr->a].level != PW_LEVEL_DISTRICT)
        return; /* a figure the city reports has no district parts */
    const double *vals = self->vals + (size_t)pidx * self->nd * self->ne;
    const unsigned char *have = self->have + (size_t)pidx * self->nd * self->ne;
    bool ratio = sr->b >= 0;
    double total = 0, base_total = 0;
    for (size_t d = 0; d < self->nd; d++) {
        size_t at = d * self->ne;
        if (!have[at + (size_t)sr->a] || (ratio && !have[at + (size_t)sr->b]))
            continue;
        total += vals[at + (size_t)(ratio ? sr->b : sr->a)];
        if (!ratio && bidx >= 0 &&
            self->have[((size_t)bidx * self->nd + d) * self->ne + (size_t)sr->a])
            base_total += self->vals[((size_t)bidx * self->nd + d) * self->ne + (size_t)sr->a];
    }
    if (total == 0.0)
        return;
    pw_event_district_t parts[256];
    size_t n = 0;
    for (size_t d = 0; d < self->nd && n < 256; d++) {
        size_t at = d * self->ne;
        if (!have[at + (size_t)sr->a] || (ratio && !have[at + (size_t)sr->b]))
            continue;
        double a = vals[at + (size_t)sr->a], part;
        pw_event_district_t *x = &parts[n];
        memset(x, 0, sizeof(*x));
        snprintf(x->district, sizeof(x->district), "%s", cat->districts[d].id);
        if (ratio) {
            double b = vals[at + (size_t)sr->b];
            if (b == 0.0)
                continue;
            x->weight = b / total;
            x->value = sr->formula == PW_FORMULA_WMEAN ? a * sr->scale : a / b * sr->scale;
            part = (ev->planned - x->value) * x->weight;
        } else {
            double scale = sr->scale * (sr->formula == PW_FORMULA_ANNUALISED
                                            ? 12.0 / (double)p.months
                                            : 1.0);
            double share = a / total;
            if (base_total > 0.0)
                share = self->vals[((size_t)bidx * self->nd + d) * self->ne + (size_t)sr->a] /
                        base_total;
            x->weight = a / total;
            x->value = a * scale;
            part = ev->planned * share - x->value;
        }
        x->shortfall = part * ind->direction;
        x->value = pw_round(x->value, ind->decimals + 1);
        x->weight = pw_round(x->weight, 4);
        x->shortfall = pw_round(x->shortfall, ind->decimals + 2);
        n++;
    }
    qsort(parts, n, sizeof(parts[0]), cmp_shortfall);
    for (size_t k = 0; k < n && ev->ntop < PW_TOP_MAX; k++)
        if (parts[k].shortfall > 0.0)
            ev->top[ev->ntop++] = parts[k];
}

/* Lets period p, whose row c is complete, decide the series' alert. */
static int decide(pw_model_t *self, size_t sidx, pw_period_t p, const pw_cell_t *c,
                  const char *why, int64_t now_ms, pw_model_emit_fn emit, void *ctx)
{
    struct alert_state *st = &self->alerts[sidx];
    bool severe = c->rate.band == PW_BAND_SEVERE;
    bool moved = !st->has_gov || !pw_period_eq(st->gov, p) || st->centi != c->rate.centi;
    st->has_gov = true;
    st->gov = p;
    st->centi = c->rate.centi;
    if (severe == st->open && !(severe && moved))
        return PW_OK;
    /* An open alert that stays severe is refreshed, not repeated: its
     * figures and detail follow the period that now governs it. */
    pw_alert_action_t action = severe == st->open ? PW_ALERT_UPDATE
                               : severe          ? PW_ALERT_OPEN
                                                 : PW_ALERT_RESOLVE;
    st->open = severe;
    pw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = PW_EV_ALERT;
    ev.time_ms = now_ms;
    pw__model_fill_ids(self, sidx, &ev);
    ev.period = p;
    ev.action = action;
    ev.has_value = true;
    ev.value = c->value;
    ev.has_rate = true;
    ev.centi = c->rate.centi;
    ev.band = c->rate.band;
    ev.have = c->have;
    ev.want = c->want;
    snprintf(ev.why, sizeof(ev.why), "%s", why);
    alert_detail(self, sidx, p, c, &ev);
    return emit(ctx, &ev);
}

/*
 * Periods that became complete since the last decision decide in period
 * order, one after the other, as if each had completed on its own: the alert
 * history then does not depend on how updates were batched (a restart, a
 * slow district). A revision of the governing period decides again.
 */
static int update_alert(pw_model_t *self, size_t sidx, int64_t now_ms, pw_model_emit_fn emit,
                        void *ctx)
{
    struct alert_state *st = &self->alerts[sidx];
    char ptext[PW_PERIOD_STRMAX], why[PW_MSG_TEXTMAX];
    int rc = PW_OK;
    bool advanced = false;
    for (size_t k = 0; k < self->np && rc == 0; k++) {
        pw_period_t p = self->sorted[k];
        size_t row = self->order[k] * self->ns + sidx;
        if ((st->has_gov && pw_period_cmp(p, st->gov) <= 0) || !decides(self, row))
            continue;
        const pw_cell_t *c = &self->pub[row];
        pw_period_format(p, ptext);
        if (later_data(self, sidx, p))
            snprintf(why, sizeof(why), "late data completes period %s (%u/%u reporters)", ptext,
                     c->have, c->want);
        else
            snprintf(why, sizeof(why), "period %s complete (%u/%u reporters)", ptext, c->have,
                     c->want);
        rc = decide(self, sidx, p, c, why, now_ms, emit, ctx);
        advanced = true;
    }
    if (rc != 0 || advanced || !st->has_gov)
        return rc;
    pw_period_t p;
    const pw_cell_t *c = governing(self, sidx, &p);
    if (!c || !pw_period_eq(p, st->gov) || c->rate.centi == st->centi)
        return PW_OK;
    pw_period_format(p, ptext);
    snprintf(why, sizeof(why), "revised data for %s", ptext);
    return decide(self, sidx, p, c, why, now_ms, emit, ctx);
}

int pw_model_flush(pw_model_t *self, int64_t now_ms, pw_model_emit_fn emit, void *ctx)
{
    int rc = PW_OK;
    /* Periods in order, series in catalog order: the same input always gives
     * the same event stream, which replay relies on. */
    for (size_t k = 0; k < self->np; k++) {
        size_t pidx = self->order[k];
        for (size_t sidx = 0; sidx < self->ns; sidx++) {
            size_t row = pidx * self->ns + sidx;
            if (!self->dirty[row])
                continue;
            self->dirty[row] = 0;
            self->touched[sidx] = 1;
            pw_cell_t c;
            pw__model_eval_at(self, self->sref[sidx].ind, self->sref[sidx].s, (int)pidx,
                              self->sorted[k], &c);
            self->evals++;
            if (self->pub_valid[row] ? cell_eq(&c, &self->pub[row]) : !c.has_value)
                continue;
            self->pub[row] = c;
            self->pub_valid[row] = 1;
            pw_event_t ev;
            pw__model_cell_to_event(self, sidx, self->sorted[k], &c, now_ms, &ev);
            if ((rc = emit(ctx, &ev)) != 0)
                return rc;
        }
    }
    for (size_t sidx = 0; sidx < self->ns; sidx++) {
        if (!self->touched[sidx])
            continue;
        self->touched[sidx] = 0;
        if ((rc = update_alert(self, sidx, now_ms, emit, ctx)) != 0)
            return rc;
    }
    return rc;
}


void pw_model_restore_finish(pw_model_t *self)
{
    /* Every complete period has decided already: the latest one governs. */
    for (size_t sidx = 0; sidx < self->ns; sidx++) {
        pw_period_t p;
        const pw_cell_t *c = governing(self, sidx, &p);
        if (!c)
            continue;
        self->alerts[sidx].has_gov = true;
        self->alerts[sidx].gov = p;
        self->alerts[sidx].centi = c->rate.centi;
    }
}
