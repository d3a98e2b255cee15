/* SPDX-License-Identifier: MIT */
/*
 * A store carries its plan. On a plan other than the demo's (6 districts, two
 * indicators, 2020-2025), written with --catalog and then read by every
 * command without it: the aggregator restarted, replay, replay --into and
 * verify, report from the store and from a publisher, the monitor. Then the
 * plan is revised (a mid-term target change): the revision is recorded with
 * the record it applies from, and a rebuild replays it where it happened.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "pw/catalog.h"
#include "store.h"

#define NDIST 6

static pw_fixture_t fx;
static char cat_a[96], cat_b[96];

/* The small plan, with target for both indicators. */
static void write_catalog(const char *path, int target)
{
    pw_fixture_plan_t plan = pw_fixture_plan("small plan 小规划", NDIST, 2);
    plan.base_year = 2020;
    plan.target_year = 2025;
    plan.first = 1;
    plan.district = "q";
    plan.element = "x";
    plan.indicator = "k";
    plan.target = plan.target_rest = target;
    cr_assert_eq(pw_fixture_write_plan(path, &plan), 0);
}

/* District d's file: 2021 and 2022, and 2023 when later. */
static void write_data(const char *path, int d, bool later)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "period,element,value\n2021,x1,%d\n2021,x2,%d\n2022,x1,%d\n2022,x2,%d\n", 180 + d,
            170 + d, 200 + 3 * d, 190 + d);
    if (later)
        fprintf(f, "2023,x1,%d\n2023,x2,%d\n", 230 + d, 200 + d);
    fclose(f);
}

static void setup(void)
{
    cr_assert_eq(pw_fixture_open(&fx), 0);
    pw_fixture_path(&fx, cat_a, sizeof(cat_a), "a.conf");
    pw_fixture_path(&fx, cat_b, sizeof(cat_b), "b.conf");
    write_catalog(cat_a, 2000);
    write_catalog(cat_b, 1500); /* the mid-term revision */
}

static void teardown(void)
{
    pw_fixture_close(&fx);
}

TestSuite(plan, .init = setup, .fini = teardown, .timeout = 240.0);

/* Starts the aggregator, with --catalog cat unless cat is NULL. */
static void start_aggregator(char *cat)
{
    char *args[] = {"--catalog", cat, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, cat ? args : NULL), 0, "%s",
                 pw_read_file(fx.agg_log));
}

static void stop_aggregator(void)
{
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
}

/* Every district sends its file (with 2023 when later); each must store all. */
static void send_all(bool later)
{
    for (int d = 1; d <= NDIST; d++) {
        char data[128], spool[128], id[16];
        snprintf(data, sizeof(data), "%s/q%d.csv", fx.dir, d);
        snprintf(spool, sizeof(spool), "%s/spool-q%d", fx.dir, d);
        snprintf(id, sizeof(id), "q%d", d);
        write_data(data, d, later);
        char *o, *e;
        int rc = pw_fixture_collect(&fx, id, data, spool, NULL, &o, &e);
        cr_assert_eq(rc, 0, "collector %s: %s%s", id, o, e);
        cr_assert(strstr(o, "0 rejected") || strstr(e, "0 rejected"), "%s%s", o, e);
        free(o);
        free(e);
    }
}

/* Runs planwatch with args (after "planwatch"); the exit code, output in *out and *err. */
static int run(char *const args[], char **out, char **err)
{
    return pw_fixture_run(&fx, args, 60000, out, err);
}

/* Rebuilds the store by replay into dir/rebuilt (its path into into), which
 * verify must find identical to it. */
static void rebuild_identical(char *into, size_t len)
{
    char *out, *err;
    snprintf(into, len, "%s/rebuilt", fx.dir);
    cr_assert_eq(
        run((char *[]){"replay", "--store", fx.store, "--into", into, "--quiet", NULL}, &out, &err),
        0, "%s", err);
    free(out);
    free(err);
    cr_assert_eq(run((char *[]){"verify", fx.store, into, NULL}, &out, &err), 0, "%s%s", out, err);
    cr_assert_str_eq(out, "identical\n");
    free(out);
    free(err);
}

/* The store written under plan A, the aggregator stopped. */
static void write_store(void)
{
    start_aggregator(cat_a);
    send_all(false);
    stop_aggregator();
}

Test(plan, every_reader_reads_the_store_with_its_own_plan)
{
    write_store();
    /* Restarted without --catalog, the aggregator goes on under the store's plan:
     * the districts' 2023 figures are all stored (under the built-in plan, q1..q6
     * would be unknown districts). */
    start_aggregator(NULL);
    send_all(true);
    stop_aggregator();

    char *out, *err;
    cr_assert_eq(run((char *[]){"replay", "--store", fx.store, NULL}, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "replayed 36 records (0 skipped)"), "%s", err);
    cr_assert(strstr(out, "ALERT OPEN    k2 指2 at 2021"), "%s", out);
    free(out);
    free(err);

    char into[128];
    rebuild_identical(into, sizeof(into));

    cr_assert_eq(run((char *[]){"report", "--store", fx.store, NULL}, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "Evaluation report at 2023"), "%s", out);
    cr_assert(strstr(out, "k1"), "%s", out);
    free(out);
    free(err);

    /* As of 2022, from the rebuilt store too: its plan was recorded with it. */
    cr_assert_eq(run((char *[]){"replay", "--store", into, "--as-of", "2022", NULL}, &out, &err),
                 0, "%s", err);
    cr_assert(strstr(out, "Evaluation table at 2022"), "%s", out);
    free(out);
    free(err);
}

Test(plan, a_catalog_that_is_not_the_stores_plan_is_an_error)
{
    write_store();
    char *out, *err;
    char *cmds[][8] = {
        {"replay", "--store", fx.store, "--catalog", cat_b, NULL},
        {"report", "--store", fx.store, "--catalog", cat_b, NULL},
        {"replay", "--store", fx.store, "--catalog", PW_SOURCE_DIR "/data/wuhan/catalog.conf",
         NULL},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        cr_assert_eq(run(cmds[i], &out, &err), 1, "%s %s: %s", cmds[i][0], cmds[i][4], err);
        cr_assert(strstr(err, "is not the plan store"), "%s", err);
        cr_assert(strstr(err, "leave out --catalog"), "%s", err);
        free(out);
        free(err);
    }
    /* The store's own plan, named, is fine. */
    cr_assert_eq(
        run((char *[]){"report", "--store", fx.store, "--catalog", cat_a, NULL}, &out, &err), 0,
        "%s", err);
    free(out);
    free(err);
    /* A what-if is asked for by name, and says how the timeline differs. */
    cr_assert_eq(run((char *[]){"replay", "--store", fx.store, "--what-if-catalog", cat_b, NULL},
                     &out, &err),
                 0, "%s", err);
    cr_assert(strstr(out, "only in the stored timeline"), "%s", out);
    free(out);
    free(err);
    /* Under a what-if plan that knows none of its districts, nothing is left: an error. */
    cr_assert_eq(run((char *[]){"replay", "--store", fx.store, "--what-if-catalog",
                                PW_SOURCE_DIR "/data/wuhan/catalog.conf", NULL},
                     &out, &err),
                 1, "%s", err);
    cr_assert(strstr(err, "24 of 24 records name districts or elements the what-if plan does "
                          "not have"),
              "%s", err);
    free(out);
    free(err);
}

Test(plan, a_revised_plan_applies_from_the_record_after_it)
{
    write_store();
    start_aggregator(cat_b);
    char log[sizeof(fx.agg.log)];
    memcpy(log, fx.agg.log, sizeof(log));
    send_all(true);
    stop_aggregator();
    char *alog = pw_read_file(log);
    cr_assert(strstr(alog, "plan revised: \"small plan 小规划\" applies from log record 25 on"),
              "%s", alog);
    free(alog);

    /* The report reads the latest plan: target 1500. */
    char *out, *err;
    cr_assert_eq(run((char *[]){"report", "--store", fx.store, NULL}, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "1500"), "%s", out);
    cr_assert(!strstr(out, "2000"), "%s", out);
    free(out);
    free(err);
    /* As of record 24, the plan of then: target 2000. */
    cr_assert_eq(run((char *[]){"replay", "--store", fx.store, "--as-of", "24", NULL}, &out, &err),
                 0, "%s", err);
    cr_assert(strstr(out, "2000"), "%s", out);
    free(out);
    free(err);
    /* The rebuild recomputes the rates where the aggregator did, and records both
     * versions: identical, plan versions included. */
    char into[128];
    rebuild_identical(into, sizeof(into));
    /* A what-if compares timelines; it rebuilds no store. */
    cr_assert_eq(run((char *[]){"replay", "--store", fx.store, "--into", into, "--quiet",
                                "--what-if-catalog", cat_b, NULL},
                     &out, &err),
                 2, "a what-if rebuilds nothing: %s", err);
    free(out);
    free(err);
    /* Under the old plan named as the store's, every command refuses. */
    cr_assert_eq(
        run((char *[]){"report", "--store", fx.store, "--catalog", cat_a, NULL}, &out, &err), 1,
        "%s", err);
    free(out);
    free(err);
}

Test(plan, publisher_and_its_clients_serve_the_stores_plan)
{
    write_store();
    cr_assert_eq(pw_fixture_start_publisher(&fx, NULL), 0, "%s", pw_read_file(fx.pub_log));

    char *out, *err, *local, *lerr;
    cr_assert_eq(run((char *[]){"report", "--store", fx.store, NULL}, &local, &lerr), 0, "%s",
                 lerr);
    cr_assert_eq(run((char *[]){"report", "--connect", fx.stream, NULL}, &out, &err), 0, "%s", err);
    cr_assert_str_eq(out, local, "from the publisher:\n%s\nfrom the store:\n%s", out, local);
    free(out);
    free(err);
    free(local);
    free(lerr);

    cr_assert_eq(run((char *[]){"monitor", "--connect", fx.stream, "--once", NULL}, &out, &err), 0,
                 "%s", err);
    cr_assert(strstr(out, "指2"), "%s", out);
    cr_assert(strstr(out, "6/6"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(
        run((char *[]){"monitor", "--connect", fx.stream, "--status", "--once", NULL}, &out, &err),
        0, "%s", err);
    cr_assert(strstr(out, "q6"), "%s", out);
    free(out);
    free(err);
    /* A catalog that is not the plan the publisher serves is an error. */
    cr_assert_eq(
        run((char *[]){"monitor", "--connect", fx.stream, "--once", "--catalog", cat_b, NULL}, &out,
            &err),
        1, "%s", err);
    cr_assert(strstr(err, "is not the plan"), "%s", err);
    free(out);
    free(err);
    /* A running monitor follows a revision of the plan. */
    pw_proc_t mon;
    char mlog[128];
    snprintf(mlog, sizeof(mlog), "%s/monitor.log", fx.dir);
    char *margs[] = {"planwatch", "monitor", "--connect", fx.stream, "--json", NULL};
    cr_assert_eq(pw_proc_spawn(&mon, PLANWATCH_BIN, margs, mlog), 0);
    /* Its table printed: it has read the plan of before. */
    cr_assert_eq(pw_proc_wait_log(&mon, "\"indicator\":\"k2\"", 15000), 0, "%s",
                 pw_read_file(mlog));
    start_aggregator(cat_b);
    cr_assert_eq(pw_proc_wait_log(&mon, "the plan was revised: now \"small plan", 30000), 0,
                 "%s", pw_read_file(mlog));
    stop_aggregator();
    cr_assert_eq(pw_proc_stop(&mon, 10000), 0);
    cr_assert_eq(pw_proc_stop(&fx.pub, 10000), 0);
}

/* A store as written before stores recorded their plan: the catalog's digest only. */
static void write_old_store(const char *catalog)
{
    char err[256];
    pw_catalog_t *cat = NULL;
    cr_assert_eq(pw_catalog_load(catalog, &cat, err, sizeof(err)), 0, "%s", err);
    pw_store_t *s = NULL;
    pw_store_opts_t so = {.readonly = false};
    cr_assert_eq(pw_store_open(&s, fx.store, &so), 0);
    pw_txn_t *txn = NULL;
    cr_assert_eq(pw_store_begin(s, true, &txn), 0);
    cr_assert_eq(pw_store_put_digest(txn, cat->digest), 0);
    cr_assert_eq(pw_store_commit(&txn), 0);
    pw_store_destroy(&s);
    pw_catalog_destroy(&cat);
}

Test(plan, an_older_store_is_read_with_the_catalog_its_digest_names)
{
    write_old_store(cat_a);
    char *out, *err;
    /* The default (Wuhan) catalog is not the one it was written with: said, exit 1. */
    cr_assert_eq(run((char *[]){"replay", "--store", fx.store, NULL}, &out, &err), 1, "%s", err);
    cr_assert(strstr(err, "was written with another catalog"), "%s", err);
    cr_assert(strstr(err, "does not record its plan"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(
        run((char *[]){"report", "--store", fx.store, "--catalog", cat_b, NULL}, &out, &err), 1,
        "%s", err);
    cr_assert(strstr(err, "was written with another catalog"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(
        run((char *[]){"replay", "--store", fx.store, "--catalog", cat_a, NULL}, &out, &err), 0,
        "%s", err);
    free(out);
    free(err);
    /* Its aggregator, with the catalog it was written with, records it from record 1. */
    start_aggregator(cat_a);
    send_all(false);
    stop_aggregator();
    cr_assert_eq(run((char *[]){"replay", "--store", fx.store, NULL}, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "replayed 24 records (0 skipped)"), "%s", err);
    free(out);
    free(err);
    /* Started without --catalog on an older store of another plan, it refuses
     * rather than rate it under the built-in one. */
    snprintf(fx.store, sizeof(fx.store), "%s/old2", fx.dir);
    write_old_store(cat_b);
    cr_assert_eq(
        run((char *[]){"aggregator", "--store", fx.store, "--bind", fx.intake, NULL}, &out, &err),
        1, "%s", err);
    cr_assert(strstr(err, "was written with another catalog"), "%s", err);
    free(out);
    free(err);
}
