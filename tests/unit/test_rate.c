/* SPDX-License-Identifier: MIT */
/* Every rule of PROGRESS.md, with expectations computed by hand. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pw/rate.h"

static pw_catalog_t cat = {.base_year = 2015, .target_year = 2020, .alert_below = 40,
                           .on_track_at = 100};

static pw_indicator_t ind(double base, double target, pw_method_t method)
{
    pw_indicator_t i;
    memset(&i, 0, sizeof(i));
    snprintf(i.id, sizeof(i.id), "x");
    i.has_base = true;
    i.base = base;
    i.target = i.target_hi = target;
    i.target_kind = PW_TARGET_EXACT;
    i.direction = 1;
    i.method = method;
    i.decimals = 2;
    return i;
}

static pw_period_t per(const char *s)
{
    pw_period_t p;
    cr_assert_eq(pw_period_parse(s, strlen(s), &p), 0);
    return p;
}

static pw_rate_t eval(const pw_indicator_t *i, const char *period, double v)
{
    pw_rate_t r;
    pw_rate_eval(&cat, i, per(period), v, &r);
    return r;
}

Test(rate, elapsed_fraction_counts_whole_months)
{
    cr_assert_float_eq(pw_elapsed(&cat, per("2016")), 0.2, 1e-12);
    cr_assert_float_eq(pw_elapsed(&cat, per("2017")), 0.4, 1e-12);
    cr_assert_float_eq(pw_elapsed(&cat, per("2018H1")), 0.5, 1e-12);
    cr_assert_float_eq(pw_elapsed(&cat, per("2019")), 0.8, 1e-12);
    cr_assert_float_eq(pw_elapsed(&cat, per("2020")), 1.0, 1e-12);
}

Test(rate, linear_reproduces_row_2)
{
    pw_indicator_t i = ind(93, 99, PW_METHOD_LINEAR);
    pw_rate_t r = eval(&i, "2018H1", 95.7); /* (95.7 - 93) / (96 - 93) = 90 */
    cr_assert(r.has_rate);
    cr_assert_eq(r.centi, 9000);
    cr_assert_eq(r.band, PW_BAND_LAGGING);
    cr_assert_not(r.achieved);
}

Test(rate, linear_row_18_is_severe)
{
    pw_indicator_t i = ind(37, 50, PW_METHOD_LINEAR);
    pw_rate_t r = eval(&i, "2018H1", 38.7); /* 1.7 / 6.5 = 26.1538 */
    cr_assert_eq(r.centi, 2615);
    cr_assert_eq(r.band, PW_BAND_SEVERE);
    r = eval(&i, "2017", 36.4); /* -0.6 / 5.2 = -11.54: below base is severe too */
    cr_assert_eq(r.centi, -1154);
    cr_assert_eq(r.band, PW_BAND_SEVERE);
}

Test(rate, level_reproduces_rows_10_and_9)
{
    pw_indicator_t i = ind(5200, 8000, PW_METHOD_LEVEL);
    cr_assert_eq(eval(&i, "2018H1", 6392).centi, 9685); /* 6392 / 6600 */
    pw_indicator_t j = ind(2000, 2200, PW_METHOD_LEVEL);
    cr_assert_eq(eval(&j, "2018H1", 1784).centi, 8495); /* annualised 892 -> 1784 / 2100 */
}

Test(rate, growth_uses_compound_planned_growth)
{
    /* B 100, T 121 over the 5-year plan; at 2017 (f = 0.4) the planned growth is
     * 1.21^0.4 - 1 = 0.079230, the actual 0.05: rate 63.11. */
    pw_indicator_t i = ind(100, 121, PW_METHOD_GROWTH);
    pw_rate_t r = eval(&i, "2017", 105);
    double want = 0.05 / (pow(1.21, 0.4) - 1.0) * 100.0; /* 63.106... */
    cr_assert_eq(r.centi, (int64_t)llround(want * 100.0));
    cr_assert_eq(r.centi, 6311);
}

Test(rate, zero_planned_change_is_100_when_met)
{
    pw_indicator_t i = ind(100, 100, PW_METHOD_LINEAR); /* rows 5 and 23 */
    pw_rate_t r = eval(&i, "2018H1", 100);
    cr_assert_eq(r.centi, 10000);
    cr_assert(r.achieved);
    r = eval(&i, "2018H1", 95); /* not met: V / T */
    cr_assert_eq(r.centi, 9500);
    cr_assert_not(r.achieved);
}

Test(rate, no_baseline_is_capped_share_of_target)
{
    pw_indicator_t i = ind(0, 90, PW_METHOD_LINEAR); /* row 22 */
    i.has_base = false;
    cr_assert_eq(eval(&i, "2018H1", 100).centi, 10000);
    cr_assert_eq(eval(&i, "2016", 45).centi, 5000);
    cr_assert(eval(&i, "2018H1", 100).achieved);
}

Test(rate, range_target_rules)
{
    pw_indicator_t i = ind(32, 30, PW_METHOD_LINEAR); /* row 3: 30-40 */
    i.target_hi = 40;
    i.target_kind = PW_TARGET_RANGE;
    pw_rate_t r = eval(&i, "2018H1", 30.05);
    cr_assert_eq(r.centi, 10000);
    cr_assert_not(r.above_range);
    r = eval(&i, "2018H1", 44); /* above the upper bound: still 100, with a note */
    cr_assert_eq(r.centi, 10000);
    cr_assert(r.above_range);
    cr_assert_not(r.achieved, "a range is held to 2020, never met early");
    r = eval(&i, "2018H1", 27); /* below: V / lo */
    cr_assert_eq(r.centi, 9000);
}

Test(rate, floating_point_boundary_is_decided_on_two_decimals)
{
    /* (0.6 - 0.5) / 0.1 is 0.99999999999999978 in binary: it must be 100.00. */
    pw_indicator_t i = ind(0.5, 1.0, PW_METHOD_LINEAR);
    pw_rate_t r = eval(&i, "2016", 0.6); /* P = 0.5 + 0.5 * 0.2 = 0.6 */
    cr_assert_eq(r.centi, 10000);
    cr_assert_eq(r.band, PW_BAND_ON_TRACK);
    cr_assert_float_eq(pw_round((0.6 - 0.5) / 0.1 * 100.0, 2), 100.0, 1e-12);
    /* And exactly at the alert line: 40.00 is lagging, not severe. */
    pw_indicator_t j = ind(0, 10, PW_METHOD_LINEAR);
    cr_assert_eq(eval(&j, "2018H1", 2.0).band, PW_BAND_LAGGING); /* 2 / 5 = 40.00 */
    /* 39.995 publishes as 40.00: lagging; 39.99 stays severe. */
    cr_assert_eq(eval(&j, "2018H1", 1.99975).centi, 4000);
    cr_assert_eq(eval(&j, "2018H1", 1.99975).band, PW_BAND_LAGGING);
    cr_assert_eq(eval(&j, "2018H1", 1.9995).centi, 3999);
    cr_assert_eq(eval(&j, "2018H1", 1.9995).band, PW_BAND_SEVERE);
}

Test(rate, lower_is_better_direction)
{
    pw_indicator_t i = ind(20, 10, PW_METHOD_LINEAR); /* cut 20 -> 10 */
    i.direction = -1;
    pw_rate_t r = eval(&i, "2018H1", 16); /* planned 15: (16-20)/(15-20) = 80 */
    cr_assert_eq(r.centi, 8000);
    cr_assert_not(r.achieved);
    cr_assert(eval(&i, "2018H1", 9).achieved);
    pw_indicator_t l = ind(20, 10, PW_METHOD_LEVEL);
    l.direction = -1;
    cr_assert_eq(eval(&l, "2018H1", 16).centi, 9375); /* P / V = 15 / 16 */
}

Test(rate, base_period_has_no_rate)
{
    pw_indicator_t i = ind(37, 50, PW_METHOD_LINEAR);
    pw_rate_t r = eval(&i, "2015", 37);
    cr_assert_not(r.has_rate);
    cr_assert_eq(r.band, PW_BAND_NONE);
}

Test(rate, bands_follow_the_seed_thresholds)
{
    cr_assert_eq(pw_band_of(&cat, 3999), PW_BAND_SEVERE);
    cr_assert_eq(pw_band_of(&cat, 4000), PW_BAND_LAGGING);
    cr_assert_eq(pw_band_of(&cat, 9999), PW_BAND_LAGGING);
    cr_assert_eq(pw_band_of(&cat, 10000), PW_BAND_ON_TRACK);
    cr_assert_str_eq(pw_band_name(PW_BAND_SEVERE), "severe");
    cr_assert_eq(pw_band_parse("on_track"), PW_BAND_ON_TRACK);
    cr_assert_eq(pw_band_parse("bogus"), PW_BAND_NONE);
}

Test(rate, rounding_is_half_away_from_zero_after_snapping)
{
    cr_assert_float_eq(pw_round(26.153846, 2), 26.15, 1e-12);
    cr_assert_float_eq(pw_round(84.952380, 2), 84.95, 1e-12);
    cr_assert_float_eq(pw_round(0.125, 2), 0.13, 1e-12);
    cr_assert_float_eq(pw_round(-0.125, 2), -0.13, 1e-12);
    cr_assert_float_eq(pw_round(46.666666, 1), 46.7, 1e-12);
    cr_assert(signbit(pw_round(-0.001, 2)) == 0, "no negative zero");
}

Test(rate, a_runaway_rate_saturates_with_its_sign)
{
    /* Issue 15: a 20-digit typo once rated -92233720368547760.00, severe, and
     * opened an alert: llround() overflowed. Far ahead must stay far ahead. */
    pw_indicator_t i = ind(37, 50, PW_METHOD_LINEAR);
    double ahead[] = {1e20, 1e300, DBL_MAX};
    for (size_t k = 0; k < sizeof(ahead) / sizeof(ahead[0]); k++) {
        pw_rate_t r = eval(&i, "2018H1", ahead[k]);
        cr_assert(r.has_rate);
        cr_assert_eq(r.centi, PW_RATE_CENTI_MAX, "%g: %lld", ahead[k], (long long)r.centi);
        cr_assert_eq(r.band, PW_BAND_ON_TRACK, "%g", ahead[k]);
        cr_assert(r.achieved);
    }
    /* Just inside the bound, a rate is exact. */
    pw_indicator_t g = ind(0, 10, PW_METHOD_LINEAR);
    cr_assert_eq(eval(&g, "2018H1", 49999999.9).centi, PW_RATE_CENTI_MAX - 200);
    /* Lower is better: a runaway value is far behind, and saturates below. */
    pw_indicator_t d = ind(50, 37, PW_METHOD_LINEAR);
    d.direction = -1;
    pw_rate_t r = eval(&d, "2018H1", 1e20);
    cr_assert_eq(r.centi, -PW_RATE_CENTI_MAX);
    cr_assert_eq(r.band, PW_BAND_SEVERE);
    /* The level method, and growth from a tiny base. */
    pw_indicator_t l = ind(5200, 8000, PW_METHOD_LEVEL);
    cr_assert_eq(eval(&l, "2018H1", 1e20).centi, PW_RATE_CENTI_MAX);
    pw_indicator_t gr = ind(1e-6, 2e-6, PW_METHOD_GROWTH);
    cr_assert_eq(eval(&gr, "2018H1", 1e20).centi, PW_RATE_CENTI_MAX);
}
