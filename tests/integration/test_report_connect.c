/* SPDX-License-Identifier: MIT */
/*
 * `planwatch report --connect` on a store of realistic size: 13 districts of
 * 15 000 updates each (130 elements, ratio indicators, every month, quarter,
 * half and year of 2015-2020).
 * The report must come back within its --timeout and equal the one read from
 * the store; one request's answer is a bounded page; a publisher that does
 * not answer makes the report give up at its --timeout, saying so.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "client.h"
#include "fixture.h"
#include "pw/bureau.h"
#include "pw/error.h"
#include "model.h"
#include "loader.h"
#include "pw/util.h"
#include "store.h"

#define NDIST    13
#define NELEM    130
#define NPERIODS 114 /* 72 months, 24 quarters, 12 halves, 6 years */
#define NUPDATES 15000

static pw_fixture_t fx;
static char catalog[128];

static void setup(void)
{
    cr_assert_eq(pw_fixture_open(&fx), 0);
    pw_fixture_path(&fx, catalog, sizeof(catalog), "catalog.conf");
}

static void teardown(void)
{
    pw_fixture_close(&fx);
}

TestSuite(report_connect, .init = setup, .fini = teardown, .timeout = 120.0);

static void write_catalog(void)
{
    /* Ratios, so that the report has a table of each district's own figures. */
    pw_fixture_plan_t plan = pw_fixture_plan("large store", NDIST, NELEM);
    plan.district_width = 2;
    plan.width = 3;
    plan.ratio = 1;
    cr_assert_eq(pw_fixture_write_plan(catalog, &plan), 0);
}

static int persist(void *ctx, pw_event_t *ev)
{
    return pw_store_persist_event(ctx, ev);
}

/*
 * The store as an aggregator leaves it after NDIST x NUPDATES updates: each
 * one a record in the update log and the current value of its (district,
 * element, period), every period and element once, then revisions of the
 * first ones; then the rate rows, events and alerts of the model's flush.
 * Written through the store and model APIs in a second or two, even under
 * ASan (an import through the rebuild engine takes 25 s there).
 */
static void write_store(void)
{
    static const char *const halves[] = {"H1", "H2"};
    pw_period_t periods[NPERIODS];
    int n = 0;
    for (int y = 2015; y <= 2020; y++) {
        char t[32];
        for (int m = 1; m <= 12; m++) {
            snprintf(t, sizeof(t), "%d-%02d", y, m);
            cr_assert_eq(pw_period_parse(t, strlen(t), &periods[n++]), 0);
        }
        for (int q = 1; q <= 4; q++) {
            snprintf(t, sizeof(t), "%dQ%d", y, q);
            cr_assert_eq(pw_period_parse(t, strlen(t), &periods[n++]), 0);
        }
        for (int h = 0; h < 2; h++) {
            snprintf(t, sizeof(t), "%d%s", y, halves[h]);
            cr_assert_eq(pw_period_parse(t, strlen(t), &periods[n++]), 0);
        }
        snprintf(t, sizeof(t), "%d", y);
        cr_assert_eq(pw_period_parse(t, strlen(t), &periods[n++]), 0);
    }
    cr_assert_eq(n, NPERIODS);
    pw_store_t *st = NULL;
    pw_txn_t *txn = NULL;
    cr_assert_eq(pw_store_open(&st, fx.store, NULL), 0);
    cr_assert_eq(pw_store_begin(st, true, &txn), 0);
    int64_t t = 1500000000000LL;
    for (int d = 0; d < NDIST; d++)
        for (int k = 0; k < NUPDATES; k++) {
            int e = k % NELEM, p = (k / NELEM) % NPERIODS, v = k / (NELEM * NPERIODS);
            pw_msg_t rec;
            memset(&rec, 0, sizeof(rec));
            rec.type = PW_MSG_RECORD;
            snprintf(rec.district, sizeof(rec.district), "d%02d", d);
            snprintf(rec.element, sizeof(rec.element), "e%03d", e);
            rec.epoch = 1;
            rec.seq = (uint64_t)k + 1;
            rec.period = periods[p];
            rec.value = 1000 + 7 * e + 3 * p + v + d / 100.0;
            rec.observed_ms = rec.received_ms = t++;
            rec.kind = v ? PW_RECORD_REVISION : PW_RECORD_NEW;
            uint64_t logseq;
            cr_assert_eq(pw_store_log_append(txn, &rec, &logseq), 0);
            cr_assert_eq(pw_store_current_put(txn, rec.district, rec.element, rec.period,
                                              rec.value, logseq), 0);
        }
    pw_catalog_t *cat = NULL;
    pw_model_t *m = NULL;
    char err[512] = "";
    cr_assert_eq(pw_catalog_load(catalog, &cat, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pw_state_load_values(cat, txn, &m), 0);
    cr_assert_eq(pw_model_flush(m, t, persist, txn), 0);
    cr_assert_eq(pw_store_commit(&txn), 0);
    pw_model_destroy(&m);
    pw_catalog_destroy(&cat);
    pw_store_destroy(&st);
}

/* The store, and a publisher serving it. */
static void start_publisher(void)
{
    write_catalog();
    write_store();
    char *args[] = {"--catalog", catalog, "--log-level", "info", NULL};
    cr_assert_eq(pw_fixture_start_publisher(&fx, args), 0, "publisher not ready: %s", fx.pub_log);
}

Test(report_connect, large_store_within_its_timeout_and_equal_to_the_store)
{
    start_publisher();
    char *ta, *tb, *err;
    char *rs[] = {"report", "--store", fx.store, "--catalog", catalog, NULL};
    cr_assert_eq(pw_fixture_run(&fx, rs, 60000, &tb, &err), 0);
    free(err);
    /* The killing timeout is the report's own plus a little: a report that
     * overruns its --timeout fails here, as one that hangs does. */
    int64_t t0 = pw_mono_ms();
    char *rc[] = {"report", "--connect", fx.stream, "--catalog", catalog, "--timeout", "10", NULL};
    int code = pw_fixture_run(&fx, rc, 12000, &ta, &err);
    free(err);
    int64_t took = pw_mono_ms() - t0;
    cr_assert_eq(code, 0, "report --connect exited %d after %lld ms", code, (long long)took);
    cr_assert_lt(took, 10000, "report --connect took %lld ms", (long long)took);
    cr_assert(ta && tb);
    cr_assert(strstr(tb, "Evaluation report at 2020-12"), "%.300s", tb);
    cr_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    cr_assert_eq(pw_proc_stop(&fx.pub, 10000), 0, "publisher did not stop cleanly");
}

/* Asks for every page of the city's (d = "") or a district's figures. */
static size_t count_pages(pw_client_t *c, const char *d, size_t *rows_out)
{
    pw_request_t req = {.type = PW_REQ_ROWS};
    snprintf(req.district, sizeof(req.district), "%s", d);
    size_t pages = 0;
    *rows_out = 0;
    for (;;) {
        pw_reply_t rep = {0};
        int rc = pw_client_request(c, &req, 10000, &rep);
        cr_assert_eq(rc, 0, "page %zu: %s", pages, pw_strerror(rc));
        cr_assert_eq(rep.type, PW_REQ_ROWS);
        cr_assert_leq(rep.nrows, PW_ROWS_MAX, "a page of %zu rows", rep.nrows);
        pages++;
        *rows_out += rep.nrows;
        bool more = rep.has_next;
        if (more) {
            cr_assert_eq(rep.nrows, PW_ROWS_MAX, "a short page that is not the last");
            cr_assert_eq(rep.next, req.from + rep.nrows);
        }
        req.from = rep.next;
        pw_reply_clear(&rep);
        if (!more)
            break;
    }
    return pages;
}

Test(report_connect, one_answer_is_one_bounded_page)
{
    start_publisher();
    pw_client_t *c = NULL;
    cr_assert_eq(pw_client_new(fx.stream, NULL, NULL, &c), 0);
    size_t rows, total = (size_t)NELEM * NPERIODS;
    size_t pages = count_pages(c, "", &rows);
    cr_assert_eq(rows, total, "city: %zu rows, want %zu", rows, total);
    cr_assert_eq(pages, (total + PW_ROWS_MAX - 1) / PW_ROWS_MAX);
    count_pages(c, "d07", &rows);
    cr_assert_eq(rows, total, "d07: %zu rows, want %zu", rows, total);

    /* Past the end: an empty last page; up to a period: only its rows. */
    pw_request_t req = {.type = PW_REQ_ROWS, .from = total};
    pw_reply_t rep = {0};
    cr_assert_eq(pw_client_request(c, &req, 10000, &rep), 0);
    cr_assert(rep.nrows == 0 && !rep.has_next);
    req.from = 0;
    req.has_period = true;
    cr_assert_eq(pw_period_parse("2015-02", 7, &req.period), 0);
    cr_assert_eq(pw_client_request(c, &req, 10000, &rep), 0);
    cr_assert_eq(rep.nrows, 2 * NELEM, "2015-01 and 2015-02: %zu rows", rep.nrows);
    cr_assert(!rep.has_next);
    pw_reply_clear(&rep);
    pw_client_destroy(&c);
    cr_assert_eq(pw_proc_stop(&fx.pub, 10000), 0, "publisher did not stop cleanly");
}

Test(report_connect, no_answer_gives_up_at_the_timeout)
{
    char silent[160];
    snprintf(silent, sizeof(silent), "ipc://%s/nobody.sock", fx.dir);
    char *args[] = {"report", "--connect", silent, "--timeout", "1", NULL};
    char *text = NULL, *err = NULL;
    int64_t t0 = pw_mono_ms();
    int code = pw_fixture_run(&fx, args, 5000, &text, &err);
    int64_t took = pw_mono_ms() - t0;
    cr_assert_eq(code, 1, "exit %d", code);
    cr_assert_lt(took, 3000, "took %lld ms", (long long)took);
    cr_assert(err && strstr(err, "timed out after 1 s"), "%s", err ? err : "(no stderr)");
    free(text);
    free(err);
}
