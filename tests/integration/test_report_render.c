/* SPDX-License-Identifier: MIT */
/* planwatch report with real processes: the demo writes report.html and
 * report.csv, headless Chromium renders the page (every indicator's chart in
 * the DOM, a screenshot), the CSV has its BOM and a line per indicator
 * series, and a report from a running publisher equals the one from the store. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "pw/catalog.h"

PW_FIXTURE_SUITE(report_render, 400.0);

/* The chromium binary: $PW_CHROMIUM, else chromium or chromium-browser on PATH. */
static bool find_chromium(char *buf, size_t len)
{
    const char *env = getenv("PW_CHROMIUM");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return access(buf, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    static const char *const names[] = {"chromium", "chromium-browser"};
    for (size_t k = 0; k < 2; k++) {
        const char *p = path ? path : "/usr/bin:/bin";
        while (*p) {
            size_t n = strcspn(p, ":");
            snprintf(buf, len, "%.*s/%s", (int)n, p, names[k]);
            if (n > 0 && access(buf, X_OK) == 0)
                return true;
            p += n + (p[n] == ':');
        }
    }
    return false;
}

static pw_catalog_t *load_catalog(void)
{
    pw_catalog_t *cat = NULL;
    char err[256] = "";
    int rc = pw_catalog_load(PW_SOURCE_DIR "/data/wuhan/catalog.conf", &cat, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    return cat;
}

/* Runs the demo into dir/store, with its report in dir. */
static void run_demo(void)
{
    char *args[] = {"demo", "--store", fx.store, "--report-dir", fx.dir, NULL}, *text, *err;
    int rc = pw_fixture_run(&fx, args, 240000, &text, &err);
    cr_assert_eq(rc, 0, "demo failed: %s", text ? text : "");
    cr_assert(strstr(text, "/report.html"), "the demo prints the report's path: %s", text);
    free(text);
    free(err);
}

Test(report_render, demo_report_renders_in_headless_chromium)
{
    char chromium[4096];
    if (!find_chromium(chromium, sizeof(chromium)))
        cr_assert_fail(
            "chromium is not installed: this test renders the report in headless "
            "Chromium (apt-get install chromium, as ./run test does; or set PW_CHROMIUM)");
    run_demo();
    pw_catalog_t *cat = load_catalog();

    char page[128], url[160], dom[128], shot[128], profile[128];
    snprintf(page, sizeof(page), "%s/report.html", fx.dir);
    snprintf(url, sizeof(url), "file://%s", page);
    snprintf(dom, sizeof(dom), "%s/dom.html", fx.dir);
    snprintf(shot, sizeof(shot), "--screenshot=%s/shot.png", fx.dir);
    snprintf(profile, sizeof(profile), "--user-data-dir=%s/profile", fx.dir);
    char *dump[] = {"chromium",
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    profile,
                    "--enable-logging=stderr",
                    "--dump-dom",
                    url,
                    NULL};
    int rc = pw_proc_run(chromium, dump, dom, 120000);
    char *err = NULL;
    {
        char epath[160];
        snprintf(epath, sizeof(epath), "%s.err", dom);
        err = pw_read_file(epath);
    }
    cr_assert_eq(rc, 0, "chromium --dump-dom failed (%d): %s", rc, err ? err : "");
    char *html = pw_read_file(dom);
    cr_assert(html && strstr(html, "</html>"), "no page rendered: %s", err ? err : "");
    /* The page loaded as itself, not Chromium's error page. */
    cr_assert(strstr(html, "主要指标进展情况评估表"), "%.400s", html);
    cr_assert_null(strstr(html, "ERR_FILE_NOT_FOUND"));
    /* Nothing on the page's console (a script error, a blocked load). */
    cr_assert_null(err ? strstr(err, ":CONSOLE") : NULL, "%s", err);
    /* Chromium writes attributes with double quotes: one card per indicator,
     * each with its trend chart. */
    cr_assert_eq(pw_count(html, "data-indicator=\""), cat->nindicators);
    for (size_t i = 0; i < cat->nindicators; i++) {
        char key[PW_ID_MAX + 32];
        snprintf(key, sizeof(key), "data-indicator=\"%s\"", cat->indicators[i].id);
        const char *card = strstr(html, key);
        cr_assert(card, "no chart for %s", cat->indicators[i].id);
        const char *trend = strstr(card, "data-chart=\"trend\"");
        const char *next = strstr(card + 1, "data-indicator=\"");
        cr_assert(trend && (!next || trend < next), "%s has no trend chart", cat->indicators[i].id);
    }
    /* Districts' own values for the ratios of district elements: 18 of them. */
    cr_assert_eq(pw_count(html, "data-districts=\""), 18);
    cr_assert_eq(pw_count(html, "<tr class="), 24, "one table row per series");
    free(html);
    free(err);

    char *snap[] = {"chromium",
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    profile,
                    "--hide-scrollbars",
                    "--window-size=1280,1800",
                    shot,
                    url,
                    NULL};
    char slog[128];
    snprintf(slog, sizeof(slog), "%s/shot.log", fx.dir);
    rc = pw_proc_run(chromium, snap, slog, 120000);
    cr_assert_eq(rc, 0, "chromium --screenshot failed");
    char png[128];
    snprintf(png, sizeof(png), "%s/shot.png", fx.dir);
    FILE *f = fopen(png, "rb");
    cr_assert(f, "no screenshot");
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, sizeof(sig), f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert(n == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG");
    cr_assert_gt(size, 50000, "a blank screenshot? %ld bytes", size);

    /* The CSV: BOM, a header and one line per indicator series. */
    char csvpath[128];
    snprintf(csvpath, sizeof(csvpath), "%s/report.csv", fx.dir);
    char *csv = pw_read_file(csvpath);
    cr_assert(csv);
    cr_assert(strncmp(csv, "\xEF\xBB\xBFrow,", 7) == 0, "no byte-order mark: %.20s", csv);
    cr_assert_eq(pw_count(csv, "\r\n"), 1 + pw_catalog_nseries(cat));
    for (size_t i = 0; i < cat->nindicators; i++) {
        char key[PW_ID_MAX + 8];
        snprintf(key, sizeof(key), ",%s,", cat->indicators[i].id);
        cr_assert(strstr(csv, key), "no CSV line for %s", cat->indicators[i].id);
    }
    cr_assert(strstr(csv, ",beds_per_1000_elderly,,每千名老年人口养老床位数,"), "%s", csv);
    cr_assert(strstr(csv, ",26.15,severe,严重滞后,false,40.4,effort,经努力可以完成,13/13,false,,"
                          "\r\n"),
              "%s", csv);
    free(csv);
    pw_catalog_destroy(&cat);
}

/* Starts a publisher over dir/store with catalog (NULL: the default one). */
static void start_publisher(char *catalog)
{
    char *pargs[] = {"--catalog", catalog, NULL};
    cr_assert_eq(pw_fixture_start_publisher(&fx, catalog ? pargs : NULL), 0, "publisher not ready");
}

/* Runs `planwatch report` with args; its exit code, its stdout in *out unless NULL. */
static int report(char *const args[], char **out)
{
    char *o, *e;
    int rc = pw_fixture_run(&fx, args, 60000, &o, &e);
    free(e);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}

Test(report_render, from_a_running_publisher_equals_from_the_store)
{
    run_demo();
    char a[128], b[128], *text;
    pw_fixture_path(&fx, a, sizeof(a), "a.csv");
    pw_fixture_path(&fx, b, sizeof(b), "b.csv");
    start_publisher(NULL);
    char *r1[] = {"report", "--connect", fx.stream, "--csv", a, NULL};
    cr_assert_eq(report(r1, NULL), 0);
    char *r2[] = {"report", "--store", fx.store, "--csv", b, NULL};
    cr_assert_eq(report(r2, NULL), 0);
    char *r3[] = {"report", "--connect", fx.stream, "--period", "2017", NULL};
    cr_assert_eq(report(r3, &text), 0);
    cr_assert_eq(pw_proc_stop(&fx.pub, 10000), 0, "publisher did not stop cleanly");
    char *ca = pw_read_file(a), *cb = pw_read_file(b);
    cr_assert(ca && cb);
    cr_assert_str_eq(ca, cb);
    cr_assert(strstr(text, "Evaluation report at 2017"), "%s", text);
    cr_assert(strstr(text, "23 indicators:"), "%s", text);
    free(ca);
    free(cb);
    free(text);
}

/* Writes text into dir/name. */
static void put(const char *name, const char *text)
{
    char path[160];
    cr_assert_eq(pw_fixture_write(pw_fixture_path(&fx, path, sizeof(path), name), text), 0, "%s",
                 path);
}

/*
 * A plan of its own, not Wuhan's: 2020 to 2025, two districts, a share to be
 * held within 30-40 % and a count of beds. 2021 is complete, the share above
 * its range (44 %); for 2022 district b has sent nothing yet, and nobody any
 * beds.
 */
static void run_plan2025(void)
{
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/plan", fx.dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof(sub), "%s/plan/districts", fx.dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    put("plan/catalog.conf",
        "[plan]\nname = 第二规划 (second plan)\nbase_year = 2020\ntarget_year = 2025\n"
        "[district a]\nname_zh = 甲区\nname_en = A\nlevel = district\n"
        "[district b]\nname_zh = 乙区\nname_en = B\nlevel = district\n"
        "[element old]\nname_zh = 老年人口\nname_en = Old\nunit = p\nkind = count\n"
        "level = district\nmax = 1000000\n"
        "[element pop]\nname_zh = 户籍人口\nname_en = People\nunit = p\nkind = count\n"
        "level = district\n"
        "[element beds]\nname_zh = 床位\nname_en = Beds\nunit = beds\nkind = count\n"
        "level = district\n"
        "[indicator old_share]\nrow = 1\nname_zh = 老年人口占比\nname_en = Share of the old\n"
        "category = other\nunit = %\nattribute = expected\nbase = 32\ntarget = 30-40\n"
        "target_kind = range\nmethod = linear\ndecimals = 1\nvalue = share old / pop\n"
        "[indicator beds_total]\nrow = 2\nname_zh = 床位数\nname_en = Beds\ncategory = other\n"
        "unit = beds\nattribute = expected\nbase = 100\ntarget = 200\ntarget_kind = exact\n"
        "method = linear\ndecimals = 0\nvalue = sum beds\n");
    put("plan/districts/a.csv", "period,element,value\n2020,old,16\n2020,pop,50\n2020,beds,50\n"
                                "2021,old,20\n2021,pop,50\n2021,beds,60\n2022,old,17\n"
                                "2022,pop,50\n");
    put("plan/districts/b.csv", "period,element,value\n2020,old,16\n2020,pop,50\n2020,beds,50\n"
                                "2021,old,24\n2021,pop,50\n2021,beds,60\n");
    char data[128], *text, *err;
    pw_fixture_path(&fx, data, sizeof(data), "plan");
    char *args[] = {"demo", "--store", fx.store, "--data", data, "--report-dir", fx.dir, NULL};
    int rc = pw_fixture_run(&fx, args, 120000, &text, &err);
    cr_assert_eq(rc, 0, "demo failed: %s", text ? text : "");
    free(text);
    free(err);
}

/* `planwatch report` of the 2025 plan at period (NULL: the latest), as text. */
static char *report_text(const char *period)
{
    char catalog[128], p[32], *text;
    pw_fixture_path(&fx, catalog, sizeof(catalog), "plan/catalog.conf");
    snprintf(p, sizeof(p), "%s", period ? period : "");
    char *args[] = {"report", "--store", fx.store, "--catalog", catalog, "--period", p, NULL};
    if (!period)
        args[5] = NULL; /* the latest period */
    cr_assert_eq(report(args, &text), 0);
    cr_assert(text);
    return text;
}

Test(report_render, another_plan_shows_its_target_year_completeness_and_notes)
{
    run_plan2025();
    /* The demo's own report, at the latest period: 2022, half reported. */
    char path[160];
    snprintf(path, sizeof(path), "%s/report.csv", fx.dir);
    char *csv = pw_read_file(path);
    cr_assert(csv && strstr(csv, ",forecast_2025,"), "%s", csv);
    cr_assert(strstr(csv, ",1/2,true,,\r\n"), "%s", csv);
    free(csv);
    snprintf(path, sizeof(path), "%s/report.html", fx.dir);
    char *html = pw_read_file(path);
    cr_assert(html && strstr(html, "<div class='banner provisional' data-provisional='2'>"), "%s",
              html);
    cr_assert(strstr(html, "<th>2025年情况预测"));
    free(html);

    char *text = report_text(NULL);
    cr_assert(strstr(text, "Evaluation report at 2022"), "%s", text);
    cr_assert(strstr(text, "\nPROVISIONAL (初步): 2 of 2 series not fully reported for 2022"), "%s",
              text);
    cr_assert(strstr(text, " reported     2025  forecast\n"), "%s", text);
    cr_assert(strstr(text, " 1/2 "), "%s", text);
    cr_assert(strstr(text, " 0/2 "), "beds: nobody yet: %s", text);
    free(text);

    /* 2021: complete, no banner; 44 % is above 30-40, rated 100 with a note. */
    text = report_text("2021");
    cr_assert_null(strstr(text, "PROVISIONAL"), "%s", text);
    cr_assert(strstr(text, " 2/2 "), "%s", text);
    cr_assert(strstr(text, "100.00  on_track"), "%s", text);
    cr_assert(strstr(text, "note: above the range 30-40 (高于目标区间30-40)"), "%s", text);
    free(text);
}

Test(report_render, a_provisional_period_reads_the_same_from_a_publisher)
{
    run_plan2025();
    char catalog[128], a[128], b[128];
    pw_fixture_path(&fx, catalog, sizeof(catalog), "plan/catalog.conf");
    pw_fixture_path(&fx, a, sizeof(a), "a.csv");
    pw_fixture_path(&fx, b, sizeof(b), "b.csv");
    start_publisher(catalog);
    char *r1[] = {"report", "--connect", fx.stream, "--catalog", catalog, "--csv", a, NULL};
    cr_assert_eq(report(r1, NULL), 0);
    cr_assert_eq(pw_proc_stop(&fx.pub, 10000), 0, "publisher did not stop cleanly");
    char *r2[] = {"report", "--store", fx.store, "--catalog", catalog, "--csv", b, NULL};
    cr_assert_eq(report(r2, NULL), 0);
    char *ca = pw_read_file(a), *cb = pw_read_file(b);
    cr_assert(ca && cb);
    cr_assert_str_eq(ca, cb);
    cr_assert(strstr(ca, ",1/2,true,"), "%s", ca);
    cr_assert(strstr(ca, ",0/2,true,"), "a series nobody has reported yet: %s", ca);
    free(ca);
    free(cb);
}

Test(report_render, usage_errors_and_help)
{
    char *help[] = {"report", "--help", NULL}, *text;
    cr_assert_eq(report(help, &text), 0);
    cr_assert(strstr(text, "usage: planwatch report"), "%s", text);
    free(text);
    char *none[] = {"report", NULL};
    cr_assert_eq(report(none, NULL), 2);
    char *both[] = {"report", "--store", fx.dir, "--connect", "tcp://127.0.0.1:1", NULL};
    cr_assert_eq(report(both, NULL), 2);
    char *bad[] = {"report", "--store", fx.dir, "--period", "2018H3", NULL};
    cr_assert_eq(report(bad, NULL), 2);
    char *empty[] = {"report", "--store", "/nonexistent/pw-store", NULL};
    cr_assert_eq(report(empty, NULL), 1);
}
