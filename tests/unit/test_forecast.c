/* SPDX-License-Identifier: MIT */
/* The forecast column: projection from the base through the latest
 * observation, and the class thresholds (提前完成, 可以完成, 经努力可以完成,
 * 难以完成) at their boundaries, for rising and falling indicators. */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "forecast.h"
#include "pw/error.h"

static const char catalog_text[] =
    "[plan]\nname = test plan\nbase_year = 2015\ntarget_year = 2020\n"
    "[district a]\nname_zh = 甲\nname_en = A\nlevel = district\n"
    "[element x]\nname_zh = x\nname_en = x\nunit = u\nkind = amount\nlevel = district\n"
    "[element y]\nname_zh = y\nname_en = y\nunit = u\nkind = amount\nlevel = district\n"
    "[element f]\nname_zh = f\nname_en = f\nunit = u\nkind = flow\nlevel = district\n"
    "[indicator up]\nname_zh = 升\nname_en = up\ncategory = c\nunit = u\nattribute = binding\n"
    "base = 0\ntarget = 100\ntarget_kind = exact\nmethod = linear\nvalue = sum x\n"
    "[indicator down]\nname_zh = 降\nname_en = down\ncategory = c\nunit = u\n"
    "attribute = binding\nbase = 100\ntarget = 50\ntarget_kind = exact\ndirection = down\n"
    "method = linear\nvalue = sum x\n"
    "[indicator share]\nname_zh = 占\nname_en = share\ncategory = c\nunit = %\n"
    "attribute = binding\nbase = 90\ntarget = 95\ntarget_kind = at_least\nmethod = linear\n"
    "value = share x / y\n"
    "[indicator range]\nname_zh = 区\nname_en = range\ncategory = c\nunit = %\n"
    "attribute = binding\nbase = 32\ntarget = 30-40\ntarget_kind = range\nmethod = linear\n"
    "value = ratio x / y * 100\n"
    "[indicator flow]\nname_zh = 流\nname_en = flow\ncategory = c\nunit = u\n"
    "attribute = expected\nbase = 2000\ntarget = 2200\ntarget_kind = exact\nmethod = level\n"
    "value = annualised f\n"
    "[indicator nobase]\nname_zh = 无\nname_en = nobase\ncategory = c\nunit = %\n"
    "attribute = binding\nbase = none\ntarget = 90\ntarget_kind = at_least\nmethod = linear\n"
    "value = sum x\n";

static pw_catalog_t *cat;

static void setup(void)
{
    char err[256] = "";
    int rc = pw_catalog_parse("test", catalog_text, strlen(catalog_text), &cat, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
}

static void teardown(void)
{
    pw_catalog_destroy(&cat);
}

TestSuite(forecast, .init = setup, .fini = teardown, .timeout = 5.0);

static const pw_indicator_t *ind(const char *id)
{
    int i = pw_catalog_indicator(cat, id, strlen(id));
    cr_assert(i >= 0, "no indicator %s", id);
    return &cat->indicators[i];
}

static pw_period_t period(const char *text)
{
    pw_period_t p;
    cr_assert_eq(pw_period_parse(text, strlen(text), &p), 0, "%s", text);
    return p;
}

static pw_forecast_t eval(const char *id, const char *p, double v)
{
    pw_forecast_t fc;
    pw_forecast_eval(cat, ind(id), 0, period(p), v, &fc);
    return fc;
}

/* At 2018H1 (half the plan) an observation v of the 0 -> 100 plan projects to 2v. */
static struct threshold_case {
    double observed;
    pw_forecast_class_t want;
} thresholds[] = {
    {40.0, PW_FORECAST_ON_TIME},    /* projects 80: the on-time line itself */
    {39.99, PW_FORECAST_EFFORT},    /* 79.98 */
    {10.0, PW_FORECAST_EFFORT},     /* 20: the effort line itself */
    {9.99, PW_FORECAST_MISSED},     /* 19.98 */
    {0.0, PW_FORECAST_MISSED},      /* no progress at all */
    {99.99, PW_FORECAST_ON_TIME},   /* far ahead, but not there yet */
    {100.0, PW_FORECAST_MET_EARLY}, /* the target itself */
};

ParameterizedTestParameters(forecast, class_boundaries_of_a_rising_indicator)
{
    return cr_make_param_array(struct threshold_case, thresholds,
                               sizeof(thresholds) / sizeof(thresholds[0]));
}

ParameterizedTest(struct threshold_case *c, forecast, class_boundaries_of_a_rising_indicator)
{
    pw_forecast_t fc = eval("up", "2018H1", c->observed);
    cr_assert_eq(fc.cls, c->want, "observed %g: got %s, want %s", c->observed,
                 pw_forecast_name(fc.cls), pw_forecast_name(c->want));
}

Test(forecast, projects_linearly_from_the_base_through_the_latest_observation)
{
    pw_forecast_t fc = eval("up", "2017", 30.0); /* 40 % of the plan: 30 -> 75 */
    cr_assert(fc.has_value);
    cr_assert_float_eq(fc.value, 75.0, 1e-9);
    cr_assert_eq(fc.rate.centi, 7500);
    cr_assert_eq(fc.cls, PW_FORECAST_EFFORT);
}

Test(forecast, falling_indicator_uses_its_direction)
{
    /* 100 -> 50 wanted; 90 at mid-term projects to 80: 40 % of the change. */
    pw_forecast_t fc = eval("down", "2018H1", 90.0);
    cr_assert_float_eq(fc.value, 80.0, 1e-9);
    cr_assert_eq(fc.cls, PW_FORECAST_EFFORT, "got %s", pw_forecast_name(fc.cls));
    fc = eval("down", "2018H1", 80.0); /* projects 60: 80 % of the change */
    cr_assert_eq(fc.cls, PW_FORECAST_ON_TIME, "got %s", pw_forecast_name(fc.cls));
    fc = eval("down", "2018H1", 110.0); /* rising: moving away from the target */
    cr_assert_eq(fc.cls, PW_FORECAST_MISSED, "got %s", pw_forecast_name(fc.cls));
    fc = eval("down", "2018H1", 50.0); /* at the target already */
    cr_assert_eq(fc.cls, PW_FORECAST_MET_EARLY, "got %s", pw_forecast_name(fc.cls));
}

Test(forecast, falling_projection_stops_at_zero)
{
    pw_forecast_t fc = eval("down", "2016", 70.0); /* -30 in a fifth: would reach -50 */
    cr_assert_float_eq(fc.value, 0.0, 1e-9);
    cr_assert_eq(fc.cls, PW_FORECAST_ON_TIME, "got %s", pw_forecast_name(fc.cls));
}

Test(forecast, share_projection_stops_at_100)
{
    pw_forecast_t fc = eval("share", "2018H1", 94.0); /* 90 + 4/0.5 = 98 */
    cr_assert_float_eq(fc.value, 98.0, 1e-9);
    fc = eval("share", "2016", 94.0); /* 90 + 4/0.2 = 110: capped */
    cr_assert_float_eq(fc.value, 100.0, 1e-9);
    cr_assert_eq(fc.cls, PW_FORECAST_ON_TIME);
}

Test(forecast, range_target_holds_the_latest_value)
{
    pw_forecast_t fc = eval("range", "2018H1", 30.05);
    cr_assert_float_eq(fc.value, 30.05, 1e-9);
    cr_assert_eq(fc.cls, PW_FORECAST_ON_TIME); /* a range is never met early */
    fc = eval("range", "2018H1", 44.0);        /* above the range: still rated 100 */
    cr_assert_eq(fc.cls, PW_FORECAST_ON_TIME);
    fc = eval("range", "2018H1", 5.0); /* 5/30: a sixth of the lower bound */
    cr_assert_eq(fc.cls, PW_FORECAST_MISSED, "got %s", pw_forecast_name(fc.cls));
}

Test(forecast, flow_holds_its_latest_annual_level)
{
    pw_forecast_t fc = eval("flow", "2018H1", 1784.0); /* the seed's row 9 */
    cr_assert_float_eq(fc.value, 1784.0, 1e-9);
    cr_assert_eq(fc.rate.centi, 8109); /* 1784 / 2200 */
    cr_assert_eq(fc.cls, PW_FORECAST_ON_TIME);
}

Test(forecast, no_base_holds_the_latest_value)
{
    pw_forecast_t fc = eval("nobase", "2017", 80.0);
    cr_assert_float_eq(fc.value, 80.0, 1e-9);
    cr_assert_eq(fc.cls, PW_FORECAST_ON_TIME); /* 80/90 = 88.89 */
    fc = eval("nobase", "2017", 95.0);
    cr_assert_eq(fc.cls, PW_FORECAST_MET_EARLY);
}

Test(forecast, nothing_to_project_from_the_base_period)
{
    pw_forecast_t fc = eval("up", "2015", 10.0);
    cr_assert_not(fc.has_value);
    cr_assert_eq(fc.cls, PW_FORECAST_NONE);
    cr_assert_str_eq(pw_forecast_name_zh(PW_FORECAST_EFFORT), "经努力可以完成");
    cr_assert_str_eq(pw_forecast_name(PW_FORECAST_MISSED), "missed");
}

Test(forecast, observation_in_the_target_year_is_its_own_forecast)
{
    pw_forecast_t fc = eval("up", "2020", 85.0);
    cr_assert_float_eq(fc.value, 85.0, 1e-9);
    cr_assert_eq(fc.cls, PW_FORECAST_ON_TIME);
}
