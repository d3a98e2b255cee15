/* SPDX-License-Identifier: MIT */
#ifndef PW_FORECAST_H
#define PW_FORECAST_H

#include <stdbool.h>

#include "pw/catalog.h"
#include "pw/period.h"
#include "pw/rate.h"

/*
 * The report's forecast column (2020年情况预测): an indicator series' value in
 * the target year, projected from its trend, and what that means for the
 * target. The projection is linear in time from the base through the latest
 * observation (never below zero, and a share never above 100); it holds the
 * latest value where a trend from the base means nothing (a per-year flow, a
 * range to be held, no base, no planned change).
 * The class is decided on the progress rate the projected value would earn in
 * the target year, by the same rules as every other rate (pw_rate_eval).
 */

/** Projected rate (hundredths) from which the target is reached on time: 可以完成. */
#define PW_FORECAST_ON_TIME_AT 8000
/** Projected rate (hundredths) from which it is reached only with extra effort. */
#define PW_FORECAST_EFFORT_AT 2000

typedef enum pw_forecast_class {
    PW_FORECAST_NONE = 0,  /**< no observation after the base: nothing to project */
    PW_FORECAST_MET_EARLY, /**< 提前完成: the target is met already */
    PW_FORECAST_ON_TIME,   /**< 可以完成: projected rate >= 80 */
    PW_FORECAST_EFFORT,    /**< 经努力可以完成: projected rate 20 to below 80 */
    PW_FORECAST_MISSED,    /**< 难以完成: projected rate below 20, or moving away */
} pw_forecast_class_t;

typedef struct pw_forecast {
    pw_forecast_class_t cls;
    bool has_value; /**< false with PW_FORECAST_NONE */
    double value;   /**< the projected target-year value, at the indicator's precision */
    pw_rate_t rate; /**< the rate that value earns in the target year */
} pw_forecast_t;

/**
 * Projects series s of ind (catalog cat) to the target year from its latest
 * observation v at period p. p at or before the base year gives
 * PW_FORECAST_NONE. Never fails.
 */
void pw_forecast_eval(const pw_catalog_t *cat, const pw_indicator_t *ind, int s, pw_period_t p,
                      double v, pw_forecast_t *out);

/** "met_early", "on_time", "effort", "missed" or "none". */
const char *pw_forecast_name(pw_forecast_class_t cls);

/** The seed's words: 提前完成, 可以完成, 经努力可以完成, 难以完成, or "". */
const char *pw_forecast_name_zh(pw_forecast_class_t cls);

#endif
