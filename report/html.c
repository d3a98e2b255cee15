/* SPDX-License-Identifier: MIT */
#include "html.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "pw/rate.h"
#include "pw/util.h"
#include "text.h"
#include "view.h"

void pw_report_html_esc(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

/* Shorthand: escaped text. */
static void esc(FILE *out, const char *s)
{
    pw_report_html_esc(out, s);
}

static const char css[] =
    ":root{--ink:#1b1f24;--muted:#5b6470;--rule:#c9ced6;--red:#b3261e;--navy:#1f4e79;"
    "--ok:#2e7d32;--okbg:#edf6ee;--lag:#9a6700;--lagbg:#fff5d6;--sev:#b3261e;--sevbg:#fde7e4}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#eef0f3;color:var(--ink);font:14px/1.45 'Noto Sans CJK SC',"
    "'Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif}\n"
    ".page{max-width:1180px;margin:24px auto;background:#fff;padding:36px 44px 40px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.12)}\n"
    "header.doc{border-bottom:3px solid var(--red);padding-bottom:14px;margin-bottom:18px}\n"
    ".kicker{color:var(--red);font-size:12px;letter-spacing:.12em;text-transform:uppercase}\n"
    "h1{font-family:'Noto Serif CJK SC','Source Han Serif SC','SimSun',serif;font-size:26px;"
    "margin:6px 0 2px;font-weight:700}\n"
    "h1 .en,h2 .en{display:block;font-family:Georgia,serif;font-weight:400;font-size:15px;"
    "color:var(--muted)}\n"
    "h2{font-family:'Noto Serif CJK SC','Source Han Serif SC','SimSun',serif;font-size:19px;"
    "margin:26px 0 10px;border-left:4px solid var(--red);padding-left:10px}\n"
    ".meta{color:var(--muted);font-size:12.5px;margin:8px 0 0}\n"
    ".summary{display:flex;flex-wrap:wrap;gap:8px;margin-top:12px}\n"
    ".chip{display:inline-block;border-radius:3px;padding:2px 8px;font-size:12.5px;"
    "white-space:nowrap}\n"
    ".chip.on_track{background:var(--okbg);color:var(--ok)}"
    ".chip.lagging{background:var(--lagbg);color:var(--lag)}"
    ".chip.severe{background:var(--sevbg);color:var(--sev);font-weight:700}"
    ".chip.none{background:#f1f3f5;color:var(--muted)}\n"
    "table.eval{width:100%;border-collapse:collapse;font-size:12.5px}\n"
    "table.eval th,table.eval td{border:1px solid var(--rule);padding:4px "
    "6px;vertical-align:middle}\n"
    "table.eval thead th{background:#f3f4f6;font-weight:600;text-align:center;font-size:12px;"
    "white-space:nowrap}\n"
    "table.eval thead th small,td small{display:block;font-weight:400;color:var(--muted);"
    "font-size:10.5px;line-height:1.25}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.cat{text-align:center;background:#fafbfc;font-weight:600}\n"
    "td.attr{text-align:center;white-space:nowrap}\n"
    "td.name{min-width:230px}\n"
    "tr.on_track td.ev{background:var(--okbg)}tr.lagging td.ev{background:var(--lagbg)}"
    "tr.severe td.ev{background:var(--sevbg)}\n"
    "tr.severe td.band{color:var(--sev);font-weight:700}tr.lagging td.band{color:var(--lag)}"
    "tr.on_track td.band{color:var(--ok)}\n"
    "td.band,td.fc{text-align:center;white-space:nowrap}\n"
    "td.fc.effort{color:var(--lag);font-weight:600}td.fc.missed{color:var(--sev);font-weight:700}"
    "td.fc.met_early{color:var(--ok)}\n"
    "td.na{color:#9aa1ab;text-align:center}\n"
    "td.rep{text-align:center;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.rep.provisional{color:var(--lag);font-weight:600}\n"
    ".banner{margin-top:12px;padding:8px 12px;border-left:4px solid #d4a017;"
    "background:var(--lagbg);font-size:13px}\n"
    ".notes{font-size:12px;color:var(--muted);margin-top:8px}\n"
    ".legend{display:flex;flex-wrap:wrap;gap:16px;font-size:12px;color:var(--muted);"
    "margin-bottom:10px}\n"
    ".legend svg{vertical-align:middle;margin-right:4px}\n"
    ".cards{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:14px}\n"
    "figure.card{margin:0;border:1px solid var(--rule);border-top:3px solid var(--rule);"
    "padding:10px 12px 8px;break-inside:avoid;page-break-inside:avoid}\n"
    "figure.card.on_track{border-top-color:var(--ok)}figure.card.lagging{border-top-color:#d4a017}"
    "figure.card.severe{border-top-color:var(--sev)}\n"
    "figcaption{font-size:13px;margin-bottom:4px;display:flex;justify-content:space-between;"
    "gap:8px}\n"
    "figcaption b{font-weight:600}figcaption small{display:block;color:var(--muted);"
    "font-size:11px}\n"
    "figure svg{display:block;width:100%;height:auto}\n"
    "svg text{font-family:inherit;font-size:10px;fill:#5b6470}\n"
    "svg .sub{font-size:10.5px;fill:#1b1f24}\n"
    "footer{margin-top:22px;border-top:1px solid var(--rule);padding-top:8px;font-size:11.5px;"
    "color:var(--muted)}\n";

/* On paper: A4, smaller type, the charts from a new page, none split. */
static const char css_print[] =
    "@media print{@page{size:A4 portrait;margin:12mm 10mm}"
    "body{background:#fff;font-size:9pt;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    ".page{margin:0;padding:0;box-shadow:none;max-width:none}"
    "h1{font-size:17pt}h2{font-size:13pt;margin-top:10pt}"
    "table.eval{font-size:7.5pt}table.eval thead th{font-size:7pt;white-space:normal}"
    "table.eval th,table.eval td{padding:2px 3px}td.name{min-width:0}"
    "td.attr small,td.band small,td.cat small,td.na small{display:none}"
    "table.eval thead th small,td small{font-size:6.5pt}"
    "table.eval tr{break-inside:avoid;page-break-inside:avoid}"
    "thead{display:table-header-group}"
    "section.charts{break-before:page;page-break-before:always}"
    ".cards{gap:8pt}figure.card{padding:6pt 8pt}}\n";

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

/* The series of one indicator in the report (first index and count). */
static size_t series_of(const pw_report_t *self, int ind, size_t *first)
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

/* Indicator i's values over the plan period against the plan's pace, one line per series. */
static void trend_chart(FILE *out, const pw_report_t *self, int i)
{
    const pw_indicator_t *ind = &self->cat->indicators[i];
    size_t first = 0, ns = series_of(self, i, &first);
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

static const char *band_class(const pw_rate_t *rate)
{
    return rate->has_rate ? pw_band_name(rate->band) : "none";
}

/* Districts' own values of a ratio series at the report period, as bars. */
static void district_chart(FILE *out, const pw_report_t *self, const pw_report_series_t *r)
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

static void legend(FILE *out)
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

static void rate_text(char *buf, size_t len, const pw_rate_t *rate)
{
    if (rate->has_rate)
        snprintf(buf, len, "%.2f", (double)rate->centi / 100.0);
    else
        snprintf(buf, len, "-");
}

static void summary(FILE *out, const pw_report_t *self)
{
    int bands[4], classes[5], achieved;
    pw_report_count(self, bands, classes, &achieved);
    fprintf(out,
            "<div class='summary'>"
            "<span class='chip on_track'>进展良好 on track: %d (提前完成 achieved: %d)</span>"
            "<span class='chip lagging'>进展缓慢 lagging: %d</span>"
            "<span class='chip severe'>严重滞后 severe: %d</span>",
            bands[PW_BAND_ON_TRACK], achieved, bands[PW_BAND_LAGGING], bands[PW_BAND_SEVERE]);
    if (bands[PW_BAND_NONE])
        fprintf(out, "<span class='chip none'>无进展率 no rate: %d</span>", bands[PW_BAND_NONE]);
    fprintf(out,
            "<span class='chip none'>%d年预测 forecast: %d 提前完成, %d 可以完成, "
            "%d 经努力可以完成, %d 难以完成</span></div>",
            self->cat->target_year, classes[PW_FORECAST_MET_EARLY], classes[PW_FORECAST_ON_TIME],
            classes[PW_FORECAST_EFFORT], classes[PW_FORECAST_MISSED]);
}

/* Says so when the period is provisional: a half-reported period must not
 * read as final. */
static void banner(FILE *out, const pw_report_t *self)
{
    size_t provisional = pw_report_provisional(self);
    if (!provisional)
        return;
    char pt[PW_PERIOD_STRMAX], pz[64];
    pw_period_format(self->period, pt);
    pw_report_period_zh(self->period, pz, sizeof(pz));
    fprintf(out,
            "<div class='banner provisional' data-provisional='%zu'><b>初步数据 · "
            "Provisional</b>: %s尚有 %zu 个指标系列未报送齐全 (见“报送”栏)。%zu of %zu series "
            "are not fully reported for %s (see Reported): their figures may still change, "
            "and they open or resolve no alert.</div>",
            provisional, pz, provisional, provisional, self->nseries, pt);
}

/* The observed periods after the base: the table's 进展情况 columns. */
static bool shown(const pw_report_t *self, size_t p)
{
    return pw_elapsed(self->cat, self->periods[p]) > 0.0;
}

static void table_head(FILE *out, const pw_report_t *self)
{
    const pw_catalog_t *cat = self->cat;
    size_t nshown = 0;
    for (size_t p = 0; p < self->nperiods; p++)
        nshown += shown(self, p);
    fprintf(out, "<table class='eval'><thead><tr>"
                 "<th rowspan='2'>序号<small>No.</small></th>"
                 "<th rowspan='2'>指标类别<small>Category</small></th>"
                 "<th rowspan='2'>指标内容(单位)<small>Indicator (unit)</small></th>"
                 "<th rowspan='2'>指标属性<small>Attribute</small></th>"
                 "<th>基期<small>Base</small></th><th>规划目标<small>Target</small></th>");
    if (nshown)
        fprintf(out, "<th colspan='%zu'>进展情况<small>Observed</small></th>", nshown);
    char pz[64];
    pw_report_period_zh(self->period, pz, sizeof(pz));
    fprintf(out,
            "<th colspan='4'>评估 (%s)<small>Evaluation</small></th></tr><tr>"
            "<th>%d年</th><th>%d年</th>",
            pz, cat->base_year, cat->target_year);
    for (size_t p = 0; p < self->nperiods; p++) {
        if (!shown(self, p))
            continue;
        pw_report_period_zh(self->periods[p], pz, sizeof(pz));
        fprintf(out, "<th>%s</th>", pz);
    }
    fprintf(out,
            "<th>进展率(%%)<small>Progress rate</small></th>"
            "<th>评价<small>Band</small></th>"
            "<th>报送<small>Reported</small></th>"
            "<th>%d年情况预测<small>Forecast</small></th></tr></thead><tbody>",
            cat->target_year);
}

static void table(FILE *out, const pw_report_t *self)
{
    const pw_catalog_t *cat = self->cat;
    table_head(out, self);
    for (size_t k = 0; k < self->nseries; k++) {
        const pw_report_series_t *r = &self->series[k];
        const pw_indicator_t *ind = &cat->indicators[r->ind];
        const pw_cell_t *now = pw_report_current(self, r);
        fprintf(out, "<tr class='%s' data-row='", band_class(&now->rate));
        esc(out, ind->id);
        fprintf(out, "'><td class='num'>%d</td>", ind->row);
        /* One category cell over its consecutive rows, as the seed's table has. */
        bool first_of_cat =
            k == 0 || strcmp(cat->indicators[self->series[k - 1].ind].category, ind->category) != 0;
        if (first_of_cat) {
            size_t span = 1;
            while (k + span < self->nseries &&
                   strcmp(cat->indicators[self->series[k + span].ind].category, ind->category) == 0)
                span++;
            fprintf(out, "<td class='cat' rowspan='%zu'>", span);
            esc(out, pw_report_category_zh(ind->category));
            fputs("<small>", out);
            esc(out, ind->category);
            fputs("</small></td>", out);
        }
        fputs("<td class='name'>", out);
        esc(out, ind->name_zh);
        fputs("(", out);
        esc(out, ind->unit);
        fputs(")", out);
        if (ind->series[r->s].name[0]) {
            fputs(" · ", out);
            esc(out, ind->series[r->s].name);
        }
        fputs("<small>", out);
        esc(out, ind->name_en);
        fputs("</small></td>", out);
        fprintf(out, "<td class='attr'>%s<small>%s</small></td>", pw_report_attribute_zh(ind),
                ind->binding ? "binding" : "expected");
        char base[32], target[32], t[32];
        pw_report_base_target(ind, base, target, sizeof(base));
        if (ind->has_base)
            fprintf(out, "<td class='num'>%s</td>", base);
        else
            fputs("<td class='na'>未启动<small>not started</small></td>", out);
        fputs("<td class='num'>", out);
        esc(out, ind->target_kind == PW_TARGET_AT_LEAST ? "≥" : "");
        esc(out, ind->target_kind == PW_TARGET_AT_LEAST ? target + 2 : target);
        fputs("</td>", out);
        for (size_t p = 0; p < self->nperiods; p++) {
            if (!shown(self, p))
                continue;
            if (r->cells[p].has_value) {
                num(t, sizeof(t), r->cells[p].value, ind->decimals);
                fprintf(out, "<td class='num'>%s</td>", t);
            } else {
                fputs("<td class='na'>—<small>no data</small></td>", out);
            }
        }
        rate_text(t, sizeof(t), &now->rate);
        fprintf(out, "<td class='num ev'>%s</td>", t);
        char note[96], note_zh[96];
        bool noted = pw_report_note(self, r, note, note_zh, sizeof(note));
        if (now->rate.has_rate)
            fprintf(out, "<td class='band ev'>%s%s%s%s<small>%s%s%s%s</small></td>",
                    pw_band_name_zh(now->rate.band), now->rate.achieved ? " · 提前完成" : "",
                    noted ? " · " : "", note_zh, pw_band_name(now->rate.band),
                    now->rate.achieved ? " · achieved" : "", noted ? " · " : "", note);
        else
            fputs("<td class='na ev'>—</td>", out);
        pw_view_fmt_reported(t, sizeof(t), now->have, now->want);
        if (pw_view_provisional(now->have, now->want))
            fprintf(out, "<td class='rep provisional'>%s<small>初步 provisional</small></td>", t);
        else
            fprintf(out, "<td class='rep'>%s</td>", t);
        if (r->forecast.has_value) {
            num(t, sizeof(t), r->forecast.value, ind->decimals);
            fprintf(out, "<td class='fc %s'>%s<small>%s · %s</small></td>",
                    pw_forecast_name(r->forecast.cls), pw_forecast_name_zh(r->forecast.cls),
                    pw_forecast_name(r->forecast.cls), t);
        } else {
            fputs("<td class='na'>—</td>", out);
        }
        fputs("</tr>", out);
    }
    fputs("</tbody></table>", out);
}

static void cards(FILE *out, const pw_report_t *self)
{
    const pw_catalog_t *cat = self->cat;
    fputs("<section class='charts'><h2>指标走势<span class='en'>Indicator charts: observed "
          "values against the planned path</span></h2>",
          out);
    legend(out);
    fputs("<div class='cards'>", out);
    for (size_t i = 0; i < cat->nindicators; i++) {
        const pw_indicator_t *ind = &cat->indicators[i];
        size_t first = 0, ns = series_of(self, (int)i, &first);
        if (ns == 0)
            continue;
        /* The card's band is its weakest series', like the indicator's rate. */
        const pw_rate_t *worst = NULL;
        for (size_t k = first; k < first + ns; k++) {
            const pw_rate_t *rate = &pw_report_current(self, &self->series[k])->rate;
            if (rate->has_rate && (!worst || rate->centi < worst->centi))
                worst = rate;
        }
        pw_rate_t none = {0};
        if (!worst)
            worst = &none;
        fprintf(out, "<figure class='card %s' data-indicator='", band_class(worst));
        esc(out, ind->id);
        fprintf(out, "'><figcaption><span><b>%d. ", ind->row);
        esc(out, ind->name_zh);
        fputs("</b><small>", out);
        esc(out, ind->name_en);
        fputs(" (", out);
        esc(out, ind->unit);
        char base[32], target[32], t[32];
        pw_report_base_target(ind, base, target, sizeof(base));
        fputs("); base ", out);
        esc(out, base);
        fputs(", target ", out);
        esc(out, target);
        rate_text(t, sizeof(t), worst);
        fprintf(out, "</small></span><span class='chip %s'>%s %s</span></figcaption>",
                band_class(worst), worst->has_rate ? pw_band_name_zh(worst->band) : "无", t);
        trend_chart(out, self, (int)i);
        for (size_t k = first; k < first + ns; k++)
            if (pw_report_has_districts(self, &self->series[k]))
                district_chart(out, self, &self->series[k]);
        fputs("</figure>", out);
    }
    fputs("</div></section>", out);
}

int pw_report_write_html(const pw_report_t *self, FILE *out, const char *source)
{
    const pw_catalog_t *cat = self->cat;
    char pt[PW_PERIOD_STRMAX], pz[64], now[32];
    pw_period_format(self->period, pt);
    pw_report_period_zh(self->period, pz, sizeof(pz));
    pw_format_time(pw_now_ms(), now);
    fputs("<!DOCTYPE html>\n<html lang='zh-CN'><head><meta charset='utf-8'>"
          "<meta name='viewport' content='width=device-width, initial-scale=1'><title>",
          out);
    esc(out, cat->name);
    fprintf(out, " · %s</title><style>%s%s</style></head><body><div class='page'>", pt, css,
            css_print);
    fputs("<header class='doc'><div class='kicker'>规划实施评估 · Plan evaluation report</div>"
          "<h1>",
          out);
    /* Catalog names read "中文 (English)": the Chinese is the title. */
    char title[512];
    snprintf(title, sizeof(title), "%s", cat->name);
    size_t tlen = strlen(title);
    char *paren = strstr(title, " (");
    const char *en = NULL;
    if (paren && tlen > 0 && title[tlen - 1] == ')') {
        title[tlen - 1] = '\0';
        *paren = '\0';
        en = paren + 2;
    }
    esc(out, title);
    fprintf(out, " 主要指标进展情况评估表<span class='en'>");
    if (en) {
        esc(out, en);
        fputs(": ", out);
    }
    fprintf(out,
            "evaluation of the main indicators at %s (%s), %.0f%% of the plan period "
            "%d–%d elapsed</span></h1>",
            pt, pz, pw_report_elapsed_pct(self), cat->base_year, cat->target_year);
    fputs("<p class='meta'>", out);
    fprintf(out, "%zu indicators, %zu series · generated %s", cat->nindicators, self->nseries, now);
    if (source) {
        fputs(" · source: ", out);
        esc(out, source);
    }
    fputs("</p>", out);
    summary(out, self);
    banner(out, self);
    fputs("</header><section class='table'>", out);
    table(out, self);
    fprintf(out,
            "<p class='notes'>进展率 = 实际进度 / 规划进度 (progress rate: actual against "
            "planned progress, %d%% = on track). 评价: 进展良好 ≥ %.0f, 进展缓慢 %.0f–%.0f, "
            "严重滞后 &lt; %.0f. %d年预测: the trend from the base through the latest "
            "observation, extended to %d; 可以完成 when it earns a rate of at least %d, "
            "经努力可以完成 from %d, 难以完成 below.</p>",
            100, cat->on_track_at, cat->alert_below, cat->on_track_at, cat->alert_below,
            cat->target_year, cat->target_year, PW_FORECAST_ON_TIME_AT / 100,
            PW_FORECAST_EFFORT_AT / 100);
    fputs("</section>", out);
    cards(out, self);
    fputs("<footer>planwatch report · ", out);
    esc(out, cat->name);
    fputs("</footer></div></body></html>\n", out);
    return ferror(out) ? -EIO : 0;
}
