/* SPDX-License-Identifier: MIT */
/* The city-wide model: sums over reporters, completeness, provisional periods,
 * and when alerts open and resolve (PROGRESS.md, "Alerts"). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "pw/error.h"

static const char catalog_text[] =
    "[plan]\nname = test plan\nbase_year = 2015\ntarget_year = 2020\n"
    "[district a]\nname_zh = 甲\nname_en = A\nlevel = district\n"
    "[district b]\nname_zh = 乙\nname_en = B\nlevel = district\n"
    "[district c]\nname_zh = 丙\nname_en = C\nlevel = district\n"
    "[district city]\nname_zh = 市\nname_en = City\nlevel = city\n"
    "[element beds]\nname_zh = 床\nname_en = beds\nunit = beds\nkind = count\nlevel = district\n"
    "[element elderly]\nname_zh = 老\nname_en = elderly\nunit = p\nkind = count\nlevel = district\n"
    "[element new_orgs]\nname_zh = 新\nname_en = new\nunit = o\nkind = flow\nlevel = district\n"
    "[element bases]\nname_zh = 基\nname_en = bases\nunit = b\nkind = count\nlevel = district\n"
    "[element units]\nname_zh = 单\nname_en = units\nunit = u\nkind = count\nlevel = city\n"
    "[indicator ratio]\nrow = 1\nname_zh = 每千\nname_en = per 1000\ncategory = c\nunit = beds\n"
    "attribute = binding\nbase = 37\ntarget = 50\ntarget_kind = exact\nmethod = linear\n"
    "decimals = 1\nvalue = ratio beds / elderly * 1000\n"
    "[indicator flow]\nrow = 2\nname_zh = 年\nname_en = per year\ncategory = c\nunit = o\n"
    "attribute = expected\nbase = 2000\ntarget = 2200\ntarget_kind = exact\nmethod = level\n"
    "value = annualised new_orgs\n"
    "[indicator mixed]\nrow = 3\nname_zh = 覆\nname_en = coverage\ncategory = c\nunit = %\n"
    "attribute = binding\nbase = 30\ntarget = 100\ntarget_kind = exact\nmethod = linear\n"
    "decimals = 1\nvalue = share bases / units\n";

static pw_catalog_t *cat;
static pw_model_t *model;

struct sink {
    pw_event_t ev[256];
    size_t n;
};

static int collect(void *ctx, pw_event_t *ev)
{
    struct sink *s = ctx;
    cr_assert_lt(s->n, 256);
    s->ev[s->n++] = *ev;
    return 0;
}

static void setup(void)
{
    char err[256] = "";
    int rc = pw_catalog_parse("test.conf", catalog_text, strlen(catalog_text), &cat, err,
                              sizeof(err));
    cr_assert_eq(rc, PW_OK, "%s", err);
    cr_assert_eq(pw_model_new(cat, &model), PW_OK);
}

static void teardown(void)
{
    pw_model_destroy(&model);
    pw_catalog_destroy(&cat);
}

TestSuite(model, .init = setup, .fini = teardown, .timeout = 10.0);

static pw_period_t per(const char *s)
{
    pw_period_t p;
    cr_assert_eq(pw_period_parse(s, strlen(s), &p), 0);
    return p;
}

static void set(const char *district, const char *element, const char *period, double v)
{
    int d = pw_catalog_district(cat, district, strlen(district));
    int e = pw_catalog_element(cat, element, strlen(element));
    cr_assert(d >= 0 && e >= 0);
    cr_assert_eq(pw_model_set(model, d, e, per(period), v, NULL), PW_OK);
}

/* beds / elderly for a period, district by district. */
static void ratio_data(const char *period, const double beds[3], const double elderly[3], int n)
{
    const char *ds[] = {"a", "b", "c"};
    for (int i = 0; i < n; i++) {
        set(ds[i], "beds", period, beds[i]);
        set(ds[i], "elderly", period, elderly[i]);
    }
}

static size_t count_alerts(const struct sink *s, pw_alert_action_t action)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->ev[i].type == PW_EV_ALERT && s->ev[i].action == action;
    return n;
}

static const pw_event_t *last_rate(const struct sink *s, const char *ind, const char *period)
{
    const pw_event_t *found = NULL;
    for (size_t i = 0; i < s->n; i++) {
        char p[PW_PERIOD_STRMAX];
        pw_period_format(s->ev[i].period, p);
        if (s->ev[i].type == PW_EV_RATE && strcmp(s->ev[i].indicator, ind) == 0 &&
            strcmp(p, period) == 0)
            found = &s->ev[i];
    }
    return found;
}

Test(model, ratio_of_sums_never_mean_of_ratios)
{
    /* a: 10/100 = 100 per 1000, b: 30/1900 = 15.8: the city is 40/2000 = 20. */
    ratio_data("2016", (double[]){10, 30, 0}, (double[]){100, 1900, 0}, 2);
    set("c", "beds", "2016", 0);
    set("c", "elderly", "2016", 0);
    struct sink s = {.n = 0};
    cr_assert_eq(pw_model_flush(model, 1, collect, &s), PW_OK);
    const pw_event_t *r = last_rate(&s, "ratio", "2016");
    cr_assert_not_null(r);
    cr_assert(r->has_value);
    cr_assert_float_eq(r->value, 20.0, 1e-9);
    cr_assert_eq(r->have, 3);
    cr_assert_eq(r->want, 3);
}

Test(model, a_runaway_value_is_far_ahead_and_opens_no_alert)
{
    /* Issue 15: a typo's beds over a few elderly once rated -92233720368547760.00,
     * severe, and opened an alert. It is far ahead: saturated, on track. */
    ratio_data("2016", (double[]){9e15, 9e15, 9e15}, (double[]){1, 1, 1}, 3);
    struct sink s = {.n = 0};
    cr_assert_eq(pw_model_flush(model, 1, collect, &s), PW_OK);
    const pw_event_t *r = last_rate(&s, "ratio", "2016");
    cr_assert_not_null(r);
    cr_assert(r->has_rate);
    cr_assert_eq(r->centi, PW_RATE_CENTI_MAX, "%lld", (long long)r->centi);
    cr_assert_eq(r->band, PW_BAND_ON_TRACK);
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 0);
}

Test(model, half_reported_period_is_provisional_and_raises_no_alert)
{
    /* 37.4 per 1000 at 2016 would be severe (15.38), but only 2 of 3 reported. */
    ratio_data("2016", (double[]){374, 374, 374}, (double[]){10000, 10000, 10000}, 2);
    struct sink s = {.n = 0};
    pw_model_flush(model, 1, collect, &s);
    const pw_event_t *r = last_rate(&s, "ratio", "2016");
    cr_assert_not_null(r);
    cr_assert_eq(r->have, 2);
    cr_assert_eq(r->want, 3);
    cr_assert_eq(r->band, PW_BAND_SEVERE, "the provisional figure is shown");
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 0, "but opens nothing");
    /* The third district completes the period: now the alert opens, once. */
    ratio_data("2016", (double[]){374, 374, 374}, (double[]){10000, 10000, 10000}, 3);
    s.n = 0;
    pw_model_flush(model, 2, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 1);
    const pw_event_t *a = &s.ev[s.n - 1];
    cr_assert_eq(a->type, PW_EV_ALERT);
    cr_assert_str_eq(a->indicator, "ratio");
    cr_assert_eq(a->centi, 1538);
}

Test(model, ratio_counts_only_reporters_with_both_elements)
{
    ratio_data("2016", (double[]){400, 400, 400}, (double[]){10000, 10000, 10000}, 2);
    set("c", "beds", "2016", 9999); /* beds without elderly: left out */
    struct sink s = {.n = 0};
    pw_model_flush(model, 1, collect, &s);
    const pw_event_t *r = last_rate(&s, "ratio", "2016");
    cr_assert_float_eq(r->value, 40.0, 1e-9);
    cr_assert_eq(r->have, 2);
}

Test(model, alert_stays_open_while_severe_then_resolves)
{
    struct sink s = {.n = 0};
    ratio_data("2016", (double[]){374, 374, 374}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 1);
    /* 2017: 36.4, still severe: the open alert is not repeated. */
    s.n = 0;
    ratio_data("2017", (double[]){364, 364, 364}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 2, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 0);
    cr_assert_eq(count_alerts(&s, PW_ALERT_RESOLVE), 0);
    /* 2018H1 at 40.0 per 1000: (40 - 37) / 6.5 = 46.15, the alert resolves. */
    s.n = 0;
    ratio_data("2018H1", (double[]){400, 400, 400}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 3, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_RESOLVE), 1);
    cr_assert_eq(s.ev[s.n - 1].centi, 4615);
}

Test(model, first_rate_already_severe_opens_an_alert)
{
    struct sink s = {.n = 0};
    ratio_data("2018H1", (double[]){380, 380, 380}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 1);
}

Test(model, missing_period_changes_no_alert)
{
    struct sink s = {.n = 0};
    ratio_data("2016", (double[]){374, 374, 374}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    /* 2017 reports only the flow indicator: the ratio has no 2017 value. */
    s.n = 0;
    set("a", "new_orgs", "2017", 1000);
    set("b", "new_orgs", "2017", 1000);
    set("c", "new_orgs", "2017", 1000);
    pw_model_flush(model, 2, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_RESOLVE), 0);
    cr_assert_null(last_rate(&s, "ratio", "2017"));
}

Test(model, late_data_for_an_earlier_period_does_not_override_the_latest)
{
    struct sink s = {.n = 0};
    ratio_data("2018H1", (double[]){400, 400, 400}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 0);
    /* 2017 arrives late and is severe: the open alerts follow the latest
     * complete period (2018H1), so nothing opens. */
    s.n = 0;
    ratio_data("2017", (double[]){364, 364, 364}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 2, collect, &s);
    cr_assert_not_null(last_rate(&s, "ratio", "2017"));
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 0);
}

Test(model, revision_can_open_an_alert)
{
    struct sink s = {.n = 0};
    ratio_data("2018H1", (double[]){400, 400, 400}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    s.n = 0;
    set("a", "beds", "2018H1", 100); /* (100+400+400)/30000 = 30 per 1000 */
    pw_model_flush(model, 2, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 1);
    cr_assert(strstr(s.ev[s.n - 1].why, "revised") != NULL, "%s", s.ev[s.n - 1].why);
}

Test(model, annualises_a_half_year_flow)
{
    struct sink s = {.n = 0};
    set("a", "new_orgs", "2018H1", 300);
    set("b", "new_orgs", "2018H1", 292);
    set("c", "new_orgs", "2018H1", 300);
    pw_model_flush(model, 1, collect, &s);
    const pw_event_t *r = last_rate(&s, "flow", "2018H1");
    cr_assert_float_eq(r->value, 1784.0, 1e-9); /* 892 in half a year */
    cr_assert_eq(r->centi, 8495);                /* 1784 / 2100 */
}

Test(model, mixed_levels_need_the_city_too)
{
    struct sink s = {.n = 0};
    set("a", "bases", "2018H1", 1);
    set("b", "bases", "2018H1", 1);
    set("c", "bases", "2018H1", 0);
    pw_model_flush(model, 1, collect, &s);
    const pw_event_t *r = last_rate(&s, "mixed", "2018H1");
    cr_assert_null(r, "no denominator yet: no value");
    set("city", "units", "2018H1", 3);
    s.n = 0;
    pw_model_flush(model, 2, collect, &s);
    r = last_rate(&s, "mixed", "2018H1");
    cr_assert_not_null(r);
    cr_assert_float_eq(r->value, 66.7, 1e-9); /* 2/3 at one decimal */
    cr_assert_eq(r->have, 4);
    cr_assert_eq(r->want, 4);
}

Test(model, unchanged_value_emits_nothing)
{
    struct sink s = {.n = 0};
    ratio_data("2016", (double[]){400, 400, 400}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    s.n = 0;
    bool changed = true;
    cr_assert_eq(pw_model_set(model, 0, 0, per("2016"), 400, &changed), PW_OK);
    cr_assert_not(changed);
    pw_model_flush(model, 2, collect, &s);
    cr_assert_eq(s.n, 0);
}

Test(model, restored_state_flushes_without_events)
{
    struct sink s = {.n = 0};
    ratio_data("2016", (double[]){374, 374, 374}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    /* A new model restored from what was emitted (as the aggregator does at
     * start-up) has nothing new to say. */
    pw_model_t *again = NULL;
    cr_assert_eq(pw_model_new(cat, &again), PW_OK);
    for (int d = 0; d < 3; d++) {
        pw_model_set(again, d, 0, per("2016"), 374, NULL);
        pw_model_set(again, d, 1, per("2016"), 10000, NULL);
    }
    for (size_t i = 0; i < s.n; i++) {
        if (s.ev[i].type == PW_EV_RATE)
            pw_model_restore_rate(again, &s.ev[i]);
        else if (s.ev[i].action == PW_ALERT_OPEN)
            pw_model_restore_alert(again, &s.ev[i]);
    }
    pw_model_restore_finish(again);
    pw_model_touch_all(again);
    struct sink t = {.n = 0};
    cr_assert_eq(pw_model_flush(again, 2, collect, &t), PW_OK);
    cr_assert_eq(t.n, 0);
    pw_model_destroy(&again);
    cr_assert_null(again);
}

Test(model, same_input_gives_the_same_events)
{
    struct sink s1 = {.n = 0}, s2 = {.n = 0};
    ratio_data("2016", (double[]){374, 380, 390}, (double[]){10000, 10100, 9000}, 3);
    set("a", "new_orgs", "2016", 500);
    pw_model_flush(model, 7, collect, &s1);
    pw_model_t *again = NULL;
    pw_model_new(cat, &again);
    pw_model_t *keep = model;
    model = again;
    set("a", "new_orgs", "2016", 500);
    ratio_data("2016", (double[]){374, 380, 390}, (double[]){10000, 10100, 9000}, 3);
    pw_model_flush(model, 7, collect, &s2);
    model = keep;
    pw_model_destroy(&again);
    cr_assert_eq(s1.n, s2.n);
    cr_assert_eq(memcmp(s1.ev, s2.ev, s1.n * sizeof(pw_event_t)), 0);
}

Test(model, periods_completing_together_decide_in_order)
{
    /* 2016 (severe) and 2018H1 (fine) complete in the same flush: the history
     * is the same as if they had completed one after the other. */
    struct sink s = {.n = 0};
    ratio_data("2016", (double[]){374, 374, 374}, (double[]){10000, 10000, 10000}, 3);
    ratio_data("2018H1", (double[]){400, 400, 400}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_OPEN), 1);
    cr_assert_eq(count_alerts(&s, PW_ALERT_RESOLVE), 1);
    cr_assert_eq(s.ev[s.n - 2].action, PW_ALERT_OPEN);
    cr_assert_eq(s.ev[s.n - 1].action, PW_ALERT_RESOLVE);
}

Test(model, a_resolved_alert_does_not_reopen_after_a_restore)
{
    struct sink s = {.n = 0};
    ratio_data("2016", (double[]){374, 374, 374}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 1, collect, &s);
    ratio_data("2018H1", (double[]){400, 400, 400}, (double[]){10000, 10000, 10000}, 3);
    pw_model_flush(model, 2, collect, &s);
    cr_assert_eq(count_alerts(&s, PW_ALERT_RESOLVE), 1);
    pw_model_t *again = NULL;
    cr_assert_eq(pw_model_new(cat, &again), PW_OK);
    for (int d = 0; d < 3; d++) {
        pw_model_set(again, d, 0, per("2016"), 374, NULL);
        pw_model_set(again, d, 1, per("2016"), 10000, NULL);
        pw_model_set(again, d, 0, per("2018H1"), 400, NULL);
        pw_model_set(again, d, 1, per("2018H1"), 10000, NULL);
    }
    for (size_t i = 0; i < s.n; i++)
        if (s.ev[i].type == PW_EV_RATE)
            pw_model_restore_rate(again, &s.ev[i]);
    pw_model_restore_finish(again);
    pw_model_touch_all(again);
    struct sink t = {.n = 0};
    cr_assert_eq(pw_model_flush(again, 3, collect, &t), PW_OK);
    cr_assert_eq(t.n, 0, "no alert reopens from the 2016 row");
    pw_model_destroy(&again);
}
