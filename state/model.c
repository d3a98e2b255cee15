/* SPDX-License-Identifier: MIT */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

struct series_ref {
    int ind;
    int s;
};

struct alert_state {
    bool open;
    bool has_gov;
    pw_period_t gov; /* the period whose rate decides the alert */
    int64_t centi;
};

struct pw_model {
    const pw_catalog_t *cat;
    size_t nd, ne, ns;
    struct series_ref *sref;
    int *first_series;   /* per indicator: its first global series index */
    size_t *el_off;      /* element -> series that use it (CSR offsets) */
    int *el_series;
    size_t np, capp;
    pw_period_t *periods; /* by storage index (insertion order) */
    pw_period_t *sorted;  /* the same periods, ordered */
    size_t *order;        /* storage index of each sorted entry */
    double *vals;         /* [pidx][d][e] */
    unsigned char *have;  /* [pidx][d][e] */
    pw_cell_t *pub;       /* [pidx][sidx]: last emitted row */
    unsigned char *pub_valid;
    unsigned char *dirty;
    unsigned char *touched; /* [sidx]: alert state needs a look */
    struct alert_state *alerts;
    uint64_t evals;
};

static int build_index(pw_model_t *self)
{
    const pw_catalog_t *cat = self->cat;
    self->ns = pw_catalog_nseries(cat);
    self->sref = calloc(self->ns ? self->ns : 1, sizeof(*self->sref));
    self->first_series = calloc(cat->nindicators ? cat->nindicators : 1, sizeof(int));
    self->el_off = calloc(self->ne + 1, sizeof(size_t));
    self->el_series = calloc(2 * self->ns + 1, sizeof(int));
    self->touched = calloc(self->ns ? self->ns : 1, 1);
    self->alerts = calloc(self->ns ? self->ns : 1, sizeof(*self->alerts));
    if (!self->sref || !self->first_series || !self->el_off || !self->el_series ||
        !self->touched || !self->alerts)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < cat->nindicators; i++) {
        self->first_series[i] = (int)k;
        for (size_t s = 0; s < cat->indicators[i].nseries; s++) {
            self->sref[k].ind = (int)i;
            self->sref[k].s = (int)s;
            k++;
        }
    }
    /* Counting pass, then fill: a classic CSR build. */
    for (size_t j = 0; j < self->ns; j++) {
        const pw_series_t *sr = &cat->indicators[self->sref[j].ind].series[self->sref[j].s];
        self->el_off[sr->a + 1]++;
        if (sr->b >= 0 && sr->b != sr->a)
            self->el_off[sr->b + 1]++;
    }
    for (size_t e = 0; e < self->ne; e++)
        self->el_off[e + 1] += self->el_off[e];
    size_t *fill = calloc(self->ne + 1, sizeof(size_t));
    if (!fill)
        return -ENOMEM;
    for (size_t j = 0; j < self->ns; j++) {
        const pw_series_t *sr = &cat->indicators[self->sref[j].ind].series[self->sref[j].s];
        self->el_series[self->el_off[sr->a] + fill[sr->a]++] = (int)j;
        if (sr->b >= 0 && sr->b != sr->a)
            self->el_series[self->el_off[sr->b] + fill[sr->b]++] = (int)j;
    }
    free(fill);
    return PW_OK;
}

int pw_model_new(const pw_catalog_t *cat, pw_model_t **out)
{
    *out = NULL;
    pw_model_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->cat = cat;
    self->nd = cat->ndistricts;
    self->ne = cat->nelements;
    int rc = build_index(self);
    if (rc != 0) {
        pw_model_destroy(&self);
        return rc;
    }
    *out = self;
    return PW_OK;
}

void pw_model_destroy(pw_model_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_model_t *self = *self_p;
    free(self->sref);
    free(self->first_series);
    free(self->el_off);
    free(self->el_series);
    free(self->periods);
    free(self->sorted);
    free(self->order);
    free(self->vals);
    free(self->have);
    free(self->pub);
    free(self->pub_valid);
    free(self->dirty);
    free(self->touched);
    free(self->alerts);
    free(self);
    *self_p = NULL;
}

const pw_catalog_t *pw_model_catalog(const pw_model_t *self)
{
    return self->cat;
}

static int find_period(const pw_model_t *self, pw_period_t p)
{
    /* Binary search over the ordered view; plans have a few dozen periods. */
    size_t lo = 0, hi = self->np;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = pw_period_cmp(self->sorted[mid], p);
        if (c == 0)
            return (int)self->order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int grow(void **p, size_t n, size_t size)
{
    void *np = realloc(*p, n * size);
    if (!np)
        return -ENOMEM;
    *p = np;
    return 0;
}

static int add_period(pw_model_t *self, pw_period_t p)
{
    if (self->np == self->capp) {
        size_t cap = self->capp ? self->capp * 2 : 8;
        size_t cells = self->nd * self->ne, rows = self->ns ? self->ns : 1;
        if (grow((void **)&self->periods, cap, sizeof(pw_period_t)) ||
            grow((void **)&self->sorted, cap, sizeof(pw_period_t)) ||
            grow((void **)&self->order, cap, sizeof(size_t)) ||
            grow((void **)&self->vals, cap * cells, sizeof(double)) ||
            grow((void **)&self->have, cap * cells, 1) ||
            grow((void **)&self->pub, cap * rows, sizeof(pw_cell_t)) ||
            grow((void **)&self->pub_valid, cap * rows, 1) ||
            grow((void **)&self->dirty, cap * rows, 1))
            return -ENOMEM;
        self->capp = cap;
    }
    size_t idx = self->np;
    size_t cells = self->nd * self->ne, rows = self->ns;
    self->periods[idx] = p;
    memset(self->vals + idx * cells, 0, cells * sizeof(double));
    memset(self->have + idx * cells, 0, cells);
    memset(self->pub + idx * rows, 0, rows * sizeof(pw_cell_t));
    memset(self->pub_valid + idx * rows, 0, rows);
    memset(self->dirty + idx * rows, 0, rows);
    size_t pos = self->np;
    while (pos > 0 && pw_period_cmp(self->sorted[pos - 1], p) > 0) {
        self->sorted[pos] = self->sorted[pos - 1];
        self->order[pos] = self->order[pos - 1];
        pos--;
    }
    self->sorted[pos] = p;
    self->order[pos] = idx;
    self->np++;
    return (int)idx;
}

int pw_model_set(pw_model_t *self, int d, int e, pw_period_t p, double v, bool *changed_out)
{
    int pidx = find_period(self, p);
    if (pidx < 0 && (pidx = add_period(self, p)) < 0)
        return pidx;
    size_t cell = ((size_t)pidx * self->nd + (size_t)d) * self->ne + (size_t)e;
    bool changed = !self->have[cell] || self->vals[cell] != v;
    if (changed_out)
        *changed_out = changed;
    if (!changed)
        return PW_OK;
    self->have[cell] = 1;
    self->vals[cell] = v;
    for (size_t k = self->el_off[e]; k < self->el_off[e + 1]; k++)
        self->dirty[(size_t)pidx * self->ns + (size_t)self->el_series[k]] = 1;
    return PW_OK;
}

bool pw_model_get(const pw_model_t *self, int d, int e, pw_period_t p, double *v_out)
{
    int pidx = find_period(self, p);
    if (pidx < 0)
        return false;
    size_t cell = ((size_t)pidx * self->nd + (size_t)d) * self->ne + (size_t)e;
    if (!self->have[cell])
        return false;
    *v_out = self->vals[cell];
    return true;
}

const pw_period_t *pw_model_periods(const pw_model_t *self, size_t *n_out)
{
    *n_out = self->np;
    return self->sorted;
}

static void eval_at(const pw_model_t *self, int i, int s, int pidx, pw_period_t p, pw_cell_t *out)
{
    const pw_catalog_t *cat = self->cat;
    const pw_indicator_t *ind = &cat->indicators[i];
    const pw_series_t *sr = &ind->series[s];
    memset(out, 0, sizeof(*out));
    pw_level_t la = cat->elements[sr->a].level;
    pw_level_t lb = sr->b >= 0 ? cat->elements[sr->b].level : la;
    const double *vals = self->vals + (size_t)pidx * self->nd * self->ne;
    const unsigned char *have = self->have + (size_t)pidx * self->nd * self->ne;
    double sa = 0, sb = 0, sab = 0;
    size_t na = 0, nb = 0;
    for (size_t d = 0; d < self->nd; d++) {
        pw_level_t ld = cat->districts[d].level;
        bool need_a = ld == la, need_b = sr->b >= 0 && ld == lb;
        if (!need_a && !need_b)
            continue;
        out->want++;
        size_t base = d * self->ne;
        /* Only a reporter that sent every element it owes counts, so a
         * half-sent ratio never skews a provisional figure. */
        if ((need_a && !have[base + (size_t)sr->a]) || (need_b && !have[base + (size_t)sr->b]))
            continue;
        out->have++;
        double a = need_a ? vals[base + (size_t)sr->a] : 0.0;
        if (need_a) {
            sa += a;
            na++;
        }
        if (need_b) {
            double b = vals[base + (size_t)sr->b];
            sb += b;
            sab += a * b;
            nb++;
        }
    }
    double v;
    switch (sr->formula) {
    case PW_FORMULA_SUM:
        if (na == 0)
            return;
        v = sa * sr->scale;
        break;
    case PW_FORMULA_ANNUALISED:
        if (na == 0)
            return;
        v = sa * 12.0 / (double)p.months * sr->scale;
        break;
    case PW_FORMULA_RATIO:
    case PW_FORMULA_SHARE:
        if (na == 0 || nb == 0 || sb == 0.0)
            return;
        v = sa / sb * sr->scale;
        break;
    case PW_FORMULA_WMEAN:
    default:
        if (nb == 0 || sb == 0.0)
            return;
        v = sab / sb * sr->scale;
        break;
    }
    if (!isfinite(v))
        return;
    out->has_value = true;
    out->value = pw_round(v, ind->decimals);
    pw_rate_eval(cat, ind, p, out->value, &out->rate);
}

void pw_model_eval_reporter(const pw_model_t *self, int d, int i, int s, pw_period_t p,
                            pw_cell_t *out)
{
    const pw_catalog_t *cat = self->cat;
    const pw_indicator_t *ind = &cat->indicators[i];
    const pw_series_t *sr = &ind->series[s];
    memset(out, 0, sizeof(*out));
    out->want = 1;
    pw_level_t ld = cat->districts[d].level;
    if (cat->elements[sr->a].level != ld || (sr->b >= 0 && cat->elements[sr->b].level != ld))
        return;
    double a, b = 1.0;
    if (!pw_model_get(self, d, sr->a, p, &a) || (sr->b >= 0 && !pw_model_get(self, d, sr->b, p, &b)))
        return;
    out->have = 1;
    double v;
    bool rated = true;
    switch (sr->formula) {
    case PW_FORMULA_SUM:
        v = a * sr->scale;
        rated = false;
        break;
    case PW_FORMULA_ANNUALISED:
        v = a * 12.0 / (double)p.months * sr->scale;
        rated = false;
        break;
    case PW_FORMULA_WMEAN:
        v = a * sr->scale;
        break;
    default:
        if (b == 0.0)
            return;
        v = a / b * sr->scale;
        break;
    }
    if (!isfinite(v))
        return;
    out->has_value = true;
    out->value = pw_round(v, ind->decimals);
    if (rated)
        pw_rate_eval(cat, ind, p, out->value, &out->rate);
}

void pw_model_reporting(const pw_model_t *self, int d, pw_period_t p, uint32_t *reported,
                        uint32_t *expected, char *missing, size_t len)
{
    const pw_catalog_t *cat = self->cat;
    *reported = *expected = 0;
    size_t used = 0;
    if (len)
        missing[0] = '\0';
    for (size_t e = 0; e < self->ne; e++) {
        /* Owed: at the reporter's level, and used by some indicator. */
        if (cat->elements[e].level != cat->districts[d].level || self->el_off[e] == self->el_off[e + 1])
            continue;
        (*expected)++;
        double v;
        if (pw_model_get(self, d, (int)e, p, &v)) {
            (*reported)++;
            continue;
        }
        size_t need = strlen(cat->elements[e].id) + 1;
        if (used + need + 4 < len) {
            used += (size_t)snprintf(missing + used, len - used, "%s%s", used ? " " : "",
                                     cat->elements[e].id);
        } else if (len > used + 4 && !strstr(missing, "...")) {
            used += (size_t)snprintf(missing + used, len - used, " ...");
        }
    }
}

uint32_t pw_model_want(const pw_catalog_t *cat, int i, int s)
{
    const pw_series_t *sr = &cat->indicators[i].series[s];
    pw_level_t la = cat->elements[sr->a].level;
    pw_level_t lb = sr->b >= 0 ? cat->elements[sr->b].level : la;
    uint32_t want = 0;
    for (size_t d = 0; d < cat->ndistricts; d++)
        want += cat->districts[d].level == la || cat->districts[d].level == lb;
    return want;
}

void pw_model_eval(const pw_model_t *self, int i, int s, pw_period_t p, pw_cell_t *out)
{
    int pidx = find_period(self, p);
    if (pidx < 0) {
        memset(out, 0, sizeof(*out));
        out->want = pw_model_want(self->cat, i, s);
        return;
    }
    eval_at(self, i, s, pidx, p, out);
}

static bool cell_eq(const pw_cell_t *a, const pw_cell_t *b)
{
    return a->has_value == b->has_value && (!a->has_value || a->value == b->value) &&
           a->rate.has_rate == b->rate.has_rate && a->rate.centi == b->rate.centi &&
           a->rate.band == b->rate.band && a->rate.achieved == b->rate.achieved &&
           a->have == b->have && a->want == b->want;
}

static void fill_ids(const pw_model_t *self, size_t sidx, pw_event_t *ev)
{
    const pw_indicator_t *ind = &self->cat->indicators[self->sref[sidx].ind];
    /* Catalog ids are NUL-terminated within PW_ID_MAX: a copy, not a format
     * (this runs for every event). */
    const char *series = ind->series[self->sref[sidx].s].name;
    memcpy(ev->indicator, ind->id, strnlen(ind->id, PW_ID_MAX - 1) + 1);
    memcpy(ev->series, series, strnlen(series, PW_ID_MAX - 1) + 1);
}

static void cell_to_event(const pw_model_t *self, size_t sidx, pw_period_t p, const pw_cell_t *c,
                          int64_t now_ms, pw_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = PW_EV_RATE;
    ev->time_ms = now_ms;
    fill_ids(self, sidx, ev);
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

    int pidx = find_period(self, p);
    pw_period_t base_p = {.end = cat->base_year * 12 + 11, .months = 12};
    int bidx = find_period(self, base_p);
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
    fill_ids(self, sidx, &ev);
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
            eval_at(self, self->sref[sidx].ind, self->sref[sidx].s, (int)pidx, self->sorted[k],
                    &c);
            self->evals++;
            if (self->pub_valid[row] ? cell_eq(&c, &self->pub[row]) : !c.has_value)
                continue;
            self->pub[row] = c;
            self->pub_valid[row] = 1;
            pw_event_t ev;
            cell_to_event(self, sidx, self->sorted[k], &c, now_ms, &ev);
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

void pw_model_touch_all(pw_model_t *self)
{
    if (self->np)
        memset(self->dirty, 1, self->np * self->ns);
}

static int series_index(const pw_model_t *self, const pw_event_t *ev)
{
    int i = pw_catalog_indicator(self->cat, ev->indicator, strlen(ev->indicator));
    if (i < 0)
        return -1;
    const pw_indicator_t *ind = &self->cat->indicators[i];
    for (size_t s = 0; s < ind->nseries; s++)
        if (strcmp(ind->series[s].name, ev->series) == 0)
            return self->first_series[i] + (int)s;
    return -1;
}

int pw_model_restore_rate(pw_model_t *self, const pw_event_t *ev)
{
    int sidx = series_index(self, ev);
    if (sidx < 0)
        return PW_OK; /* an indicator the catalog no longer has */
    int pidx = find_period(self, ev->period);
    if (pidx < 0 && (pidx = add_period(self, ev->period)) < 0)
        return pidx;
    size_t row = (size_t)pidx * self->ns + (size_t)sidx;
    pw_model_cell_of(ev, &self->pub[row]);
    self->pub_valid[row] = 1;
    return PW_OK;
}

int pw_model_restore_alert(pw_model_t *self, const pw_event_t *ev)
{
    int sidx = series_index(self, ev);
    if (sidx < 0)
        return PW_OK;
    struct alert_state *st = &self->alerts[sidx];
    st->open = true;
    st->has_gov = true;
    st->gov = ev->period;
    st->centi = ev->centi;
    return PW_OK;
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

int pw_model_rebase(const pw_model_t *old, const pw_catalog_t *cat, pw_model_t **out)
{
    pw_model_t *self = NULL;
    int rc = pw_model_new(cat, &self);
    if (rc != 0)
        return rc;
    const pw_catalog_t *oc = old->cat;
    /* The same steps as a restart on the store the old model wrote: its
     * values, its published rows, its open alerts, each by id. */
    for (size_t pidx = 0; pidx < old->np && rc == 0; pidx++) {
        for (size_t d = 0; d < old->nd && rc == 0; d++) {
            const char *did = oc->districts[d].id;
            int nd = pw_catalog_district(cat, did, strlen(did));
            for (size_t e = 0; nd >= 0 && e < old->ne && rc == 0; e++) {
                size_t cell = (pidx * old->nd + d) * old->ne + e;
                const char *eid = oc->elements[e].id;
                int ne = old->have[cell] ? pw_catalog_element(cat, eid, strlen(eid)) : -1;
                if (ne >= 0)
                    rc = pw_model_set(self, nd, ne, old->periods[pidx], old->vals[cell], NULL);
            }
        }
    }
    pw_event_t ev;
    for (size_t pidx = 0; pidx < old->np && rc == 0; pidx++)
        for (size_t sidx = 0; sidx < old->ns && rc == 0; sidx++) {
            size_t row = pidx * old->ns + sidx;
            if (!old->pub_valid[row])
                continue;
            cell_to_event(old, sidx, old->periods[pidx], &old->pub[row], 0, &ev);
            rc = pw_model_restore_rate(self, &ev);
        }
    for (size_t sidx = 0; sidx < old->ns && rc == 0; sidx++) {
        const struct alert_state *st = &old->alerts[sidx];
        if (!st->open)
            continue;
        memset(&ev, 0, sizeof(ev));
        fill_ids(old, sidx, &ev);
        ev.period = st->gov;
        ev.centi = st->centi;
        rc = pw_model_restore_alert(self, &ev);
    }
    if (rc != 0) {
        pw_model_destroy(&self);
        return rc;
    }
    pw_model_restore_finish(self);
    pw_model_touch_all(self);
    *out = self;
    return PW_OK;
}

uint64_t pw_model_evaluations(const pw_model_t *self)
{
    return self->evals;
}

void pw_model_cell_of(const pw_event_t *ev, pw_cell_t *out)
{
    memset(out, 0, sizeof(*out));
    out->has_value = ev->has_value;
    out->value = ev->value;
    out->rate.has_rate = ev->has_rate;
    out->rate.centi = ev->centi;
    out->rate.band = ev->band;
    out->rate.achieved = ev->achieved;
    out->have = ev->have;
    out->want = ev->want;
}
