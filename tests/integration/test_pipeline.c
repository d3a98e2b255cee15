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

#include "proc.h"
#include "tmpdir.h"

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

static const char *reporters[] = {"jiangan", "jianghan", "qiaokou", "hanyang", "wuchang",
                                  "qingshan", "hongshan", "dongxihu", "hannan", "caidian",
                                  "jiangxia", "huangpi", "xinzhou", "wuhan"};
#define NREPORTERS 14

static char dir[64];

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
}

static void teardown(void)
{
    pw_proc_kill_all();
    pw_tmpdir_remove(dir);
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 240.0);

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
    snprintf(out, sizeof(out), "%s/demo.json", dir);
    char *args[] = {"planwatch", "demo", "--json", "--report-dir", dir, NULL};
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

struct servers {
    pw_proc_t agg, pub;
    char store[128], intake[64], stream[64], snap[64];
};

static void start_aggregator(struct servers *s)
{
    char log[128];
    snprintf(log, sizeof(log), "%s/aggregator.log", dir);
    char *args[] = {"planwatch", "aggregator", "--insecure", "--store", s->store, "--bind", s->intake, NULL};
    cr_assert_eq(pw_proc_spawn(&s->agg, PLANWATCH_BIN, args, log), 0);
    cr_assert_eq(pw_proc_wait_log(&s->agg, "INFO: ready", 10000), 0, "aggregator not ready");
}

static void start_servers(struct servers *s)
{
    snprintf(s->store, sizeof(s->store), "%s/store", dir);
    snprintf(s->intake, sizeof(s->intake), "tcp://127.0.0.1:%d", pw_free_port());
    snprintf(s->stream, sizeof(s->stream), "tcp://127.0.0.1:%d", pw_free_port());
    snprintf(s->snap, sizeof(s->snap), "tcp://127.0.0.1:%d", pw_free_port());
    start_aggregator(s);
    char log[128];
    snprintf(log, sizeof(log), "%s/publisher.log", dir);
    char *args[] = {"planwatch", "publisher", "--insecure", "--store", s->store, "--bind", s->stream,
                    "--snapshot-bind", s->snap, NULL};
    cr_assert_eq(pw_proc_spawn(&s->pub, PLANWATCH_BIN, args, log), 0);
    cr_assert_eq(pw_proc_wait_log(&s->pub, "INFO: ready", 10000), 0, "publisher not ready");
}

static void stop_servers(struct servers *s)
{
    cr_assert_eq(pw_proc_stop(&s->pub, 10000), 0, "publisher exit status");
    cr_assert_eq(pw_proc_stop(&s->agg, 10000), 0, "aggregator exit status");
}

/* All 14 collectors at once, every period interleaved: real concurrency.
 * Each run uses its own spools (generation gen): a new collector instance. */
static void run_collectors(struct servers *s, int gen)
{
    pw_proc_t kids[NREPORTERS];
    for (int i = 0; i < NREPORTERS; i++) {
        char file[256], log[128], id[32], spool[128];
        snprintf(id, sizeof(id), "%s", reporters[i]);
        snprintf(file, sizeof(file), "%s/districts/%s.csv", DATA, reporters[i]);
        snprintf(log, sizeof(log), "%s/collector-%s.log", dir, reporters[i]);
        snprintf(spool, sizeof(spool), "%s/spool%d-%s", dir, gen, reporters[i]);
        char *args[] = {"planwatch", "collector", "--insecure", "--district", id, "--data", file,
                        "--connect", s->intake, "--spool", spool, NULL};
        cr_assert_eq(pw_proc_spawn(&kids[i], PLANWATCH_BIN, args, log), 0);
    }
    for (int i = 0; i < NREPORTERS; i++)
        cr_assert_eq(pw_proc_wait(&kids[i], 60000), 0, "collector %s failed", reporters[i]);
}

static void monitor_once(struct servers *s, const char *out)
{
    char *args[] = {"planwatch", "monitor", "--insecure", "--connect", s->stream, "--snapshot", s->snap,
                    "--once", "--json", "--period", "2018H1", NULL};
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
    struct servers s;
    start_servers(&s);
    run_collectors(&s, 1);
    char before[128], after[128];
    snprintf(before, sizeof(before), "%s/before.json", dir);
    snprintf(after, sizeof(after), "%s/after.json", dir);
    monitor_once(&s, before);
    check_table(before);

    /* Restart the aggregator: state comes back from LMDB exactly. */
    cr_assert_eq(pw_proc_stop(&s.agg, 10000), 0);
    start_aggregator(&s);
    /* Sending everything again (new collector instances with new epochs)
     * stores the same values: no rate or alert changes. */
    run_collectors(&s, 2);
    monitor_once(&s, after);
    char *a = table_without_stamps(before), *b = table_without_stamps(after);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    stop_servers(&s);
}

Test(pipeline, rejected_update_is_reported_and_the_rest_is_stored)
{
    struct servers s;
    start_servers(&s);
    char bad[128];
    snprintf(bad, sizeof(bad), "%s/bad.csv", dir);
    FILE *f = fopen(bad, "w");
    cr_assert_not_null(f);
    /* Well-formed lines, but a city element sent by a district, and an
     * element the catalog does not know. */
    fputs("period,element,value\n2016,care_beds,100\n2016,urban_dibao_standard,600\n"
          "2016,no_such_element,1\n2016,elderly,1000\n",
          f);
    fclose(f);
    char out[128];
    snprintf(out, sizeof(out), "%s/collector.out", dir);
    char spool[128];
    snprintf(spool, sizeof(spool), "%s/spool-bad", dir);
    char *args[] = {"planwatch", "collector", "--insecure", "--district", "jiangan", "--data", bad,
                    "--connect", s.intake, "--spool", spool, NULL};
    int rc = pw_proc_run(PLANWATCH_BIN, args, out, 30000);
    cr_assert_eq(rc, 1, "a rejected update makes the collector exit 1");
    char errpath[160];
    snprintf(errpath, sizeof(errpath), "%s.err", out);
    char *err = pw_read_file(errpath);
    cr_assert_not_null(err);
    cr_assert(strstr(err, "bad.csv:3: urban_dibao_standard 2016") && strstr(err, "EREPORTER"),
              "%s", err);
    cr_assert(strstr(err, "bad.csv:4: no_such_element 2016") && strstr(err, "EELEMENT"),
              "%s", err);
    free(err);
    char *summary = pw_read_file(out);
    cr_assert(strstr(summary, "4 updates sent, 2 stored, 2 rejected"), "%s", summary);
    free(summary);
    stop_servers(&s);
}
