/* SPDX-License-Identifier: MIT */
#ifndef PW_RATE_H
#define PW_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/period.h"

/* Progress-rate rules of PROGRESS.md: methods, special cases, rounding, bands. */

typedef enum pw_band {
    PW_BAND_NONE = 0,  /**< no rate (base period, missing value) */
    PW_BAND_SEVERE,    /**< below alert_below (40): 严重滞后 */
    PW_BAND_LAGGING,   /**< below on_track_at (100): 进展缓慢 */
    PW_BAND_ON_TRACK,  /**< 100 and above: 进展良好 */
} pw_band_t;

/**
 * Rates saturate at plus or minus this many hundredths (1 000 000 000.00 %):
 * far beyond any plan's figure, far inside an int64, and exact in a double.
 */
#define PW_RATE_CENTI_MAX INT64_C(100000000000)

typedef struct pw_rate {
    bool has_rate;      /**< false for the base period and before */
    int64_t centi;      /**< the rate in hundredths of a percent: 2615 = 26.15 % */
    pw_band_t band;
    bool achieved;      /**< target already met (提前完成) */
    bool above_range;   /**< a range target's value is above its upper bound */
} pw_rate_t;

/**
 * Rounds x to the given number of decimals, half away from zero, after snapping
 * away floating-point noise (to a millionth of the last digit), so that
 * 99.99999999999997 becomes 100.00 and 39.995 becomes 40.00.
 */
double pw_round(double x, int decimals);

/** Plan's elapsed fraction at the end of p: whole months / plan months. */
double pw_elapsed(const pw_catalog_t *cat, pw_period_t p);

/** Planned value to date P(f) = B + (T - B) * f; for a range, its lower bound path. */
double pw_planned(const pw_indicator_t *ind, double f);

/**
 * Evaluates value v of ind at period p by every rule of PROGRESS.md. Never
 * fails. A rate beyond +-PW_RATE_CENTI_MAX saturates there, keeping its sign.
 */
void pw_rate_eval(const pw_catalog_t *cat, const pw_indicator_t *ind, pw_period_t p, double v,
                  pw_rate_t *out);

/**
 * True when v is above ind's range (a range target's upper bound): still
 * rated 100, but with a note (PROGRESS.md). False for other targets.
 */
bool pw_rate_above_range(const pw_indicator_t *ind, double v);

/** Band for a rate in hundredths, with the catalog's thresholds. */
pw_band_t pw_band_of(const pw_catalog_t *cat, int64_t centi);

/** "severe", "lagging", "on_track" or "none". */
const char *pw_band_name(pw_band_t band);

/** Chinese words of the seed for a band: 严重滞后, 进展缓慢, 进展良好. */
const char *pw_band_name_zh(pw_band_t band);

/** Parses a band name; returns PW_BAND_NONE for an unknown one. */
pw_band_t pw_band_parse(const char *name);

#endif
