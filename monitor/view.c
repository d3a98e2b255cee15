/* SPDX-License-Identifier: MIT */
/*
 * The monitor's view: the rows and alerts it holds, kept by events and
 * snapshots, and printed as the evaluation table or its JSON. Single events
 * and the status are printed in view_event.c.
 */
#include "view.h"
#include "view_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "followup_view.h"
#include "pw/text.h"
#include "pw/util.h"

struct pw_view {
    const pw_catalog_t *cat;
    pw_district_status_t *status; /* from the latest snapshot */
    size_t nstatus;
    bool has_status_period;
    pw_period_t status_period;
    pw_view_filter_t filter;
    char title[256];
    pw_event_t *rows;
    size_t nrows, caprows;
    /* Where each (indicator, series, period) row is: open addressing, row
     * number + 1 (0 = empty), capindex a power of two at least twice nrows.
     * A live dashboard applies every rate of the intake: a scan of the rows
     * for each (thousands of rows) took a core's fifth at full intake. */
    uint32_t *index;
    size_t capindex;
    pw_event_t *alerts;
    size_t nalerts, capalerts;
    pw_followup_t *fu; /* borrowed; NULL: no follow-up shown */
};

int pw_view_new(const pw_catalog_t *cat, pw_view_t **out)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    (*out)->cat = cat;
    return 0;
}

void pw_view_destroy(pw_view_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->rows);
    free((*self_p)->index);
    free((*self_p)->alerts);
    free((*self_p)->status);
    free(*self_p);
    *self_p = NULL;
}

void pw_view_set_filter(pw_view_t *self, const pw_view_filter_t *filter)
{
    self->filter = *filter;
}

void pw_view_set_followup(pw_view_t *self, pw_followup_t *fu)
{
    self->fu = fu;
}

void pw_view_set_title(pw_view_t *self, const char *title)
{
    snprintf(self->title, sizeof(self->title), "%s", title ? title : "");
}

bool pw_view_matches(const pw_view_t *self, const pw_event_t *ev)
{
    const pw_view_filter_t *f = &self->filter;
    if (f->indicator && strcmp(f->indicator, ev->indicator) != 0)
        return false;
    if (f->band != PW_BAND_NONE && (!ev->has_rate || ev->band != f->band))
        return false;
    if (f->category) {
        int i = self->cat ? pw_catalog_indicator(self->cat, ev->indicator, strlen(ev->indicator))
                          : -1;
        if (i < 0 || strcmp(self->cat->indicators[i].category, f->category) != 0)
            return false;
    }
    return true;
}

static bool same_series(const pw_event_t *a, const pw_event_t *b)
{
    return strcmp(a->indicator, b->indicator) == 0 && strcmp(a->series, b->series) == 0;
}

const pw_event_t *pw_view_open_alert(const pw_view_t *self, const char *indicator,
                                     const char *series)
{
    for (size_t k = 0; k < self->nalerts; k++)
        if (strcmp(self->alerts[k].indicator, indicator) == 0 &&
            strcmp(self->alerts[k].series, series) == 0)
            return &self->alerts[k];
    return NULL;
}

static size_t row_hash(const pw_event_t *ev)
{
    /* The indicator, a separator no id holds, the series, the period. */
    uint64_t h = pw__fnv1a(PW__FNV_OFFSET, ev->indicator, strlen(ev->indicator));
    h = pw__fnv1a(h, "/", 1);
    h = pw__fnv1a(h, ev->series, strlen(ev->series));
    uint32_t end = (uint32_t)ev->period.end, months = (uint32_t)ev->period.months;
    h = pw__fnv1a(h, &end, sizeof(end));
    h = pw__fnv1a(h, &months, sizeof(months));
    return (size_t)(h ^ (h >> 32));
}

/* The slot of ev's row in the index, or the empty slot where it would go. */
static size_t row_slot(const pw_view_t *self, const pw_event_t *ev)
{
    size_t mask = self->capindex - 1, k = row_hash(ev) & mask;
    while (self->index[k]) {
        const pw_event_t *r = &self->rows[self->index[k] - 1];
        if (same_series(r, ev) && pw_period_eq(r->period, ev->period))
            break;
        k = (k + 1) & mask;
    }
    return k;
}

/* Makes room in the index for one more row. 0 or -ENOMEM. */
static int index_reserve(pw_view_t *self)
{
    if (self->nrows + 1 <= self->capindex / 2)
        return 0;
    size_t cap = self->capindex ? self->capindex * 2 : 1024;
    if (self->nrows + 1 >= UINT32_MAX)
        return -ENOMEM;
    uint32_t *index = calloc(cap, sizeof(*index));
    if (!index)
        return -ENOMEM;
    free(self->index);
    self->index = index;
    self->capindex = cap;
    for (size_t i = 0; i < self->nrows; i++)
        self->index[row_slot(self, &self->rows[i])] = (uint32_t)(i + 1);
    return 0;
}

int pw_view_apply(pw_view_t *self, const pw_event_t *ev)
{
    if (ev->type == PW_EV_RATE) {
        int rc = index_reserve(self);
        if (rc != 0)
            return rc;
        size_t k = row_slot(self, ev);
        if (self->index[k]) {
            self->rows[self->index[k] - 1] = *ev;
            return 0;
        }
        rc = pw_event_push(&self->rows, &self->nrows, &self->caprows, ev);
        if (rc == 0)
            self->index[k] = (uint32_t)self->nrows;
        return rc;
    }
    if (ev->type != PW_EV_ALERT)
        return 0;
    for (size_t i = 0; i < self->nalerts; i++) {
        if (!same_series(&self->alerts[i], ev))
            continue;
        if (ev->action == PW_ALERT_RESOLVE)
            self->alerts[i] = self->alerts[--self->nalerts];
        else
            self->alerts[i] = *ev;
        return 0;
    }
    return ev->action != PW_ALERT_RESOLVE
               ? pw_event_push(&self->alerts, &self->nalerts, &self->capalerts, ev)
               : 0;
}

int pw_view_load(pw_view_t *self, const pw_reply_t *snap)
{
    self->nrows = 0;
    if (self->index)
        memset(self->index, 0, self->capindex * sizeof(*self->index));
    self->nalerts = 0;
    free(self->status);
    self->status = NULL;
    self->nstatus = 0;
    if (snap->nstatus) {
        self->status = malloc(snap->nstatus * sizeof(*self->status));
        if (!self->status)
            return -ENOMEM;
        memcpy(self->status, snap->status, snap->nstatus * sizeof(*self->status));
        self->nstatus = snap->nstatus;
        self->has_status_period = snap->has_period;
        self->status_period = snap->period;
    }
    for (size_t i = 0; i < snap->nrows; i++)
        if (pw_view_apply(self, &snap->rows[i]) != 0)
            return -ENOMEM;
    for (size_t i = 0; i < snap->nalerts; i++)
        if (pw_event_push(&self->alerts, &self->nalerts, &self->capalerts, &snap->alerts[i]) != 0)
            return -ENOMEM;
    return 0;
}

bool pw_view_latest_period(const pw_view_t *self, pw_period_t *out)
{
    bool any = false;
    for (size_t i = 0; i < self->nrows; i++) {
        if (!any || pw_period_cmp(self->rows[i].period, *out) > 0)
            *out = self->rows[i].period;
        any = true;
    }
    return any;
}

const pw_indicator_t *pw__view_find_ind(const pw_catalog_t *cat, const char *id)
{
    if (!cat)
        return NULL;
    int i = pw_catalog_indicator(cat, id, strlen(id));
    return i < 0 ? NULL : &cat->indicators[i];
}

int pw__view_decimals_of(const pw_catalog_t *cat, const char *id)
{
    const pw_indicator_t *ind = pw__view_find_ind(cat, id);
    return ind ? ind->decimals : 6;
}

static const char *band_color(pw_band_t b)
{
    return b == PW_BAND_SEVERE ? "\033[1;31m" : b == PW_BAND_LAGGING ? "\033[33m" : "\033[32m";
}

/* Row order: the catalog's, then ids for anything it does not know. */
static long order_key(const pw_catalog_t *cat, const pw_event_t *ev)
{
    if (!cat)
        return 0;
    int i = pw_catalog_indicator(cat, ev->indicator, strlen(ev->indicator));
    if (i < 0)
        return 1L << 30;
    const pw_indicator_t *ind = &cat->indicators[i];
    long s = 0;
    for (size_t k = 0; k < ind->nseries; k++)
        if (strcmp(ind->series[k].name, ev->series) == 0)
            s = (long)k;
    return (long)i * PW_SERIES_MAX + s;
}

static const pw_catalog_t *sort_cat;

static int cmp_rows(const void *a, const void *b)
{
    const pw_event_t *x = *(const pw_event_t *const *)a, *y = *(const pw_event_t *const *)b;
    long kx = order_key(sort_cat, x), ky = order_key(sort_cat, y);
    if (kx != ky)
        return kx < ky ? -1 : 1;
    int c = strcmp(x->indicator, y->indicator);
    return c ? c : strcmp(x->series, y->series);
}

/* Rows at period p in display order; caller frees the array. */
static const pw_event_t **rows_at(const pw_view_t *self, pw_period_t p, size_t *n_out)
{
    const pw_event_t **sel = calloc(self->nrows + 1, sizeof(*sel));
    size_t n = 0;
    if (!sel) {
        *n_out = 0;
        return NULL;
    }
    for (size_t i = 0; i < self->nrows; i++)
        if (pw_period_eq(self->rows[i].period, p) && pw_view_matches(self, &self->rows[i]))
            sel[n++] = &self->rows[i];
    sort_cat = self->cat;
    qsort(sel, n, sizeof(*sel), cmp_rows);
    *n_out = n;
    return sel;
}

/* The table's title line and column heads. */
static void print_heading(const pw_view_t *self, FILE *out, pw_period_t p, const char *ptext)
{
    if (self->title[0])
        fprintf(out, "%s, %s", self->title, ptext);
    else
        fprintf(out, "Evaluation table at %s", ptext);
    if (self->cat)
        fprintf(out, " (plan %d-%d, %.0f%% of the plan period elapsed)", self->cat->base_year,
                self->cat->target_year,
                100.0 * (double)pw_period_months_after(p, self->cat->base_year) /
                    (12.0 * (self->cat->target_year - self->cat->base_year)));
    fprintf(out, "\n%3s  %-36s ", "#", "indicator");
    pw_view_print_cell(out, "指标", 26);
    fprintf(out, " %8s %8s %9s %8s  %-20s %-8s\n", "base", "target", "value", "rate", "band",
            "reported");
}

/* One series row of the table. */
static void print_row(const pw_view_t *self, FILE *out, const pw_event_t *r, bool color)
{
    const pw_indicator_t *ind = pw__view_find_ind(self->cat, r->indicator);
    char base[32] = "", target[32] = "", value[32] = "-", rate[32] = "-", name[160];
    if (ind) {
        if (ind->has_base)
            pw_view_fmt_num(base, sizeof(base), ind->base, 6);
        else
            snprintf(base, sizeof(base), "none");
        char lo[24], hi[24];
        pw_view_fmt_num(lo, sizeof(lo), ind->target, 6);
        pw_view_fmt_num(hi, sizeof(hi), ind->target_hi, 6);
        if (ind->target_kind == PW_TARGET_RANGE)
            snprintf(target, sizeof(target), "%.15s-%.15s", lo, hi);
        else
            snprintf(target, sizeof(target), "%s", lo);
    }
    if (r->has_value)
        pw_view_fmt_num(value, sizeof(value), r->value,
                        pw__view_decimals_of(self->cat, r->indicator));
    if (r->has_rate)
        snprintf(rate, sizeof(rate), "%.2f", (double)r->centi / 100.0);
    snprintf(name, sizeof(name), "%s%s%s", r->indicator, r->series[0] ? "/" : "", r->series);
    fprintf(out, "%3d  ", ind ? (ind->row > 0 ? ind->row : 0) : 0);
    pw_view_print_cell(out, name, 36);
    fputc(' ', out);
    pw_view_print_cell(out, ind ? ind->name_zh : "", 26);
    fprintf(out, " %8s %8s %9s %8s  ", base, target, value, rate);
    char band[64];
    snprintf(band, sizeof(band), "%s %s", r->has_rate ? pw_band_name(r->band) : "-",
             r->has_rate ? pw_band_name_zh(r->band) : "");
    if (color && r->has_rate)
        fputs(band_color(r->band), out);
    pw_view_print_cell(out, band, 20);
    if (color && r->has_rate)
        fputs("\033[0m", out);
    char reported[32];
    pw_view_fmt_reported(reported, sizeof(reported), r->have, r->want);
    fprintf(out, " %s%s%s\n", reported, pw_view_provisional(r->have, r->want) ? " provisional" : "",
            r->achieved ? " achieved" : "");
}

/*
 * The band counts of the n rows (in display order), by indicator, not
 * series: an indicator counts by its weakest series.
 */
static void print_counts(FILE *out, const pw_event_t *const *rows, size_t n)
{
    int counts[4] = {0}, achieved = 0;
    const char *counted = "";
    for (size_t k = 0; k < n; k++) {
        const pw_event_t *r = rows[k];
        if (strcmp(counted, r->indicator) == 0 || !r->has_rate)
            continue;
        const pw_event_t *weak = r;
        for (size_t j = k + 1; j < n && strcmp(rows[j]->indicator, r->indicator) == 0; j++)
            if (rows[j]->has_rate && rows[j]->centi < weak->centi)
                weak = rows[j];
        counts[weak->band]++;
        achieved += weak->achieved;
        counted = r->indicator;
    }
    fprintf(out,
            "\n%d indicators rated: %d on track (%d of them achieved), %d lagging, %d severe\n",
            counts[1] + counts[2] + counts[3], counts[PW_BAND_ON_TRACK], achieved,
            counts[PW_BAND_LAGGING], counts[PW_BAND_SEVERE]);
}

/* The reporters line of the latest snapshot: how many are connected, which are late. */
static void print_reporters(const pw_view_t *self, FILE *out)
{
    size_t up = 0, late = 0;
    char names[256] = "";
    for (size_t i = 0; i < self->nstatus; i++) {
        const pw_district_status_t *st = &self->status[i];
        up += st->connected;
        if (st->reported < st->expected) {
            late++;
            size_t used = strlen(names);
            if (used + strlen(st->district) + 8 < sizeof(names))
                snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
                         st->district);
        }
    }
    char sp[PW_PERIOD_STRMAX] = "-";
    if (self->has_status_period)
        pw_period_format(self->status_period, sp);
    fprintf(out, "Reporters: %zu of %zu connected; %zu late for %s%s%s%s\n", up, self->nstatus,
            late, sp, late ? " (" : "", names, late ? ")" : "");
}

/* The open alerts the filter passes, each with where its series stands at p. */
static void print_alerts(const pw_view_t *self, FILE *out, pw_period_t p, const char *ptext,
                         bool color)
{
    size_t shown_alerts = 0;
    for (size_t i = 0; i < self->nalerts; i++)
        shown_alerts += pw_view_matches(self, &self->alerts[i]);
    fprintf(out, "Open alerts: %zu\n", shown_alerts);
    for (size_t i = 0; i < self->nalerts; i++) {
        if (!pw_view_matches(self, &self->alerts[i]))
            continue;
        pw_event_t shown = self->alerts[i];
        shown.action = PW_ALERT_OPEN; /* an updated alert is still the open one */
        const pw_event_t *a = &shown;
        char note[PW_FU_TEXT_MAX + 256] = "";
        pw_view_fmt_followup(self->fu, a, pw_now_ms(), note, sizeof(note));
        pw_view_print_alert_note(self->cat, a, out, color, note);
        /* An alert stays open while later periods stay severe: say where it stands. */
        for (size_t k = 0; k < self->nrows; k++) {
            const pw_event_t *r = &self->rows[k];
            if (!same_series(r, a) || !pw_period_eq(r->period, p) || !r->has_rate ||
                pw_period_eq(r->period, a->period))
                continue;
            char value[32] = "-";
            if (r->has_value)
                pw_view_fmt_num(value, sizeof(value), r->value,
                                pw__view_decimals_of(self->cat, r->indicator));
            fprintf(out, "          now at %s: value %s, rate %.2f (%s %s)\n", ptext, value,
                    (double)r->centi / 100.0, pw_band_name(r->band), pw_band_name_zh(r->band));
        }
    }
}

void pw_view_print_table(const pw_view_t *self, FILE *out, pw_period_t p, bool color)
{
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(p, ptext);
    size_t n;
    const pw_event_t **rows = rows_at(self, p, &n);
    if (!rows)
        return;
    print_heading(self, out, p, ptext);
    for (size_t k = 0; k < n; k++)
        print_row(self, out, rows[k], color);
    print_counts(out, rows, n);
    free(rows);
    if (self->nstatus && !self->title[0])
        print_reporters(self, out);
    if (self->title[0])
        return; /* a district's own figures: alerts are the city's */
    print_alerts(self, out, p, ptext, color);
}

void pw_view_print_json(const pw_view_t *self, FILE *out, pw_period_t p)
{
    size_t n;
    const pw_event_t **rows = rows_at(self, p, &n);
    for (size_t k = 0; rows && k < n; k++)
        pw_view_print_event_json(self->cat, rows[k], out);
    free(rows);
}
