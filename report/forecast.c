/* SPDX-License-Identifier: MIT */
#include "forecast.h"

#include <math.h>
#include <string.h>

/* A trend from the base says nothing for these: the latest value is held. */
static bool holds_latest(const pw_indicator_t *ind, int s)
{
    return ind->target_kind == PW_TARGET_RANGE || !ind->has_base || ind->target == ind->base ||
           ind->series[s].formula == PW_FORMULA_ANNUALISED;
}

void pw_forecast_eval(const pw_catalog_t *cat, const pw_indicator_t *ind, int s, pw_period_t p,
                      double v, pw_forecast_t *out)
{
    memset(out, 0, sizeof(*out));
    double f = pw_elapsed(cat, p);
    if (f <= 0.0 || s < 0 || (size_t)s >= ind->nseries)
        return;
    double x = v;
    if (!holds_latest(ind, s) && f < 1.0) {
        x = ind->base + (v - ind->base) / f;
        /* Every element is a count or an amount, so no value goes below zero;
         * a falling trend stops there. */
        if (x < 0.0)
            x = 0.0;
        /* Nor does a share of a whole pass 100 %. */
        if (ind->series[s].formula == PW_FORMULA_SHARE && x > 100.0)
            x = 100.0;
    }
    out->has_value = true;
    out->value = pw_round(x, ind->decimals);
    pw_period_t end = {.end = cat->target_year * 12 + 11, .months = 12};
    pw_rate_eval(cat, ind, end, out->value, &out->rate);
    /* Met early is about the observation, not the projection: a target
     * reached already (提前完成) counts even if the trend would fall back. */
    pw_rate_t now;
    pw_rate_eval(cat, ind, p, v, &now);
    if (now.achieved)
        out->cls = PW_FORECAST_MET_EARLY;
    else if (!out->rate.has_rate)
        out->cls = PW_FORECAST_MISSED;
    else if (out->rate.centi >= PW_FORECAST_ON_TIME_AT)
        out->cls = PW_FORECAST_ON_TIME;
    else if (out->rate.centi >= PW_FORECAST_EFFORT_AT)
        out->cls = PW_FORECAST_EFFORT;
    else
        out->cls = PW_FORECAST_MISSED;
}

static const char *const names[] = {"none", "met_early", "on_time", "effort", "missed"};
static const char *const names_zh[] = {"", "提前完成", "可以完成", "经努力可以完成", "难以完成"};

const char *pw_forecast_name(pw_forecast_class_t cls)
{
    return (unsigned)cls < 5 ? names[cls] : "none";
}

const char *pw_forecast_name_zh(pw_forecast_class_t cls)
{
    return (unsigned)cls < 5 ? names_zh[cls] : "";
}
