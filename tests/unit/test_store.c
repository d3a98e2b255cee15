/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
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

struct seen {
    char text[4096];
};

static int collect(void *ctx, const char *district, const char *element, pw_period_t p,
                   double value)
{
    struct seen *sn = ctx;
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(p, ptext);
    size_t n = strlen(sn->text);
    snprintf(sn->text + n, sizeof(sn->text) - n, "%s/%s/%s=%g;", district, element, ptext, value);
    return 0;
}

/* Sorted lines, so that two key orders can be compared as sets. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted(const char *in, char *out, size_t len)
{
    char buf[4096], *parts[64];
    size_t n = 0;
    snprintf(buf, sizeof(buf), "%s", in);
    for (char *t = strtok(buf, ";"); t && n < 64; t = strtok(NULL, ";"))
        parts[n++] = t;
    qsort(parts, n, sizeof(parts[0]), cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s;", parts[i]);
}

/* Rewrites the store as format 1 wrote it: current keys district, element, period. */
static void make_format_1(void)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi cur, meta;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "current", 0, &cur), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_cursor *c;
    MDB_val k, v;
    char keys[16][64], vals[16][16];
    size_t klen[16], n = 0;
    cr_assert_eq(mdb_cursor_open(txn, cur, &c), 0);
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0 && n < 16) {
        /* district \0 period \0 element \0  ->  district \0 element \0 period \0 */
        const char *d = k.mv_data, *p = d + strlen(d) + 1, *e = p + strlen(p) + 1;
        klen[n] = (size_t)snprintf(keys[n], sizeof(keys[n]), "%s%c%s%c%s", d, 0, e, 0, p) + 1;
        cr_assert_eq(v.mv_size, 16);
        memcpy(vals[n], v.mv_data, 16);
        n++;
    }
    mdb_cursor_close(c);
    cr_assert_eq(mdb_drop(txn, cur, 0), 0);
    for (size_t i = 0; i < n; i++) {
        MDB_val nk = {klen[i], keys[i]}, nv = {16, vals[i]};
        cr_assert_eq(mdb_put(txn, cur, &nk, &nv, 0), 0);
    }
    uint32_t fmt = 1;
    MDB_val fk = {6, "format"}, fv = {sizeof(fmt), &fmt};
    cr_assert_eq(mdb_put(txn, meta, &fk, &fv, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void current_text(pw_store_t *st, char *out, size_t len)
{
    pw_txn_t *t;
    struct seen sn = {{0}};
    cr_assert_eq(pw_store_begin(st, false, &t), PW_OK);
    cr_assert_eq(pw_store_current_foreach(t, collect, &sn), PW_OK);
    double v;
    cr_assert_eq(pw_store_current_get(t, "qiaokou", "care_beds", per("2017H1"), &v, NULL), PW_OK);
    cr_assert_float_eq(v, 4.5, 1e-12);
    pw_store_abort(&t);
    sorted(sn.text, out, len);
}

Test(store, format_1_is_read_as_it_is_and_converted_when_written)
{
    static const char *const ds[] = {"jiangan", "qiaokou"}, *const es[] = {"care_beds", "orgs"},
                             *const ps[] = {"2016", "2017H1", "2017-03"};
    pw_txn_t *t;
    cr_assert_eq(pw_store_begin(store, true, &t), PW_OK);
    double x = 1;
    for (size_t d = 0; d < 2; d++)
        for (size_t e = 0; e < 2; e++)
            for (size_t p = 0; p < 3; p++, x += 0.5)
                cr_assert_eq(pw_store_current_put(t, ds[d], es[e], per(ps[p]), x, 1), PW_OK);
    cr_assert_eq(pw_store_commit(&t), PW_OK);
    char want[4096], got[4096];
    current_text(store, want, sizeof(want));
    cr_assert_eq(strlen(want) > 0, 1);
    pw_store_destroy(&store);

    make_format_1();
    pw_store_opts_t ro = {.readonly = true};
    cr_assert_eq(pw_store_open(&store, dir, &ro), PW_OK, "a reader takes format 1 as it is");
    current_text(store, got, sizeof(got));
    cr_assert_str_eq(got, want);
    pw_store_destroy(&store);

    cr_assert_eq(pw_store_open(&store, dir, NULL), PW_OK, "a writer converts it");
    current_text(store, got, sizeof(got));
    cr_assert_str_eq(got, want);
    cr_assert_eq(pw_store_begin(store, true, &t), PW_OK);
    cr_assert_eq(pw_store_current_put(t, "jiangan", "orgs", per("2016"), 99, 2), PW_OK);
    cr_assert_eq(pw_store_commit(&t), PW_OK);
    pw_store_destroy(&store);

    /* On disk now: format 2, keys district, period, element, and the new value. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi cur, meta;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "current", 0, &cur), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {6, "format"}, v;
    cr_assert_eq(mdb_get(txn, meta, &k, &v), 0);
    uint32_t fmt;
    memcpy(&fmt, v.mv_data, sizeof(fmt));
    cr_assert_eq(fmt, 2);
    static char key[] = "jiangan\0" "2016\0" "orgs";
    k = (MDB_val){sizeof(key), key};
    cr_assert_eq(mdb_get(txn, cur, &k, &v), 0, "keyed district, period, element");
    double nv;
    memcpy(&nv, v.mv_data, sizeof(nv));
    cr_assert_float_eq(nv, 99.0, 1e-12);
    MDB_stat stat;
    cr_assert_eq(mdb_stat(txn, cur, &stat), 0);
    cr_assert_eq(stat.ms_entries, 12, "nothing lost or doubled in the conversion");
    mdb_txn_abort(txn);
    mdb_env_close(env);
    cr_assert_eq(pw_store_open(&store, dir, NULL), PW_OK); /* for teardown */
}
