/* SPDX-License-Identifier: MIT */
/* The report model (periods, gaps, districts, forecasts, counts) and its CSV
 * and HTML writers: BOM, RFC 4180 quoting, escaping, one chart per indicator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "csv.h"
#include "html.h"
#include "model.h"
#include "proc.h"
#include "pw/error.h"
#include "report.h"
#include "text.h"

static const char catalog_text[] =
    "[plan]\nname = 测试规划 (test plan)\nbase_year = 2015\ntarget_year = 2020\n"
    "[district a]\nname_zh = 甲区\nname_en = A\nlevel = district\n"
    "[district b]\nname_zh = 乙区\nname_en = B\nlevel = district\n"
    "[district city]\nname_zh = 市本级\nname_en = City\nlevel = city\n"
    "[element beds]\nname_zh = 床\nname_en = beds\nunit = beds\nkind = count\nlevel = district\n"
    "[element elderly]\nname_zh = 老\nname_en = elderly\nunit = p\nkind = count\nlevel = district\n"
    "[element bases]\nname_zh = 基\nname_en = bases\nunit = b\nkind = count\nlevel = district\n"
    "[element units]\nname_zh = 单\nname_en = units\nunit = u\nkind = count\nlevel = city\n"
    "[indicator ratio]\nrow = 1\nname_zh = 每千<床>\nname_en = Beds, \"per\" 1000 <b>\n"
    "category = elderly_care\nunit = beds\nattribute = binding\nbase = 37\ntarget = 50\n"
    "target_kind = exact\nmethod = linear\ndecimals = 1\n"
    "value = ratio beds / elderly * 1000\n"
    "[indicator cover]\nrow = 2\nname_zh = 覆盖率\nname_en = coverage\ncategory = other\n"
    "unit = %\nattribute = expected\nbase = 30\ntarget = 100\ntarget_kind = exact\n"
    "method = linear\ndecimals = 1\nvalue = share bases / units\n";

static pw_catalog_t *cat;
static pw_model_t *model;

static void set(const char *d, const char *e, const char *p, double v)
{
    pw_period_t per;
    cr_assert_eq(pw_period_parse(p, strlen(p), &per), 0);
    int di = pw_catalog_district(cat, d, strlen(d)), ei = pw_catalog_element(cat, e, strlen(e));
    cr_assert(di >= 0 && ei >= 0);
    cr_assert_eq(pw_model_set(model, di, ei, per, v, NULL), 0);
}

static void setup(void)
{
    char err[256] = "";
    int rc = pw_catalog_parse("test", catalog_text, strlen(catalog_text), &cat, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(pw_model_new(cat, &model), 0);
    /* 2015: 37 per 1000; 2016: 40; 2017 missing; 2018H1: a 30, b 50 -> 40. */
    set("a", "beds", "2015", 370);
    set("a", "elderly", "2015", 10000);
    set("b", "beds", "2015", 370);
    set("b", "elderly", "2015", 10000);
    set("a", "beds", "2016", 400);
    set("a", "elderly", "2016", 10000);
    set("b", "beds", "2016", 400);
    set("b", "elderly", "2016", 10000);
    set("a", "beds", "2018H1", 300);
    set("a", "elderly", "2018H1", 10000);
    set("b", "beds", "2018H1", 500);
    set("b", "elderly", "2018H1", 10000);
    /* Coverage only from 2017: 3 + 3 bases of 10 units = 60 %. */
    set("a", "bases", "2017", 3);
    set("b", "bases", "2017", 3);
    set("city", "units", "2017", 10);
}

static void teardown(void)
{
    pw_model_destroy(&model);
    pw_catalog_destroy(&cat);
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 5.0);

static pw_report_t *build(const char *period)
{
    pw_period_t p;
    if (period)
        cr_assert_eq(pw_period_parse(period, strlen(period), &p), 0);
    pw_report_t *rep = NULL;
    int rc = pw_report_from_model(model, period ? &p : NULL, &rep);
    cr_assert_eq(rc, 0, "%s", pw_strerror(rc));
    return rep;
}

/* Runs a writer into a heap string (caller frees). */
static char *render(pw_report_t *rep, int which)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    int rc = which == 0   ? pw_report_write_csv(rep, f)
             : which == 1 ? pw_report_write_html(rep, f, "<store & co>")
                          : pw_report_write_text(rep, f, false);
    fclose(f);
    cr_assert_eq(rc, 0);
    return buf;
}

Test(report, latest_period_and_every_period_up_to_it)
{
    pw_report_t *rep = build(NULL);
    char pt[PW_PERIOD_STRMAX];
    pw_period_format(rep->period, pt);
    cr_assert_str_eq(pt, "2018H1");
    cr_assert_eq(rep->nperiods, 4); /* 2015 2016 2017 2018H1 */
    cr_assert_eq(rep->nseries, 2);
    pw_report_destroy(&rep);
    cr_assert_null(rep);
}

Test(report, missing_observation_stays_missing)
{
    pw_report_t *rep = build(NULL);
    const pw_report_series_t *r = &rep->series[0];
    cr_assert(r->cells[1].has_value);
    cr_assert_float_eq(r->cells[1].value, 40.0, 1e-9);
    cr_assert_not(r->cells[2].has_value, "2017 has no beds data");
    cr_assert_float_eq(r->cells[3].value, 40.0, 1e-9);
    pw_report_destroy(&rep);
}

Test(report, forecast_from_the_latest_observation)
{
    pw_report_t *rep = build(NULL);
    /* beds: 37 -> 40 at half the plan projects to 43: 6/13 = 46.15 -> effort. */
    cr_assert_float_eq(rep->series[0].forecast.value, 43.0, 1e-9);
    cr_assert_eq(rep->series[0].forecast.cls, PW_FORECAST_EFFORT);
    /* coverage has no 2018H1 value: projected from 2017's 60 (40 %): 30 + 75 = 100 (capped). */
    cr_assert_not(pw_report_current(rep, &rep->series[1])->has_value);
    cr_assert_float_eq(rep->series[1].forecast.value, 100.0, 1e-9);
    cr_assert_eq(rep->series[1].forecast.cls, PW_FORECAST_ON_TIME);
    pw_report_destroy(&rep);
}

Test(report, districts_for_ratios_of_district_elements_only)
{
    pw_report_t *rep = build(NULL);
    const pw_report_series_t *beds = &rep->series[0], *cover = &rep->series[1];
    cr_assert(pw_report_has_districts(rep, beds));
    cr_assert_not(pw_report_has_districts(rep, cover), "bases / units needs the city's units");
    size_t nd = cat->ndistricts;
    cr_assert_float_eq(beds->districts[3 * nd + 0].value, 30.0, 1e-9);
    cr_assert_float_eq(beds->districts[3 * nd + 1].value, 50.0, 1e-9);
    cr_assert_not(beds->districts[3 * nd + 2].has_value, "the city is not a district");
    pw_report_destroy(&rep);
}

Test(report, period_asked_cuts_the_later_ones)
{
    pw_report_t *rep = build("2016");
    cr_assert_eq(rep->nperiods, 2);
    cr_assert_float_eq(rep->series[0].forecast.value, 52.0, 1e-9); /* 37 + 3 / 0.2 */
    pw_report_destroy(&rep);
    pw_period_t p;
    pw_period_parse("2019", 4, &p);
    pw_report_t *none = NULL;
    cr_assert_eq(pw_report_from_model(model, &p, &none), PW_ENOTFOUND);
    cr_assert_null(none);
}

Test(report, counts_indicators_by_band_and_forecast)
{
    pw_report_t *rep = build("2017");
    int bands[4], classes[5], achieved;
    pw_report_count(rep, bands, classes, &achieved);
    /* beds has no 2017 value: its latest is 2016 (40, rate 115.38) -> on time;
     * coverage 60 at 2017 is rate 107.14. */
    cr_assert_eq(bands[PW_BAND_ON_TRACK], 1);
    cr_assert_eq(bands[PW_BAND_NONE], 1);
    cr_assert_eq(classes[PW_FORECAST_ON_TIME], 2);
    cr_assert_eq(achieved, 0);
    pw_report_destroy(&rep);
}

Test(report, csv_has_bom_crlf_and_rfc4180_quoting)
{
    pw_report_t *rep = build(NULL);
    char *csv = render(rep, 0);
    cr_assert(strncmp(csv, "\xEF\xBB\xBFrow,category,", 15) == 0, "%.40s", csv);
    cr_assert_eq(pw_count(csv, "\r\n"), 3, "a header and one line per series");
    cr_assert(strstr(csv, ",\"Beds, \"\"per\"\" 1000 <b>\","), "%s", csv);
    cr_assert(strstr(csv,
                     ",40,,40,46.15,lagging,进展缓慢,false,43,effort,经努力可以完成,2/2,false,,"
                     "\r\n"),
              "%s", csv);
    free(csv);
    pw_report_destroy(&rep);
}

Test(report, html_escapes_and_has_a_chart_per_indicator)
{
    pw_report_t *rep = build(NULL);
    char *html = render(rep, 1);
    cr_assert(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    cr_assert_eq(pw_count(html, "data-indicator='"), 2);
    cr_assert_eq(pw_count(html, "data-chart='trend'"), 2);
    cr_assert_eq(pw_count(html, "data-districts='ratio'"), 1);
    cr_assert_eq(pw_count(html, "data-districts="), 1);
    cr_assert(strstr(html, "每千&lt;床&gt;"));
    cr_assert(strstr(html, "Beds, &quot;per&quot; 1000 &lt;b&gt;"));
    cr_assert(strstr(html, "&lt;store &amp; co&gt;"));
    cr_assert_null(strstr(html, "<b>\""), "unescaped name");
    cr_assert_null(strstr(html, "<script"), "no script");
    cr_assert_null(strstr(html, "http"), "nothing fetched");
    cr_assert(strstr(html, "@media print"));
    /* Gaps: beds' 2017, coverage's 2016 and 2018H1 (its 2015 is the base). */
    cr_assert_eq(pw_count(html, "data-missing='1'"), 3);
    free(html);
    pw_report_destroy(&rep);
}

Test(report, text_table_has_a_line_per_series)
{
    pw_report_t *rep = build(NULL);
    char *text = render(rep, 2);
    cr_assert(strstr(text, "Evaluation report at 2018H1"), "%s", text);
    cr_assert_eq(pw_count(text, "\n"), 7, "title, banner, head, 2 series, 2 summary lines: %s",
                 text);
    cr_assert(strstr(text, "effort 经努力可以完成"), "%s", text);
    free(text);
    pw_report_destroy(&rep);
}

Test(report, value_at_rate_inverts_the_linear_rate)
{
    const pw_indicator_t *ind = &cat->indicators[0];
    cr_assert_float_eq(pw_report_value_at_rate(ind, 0.5, 100.0), 43.5, 1e-9);
    cr_assert_float_eq(pw_report_value_at_rate(ind, 0.5, 40.0), 39.6, 1e-9);
    char buf[64];
    pw_period_t p;
    pw_period_parse("2018H1", 6, &p);
    pw_report_period_zh(p, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2018年上半年");
}

/*
 * Another plan than Wuhan's (2020 to 2025), so that nothing 2020 can pass by
 * chance: a share with a range target, 30-40 %, two districts. 2021 is fully
 * reported (44 %: above the range); at 2022 district b has sent nothing yet.
 */
static const char plan2025_text[] =
    "[plan]\nname = 第二规划 (second plan)\nbase_year = 2020\ntarget_year = 2025\n"
    "[district a]\nname_zh = 甲区\nname_en = A\nlevel = district\n"
    "[district b]\nname_zh = 乙区\nname_en = B\nlevel = district\n"
    "[element old]\nname_zh = 老\nname_en = old\nunit = p\nkind = count\nlevel = district\n"
    "[element pop]\nname_zh = 人\nname_en = people\nunit = p\nkind = count\nlevel = district\n"
    "[indicator old_share]\nrow = 1\nname_zh = 老年人口占比\nname_en = Share of the old\n"
    "category = other\nunit = %\nattribute = expected\nbase = 32\ntarget = 30-40\n"
    "target_kind = range\nmethod = linear\ndecimals = 1\nvalue = share old / pop\n";

static void plan2025_setup(void)
{
    char err[256] = "";
    int rc =
        pw_catalog_parse("plan2025", plan2025_text, strlen(plan2025_text), &cat, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(pw_model_new(cat, &model), 0);
    set("a", "old", "2020", 16);
    set("a", "pop", "2020", 50);
    set("b", "old", "2020", 16);
    set("b", "pop", "2020", 50);
    set("a", "old", "2021", 20);
    set("a", "pop", "2021", 50);
    set("b", "old", "2021", 24);
    set("b", "pop", "2021", 50);
    set("a", "old", "2022", 17);
    set("a", "pop", "2022", 50);
}

/* A report in the three formats, for the tests that look at each. */
struct renders {
    char *text, *csv, *html;
};

static struct renders render_all(pw_report_t *rep)
{
    return (struct renders){render(rep, 2), render(rep, 0), render(rep, 1)};
}

static void renders_free(struct renders *r)
{
    free(r->text);
    free(r->csv);
    free(r->html);
}

TestSuite(report_plan, .init = plan2025_setup, .fini = teardown, .timeout = 5.0);

Test(report_plan, forecast_column_is_headed_with_the_plans_target_year)
{
    pw_report_t *rep = build("2021");
    struct renders r = render_all(rep);
    const char *text = r.text, *csv = r.csv, *html = r.html;
    cr_assert(strstr(text, "     2025  forecast\n"), "%s", text);
    cr_assert_null(strstr(text, "2020  forecast"), "%s", text);
    cr_assert(strstr(text, "Forecast for 2025:"), "%s", text);
    cr_assert(strstr(csv, ",forecast_2025,"), "%s", csv);
    cr_assert(strstr(html, "<th>2025年情况预测"), "%s", html);
    renders_free(&r);
    pw_report_destroy(&rep);
}

Test(report_plan, every_writer_shows_how_many_reported)
{
    pw_report_t *rep = build("2021");
    struct renders r = render_all(rep);
    const char *text = r.text, *csv = r.csv, *html = r.html;
    cr_assert(strstr(text, " reported "), "a reported column: %s", text);
    cr_assert(strstr(text, " 2/2 "), "%s", text);
    cr_assert(strstr(csv, ",complete,provisional,note,note_zh\r\n"), "%s", csv);
    cr_assert(strstr(csv, ",2/2,false,"), "%s", csv);
    cr_assert(strstr(html, "<th>报送<small>Reported</small></th>"), "%s", html);
    cr_assert(strstr(html, "<td class='rep'>2/2</td>"), "%s", html);
    /* Complete: no banner. */
    cr_assert_eq(pw_report_provisional(rep), 0);
    cr_assert_null(strstr(text, "PROVISIONAL"), "%s", text);
    cr_assert_null(strstr(html, "data-provisional"));
    renders_free(&r);
    pw_report_destroy(&rep);
}

Test(report_plan, a_provisional_period_says_so_in_a_banner)
{
    pw_report_t *rep = build(NULL); /* 2022: b has sent nothing yet */
    cr_assert_eq(pw_report_provisional(rep), 1);
    struct renders r = render_all(rep);
    const char *text = r.text, *csv = r.csv, *html = r.html;
    cr_assert(strstr(text, "Evaluation report at 2022"), "%s", text);
    cr_assert(strstr(text, "\nPROVISIONAL (初步): 1 of 1 series not fully reported for 2022"), "%s",
              text);
    cr_assert(strstr(text, " 1/2 "), "%s", text);
    cr_assert(strstr(csv, ",1/2,true,"), "%s", csv);
    cr_assert(strstr(html, "<div class='banner provisional' data-provisional='1'>"), "%s", html);
    cr_assert(strstr(html, "1 of 1 series are not fully reported for 2022"), "%s", html);
    cr_assert(strstr(html, "<td class='rep provisional'>1/2<small>"), "%s", html);
    renders_free(&r);
    pw_report_destroy(&rep);
}

Test(report_plan, a_value_above_the_range_carries_its_note)
{
    /* 44 % against 30-40: rated 100, with the note PROGRESS.md asks for. */
    pw_report_t *rep = build("2021");
    const pw_cell_t *now = pw_report_current(rep, &rep->series[0]);
    cr_assert_float_eq(now->value, 44.0, 1e-9);
    cr_assert_eq(now->rate.centi, 10000);
    char en[96], zh[96];
    cr_assert(pw_report_note(rep, &rep->series[0], en, zh, sizeof(en)));
    cr_assert_str_eq(en, "above the range 30-40");
    cr_assert_str_eq(zh, "高于目标区间30-40");
    struct renders r = render_all(rep);
    const char *text = r.text, *csv = r.csv, *html = r.html;
    cr_assert(strstr(text, "  note: above the range 30-40 (高于目标区间30-40)\n"), "%s", text);
    cr_assert(strstr(csv, ",2/2,false,above the range 30-40,高于目标区间30-40\r\n"), "%s", csv);
    cr_assert(strstr(html, "进展良好 · 高于目标区间30-40<small>on_track · above the range 30-40"),
              "%s", html);
    renders_free(&r);
    pw_report_destroy(&rep);
    /* 2022's 34 % is inside the range: no note. */
    rep = build("2022");
    cr_assert_not(pw_report_note(rep, &rep->series[0], en, zh, sizeof(en)));
    cr_assert_str_eq(en, "");
    pw_report_destroy(&rep);
}
