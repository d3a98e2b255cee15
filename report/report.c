/* SPDX-License-Identifier: MIT */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "loader.h"
#include "pw/bureau.h"
#include "pw/error.h"
#include "pw/util.h"
#include "store.h"
#include "text.h"
#include "view.h"

void pw_report_destroy(pw_report_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_report_t *self = *self_p;
    for (size_t k = 0; self->series && k < self->nseries; k++) {
        free(self->series[k].cells);
        free(self->series[k].districts);
    }
    free(self->series);
    free(self->periods);
    free(self);
    *self_p = NULL;
}

static bool ratio_like(const pw_series_t *s)
{
    return s->formula == PW_FORMULA_RATIO || s->formula == PW_FORMULA_SHARE ||
           s->formula == PW_FORMULA_WMEAN;
}

bool pw_report_has_districts(const pw_report_t *self, const pw_report_series_t *r)
{
    (void)self;
    return r->districts != NULL;
}

const pw_cell_t *pw_report_current(const pw_report_t *self, const pw_report_series_t *r)
{
    return &r->cells[self->nperiods - 1];
}

size_t pw_report_provisional(const pw_report_t *self)
{
    size_t n = 0;
    for (size_t k = 0; k < self->nseries; k++) {
        const pw_cell_t *c = pw_report_current(self, &self->series[k]);
        n += pw_view_provisional(c->have, c->want);
    }
    return n;
}

bool pw_report_note(const pw_report_t *self, const pw_report_series_t *r, char *en, char *zh,
                    size_t len)
{
    const pw_indicator_t *ind = &self->cat->indicators[r->ind];
    const pw_cell_t *c = pw_report_current(self, r);
    en[0] = zh[0] = '\0';
    if (!c->rate.has_rate || !pw_rate_above_range(ind, c->value))
        return false;
    char base[32], target[32];
    pw_report_base_target(ind, base, target, sizeof(target));
    snprintf(en, len, "above the range %s", target);
    snprintf(zh, len, "高于目标区间%s", target);
    return true;
}

void pw_report_count(const pw_report_t *self, int bands[4], int classes[5], int *achieved_out)
{
    memset(bands, 0, 4 * sizeof(*bands));
    memset(classes, 0, 5 * sizeof(*classes));
    *achieved_out = 0;
    size_t k = 0;
    while (k < self->nseries) {
        int ind = self->series[k].ind;
        pw_band_t worst = PW_BAND_NONE;
        pw_forecast_class_t fc = PW_FORECAST_NONE;
        bool achieved = true;
        for (; k < self->nseries && self->series[k].ind == ind; k++) {
            const pw_report_series_t *r = &self->series[k];
            const pw_rate_t *rate = &pw_report_current(self, r)->rate;
            if (rate->has_rate && (worst == PW_BAND_NONE || rate->band < worst))
                worst = rate->band;
            achieved = achieved && rate->achieved;
            /* The classes are ordered from best to worst after "none". */
            if (r->forecast.cls > fc)
                fc = r->forecast.cls;
        }
        bands[worst]++;
        classes[fc]++;
        *achieved_out += achieved;
    }
}

double pw_report_elapsed_pct(const pw_report_t *self)
{
    return 100.0 * pw_elapsed(self->cat, self->period);
}

/* Keeps the periods up to the one asked (or all), which must itself have data. */
static int pick_periods(const pw_period_t *all, size_t n, const pw_period_t *period,
                        pw_report_t *self)
{
    size_t keep = 0;
    bool found = period == NULL;
    for (size_t k = 0; k < n; k++) {
        if (period && pw_period_cmp(all[k], *period) > 0)
            break;
        found = found || pw_period_eq(all[k], *period);
        keep = k + 1;
    }
    if (keep == 0 || !found)
        return PW_ENOTFOUND;
    self->periods = malloc(keep * sizeof(*self->periods));
    if (!self->periods)
        return -ENOMEM;
    memcpy(self->periods, all, keep * sizeof(*self->periods));
    self->nperiods = keep;
    self->period = all[keep - 1];
    return 0;
}

/* Allocates a series entry per indicator series, with empty cells. */
static int alloc_series(pw_report_t *self, bool want_districts)
{
    const pw_catalog_t *cat = self->cat;
    self->nseries = pw_catalog_nseries(cat);
    self->series = calloc(self->nseries ? self->nseries : 1, sizeof(*self->series));
    if (!self->series)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < cat->nindicators; i++) {
        for (size_t s = 0; s < cat->indicators[i].nseries; s++, k++) {
            pw_report_series_t *r = &self->series[k];
            r->ind = (int)i;
            r->s = (int)s;
            r->cells = calloc(self->nperiods, sizeof(*r->cells));
            if (!r->cells)
                return -ENOMEM;
            if (want_districts && ratio_like(&cat->indicators[i].series[s])) {
                r->districts = calloc(self->nperiods * cat->ndistricts, sizeof(*r->districts));
                if (!r->districts)
                    return -ENOMEM;
            }
        }
    }
    return 0;
}

/* Drops district tables with nothing in them (series of city elements), and
 * projects each series from its latest observation. */
static void finish(pw_report_t *self)
{
    const pw_catalog_t *cat = self->cat;
    for (size_t k = 0; k < self->nseries; k++) {
        pw_report_series_t *r = &self->series[k];
        const pw_indicator_t *ind = &cat->indicators[r->ind];
        /* Only district offices: the city's own figure is the city-wide one. */
        bool any = false;
        for (size_t c = 0; r->districts && c < self->nperiods * cat->ndistricts; c++) {
            if (cat->districts[c % cat->ndistricts].level == PW_LEVEL_DISTRICT)
                any = any || r->districts[c].has_value;
            else
                r->districts[c].has_value = false;
        }
        if (!any) {
            free(r->districts);
            r->districts = NULL;
        }
        /* A publisher's snapshot has no row where no reporter has sent
         * anything yet: expected all the same, as from a store. */
        for (size_t p = 0; p < self->nperiods; p++)
            if (r->cells[p].want == 0)
                r->cells[p].want = pw_model_want(cat, r->ind, r->s);
        for (size_t p = self->nperiods; p-- > 0;) {
            if (r->cells[p].has_value && pw_elapsed(cat, self->periods[p]) > 0.0) {
                pw_forecast_eval(cat, ind, r->s, self->periods[p], r->cells[p].value, &r->forecast);
                break;
            }
        }
    }
}

int pw_report_from_model(const pw_model_t *m, const pw_period_t *period, pw_report_t **out)
{
    *out = NULL;
    pw_report_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->cat = pw_model_catalog(m);
    size_t n;
    const pw_period_t *all = pw_model_periods(m, &n);
    int rc = pick_periods(all, n, period, self);
    if (rc == 0)
        rc = alloc_series(self, true);
    for (size_t k = 0; rc == 0 && k < self->nseries; k++) {
        pw_report_series_t *r = &self->series[k];
        for (size_t p = 0; p < self->nperiods; p++) {
            pw_model_eval(m, r->ind, r->s, self->periods[p], &r->cells[p]);
            for (size_t d = 0; r->districts && d < self->cat->ndistricts; d++)
                pw_model_eval_reporter(m, (int)d, r->ind, r->s, self->periods[p],
                                       &r->districts[p * self->cat->ndistricts + d]);
        }
    }
    if (rc != 0) {
        pw_report_destroy(&self);
        return rc;
    }
    finish(self);
    *out = self;
    return 0;
}

int pw_report_from_store(const pw_catalog_t *cat, const char *dir, const pw_period_t *period,
                         pw_report_t **out)
{
    *out = NULL;
    pw_store_t *store = NULL;
    pw_txn_t *txn = NULL;
    pw_model_t *m = NULL;
    pw_store_opts_t so = {.readonly = true};
    int rc = pw_store_open(&store, dir, &so);
    if (rc == 0)
        rc = pw_store_begin(store, false, &txn);
    /* The current values, not the stored rate rows: the districts' own
     * figures need them, and the model computes exactly what was published. */
    if (rc == 0)
        rc = pw_state_load_values(cat, txn, &m);
    pw_store_abort(&txn);
    if (rc == 0)
        rc = pw_report_from_model(m, period, out);
    pw_model_destroy(&m);
    pw_store_destroy(&store);
    return rc;
}

/*
 * Asks for every page of the city's (d < 0) or reporter d's figures at the
 * periods up to upto (NULL: all), appending the rows to *acc, all before the
 * deadline (pw_mono_ms()): PW_ETIMEOUT once it has passed.
 */
static int fetch_rows(pw_client_t *client, const pw_catalog_t *cat, int d, const pw_period_t *upto,
                      int64_t deadline, pw_reply_t *acc)
{
    pw_request_t req;
    memset(&req, 0, sizeof(req));
    req.type = PW_REQ_ROWS;
    req.has_period = upto != NULL;
    if (upto)
        req.period = *upto;
    if (d >= 0)
        snprintf(req.district, sizeof(req.district), "%s", cat->districts[d].id);
    int rc = 0;
    bool more = true;
    while (rc == 0 && more) {
        int64_t left = deadline - pw_mono_ms();
        if (left <= 0)
            return PW_ETIMEOUT;
        pw_reply_t page = {0};
        rc = pw_client_request(client, &req, left > INT32_MAX ? INT32_MAX : (int)left, &page);
        /* A page that does not move on would ask the same forever. */
        more = rc == 0 && page.has_next && page.next > req.from;
        req.from = page.next;
        for (size_t k = 0; rc == 0 && k < page.nrows; k++)
            rc = pw_reply_add(acc, 0, &page.rows[k]);
        pw_reply_clear(&page);
    }
    return rc;
}

/* The distinct periods of rows that come in period order. */
static int rows_periods(const pw_reply_t *rows, pw_period_t **out, size_t *n_out)
{
    *n_out = 0;
    *out = malloc((rows->nrows ? rows->nrows : 1) * sizeof(**out));
    if (!*out)
        return -ENOMEM;
    size_t n = 0;
    for (size_t k = 0; k < rows->nrows; k++)
        if (n == 0 || !pw_period_eq((*out)[n - 1], rows->rows[k].period))
            (*out)[n++] = rows->rows[k].period;
    *n_out = n;
    return 0;
}

static pw_report_series_t *find_series(pw_report_t *self, const pw_event_t *ev)
{
    for (size_t k = 0; k < self->nseries; k++) {
        pw_report_series_t *r = &self->series[k];
        const pw_indicator_t *ind = &self->cat->indicators[r->ind];
        if (strcmp(ind->id, ev->indicator) == 0 && strcmp(ind->series[r->s].name, ev->series) == 0)
            return r;
    }
    return NULL;
}

static int period_index(const pw_report_t *self, pw_period_t p)
{
    for (size_t k = 0; k < self->nperiods; k++)
        if (pw_period_eq(self->periods[k], p))
            return (int)k;
    return -1;
}

/* Fills the series' cells from rate rows of one reporter (d < 0: the city). */
static void fill_rows(pw_report_t *self, const pw_event_t *rows, size_t n, int d)
{
    for (size_t k = 0; k < n; k++) {
        pw_report_series_t *r = find_series(self, &rows[k]);
        int p = period_index(self, rows[k].period);
        if (!r || p < 0)
            continue;
        if (d < 0)
            pw_model_cell_of(&rows[k], &r->cells[p]);
        else if (r->districts)
            pw_model_cell_of(&rows[k],
                             &r->districts[(size_t)p * self->cat->ndistricts + (size_t)d]);
    }
}

/* Asks for every district's own figures at every report period. */
static int fetch_districts(pw_report_t *self, pw_client_t *client, int64_t deadline)
{
    bool any = false;
    for (size_t k = 0; k < self->nseries; k++)
        any = any || self->series[k].districts;
    int rc = 0;
    for (size_t d = 0; any && rc == 0 && d < self->cat->ndistricts; d++) {
        if (self->cat->districts[d].level != PW_LEVEL_DISTRICT)
            continue;
        pw_reply_t rows = {0};
        rc = fetch_rows(client, self->cat, (int)d, &self->period, deadline, &rows);
        if (rc == 0)
            fill_rows(self, rows.rows, rows.nrows, (int)d);
        pw_reply_clear(&rows);
    }
    return rc;
}

int pw_report_from_client(const pw_catalog_t *cat, pw_client_t *client, const pw_period_t *period,
                          int timeout_ms, pw_report_t **out)
{
    *out = NULL;
    /* The timeout bounds the whole exchange, however many pages it takes. */
    int64_t deadline = pw_mono_ms() + timeout_ms;
    pw_reply_t rows = {0};
    pw_period_t *all = NULL;
    size_t n = 0;
    pw_report_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -ENOMEM;
    self->cat = cat;
    int rc = fetch_rows(client, cat, -1, period, deadline, &rows);
    if (rc == 0)
        rc = rows_periods(&rows, &all, &n);
    if (rc == 0)
        rc = pick_periods(all, n, period, self);
    if (rc == 0)
        rc = alloc_series(self, true);
    if (rc == 0) {
        fill_rows(self, rows.rows, rows.nrows, -1);
        rc = fetch_districts(self, client, deadline);
    }
    free(all);
    pw_reply_clear(&rows);
    if (rc != 0) {
        pw_report_destroy(&self);
        return rc;
    }
    finish(self);
    *out = self;
    return 0;
}

int pw_report_from_publisher(const pw_catalog_t *cat, const char *pub, const char *snap,
                             const pw_client_auth_t *auth, const pw_period_t *period,
                             int timeout_ms, pw_report_t **out)
{
    *out = NULL;
    pw_client_t *client = NULL;
    int rc = pw_client_new(pub, snap, auth, &client);
    if (rc == 0)
        rc = pw_report_from_client(cat, client, period, timeout_ms, out);
    pw_client_destroy(&client);
    return rc;
}

double pw_report_value_at_rate(const pw_indicator_t *ind, double f, double pct)
{
    double r = pct / 100.0;
    /* Rates against a level: value / level, or level / value when lower is better. */
    double t = ind->target;
    if (ind->target_kind == PW_TARGET_RANGE || !ind->has_base || ind->target == ind->base)
        return ind->direction > 0 ? t * r : (r > 0.0 ? t / r : t);
    double planned = pw_planned(ind, f);
    switch (ind->method) {
    case PW_METHOD_LEVEL:
        return ind->direction > 0 ? planned * r : (r > 0.0 ? planned / r : planned);
    case PW_METHOD_GROWTH:
        return ind->base * (1.0 + r * (pow(ind->target / ind->base, f) - 1.0));
    case PW_METHOD_LINEAR:
    default:
        return ind->base + r * (planned - ind->base);
    }
}

static const struct {
    const char *id, *zh;
} categories[] = {
    {"social_assistance", "社会救助"},    {"community", "社区建设"},
    {"social_organisations", "社会组织"}, {"social_workers", "社会工作"},
    {"elderly_care", "养老服务"},         {"social_services", "社会事务"},
};

const char *pw_report_category_zh(const char *category)
{
    for (size_t k = 0; k < sizeof(categories) / sizeof(categories[0]); k++)
        if (strcmp(categories[k].id, category) == 0)
            return categories[k].zh;
    return category;
}

void pw_report_period_zh(pw_period_t p, char *buf, size_t len)
{
    int year = p.end / 12, month = p.end % 12 + 1;
    switch (p.months) {
    case 12:
        snprintf(buf, len, "%d年", year);
        break;
    case 6:
        snprintf(buf, len, "%d年%s半年", year, month <= 6 ? "上" : "下");
        break;
    case 3:
        snprintf(buf, len, "%d年第%d季度", year, (month + 2) / 3);
        break;
    default:
        snprintf(buf, len, "%d年%d月", year, month);
        break;
    }
}

const char *pw_report_attribute_zh(const pw_indicator_t *ind)
{
    return ind->binding ? "约束性" : "预期性";
}
