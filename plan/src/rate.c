/* SPDX-License-Identifier: MIT */
#include "pw/rate.h"

#include <math.h>
#include <string.h>

double pw_round(double x, int decimals)
{
    if (!isfinite(x))
        return x;
    double scale = pow(10.0, decimals);
    double scaled = x * scale;
    /* Snap away floating-point noise before rounding: (0.6 - 0.5) / 0.1 lands
     * a few ulps below the decimal result the formula means, 39.995 is stored
     * as 39.99499999..., and the band must follow the decimal result
     * (PROGRESS.md). A millionth of the last published digit is far below any
     * figure a bureau publishes and far above binary noise. */
    if (fabs(scaled) < 1e9)
        scaled = round(scaled * 1e6) / 1e6;
    double r = round(scaled) / scale;
    return r == 0.0 ? 0.0 : r; /* no "-0.00" */
}

double pw_elapsed(const pw_catalog_t *cat, pw_period_t p)
{
    int plan_months = 12 * (cat->target_year - cat->base_year);
    return (double)pw_period_months_after(p, cat->base_year) / (double)plan_months;
}

double pw_planned(const pw_indicator_t *ind, double f)
{
    return ind->base + (ind->target - ind->base) * f;
}

pw_band_t pw_band_of(const pw_catalog_t *cat, int64_t centi)
{
    if ((double)centi < cat->alert_below * 100.0)
        return PW_BAND_SEVERE;
    if ((double)centi < cat->on_track_at * 100.0)
        return PW_BAND_LAGGING;
    return PW_BAND_ON_TRACK;
}

bool pw_rate_above_range(const pw_indicator_t *ind, double v)
{
    return ind->target_kind == PW_TARGET_RANGE && v > ind->target_hi;
}

/* Met means at or beyond the target in the indicator's direction. */
static bool met(const pw_indicator_t *ind, double v, double t)
{
    return ind->direction > 0 ? v >= t : v <= t;
}

/* v against t as a level, oriented so that better is larger. */
static double level_ratio(const pw_indicator_t *ind, double v, double t)
{
    if (ind->direction > 0)
        return t != 0.0 ? v / t : (v >= 0.0 ? 1.0 : 0.0);
    return v != 0.0 ? t / v : 1.0;
}

static double raw_rate(const pw_catalog_t *cat, const pw_indicator_t *ind, double f, double v,
                       pw_rate_t *out)
{
    (void)cat;
    if (ind->target_kind == PW_TARGET_RANGE) {
        /* A range target is held, not approached: inside or above the lower
         * bound is on track. The seed rates row 3's rural 44 (above 40) 100. */
        out->above_range = pw_rate_above_range(ind, v);
        return v >= ind->target ? 1.0 : level_ratio(ind, v, ind->target);
    }
    if (!ind->has_base) /* 未启动: nothing to measure progress from */
        return fmin(level_ratio(ind, v, ind->target), 1.0);
    if (ind->target == ind->base) /* no planned change: hold the line */
        return met(ind, v, ind->target) ? 1.0 : level_ratio(ind, v, ind->target);
    double planned = pw_planned(ind, f);
    switch (ind->method) {
    case PW_METHOD_LEVEL:
        return level_ratio(ind, v, planned);
    case PW_METHOD_GROWTH: {
        double want = pow(ind->target / ind->base, f) - 1.0;
        return (v / ind->base - 1.0) / want;
    }
    case PW_METHOD_LINEAR:
    default:
        return (v - ind->base) / (planned - ind->base);
    }
}

void pw_rate_eval(const pw_catalog_t *cat, const pw_indicator_t *ind, pw_period_t p, double v,
                  pw_rate_t *out)
{
    memset(out, 0, sizeof(*out));
    double f = pw_elapsed(cat, p);
    if (f <= 0.0) /* the base period itself: there is no progress to rate */
        return;
    double r = raw_rate(cat, ind, f, v, out);
    if (!isfinite(r))
        return;
    /* Rates are decided on their published two-decimal figure, held as an
     * integer number of hundredths so no comparison ever sees float noise. */
    double centi = pw_round(r * 100.0, 2) * 100.0;
    /* A runaway rate (a ratio over a tiny denominator, a typo's value) would
     * overflow llround(), which then gives INT64_MIN on x86: far ahead would
     * read as far behind, severe, and open an alert. It saturates instead,
     * keeping its sign. */
    if (centi > (double)PW_RATE_CENTI_MAX)
        centi = (double)PW_RATE_CENTI_MAX;
    else if (centi < -(double)PW_RATE_CENTI_MAX)
        centi = -(double)PW_RATE_CENTI_MAX;
    out->has_rate = true;
    out->centi = (int64_t)llround(centi);
    out->band = pw_band_of(cat, out->centi);
    out->achieved = ind->target_kind != PW_TARGET_RANGE && met(ind, v, ind->target);
}

static const char *const band_names[] = {"none", "severe", "lagging", "on_track"};
static const char *const band_names_zh[] = {"", "严重滞后", "进展缓慢", "进展良好"};

const char *pw_band_name(pw_band_t band)
{
    return (unsigned)band < 4 ? band_names[band] : "none";
}

const char *pw_band_name_zh(pw_band_t band)
{
    return (unsigned)band < 4 ? band_names_zh[band] : "";
}

pw_band_t pw_band_parse(const char *name)
{
    for (int i = 1; i < 4; i++)
        if (strcmp(name, band_names[i]) == 0)
            return (pw_band_t)i;
    return PW_BAND_NONE;
}
