/* SPDX-License-Identifier: MIT */
/*
 * planwatch replay on a real store made by the demo: the alert timeline,
 * filters, speeds, rebuild equality, determinism, as-of and what-if.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "pw/util.h"
#include "store.h"

static pw_fixture_t fx;
static char store[96]; /* the demo's */

static void setup(void)
{
    cr_assert_eq(pw_fixture_open(&fx), 0);
    pw_fixture_path(&fx, store, sizeof(store), "s");
    /* The aggregator's store: a target to replay into. */
    pw_fixture_path(&fx, fx.store, sizeof(fx.store), "t");
    char *args[] = {"demo", "--store", store, NULL}, *out, *err;
    cr_assert_eq(pw_fixture_run(&fx, args, 120000, &out, &err), 0, "demo --store");
    free(out);
    free(err);
}

static void teardown(void)
{
    pw_fixture_close(&fx);
}

TestSuite(replay, .init = setup, .fini = teardown, .timeout = 240.0);

/* Runs planwatch replay --store STORE extra...; stdout and stderr into *out, *err. */
static int replay(char *const extra[], char **out, char **err)
{
    char *args[40] = {"replay", "--store", store};
    int k = 3;
    for (int i = 0; extra[i]; i++)
        args[k++] = extra[i];
    args[k] = NULL;
    return pw_fixture_run(&fx, args, 120000, out, err);
}

/* The number of records a replay says it applied (from its summary line). */
static long replayed(const char *err)
{
    const char *p = strstr(err, "replayed ");
    cr_assert_not_null(p, "%s", err);
    return atol(p + 9);
}

Test(replay, shows_the_alert_timeline_in_order)
{
    char *out, *err;
    cr_assert_eq(replay((char *[]){NULL}, &out, &err), 0, "%s", err);
    const char *order[] = {"OPEN    elderly_care_beds", "OPEN    beds_per_1000_elderly",
                           "OPEN    volunteer_share", "RESOLVE volunteer_share",
                           "RESOLVE elderly_care_beds"};
    const char *at = out;
    for (size_t i = 0; i < 5; i++) {
        const char *p = strstr(at, order[i]);
        cr_assert_not_null(p, "%s not after the previous alert:\n%s", order[i], out);
        at = p;
    }
    cr_assert(strstr(out, "OPEN    elderly_care_beds 养老床位数 at 2016"));
    cr_assert(strstr(out, "OPEN    volunteer_share 登记注册社区志愿者占常住人口比重 at 2017"));
    cr_assert(strstr(out, "RESOLVE elderly_care_beds 养老床位数 at 2018H1"));
    cr_assert_eq(replayed(err), 1501);
    free(out);
    free(err);
}

Test(replay, filters_select_what_they_say)
{
    struct {
        char *args[6];
        long want;
    } cases[] = {
        {{"--district", "hongshan", "--quiet", "--json", NULL}, 114},
        {{"--indicator", "beds_per_1000_elderly", NULL}, 13 * 2 * 4},
        {{"--from", "100", "--to", "199", NULL}, 100},
        {{"--to", "2016", NULL}, 329 + 369},
        {{"--from", "2018H1", NULL}, 408},
        {{"--from", "2999-01-01", NULL}, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out, *err;
        bool quiet = strcmp(cases[i].args[2] ? cases[i].args[2] : "", "--quiet") == 0;
        cr_assert_eq(replay(cases[i].args, &out, &err), 0, "case %zu: %s", i, err);
        if (!quiet)
            cr_assert_eq(replayed(err), cases[i].want, "case %zu", i);
        else
            cr_assert(strstr(out, "\"complete\":\"1/13\""), "hongshan alone: %s", out);
        free(out);
        free(err);
    }
    char *out, *err;
    cr_assert_eq(replay((char *[]){"--indicator", "nonsense", NULL}, &out, &err), 1);
    cr_assert(strstr(err, "unknown indicator"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(replay((char *[]){"--speed", "warp", NULL}, &out, &err), 2);
    free(out);
    free(err);
}

static int cb(void *ctx, uint64_t seq, const pw_msg_t *rec)
{
    (void)seq;
    int64_t *s = ctx;
    if (!s[0])
        s[0] = rec->received_ms;
    s[1] = rec->received_ms;
    return 0;
}

static int rows(void *ctx, const pw_event_t *ev)
{
    char p[PW_PERIOD_STRMAX];
    pw_period_format(ev->period, p);
    fprintf(ctx, "%d %s %s %s %d %.17g %lld %d %d %u/%u %lld\n", (int)ev->type, ev->indicator,
            ev->series, p, (int)ev->action, ev->value, (long long)ev->centi, (int)ev->band,
            (int)ev->achieved, ev->have, ev->want, (long long)ev->time_ms);
    return 0;
}

static int values(void *ctx, const char *d, const char *e, pw_period_t p, double v)
{
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(p, ptext);
    fprintf(ctx, "%s %s %s %.17g\n", d, e, ptext, v);
    return 0;
}

static int64_t span_ms(void)
{
    pw_store_t *st = NULL;
    pw_store_opts_t o = {.readonly = true};
    cr_assert_eq(pw_store_open(&st, store, &o), 0);
    pw_txn_t *t;
    cr_assert_eq(pw_store_begin(st, false, &t), 0);
    struct span {
        int64_t first, last;
    } s = {0, 0};
    cr_assert_eq(pw_store_log_foreach(t, 1, UINT64_MAX, cb, &s), 0);
    pw_store_abort(&t);
    pw_store_destroy(&st);
    return s.last - s.first;
}


Test(replay, speeds_follow_the_stored_pace)
{
    int64_t span = span_ms();
    char *out, *err;
    int64_t t0 = pw_mono_ms();
    cr_assert_eq(replay((char *[]){"--speed", "original", "--quiet", NULL}, &out, &err), 0);
    int64_t original = pw_mono_ms() - t0;
    free(out);
    free(err);
    t0 = pw_mono_ms();
    cr_assert_eq(replay((char *[]){"--speed", "x4", "--quiet", NULL}, &out, &err), 0);
    int64_t x4 = pw_mono_ms() - t0;
    free(out);
    free(err);
    t0 = pw_mono_ms();
    cr_assert_eq(replay((char *[]){"--speed", "max", "--quiet", NULL}, &out, &err), 0);
    int64_t max = pw_mono_ms() - t0;
    free(out);
    free(err);
    cr_assert_geq(original, span * 8 / 10, "original pace: %lld ms for a %lld ms history",
                  (long long)original, (long long)span);
    cr_assert_geq(x4, span / 4 * 8 / 10, "x4: %lld ms", (long long)x4);
    cr_assert_lt(x4, original, "x4 faster than original");
    cr_assert_leq(max, x4 + 200, "max is no slower than x4");
}

Test(replay, rebuild_is_identical_and_deterministic)
{
    char into[128];
    snprintf(into, sizeof(into), "%s/r", fx.dir);
    char *out, *err, *a, *b, *e2;
    cr_assert_eq(replay((char *[]){"--into", into, "--quiet", NULL}, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    /* Two replays of the same store give the same bytes. */
    cr_assert_eq(replay((char *[]){"--json", "--quiet", NULL}, &a, &err), 0);
    free(err);
    cr_assert_eq(replay((char *[]){"--json", "--quiet", NULL}, &b, &err), 0);
    free(err);
    cr_assert_str_eq(a, b, "replay is deterministic");
    cr_assert_gt(pw_count(a, "\n"), 300, "a stream of events");
    /* The rebuilt store replays to exactly the same events. */
    char *args[] = {"replay", "--store", into, "--json", "--quiet", NULL};
    cr_assert_eq(pw_fixture_run(&fx, args, 60000, &e2, &err), 0);
    free(err);
    cr_assert_str_eq(a, e2, "the rebuilt store holds the same history");
    free(a);
    free(b);
    free(e2);
    /* Values, rate rows, open alerts and the alert history are equal too. */
    const char *stores[2] = {store, into};
    char *dump[2];
    for (int i = 0; i < 2; i++) {
        pw_store_t *st = NULL;
        pw_store_opts_t o = {.readonly = true};
        cr_assert_eq(pw_store_open(&st, stores[i], &o), 0);
        pw_txn_t *t;
        cr_assert_eq(pw_store_begin(st, false, &t), 0);
        size_t len = 0;
        FILE *f = open_memstream(&dump[i], &len);
        cr_assert_eq(pw_store_current_foreach(t, values, f), 0);
        cr_assert_eq(pw_store_rate_foreach(t, rows, f), 0);
        cr_assert_eq(pw_store_open_foreach(t, rows, f), 0);
        cr_assert_eq(pw_store_alert_foreach(t, rows, f), 0);
        fclose(f);
        pw_store_abort(&t);
        pw_store_destroy(&st);
    }
    cr_assert_str_eq(dump[0], dump[1]);
    cr_assert_gt(strlen(dump[0]), 1000);
    free(dump[0]);
    free(dump[1]);
    /* A rebuild never mixes into a store with history. */
    cr_assert_eq(replay((char *[]){"--into", into, "--quiet", NULL}, &out, &err), 1);
    cr_assert(strstr(err, "already holds a store"), "%s", err);
    free(out);
    free(err);
}



Test(replay, as_of_shows_what_was_open_then)
{
    char *out, *err;
    cr_assert_eq(replay((char *[]){"--as-of", "2017", "--quiet", NULL}, &out, &err), 0, "%s",
                 err);
    cr_assert(strstr(out, "Evaluation table at 2017"), "%s", out);
    cr_assert(strstr(out, "Open alerts: 3"), "%s", out);
    cr_assert(strstr(out, "ALERT OPEN    elderly_care_beds") &&
                  strstr(out, "ALERT OPEN    beds_per_1000_elderly") &&
                  strstr(out, "ALERT OPEN    volunteer_share"),
              "%s", out);
    free(out);
    free(err);
    cr_assert_eq(replay((char *[]){"--as-of", "2018H1", "--quiet", NULL}, &out, &err), 0);
    cr_assert(strstr(out, "Open alerts: 1"), "%s", out);
    free(out);
    free(err);
    /* After the first 329 records only the base year is in: nothing is open. */
    cr_assert_eq(replay((char *[]){"--as-of", "329", "--quiet", NULL}, &out, &err), 0);
    cr_assert(strstr(out, "at 2015") && strstr(out, "Open alerts: 0"), "%s", out);
    free(out);
    free(err);
}

Test(replay, what_if_lists_how_the_timeline_differs)
{
    char *out, *err;
    cr_assert_eq(replay((char *[]){"--threshold", "50", "--json", "--quiet", NULL}, &out, &err),
                 0, "%s", err);
    /* At 50, elderly-care beds (44.10 in 2018H1) never resolves. */
    cr_assert(strstr(out, "{\"whatif\":\"removed\",\"alert\":\"resolve\",\"indicator\":"
                          "\"elderly_care_beds\""),
              "%s", out);
    cr_assert(strstr(out, "\"whatif_summary\":{\"same\":4,\"added\":0,\"removed\":1}"), "%s",
              out);
    free(out);
    free(err);
    /* A catalog with a lower target for the headline indicator: no alert for it. */
    char cat[128], cmd[512];
    snprintf(cat, sizeof(cat), "%s/whatif.conf", fx.dir);
    snprintf(cmd, sizeof(cmd),
             "sed '/^\\[indicator beds_per_1000_elderly\\]/,/^value/s/^target *= *50/target = 40/'"
             " %s/data/wuhan/catalog.conf > %s",
             PW_SOURCE_DIR, cat);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(replay((char *[]){"--what-if-catalog", cat, "--quiet", NULL}, &out, &err), 0,
                 "%s", err);
    cr_assert(strstr(out, "- open    beds_per_1000_elderly 2016"), "%s", out);
    cr_assert(strstr(out, "only in the stored timeline"));
    free(out);
    free(err);
}

Test(replay, into_a_running_aggregator_like_collectors)
{
    cr_assert_eq(pw_fixture_use_tcp(&fx), 0);
    char *aargs[] = {"--insecure", NULL}, *intake = fx.intake, *target = fx.store;
    cr_assert_eq(pw_fixture_start_aggregator(&fx, aargs), 0);
    char *out, *err;
    cr_assert_eq(
        replay((char *[]){"--connect", intake, "--insecure", "--speed", "x50", NULL}, &out, &err),
        0, "%s", err);
    cr_assert(strstr(err, "sent 1501 updates") && strstr(err, "1501 stored, 0 rejected"), "%s",
              err);
    free(out);
    free(err);
    /* Sent again, as new collector instances: stored as "same", no rate moves. */
    cr_assert_eq(replay((char *[]){"--connect", intake, "--insecure", NULL}, &out, &err), 0, "%s",
                 err);
    free(out);
    free(err);
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
    /* The target went through the same alert history as the source. */
    char *args[] = {"replay", "--store", target, "--quiet", NULL}, *a, *b;
    cr_assert_eq(pw_fixture_run(&fx, args, 60000, &a, &err), 0);
    free(err);
    cr_assert_eq(replay((char *[]){"--quiet", NULL}, &b, &err), 0);
    free(err);
    const char *order[] = {"OPEN    elderly_care_beds", "OPEN    beds_per_1000_elderly",
                           "OPEN    volunteer_share", "RESOLVE volunteer_share",
                           "RESOLVE elderly_care_beds"};
    for (size_t i = 0; i < 5; i++)
        cr_assert(strstr(a, order[i]) && strstr(b, order[i]), "%s", order[i]);
    cr_assert_eq(pw_count(a, "ALERT "), pw_count(b, "ALERT "), "%s\n---\n%s", a, b);
    free(a);
    free(b);
}
