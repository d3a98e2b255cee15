/* SPDX-License-Identifier: MIT */
/*
 * The model's values and periods: the index of series by element, values set
 * and read, periods added, rows and alerts restored from the store, and a model
 * rebased onto a new plan. Evaluation is in model_eval.c, alert decisions in
 * model_alerts.c.
 */
#include "model.h"
#include "model_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

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

int pw__model_find_period(const pw_model_t *self, pw_period_t p)
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
    int pidx = pw__model_find_period(self, p);
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
    int pidx = pw__model_find_period(self, p);
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
    int pidx = pw__model_find_period(self, ev->period);
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
            pw__model_cell_to_event(old, sidx, old->periods[pidx], &old->pub[row], 0, &ev);
            rc = pw_model_restore_rate(self, &ev);
        }
    for (size_t sidx = 0; sidx < old->ns && rc == 0; sidx++) {
        const struct alert_state *st = &old->alerts[sidx];
        if (!st->open)
            continue;
        memset(&ev, 0, sizeof(ev));
        pw__model_fill_ids(old, sidx, &ev);
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
