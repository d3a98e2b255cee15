/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pw/error.h"
#include "store.h"
#include "tmpdir.h"

static char dir[64];
static pw_store_t *store;

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
    int rc = pw_store_open(&store, dir, NULL);
    cr_assert_eq(rc, PW_OK, "%s", pw_strerror(rc));
}

static void teardown(void)
{
    pw_store_destroy(&store);
    pw_tmpdir_remove(dir);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 10.0);

static pw_period_t per(const char *s)
{
    pw_period_t p;
    cr_assert_eq(pw_period_parse(s, strlen(s), &p), 0);
    return p;
}

static pw_msg_t record(uint64_t seq, double v)
{
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_RECORD;
    snprintf(m.district, sizeof(m.district), "jiangan");
    m.epoch = 7;
    m.seq = seq;
    snprintf(m.element, sizeof(m.element), "care_beds");
    m.period = per("2016");
    m.value = v;
    m.observed_ms = 1000;
    m.received_ms = 2000;
    return m;
}

static int count_log(void *ctx, uint64_t seq, const pw_msg_t *rec)
{
    size_t *n = ctx;
    cr_assert_eq(seq, *n + 1, "log is dense and ordered");
    cr_assert_eq(rec->seq, seq);
    (*n)++;
    return 0;
}

Test(store, committed_data_survives_a_reopen)
{
    pw_txn_t *t;
    cr_assert_eq(pw_store_begin(store, true, &t), PW_OK);
    for (uint64_t s = 1; s <= 3; s++) {
        pw_msg_t m = record(s, 100.0 * (double)s);
        uint64_t logseq;
        cr_assert_eq(pw_store_log_append(t, &m, &logseq), PW_OK);
        cr_assert_eq(logseq, s);
        cr_assert_eq(pw_store_current_put(t, "jiangan", "care_beds", per("2016"), m.value,
                                          logseq),
                     PW_OK);
    }
    cr_assert_eq(pw_store_seq_put(t, "jiangan", 7, 3, 2000), PW_OK);
    cr_assert_eq(pw_store_commit(&t), PW_OK);
    cr_assert_null(t);

    pw_store_destroy(&store);
    cr_assert_eq(pw_store_open(&store, dir, NULL), PW_OK);
    cr_assert_eq(pw_store_begin(store, false, &t), PW_OK);
    double v;
    uint64_t logseq, last;
    cr_assert_eq(pw_store_current_get(t, "jiangan", "care_beds", per("2016"), &v, &logseq),
                 PW_OK);
    cr_assert_float_eq(v, 300.0, 1e-12, "the revision replaced the value");
    cr_assert_eq(logseq, 3);
    size_t n = 0;
    cr_assert_eq(pw_store_log_foreach(t, 1, UINT64_MAX, count_log, &n), PW_OK);
    cr_assert_eq(n, 3, "the log keeps every revision");
    cr_assert_eq(pw_store_seq_get(t, "jiangan", 7, &last, NULL), PW_OK);
    cr_assert_eq(last, 3);
    cr_assert_eq(pw_store_seq_get(t, "jiangan", 8, &last, NULL), PW_OK);
    cr_assert_eq(last, 0, "another epoch starts from zero");
    pw_store_abort(&t);
}

Test(store, aborted_transaction_leaves_nothing)
{
    pw_txn_t *t;
    cr_assert_eq(pw_store_begin(store, true, &t), PW_OK);
    pw_msg_t m = record(1, 5);
    cr_assert_eq(pw_store_log_append(t, &m, NULL), PW_OK);
    pw_store_abort(&t);
    cr_assert_eq(pw_store_begin(store, false, &t), PW_OK);
    uint64_t head = 99;
    cr_assert_eq(pw_store_log_head(t, &head), PW_OK);
    cr_assert_eq(head, 0);
    pw_store_abort(&t);
}

static int count_ev(void *ctx, const pw_event_t *ev)
{
    (void)ev;
    (*(size_t *)ctx)++;
    return 0;
}

Test(store, events_are_numbered_and_ranged)
{
    pw_txn_t *t;
    cr_assert_eq(pw_store_begin(store, true, &t), PW_OK);
    for (int i = 0; i < 10; i++) {
        pw_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = PW_EV_RATE;
        snprintf(ev.indicator, sizeof(ev.indicator), "x%d", i % 3);
        ev.period = per("2016");
        cr_assert_eq(pw_store_event_append(t, &ev), PW_OK);
        cr_assert_eq(ev.seq, (uint64_t)i + 1);
        cr_assert_eq(pw_store_rate_put(t, &ev), PW_OK);
    }
    cr_assert_eq(pw_store_commit(&t), PW_OK);
    cr_assert_eq(pw_store_begin(store, false, &t), PW_OK);
    size_t n = 0;
    cr_assert_eq(pw_store_event_foreach(t, 4, 8, 100, count_ev, &n), PW_OK);
    cr_assert_eq(n, 5);
    n = 0;
    cr_assert_eq(pw_store_event_foreach(t, 1, 10, 3, count_ev, &n), PW_OK);
    cr_assert_eq(n, 3, "max bounds a range");
    n = 0;
    cr_assert_eq(pw_store_rate_foreach(t, count_ev, &n), PW_OK);
    cr_assert_eq(n, 3, "one row per indicator/series/period");
    pw_store_abort(&t);
}

Test(store, readonly_open_of_a_missing_store_fails_cleanly)
{
    pw_store_t *ro = NULL;
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/nothing-here", dir);
    pw_store_opts_t o = {.readonly = true};
    cr_assert_neq(pw_store_open(&ro, missing, &o), PW_OK);
    cr_assert_null(ro);
}

Test(store, readonly_store_refuses_writes)
{
    pw_store_opts_t o = {.readonly = true};
    pw_store_t *ro = NULL;
    /* Readers in the same process are fine in LMDB only through one env, so
     * close ours first (LMDB: never open an environment twice in a process). */
    pw_store_destroy(&store);
    cr_assert_eq(pw_store_open(&ro, dir, &o), PW_OK);
    pw_txn_t *t = NULL;
    cr_assert_neq(pw_store_begin(ro, true, &t), PW_OK);
    cr_assert_null(t);
    pw_store_destroy(&ro);
}
