/* SPDX-License-Identifier: MIT */
/*
 * The whole pipeline with real processes: the planwatch binary as aggregator,
 * publisher, collectors and monitor, on loopback TCP and a real LMDB store.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define DATA PW_SOURCE_DIR "/data/wuhan"

/* 2018H1 rates by the rules of PROGRESS.md, checked by hand against the seed
 * (row 3: the weaker series; row 18: 26.15 from the printed 38.7). */
static const struct {
    const char *id;
    double rate;
    const char *band;
} expected[] = {
    {"household_check_rate", 200.00, "on_track"},
    {"dibao_precision", 90.00, "lagging"},
    {"dibao_standard_ratio", 100.00, "on_track"},
    {"disaster_demo_community_coverage", 160.00, "on_track"},
    {"street_service_center_coverage", 100.00, "on_track"},
    {"service_area_per_100_households", 100.00, "on_track"},
    {"orgs_per_urban_community", 120.00, "on_track"},
    {"orgs_per_rural_community", 100.00, "on_track"},
    {"new_orgs_per_year", 84.95, "lagging"},
    {"registered_orgs_total", 96.85, "lagging"},
    {"orgs_per_10k_residents", 90.91, "lagging"},
    {"district_incubator_coverage", 85.71, "lagging"},
    {"volunteer_share", 134.00, "on_track"},
    {"social_workers_per_10k", 165.71, "on_track"},
    {"social_workers_per_urban_community", 140.00, "on_track"},
    {"social_workers_per_rural_community", 100.00, "on_track"},
    {"elderly_care_beds", 44.10, "lagging"},
    {"beds_per_1000_elderly", 26.15, "severe"},
    {"nursing_bed_share", 137.14, "on_track"},
    {"urban_home_care_coverage", 200.00, "on_track"},
    {"rural_care_station_coverage", 112.00, "on_track"},
    {"marriage_ceremony_rate", 100.00, "on_track"},
    {"adoption_registration_compliance", 100.00, "on_track"},
};
#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

#define NREPORTERS PW_FIXTURE_NREPORTERS

PW_FIXTURE_SUITE(pipeline, 240.0);

/* Checks the 2018H1 rows of a JSON-lines file against the expected table. */
static void check_table(const char *path)
{
    char *text = pw_read_file(path);
    cr_assert_not_null(text, "cannot read %s", path);
    double got[NEXPECTED];
    int seen[NEXPECTED] = {0};
    int achieved = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char id[128], period[32], rate[32], band[32], ach[16], complete[32];
        if (strstr(line, "\"alert\"") || !pw_json_get(line, "indicator", id, sizeof(id)) ||
            !pw_json_get(line, "period", period, sizeof(period)) || strcmp(period, "2018H1"))
            continue;
        cr_assert(pw_json_get(line, "rate", rate, sizeof(rate)), "%s", line);
        cr_assert(pw_json_get(line, "band", band, sizeof(band)));
        cr_assert(pw_json_get(line, "achieved", ach, sizeof(ach)));
        cr_assert(pw_json_get(line, "complete", complete, sizeof(complete)));
        int have, want;
        cr_assert_eq(sscanf(complete, "%d/%d", &have, &want), 2);
        cr_assert_eq(have, want, "%s: %s is not complete", id, complete);
        for (size_t i = 0; i < NEXPECTED; i++) {
            if (strcmp(expected[i].id, id) != 0)
                continue;
            /* An indicator with several series counts by its weakest one. */
            double r = atof(rate);
            if (!seen[i] || r < got[i])
                got[i] = r;
            if (strcmp(ach, "true") == 0 && !seen[i])
                achieved++;
            seen[i]++;
        }
    }
    int bands[3] = {0};
    for (size_t i = 0; i < NEXPECTED; i++) {
        cr_assert(seen[i], "no 2018H1 row for %s", expected[i].id);
        cr_expect(fabs(got[i] - expected[i].rate) < 0.001, "%s: rate %.2f, expected %.2f",
                  expected[i].id, got[i], expected[i].rate);
        bands[strcmp(expected[i].band, "severe") == 0    ? 0
              : strcmp(expected[i].band, "lagging") == 0 ? 1
                                                         : 2]++;
    }
    cr_assert_eq(bands[2], 16);
    cr_assert_eq(bands[1], 6);
    cr_assert_eq(bands[0], 1);
    cr_assert_eq(achieved, 5, "5 achieved (rows 1, 5, 20, 22, 23)");
    free(text);
}

/* The alert events of a JSON-lines file, "open:id:period" joined by spaces. */
static void alert_timeline(const char *path, char *out, size_t len)
{
    char *text = pw_read_file(path);
    cr_assert_not_null(text);
    out[0] = '\0';
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char action[16], id[128], period[32];
        if (!pw_json_get(line, "alert", action, sizeof(action)))
            continue;
        pw_json_get(line, "indicator", id, sizeof(id));
        pw_json_get(line, "period", period, sizeof(period));
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s:%s:%s", n ? " " : "", action, id, period);
    }
    free(text);
}

Test(pipeline, demo_reproduces_the_midterm_table_and_alert_history)
{
    char out[128];
    snprintf(out, sizeof(out), "%s/demo.json", fx.dir);
    char *args[] = {"planwatch", "demo", "--json", "--report-dir", fx.dir, NULL};
    int rc = pw_proc_run(PLANWATCH_BIN, args, out, 120000);
    cr_assert_eq(rc, 0, "demo exit %d", rc);
    check_table(out);
    char timeline[2048];
    alert_timeline(out, timeline, sizeof(timeline));
    /* PROGRESS.md: alerts open and resolve as periods complete. */
    cr_assert_str_eq(timeline,
                     "open:elderly_care_beds:2016 open:beds_per_1000_elderly:2016 "
                     "open:volunteer_share:2017 resolve:volunteer_share:2018H1 "
                     "resolve:elderly_care_beds:2018H1");
}

static char *insecure[] = {"--insecure", NULL};

static void start_aggregator(void)
{
    cr_assert_eq(pw_fixture_start_aggregator(&fx, insecure), 0, "aggregator not ready");
}

static void start_servers(void)
{
    cr_assert_eq(pw_fixture_use_tcp(&fx), 0);
    start_aggregator();
    char *args[] = {"--insecure", "--snapshot-bind", fx.snap, NULL};
    cr_assert_eq(pw_fixture_start_publisher(&fx, args), 0, "publisher not ready");
}

static void stop_servers(void)
{
    cr_assert_eq(pw_proc_stop(&fx.pub, 10000), 0, "publisher exit status");
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0, "aggregator exit status");
}

/* All 14 collectors at once, every period interleaved: real concurrency.
 * Each run uses its own spools (generation gen): a new collector instance. */
static void run_collectors(int gen)
{
    pw_proc_t kids[NREPORTERS];
    for (int i = 0; i < NREPORTERS; i++) {
        char file[256], log[128], id[32], spool[128];
        snprintf(id, sizeof(id), "%s", pw_fixture_reporters[i]);
        pw_fixture_reporter_file(file, sizeof(file), i);
        snprintf(log, sizeof(log), "%s/collector-%s.log", fx.dir, pw_fixture_reporters[i]);
        snprintf(spool, sizeof(spool), "%s/spool%d-%s", fx.dir, gen, pw_fixture_reporters[i]);
        char *args[] = {"planwatch", "collector", "--insecure", "--district", id,    "--data",
                        file,        "--connect", fx.intake,    "--spool",    spool, NULL};
        cr_assert_eq(pw_proc_spawn(&kids[i], PLANWATCH_BIN, args, log), 0);
    }
    for (int i = 0; i < NREPORTERS; i++)
        cr_assert_eq(pw_proc_wait(&kids[i], 60000), 0, "collector %s failed",
                     pw_fixture_reporters[i]);
}

static void monitor_once(const char *out)
{
    char *args[] = {"planwatch", "monitor", "--insecure", "--connect", fx.stream, "--snapshot",
                    fx.snap,     "--once",  "--json",     "--period",  "2018H1",  NULL};
    cr_assert_eq(pw_proc_run(PLANWATCH_BIN, args, out, 30000), 0, "monitor failed");
}

/* The monitor's table without the per-event fields (seq, time). */
static char *table_without_stamps(const char *path)
{
    char *text = pw_read_file(path);
    cr_assert_not_null(text);
    for (char *p = strstr(text, ",\"seq\":"); p; p = strstr(p, ",\"seq\":")) {
        char *end = strchr(p, '}');
        memset(p, ' ', (size_t)(end - p));
        p = end;
    }
    return text;
}

Test(pipeline, fourteen_concurrent_collectors_then_restart_resumes_exactly)
{
    start_servers();
    run_collectors(1);
    char before[128], after[128];
    snprintf(before, sizeof(before), "%s/before.json", fx.dir);
    snprintf(after, sizeof(after), "%s/after.json", fx.dir);
    monitor_once(before);
    check_table(before);

    /* Restart the aggregator: state comes back from LMDB exactly. */
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
    start_aggregator();
    /* Sending everything again (new collector instances with new epochs)
     * stores the same values: no rate or alert changes. */
    run_collectors(2);
    monitor_once(after);
    char *a = table_without_stamps(before), *b = table_without_stamps(after);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    stop_servers();
}

Test(pipeline, rejected_update_is_reported_and_the_rest_is_stored)
{
    start_servers();
    char bad[128];
    pw_fixture_path(&fx, bad, sizeof(bad), "bad.csv");
    /* Well-formed lines, but a city element sent by a district, and an
     * element the catalog does not know. */
    cr_assert_eq(pw_fixture_write(bad, "period,element,value\n2016,care_beds,100\n"
                                       "2016,urban_dibao_standard,600\n"
                                       "2016,no_such_element,1\n2016,elderly,1000\n"),
                 0);
    char spool[128];
    pw_fixture_path(&fx, spool, sizeof(spool), "spool-bad");
    char *summary, *err;
    int rc = pw_fixture_collect(&fx, "jiangan", bad, spool, insecure, &summary, &err);
    cr_assert_eq(rc, 1, "a rejected update makes the collector exit 1");
    cr_assert_not_null(err);
    cr_assert(strstr(err, "bad.csv:3: urban_dibao_standard 2016") && strstr(err, "EREPORTER"),
              "%s", err);
    cr_assert(strstr(err, "bad.csv:4: no_such_element 2016") && strstr(err, "EELEMENT"),
              "%s", err);
    free(err);
    cr_assert(strstr(summary, "4 updates sent, 2 stored, 2 rejected"), "%s", summary);
    free(summary);
    stop_servers();
}

/* One collector run for jiangan: its exit code, stdout and stderr (caller frees). */
static int collect_as_jiangan(char *file, char *spool, char *extra, char **out, char **err)
{
    char *args[] = {"--insecure", "--period", "2018H1", extra, NULL};
    return pw_fixture_collect(&fx, "jiangan", file, spool, args, out, err);
}

Test(pipeline, a_rerun_reports_a_rejected_line_again_until_it_is_fixed)
{
    start_servers();
    char bad[128], spool[128];
    snprintf(bad, sizeof(bad), "%s/bad.csv", fx.dir);
    snprintf(spool, sizeof(spool), "%s/spool-rerun", fx.dir);
    /* care_beds is a count: 100.5 is rejected with EVALUE (no --catalog to
     * catch it before sending). */
    cr_assert_eq(pw_fixture_write(
                     bad, "period,element,value\n2018H1,elderly,1000\n2018H1,care_beds,100.5\n"),
                 0);
    char *out, *err;
    cr_assert_eq(collect_as_jiangan(bad, spool, NULL, &out, &err), 1);
    cr_assert(strstr(err, "bad.csv:3: care_beds 2018H1 = 100.5 rejected by the aggregator: EVALUE"),
              "%s", err);
    free(out);
    free(err);

    /* The typo is still there: the rerun sends nothing, but says so and fails. */
    cr_assert_eq(collect_as_jiangan(bad, spool, NULL, &out, &err), 1,
                 "a rerun with the rejected line unchanged must fail as the first run did");
    cr_assert(strstr(err, "bad.csv:3: care_beds 2018H1 = 100.5 was rejected by the aggregator: "
                          "EVALUE") && strstr(err, "fix the line"),
              "%s", err);
    cr_assert(strstr(out, "0 updates sent, 0 stored, 0 rejected, 1 rejected before and unchanged"),
              "%s", out);
    free(out);
    free(err);

    /* Fixed: sent and stored like any changed line. */
    cr_assert_eq(
        pw_fixture_write(bad, "period,element,value\n2018H1,elderly,1000\n2018H1,care_beds,100\n"),
        0);
    cr_assert_eq(collect_as_jiangan(bad, spool, NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "1 updates sent, 1 stored, 0 rejected\n"), "%s", out);
    cr_assert_null(strstr(err, "rejected"), "%s", err);
    free(out);
    free(err);
    stop_servers();
}

/* The latest value the store holds for each of jiangan's 2018H1 elements
 * equals the value of file's line for it: count of those checked. */
static int store_matches(const char *file)
{
    char *csv = pw_export_csv(PLANWATCH_BIN, fx.store, fx.dir);
    char *data = pw_read_file(file);
    cr_assert(csv && data);
    int checked = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        char element[64];
        double want;
        if (sscanf(line, "2018H1,%63[a-z0-9_],%lf", element, &want) != 2)
            continue;
        /* seq,district,epoch,record_seq,element,period,value,...: the last
         * line for the element is the value the aggregator holds. */
        char needle[96];
        snprintf(needle, sizeof(needle), ",%s,2018H1,", element);
        const char *last = NULL;
        for (const char *p = strstr(csv, needle); p; p = strstr(p + 1, needle)) {
            const char *bol = p;
            while (bol > csv && bol[-1] != '\n')
                bol--;
            if (strncmp(strchr(bol, ',') + 1, "jiangan,", 8) == 0)
                last = p;
        }
        cr_assert_not_null(last, "%s: not stored", element);
        double got = atof(last + strlen(needle));
        cr_expect(got == want, "%s: the aggregator holds %g, the file says %g", element, got,
                  want);
        checked++;
    }
    free(csv);
    free(data);
    return checked;
}

Test(pipeline, resend_repairs_what_a_wrong_file_sent_for_the_district)
{
    start_servers();
    char right[256], wrong[256], spool[128], other[128];
    snprintf(right, sizeof(right), "%s/districts/jiangan.csv", DATA);
    snprintf(wrong, sizeof(wrong), "%s/districts/hongshan.csv", DATA);
    snprintf(spool, sizeof(spool), "%s/spool-jiangan", fx.dir);
    snprintf(other, sizeof(other), "%s/spool-elsewhere", fx.dir);
    char *out, *err;
    cr_assert_eq(collect_as_jiangan(right, spool, NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    /* Hongshan's file sent as jiangan's, from another spool (another
     * machine, or the service's spool against one's own). */
    cr_assert_eq(collect_as_jiangan(wrong, other, NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);

    /* This spool sent the right file: by its record, nothing changed. */
    cr_assert_eq(collect_as_jiangan(right, spool, NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "0 updates sent"), "%s", out);
    free(out);
    free(err);

    /* --resend sends all 31 again: the aggregator's values are the file's. */
    cr_assert_eq(collect_as_jiangan(right, spool, "--resend", &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "31 updates sent, 31 stored, 0 rejected"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(store_matches(right), 31);
    stop_servers();
}

Test(pipeline, a_file_titled_for_another_district_is_warned_about)
{
    start_servers();
    char right[256], wrong[256], spool[128];
    snprintf(right, sizeof(right), "%s/districts/jiangan.csv", DATA);
    snprintf(wrong, sizeof(wrong), "%s/districts/hongshan.csv", DATA);
    snprintf(spool, sizeof(spool), "%s/spool-title", fx.dir);
    char *out, *err;
    cr_assert_eq(collect_as_jiangan(wrong, spool, "--catalog=" DATA "/catalog.conf", &out, &err), 0,
                 "%s", err);
    /* Line 1: "# 洪山区 Hongshan district (central): ..." */
    cr_assert(strstr(err, "hongshan.csv:1: the file's title names hongshan") &&
                  strstr(err, "not jiangan"),
              "%s", err);
    free(out);
    free(err);
    cr_assert_eq(collect_as_jiangan(right, spool, "--catalog=" DATA "/catalog.conf", &out, &err), 0,
                 "%s", err);
    cr_assert_null(strstr(err, "title"), "%s", err);
    free(out);
    free(err);
    stop_servers();
}

Test(pipeline, resend_repairs_an_aggregator_whose_store_was_replaced)
{
    cr_assert_eq(pw_fixture_use_tcp(&fx), 0);
    start_aggregator();
    char right[256], spool[128], cmd[256];
    snprintf(right, sizeof(right), "%s/districts/jiangan.csv", DATA);
    snprintf(spool, sizeof(spool), "%s/spool-jiangan", fx.dir);
    char *out, *err;
    cr_assert_eq(collect_as_jiangan(right, spool, NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    /* The store is lost (restored from an old backup, say): empty. */
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.store);
    cr_assert_eq(system(cmd), 0);
    start_aggregator();
    /* The aggregator once acknowledged everything: --resend learns it has
     * nothing, starts over as a new instance and sends the whole file. */
    cr_assert_eq(collect_as_jiangan(right, spool, "--resend", &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "its store was replaced or restored"), "%s", err);
    cr_assert(strstr(out, "31 updates sent, 31 stored, 0 rejected"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(store_matches(right), 31);
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
}
