/* SPDX-License-Identifier: MIT */
#include "chart.h"

#include <math.h>
#include <string.h>

#include "html.h"
#include "pw/rate.h"
#include "view.h"

/* Shorthand: escaped text. */
static void esc(FILE *out, const char *s)
{
    pw_report_html_esc(out, s);
}

/* The plot box of every chart, in SVG user units. */
#define CW 360.0
#define CH 200.0
#define PL 46.0
#define PR 14.0
#define PT 14.0
#define PB 26.0

typedef struct scale {
    double lo, hi, step;
} scale_t;

static void num(char *buf, size_t len, double v, int decimals)
{
    pw_view_fmt_num(buf, len, v, decimals);
}

/* A range that holds every value given, with round tick steps. */
static void fit(scale_t *sc, const double *v, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(v[k]))
            continue;
        lo = fmin(lo, v[k]);
        hi = fmax(hi, v[k]);
    }
    if (!isfinite(lo)) {
        lo = 0.0;
        hi = 1.0;
    }
    if (hi - lo < 1e-9) {
        double pad = fabs(hi) > 0.0 ? fabs(hi) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / 5.0;
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    double step = (r <= 1.0 ? 1.0 : r <= 2.0 ? 2.0 : r <= 2.5 ? 2.5 : r <= 5.0 ? 5.0 : 10.0) * mag;
    sc->step = step;
    sc->lo = floor(lo / step) * step;
    sc->hi = ceil(hi / step) * step;
    if (sc->hi - sc->lo < step)
        sc->hi = sc->lo + step;
    /* Values of counts and shares never go below zero; neither does the axis. */
    if (sc->lo < 0.0 && lo >= 0.0)
        sc->lo = 0.0;
}

static double ypos(const scale_t *sc, double v)
{
    return PT + (CH - PT - PB) * (1.0 - (v - sc->lo) / (sc->hi - sc->lo));
}

static double xpos(double f)
{
    return PL + (CW - PL - PR) * f;
}

/* Decimals for axis labels: enough to tell the ticks apart. */
static int tick_decimals(double step)
{
    int d = 0;
    while (d < 4 && fabs(step * pow(10.0, d) - round(step * pow(10.0, d))) > 1e-6)
        d++;
    return d;
}

static void y_axis(FILE *out, const scale_t *sc)
{
    int dec = tick_decimals(sc->step);
    for (double v = sc->lo; v <= sc->hi + sc->step * 1e-6; v += sc->step) {
        char t[32];
        num(t, sizeof(t), v, dec);
        double y = ypos(sc, v);
        fprintf(out, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#e6e8ec'/>", PL, y,
                CW - PR, y);
        fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end'>%s</text>", PL - 5, y + 3.5, t);
    }
}

/* A line through the values that earn pct at each point of the plan period. */
static void rate_line(FILE *out, const pw_indicator_t *ind, const scale_t *sc, double pct,
                      const char *style)
{
    fputs("<polyline fill='none' ", out);
    fputs(style, out);
    fputs(" points='", out);
    for (int k = 0; k <= 20; k++) {
        double f = k / 20.0;
        fprintf(out, "%s%.1f,%.1f", k ? " " : "", xpos(f),
                ypos(sc, pw_report_value_at_rate(ind, f, pct)));
    }
    fputs("'/>", out);
}

static const char *const series_color[] = {"#1f4e79", "#8e44ad", "#00838f", "#6d4c41"};

size_t pw_report_series_of(const pw_report_t *self, int ind, size_t *first)
{
    size_t n = 0;
    for (size_t k = 0; k < self->nseries; k++) {
        if (self->series[k].ind != ind)
            continue;
        if (n++ == 0)
            *first = k;
    }
    return n;
}

/* A scale for indicator i's chart: its plan lines, target range, values and forecasts. */
static void trend_scale(const pw_report_t *self, int i, size_t first, size_t ns, scale_t *sc)
{
    const pw_indicator_t *ind = &self->cat->indicators[i];
    double vals[512];
    size_t nv = 0;
    vals[nv++] = pw_report_value_at_rate(ind, 0.0, 100.0);
    vals[nv++] = pw_report_value_at_rate(ind, 1.0, 100.0);
    vals[nv++] = pw_report_value_at_rate(ind, 1.0, 40.0);
    vals[nv++] = pw_report_value_at_rate(ind, 0.0, 40.0);
    if (ind->target_kind == PW_TARGET_RANGE)
        vals[nv++] = ind->target_hi;
    for (size_t k = first; k < first + ns; k++) {
        const pw_report_series_t *r = &self->series[k];
        for (size_t p = 0; p < self->nperiods && nv < 500; p++)
            if (r->cells[p].has_value)
                vals[nv++] = r->cells[p].value;
        if (r->forecast.has_value)
            vals[nv++] = r->forecast.value;
    }
    fit(sc, vals, nv);
}

/*
 * What a trend chart draws behind the series: the part of the plan period
 * behind the report (up to fnow), the years, the target range, and the
 * lines of 40% and 100% of the plan's pace.
 */
static void trend_frame(FILE *out, const pw_catalog_t *cat, const pw_indicator_t *ind,
                        const scale_t *sc, double fnow)
{
    fprintf(out,
            "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#1f4e79' "
            "fill-opacity='.04'/>",
            xpos(0), PT, xpos(fmin(fnow, 1.0)) - xpos(0), CH - PT - PB);
    int years = cat->target_year - cat->base_year;
    for (int y = 0; y <= years; y++) {
        double x = xpos((double)y / years);
        fprintf(out, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#c9ced6'/>", x, CH - PB,
                x, CH - PB + 4);
        fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='middle'>%d</text>", x, CH - PB + 15,
                cat->base_year + y);
    }
    fprintf(out, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#9aa1ab'/>", PL, CH - PB,
            CW - PR, CH - PB);
    if (ind->target_kind == PW_TARGET_RANGE) {
        fprintf(out,
                "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#2e7d32' "
                "fill-opacity='.08'/>",
                PL, ypos(sc, ind->target_hi), CW - PR - PL,
                ypos(sc, ind->target) - ypos(sc, ind->target_hi));
    }
    rate_line(out, ind, sc, 40.0, "stroke='#b3261e' stroke-width='1' stroke-dasharray='4 3'");
    rate_line(out, ind, sc, 100.0, "stroke='#2e7d32' stroke-width='1.4' stroke-dasharray='6 3'");
    double y40 = ypos(sc, pw_report_value_at_rate(ind, 1.0, 40.0));
    double y100 = ypos(sc, pw_report_value_at_rate(ind, 1.0, 100.0));
    bool close = fabs(y40 - y100) < 10.0;
    fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end' style='fill:#2e7d32'>100%%</text>",
            CW - PR - 2, y100 + (y100 <= y40 ? -3.0 : 10.0));
    if (!close)
        fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end' style='fill:#b3261e'>40%%</text>",
                CW - PR - 2, y40 + (y40 < y100 ? -3.0 : 10.0));
}

/*
 * A series' observed values as a line, which a missing observation breaks
 * (marked n/a); *lx and *ly get the last point drawn (0 when none).
 */
static void trend_line(FILE *out, const pw_report_t *self, const pw_report_series_t *r,
                       const scale_t *sc, const char *color, double *lx, double *ly)
{
    bool open = false;
    *lx = *ly = 0.0;
    for (size_t p = 0; p < self->nperiods; p++) {
        double f = pw_elapsed(self->cat, self->periods[p]);
        if (!r->cells[p].has_value) {
            if (open)
                fputs("'/>", out);
            open = false;
            if (f > 0.0)
                fprintf(out,
                        "<g data-missing='1'><line x1='%.1f' y1='%.1f' x2='%.1f' "
                        "y2='%.1f' stroke='#9aa1ab' stroke-dasharray='2 2'/>"
                        "<text x='%.1f' y='%.1f' text-anchor='middle'>n/a</text></g>",
                        xpos(f), PT, xpos(f), CH - PB, xpos(f), PT + 8);
            continue;
        }
        double x = xpos(f), y = ypos(sc, r->cells[p].value);
        if (!open)
            fprintf(out, "<polyline fill='none' stroke='%s' stroke-width='2' points='", color);
        fprintf(out, "%s%.1f,%.1f", open ? " " : "", x, y);
        open = true;
        *lx = x;
        *ly = y;
    }
    if (open)
        fputs("'/>", out);
}

/*
 * Series k (of ns from first) of indicator ind: its line, the forecast from
 * its last point, a dot per value, the value at the report period (at fnow)
 * labelled, and its name when the chart has several.
 */
static void trend_series(FILE *out, const pw_report_t *self, const pw_indicator_t *ind,
                         const scale_t *sc, size_t k, size_t first, size_t ns, double fnow)
{
    const pw_report_series_t *r = &self->series[k];
    const char *color = series_color[(k - first) % 4];
    double lx, ly;
    trend_line(out, self, r, sc, color, &lx, &ly);
    if (r->forecast.has_value && lx > 0.0) {
        fprintf(out,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' "
                "stroke-width='1.5' stroke-dasharray='1 3' stroke-linecap='round'/>",
                lx, ly, xpos(1.0), ypos(sc, r->forecast.value), color);
        fprintf(out,
                "<circle cx='%.1f' cy='%.1f' r='3.2' fill='#fff' stroke='%s' "
                "stroke-width='1.5'/>",
                xpos(1.0), ypos(sc, r->forecast.value), color);
    }
    for (size_t p = 0; p < self->nperiods; p++) {
        if (!r->cells[p].has_value)
            continue;
        char t[32], pt[PW_PERIOD_STRMAX];
        num(t, sizeof(t), r->cells[p].value, ind->decimals);
        pw_period_format(self->periods[p], pt);
        double f = pw_elapsed(self->cat, self->periods[p]);
        fprintf(out,
                "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'><title>%s: %s</title>"
                "</circle>",
                xpos(f), ypos(sc, r->cells[p].value), color, pt, t);
    }
    const pw_cell_t *now = pw_report_current(self, r);
    if (now->has_value) {
        char t[32];
        num(t, sizeof(t), now->value, ind->decimals);
        double y = ypos(sc, now->value);
        fprintf(out,
                "<text class='sub' x='%.1f' y='%.1f' text-anchor='middle' "
                "style='fill:%s;font-weight:600'>%s</text>",
                xpos(fmin(fnow, 1.0)), y < PT + 14 ? y + 14 : y - 7, color, t);
    }
    if (ns > 1) {
        fprintf(out, "<text x='%.1f' y='%.1f' style='fill:%s'>",
                PL + 6 + 70.0 * (double)(k - first), PT + 10, color);
        esc(out, ind->series[r->s].name);
        fputs("</text>", out);
    }
}

void pw_report_trend_chart(FILE *out, const pw_report_t *self, int i)
{
    const pw_indicator_t *ind = &self->cat->indicators[i];
    size_t first = 0, ns = pw_report_series_of(self, i, &first);
    scale_t sc;
    trend_scale(self, i, first, ns, &sc);
    fprintf(out,
            "<svg class='trend' data-chart='trend' viewBox='0 0 %.0f %.0f' role='img' "
            "aria-label='",
            CW, CH);
    esc(out, ind->name_en);
    fputs("'>", out);
    y_axis(out, &sc);
    double fnow = pw_elapsed(self->cat, self->period);
    trend_frame(out, self->cat, ind, &sc, fnow);
    for (size_t k = first; k < first + ns; k++)
        trend_series(out, self, ind, &sc, k, first, ns, fnow);
    fputs("</svg>", out);
}

void pw_report_district_chart(FILE *out, const pw_report_t *self, const pw_report_series_t *r)
{
    const pw_catalog_t *cat = self->cat;
    const pw_indicator_t *ind = &cat->indicators[r->ind];
    size_t p = self->nperiods - 1, nd = 0;
    double vals[256];
    size_t nv = 0;
    for (size_t d = 0; d < cat->ndistricts && nv < 250; d++) {
        const pw_cell_t *c = &r->districts[p * cat->ndistricts + d];
        if (c->has_value) {
            vals[nv++] = c->value;
            nd++;
        }
    }
    if (nd == 0)
        return;
    double fnow = pw_elapsed(cat, self->period);
    double planned = pw_report_value_at_rate(ind, fnow, 100.0);
    double severe = pw_report_value_at_rate(ind, fnow, 40.0);
    const pw_cell_t *city = pw_report_current(self, r);
    vals[nv++] = planned;
    if (city->has_value)
        vals[nv++] = city->value;
    scale_t sc;
    fit(&sc, vals, nv);
    double bar = 12.0, top = 16.0, left = 58.0, right = CW - 34.0;
    double h = top + bar * (double)nd + 22.0;
    fprintf(out, "<svg class='districts' data-districts='");
    esc(out, ind->id);
    fprintf(out, "' viewBox='0 0 %.0f %.0f' role='img'>", CW, h);
    double span = sc.hi - sc.lo;
#define XV(v) (left + (right - left) * ((v)-sc.lo) / span)
    char pt[64];
    pw_report_period_zh(self->period, pt, sizeof(pt));
    fprintf(out, "<text class='sub' x='0' y='10'>各区 Districts, %s</text>", pt);
    size_t row = 0;
    for (size_t d = 0; d < cat->ndistricts; d++) {
        const pw_cell_t *c = &r->districts[p * cat->ndistricts + d];
        if (!c->has_value)
            continue;
        double y = top + bar * (double)row++;
        const char *fill = !c->rate.has_rate                 ? "#90a4ae"
                           : c->rate.band == PW_BAND_SEVERE  ? "#d9534f"
                           : c->rate.band == PW_BAND_LAGGING ? "#e0a526"
                                                             : "#5b9a5f";
        char t[32];
        num(t, sizeof(t), c->value, ind->decimals + 1);
        fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='end'>", left - 4, y + 9);
        esc(out, cat->districts[d].name_zh);
        /* Dots on a stem, not bars: the axis is fitted to the values and
         * need not start at zero, and a bar's length would then mislead. */
        fprintf(out,
                "</text><line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#d5d9df'/>"
                "<circle cx='%.1f' cy='%.1f' r='3.6' fill='%s'><title>",
                XV(sc.lo), y + 6, XV(c->value), y + 6, XV(c->value), y + 6, fill);
        esc(out, cat->districts[d].name_en);
        fprintf(out, ": %s</title></circle><text x='%.1f' y='%.1f'>%s</text>", t, XV(c->value) + 6,
                y + 9.5, t);
    }
    double yb = top + bar * (double)nd + 2;
    if (severe >= sc.lo && severe <= sc.hi)
        fprintf(out,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#b3261e' "
                "stroke-dasharray='4 3'/>",
                XV(severe), top, XV(severe), yb);
    fprintf(out,
            "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#2e7d32' "
            "stroke-width='1.4' stroke-dasharray='6 3'/>",
            XV(planned), top, XV(planned), yb);
    if (city->has_value)
        fprintf(out,
                "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#1f4e79' "
                "stroke-width='2'/>",
                XV(city->value), top - 2, XV(city->value), yb);
    int dec = tick_decimals(sc.step);
    for (double v = sc.lo; v <= sc.hi + sc.step * 1e-6; v += sc.step) {
        char t[32];
        num(t, sizeof(t), v, dec);
        fprintf(out, "<text x='%.1f' y='%.1f' text-anchor='middle'>%s</text>", XV(v), yb + 12, t);
    }
#undef XV
    fputs("</svg>", out);
}

void pw_report_chart_legend(FILE *out)
{
    fputs("<div class='legend'>"
          "<span><svg width='26' height='10'><line x1='0' y1='5' x2='26' y2='5' "
          "stroke='#1f4e79' stroke-width='2'/><circle cx='13' cy='5' r='3' fill='#1f4e79'/>"
          "</svg>实测值 observed</span>"
          "<span><svg width='26' height='10'><line x1='0' y1='5' x2='26' y2='5' "
          "stroke='#2e7d32' stroke-width='1.4' stroke-dasharray='6 3'/></svg>"
          "规划进度 planned path (100%)</span>"
          "<span><svg width='26' height='10'><line x1='0' y1='5' x2='26' y2='5' "
          "stroke='#b3261e' stroke-dasharray='4 3'/></svg>严重滞后线 severe line (40%)</span>"
          "<span><svg width='26' height='10'><line x1='0' y1='5' x2='20' y2='5' "
          "stroke='#1f4e79' stroke-width='1.5' stroke-dasharray='1 3' stroke-linecap='round'/>"
          "<circle cx='22' cy='5' r='3' fill='#fff' stroke='#1f4e79' stroke-width='1.5'/></svg>"
          "趋势预测 forecast</span>"
          "<span>n/a 缺失数据 missing observation (a gap)</span>"
          "<span><svg width='26' height='10'><circle cx='6' cy='5' r='3.6' fill='#5b9a5f'/>"
          "<circle cx='19' cy='5' r='3.6' fill='#d9534f'/></svg>各区自身数值 districts' own "
          "values, coloured by band; city value in blue</span>"
          "</div>",
          out);
}
