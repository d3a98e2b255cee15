/* SPDX-License-Identifier: MIT */
/* One intake batch applied to a real LMDB store, without sockets: what is
 * stored, what is answered, and what the model emits (aggregator/batch.h). */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "batch.h"
#include "pw/error.h"
#include "store.h"
#include "tmpdir.h"

static const char catalog_text[] =
    "[plan]\nname = batch test plan\nbase_year = 2015\ntarget_year = 2020\n"
    "[district a]\nname_zh = 甲\nname_en = A\nlevel = district\n"
    "[district b]\nname_zh = 乙\nname_en = B\nlevel = district\n"
    "[district city]\nname_zh = 市\nname_en = City\nlevel = city\n"
    "[element beds]\nname_zh = 床\nname_en = beds\nunit = beds\nkind = count\nlevel = district\n"
    "[element elderly]\nname_zh = 老\nname_en = elderly\nunit = p\nkind = count\nlevel = district\n"
    "[indicator ratio]\nrow = 1\nname_zh = 每千\nname_en = per 1000\ncategory = c\nunit = beds\n"
    "attribute = binding\nbase = 37\ntarget = 50\ntarget_kind = exact\nmethod = linear\n"
    "decimals = 1\nvalue = ratio beds / elderly * 1000\n";

#define EPOCH   7
#define NOW_MS  1800000000000 /* 2027: every period of the plan is over */
#define MAX_MSG 64

static char dir[64];
static pw_catalog_t *cat;
static pw_store_t *store;
static pw_batch_t *batch;
static pw_batch_msg_t msgs[MAX_MSG];
static size_t nmsgs;

static void open_batch(void)
{
    pw_batch_opts_t opts = {.catalog = cat, .store = store, .max = MAX_MSG};
    int rc = pw_batch_new(&opts, &batch);
    cr_assert_eq(rc, PW_OK, "%s", pw_strerror(rc));
}

static void setup(void)
{
    char err[256] = "";
    int rc =
        pw_catalog_parse("batch.conf", catalog_text, strlen(catalog_text), &cat, err, sizeof(err));
    cr_assert_eq(rc, PW_OK, "%s", err);
    cr_assert_eq(pw_tmpdir_make(dir), 0);
    rc = pw_store_open(&store, dir, NULL);
    cr_assert_eq(rc, PW_OK, "%s", pw_strerror(rc));
    open_batch();
    nmsgs = 0;
}

static void teardown(void)
{
    pw_batch_destroy(&batch);
    pw_store_destroy(&store);
    pw_tmpdir_remove(dir);
    pw_catalog_destroy(&cat);
}

TestSuite(batch, .init = setup, .fini = teardown, .timeout = 10.0);

static pw_period_t per(const char *s)
{
    pw_period_t p;
    cr_assert_eq(pw_period_parse(s, strlen(s), &p), 0);
    return p;
}

/* Queues a message of frame `from` for the next batch. */
static pw_msg_t *add(int from, pw_msg_type_t type, const char *district, uint64_t seq)
{
    cr_assert_lt(nmsgs, MAX_MSG);
    pw_batch_msg_t *bm = &msgs[nmsgs++];
    memset(bm, 0, sizeof(*bm));
    bm->from = from;
    bm->auth = PW_BATCH_AUTH_NONE;
    bm->m.type = type;
    snprintf(bm->m.district, sizeof(bm->m.district), "%s", district);
    bm->m.epoch = EPOCH;
    bm->m.seq = seq;
    return &bm->m;
}

static void hello(int from, const char *district)
{
    add(from, PW_MSG_HELLO, district, 0);
}

static void update(int from, const char *district, uint64_t seq, const char *element,
                   const char *period, double value)
{
    pw_msg_t *m = add(from, PW_MSG_UPDATE, district, seq);
    snprintf(m->element, sizeof(m->element), "%s", element);
    m->period = per(period);
    m->value = value;
    m->observed_ms = NOW_MS - 1000;
}

/* Applies the queued messages as one batch; its replies. */
static const pw_batch_reply_t *apply(size_t *n_out)
{
    int rc = pw_batch_apply(batch, msgs, nmsgs, NOW_MS);
    cr_assert_eq(rc, PW_OK, "%s", pw_strerror(rc));
    nmsgs = 0;
    return pw_batch_replies(batch, n_out);
}

static void assert_reply(const pw_batch_reply_t *r, int to, pw_msg_type_t type, uint64_t seq)
{
    cr_assert_eq(r->to, to);
    cr_assert_eq(r->msg.type, type, "reply of type %d, not %d", (int)r->msg.type, (int)type);
    cr_assert_eq(r->msg.epoch, EPOCH);
    cr_assert_eq(r->msg.seq, seq, "reply for %llu, not %llu", (unsigned long long)r->msg.seq,
                 (unsigned long long)seq);
}

static pw_txn_t *reader(void)
{
    pw_txn_t *t = NULL;
    cr_assert_eq(pw_store_begin(store, false, &t), PW_OK);
    return t;
}

static uint64_t stored_seq(const char *district)
{
    pw_txn_t *t = reader();
    uint64_t seq = 0;
    cr_assert_eq(pw_store_seq_get(t, district, EPOCH, &seq, NULL), PW_OK);
    pw_store_abort(&t);
    return seq;
}

static uint64_t log_head(void)
{
    pw_txn_t *t = reader();
    uint64_t head = 0;
    cr_assert_eq(pw_store_log_head(t, &head), PW_OK);
    pw_store_abort(&t);
    return head;
}

/* The current value of a district's element, or -1 when none is stored. */
static double current(const char *district, const char *element, const char *period)
{
    pw_txn_t *t = reader();
    double v = -1;
    int rc = pw_store_current_get(t, district, element, per(period), &v, NULL);
    cr_assert(rc == PW_OK || rc == PW_ENOTFOUND, "%s", pw_strerror(rc));
    pw_store_abort(&t);
    return rc == PW_OK ? v : -1;
}

Test(batch, updates_in_sequence_are_stored_then_acked)
{
    hello(0, "a");
    update(0, "a", 1, "beds", "2016", 400);
    update(0, "a", 2, "elderly", "2016", 10000);
    update(0, "a", 3, "beds", "2017", 410);
    size_t n;
    const pw_batch_reply_t *r = apply(&n);
    cr_assert_eq(n, 2);
    assert_reply(&r[0], 0, PW_MSG_WELCOME, 0);
    cr_assert_str_eq(r[0].msg.district, "a");
    assert_reply(&r[1], 0, PW_MSG_ACK, 3);
    cr_assert_eq(stored_seq("a"), 3);
    cr_assert_eq(log_head(), 3);
    cr_assert_float_eq(current("a", "beds", "2016"), 400, 1e-9);
    cr_assert_float_eq(current("a", "elderly", "2016"), 10000, 1e-9);
    cr_assert_float_eq(current("a", "beds", "2017"), 410, 1e-9);
    cr_assert_eq(pw_batch_counts(batch)->stored, 3);
    cr_assert_eq(pw_batch_district(batch, 0)->last_seq, 3);

    /* A batch opened again on the store welcomes the collector at 3. */
    pw_batch_destroy(&batch);
    open_batch();
    hello(4, "a");
    r = apply(&n);
    cr_assert_eq(n, 1);
    assert_reply(&r[0], 4, PW_MSG_WELCOME, 3);
}

Test(batch, duplicates_are_acked_again_not_stored)
{
    update(0, "a", 1, "beds", "2016", 400);
    update(0, "a", 2, "elderly", "2016", 10000);
    size_t n;
    apply(&n);
    /* Resent after a lost ack, with another value: applied once only. */
    update(1, "a", 2, "elderly", "2016", 99);
    update(1, "a", 1, "beds", "2016", 1);
    const pw_batch_reply_t *r = apply(&n);
    cr_assert_eq(n, 1);
    assert_reply(&r[0], 1, PW_MSG_ACK, 2);
    cr_assert_eq(log_head(), 2);
    cr_assert_eq(stored_seq("a"), 2);
    cr_assert_float_eq(current("a", "beds", "2016"), 400, 1e-9);
    cr_assert_float_eq(current("a", "elderly", "2016"), 10000, 1e-9);
    cr_assert_eq(pw_batch_counts(batch)->dup, 2);
    cr_assert_eq(pw_batch_counts(batch)->stored, 2);
}

Test(batch, a_gap_is_answered_egap_and_nothing_after_it_stored)
{
    update(0, "a", 1, "beds", "2016", 400);
    size_t n;
    apply(&n);
    update(2, "a", 3, "elderly", "2016", 10000);
    update(2, "a", 4, "beds", "2017", 410);
    const pw_batch_reply_t *r = apply(&n);
    cr_assert_eq(n, 2);
    assert_reply(&r[0], 2, PW_MSG_NACK, 1); /* resend after 1: one nack for the gap */
    cr_assert_eq(r[0].msg.reason, PW_EGAP);
    assert_reply(&r[1], 2, PW_MSG_ACK, 1);
    cr_assert_eq(log_head(), 1);
    cr_assert_eq(stored_seq("a"), 1);
    cr_assert_eq(current("a", "elderly", "2016"), -1);
    cr_assert_eq(current("a", "beds", "2017"), -1);
}

Test(batch, a_value_past_the_bound_is_nacked_and_the_rest_goes_in)
{
    update(0, "a", 1, "beds", "2016", 400);
    update(0, "a", 2, "elderly", "2016", 9007199254740992.0); /* 2^53 */
    update(0, "a", 3, "beds", "2017", 410);
    size_t n;
    const pw_batch_reply_t *r = apply(&n);
    cr_assert_eq(n, 2);
    assert_reply(&r[0], 0, PW_MSG_NACK, 2);
    cr_assert_eq(r[0].msg.reason, PW_EVALUE, "%s", pw_err_name(r[0].msg.reason));
    cr_assert(strstr(r[0].msg.text, "above 9007199254740991 (2^53 - 1)") != NULL, "%s",
              r[0].msg.text);
    /* Its sequence is used: 3 is no gap, and is acknowledged with the batch. */
    assert_reply(&r[1], 0, PW_MSG_ACK, 3);
    cr_assert_eq(stored_seq("a"), 3);
    cr_assert_eq(log_head(), 2);
    cr_assert_float_eq(current("a", "beds", "2016"), 400, 1e-9);
    cr_assert_eq(current("a", "elderly", "2016"), -1);
    cr_assert_float_eq(current("a", "beds", "2017"), 410, 1e-9);
    cr_assert_eq(pw_batch_counts(batch)->rejected, 1);
}

Test(batch, a_key_speaks_only_for_its_own_district)
{
    update(0, "a", 1, "beds", "2016", 400);
    msgs[0].auth = 1; /* b's key */
    size_t n;
    const pw_batch_reply_t *r = apply(&n);
    cr_assert_eq(n, 1);
    assert_reply(&r[0], 0, PW_MSG_NACK, 1);
    cr_assert_eq(r[0].msg.reason, PW_EFORBIDDEN);
    cr_assert_eq(log_head(), 0);
    cr_assert_eq(current("a", "beds", "2016"), -1);
    cr_assert_eq(pw_batch_counts(batch)->forbidden, 1);
}

struct alerts {
    size_t n;
    pw_event_t ev;
};

static int keep_alert(void *ctx, const pw_event_t *ev)
{
    struct alerts *a = ctx;
    a->n++;
    a->ev = *ev;
    return 0;
}

static struct alerts open_alerts(void)
{
    struct alerts a = {.n = 0};
    pw_txn_t *t = reader();
    cr_assert_eq(pw_store_open_foreach(t, keep_alert, &a), PW_OK);
    pw_store_abort(&t);
    return a;
}

Test(batch, an_alert_opens_once_a_complete_period_rates_below_40)
{
    /* a alone: 37.4 per 1000 but half the reporters, so no alert yet. */
    update(0, "a", 1, "beds", "2016", 374);
    update(0, "a", 2, "elderly", "2016", 10000);
    size_t n;
    apply(&n);
    cr_assert_eq(open_alerts().n, 0);
    uint64_t head = pw_batch_head(batch);
    cr_assert_gt(head, 0, "the provisional rate row is an event");

    /* b completes 2016 at 37.4: (37.4 - 37) / (39.6 - 37) = 15.38 %, severe. */
    update(1, "b", 1, "beds", "2016", 374);
    update(1, "b", 2, "elderly", "2016", 10000);
    const pw_batch_reply_t *r = apply(&n);
    cr_assert_eq(n, 1);
    assert_reply(&r[0], 1, PW_MSG_ACK, 2);
    struct alerts a = open_alerts();
    cr_assert_eq(a.n, 1);
    cr_assert_str_eq(a.ev.indicator, "ratio");
    cr_assert_eq(a.ev.action, PW_ALERT_OPEN);
    cr_assert_eq(a.ev.centi, 1538);
    cr_assert_lt(a.ev.centi, 4000);
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(a.ev.period, ptext);
    cr_assert_str_eq(ptext, "2016");

    /* The alert is in the history and in the event log, past the old head. */
    struct alerts hist = {.n = 0};
    pw_txn_t *t = reader();
    cr_assert_eq(pw_store_alert_foreach(t, keep_alert, &hist), PW_OK);
    cr_assert_eq(hist.n, 1);
    cr_assert_eq(hist.ev.action, PW_ALERT_OPEN);
    cr_assert_eq(hist.ev.seq, a.ev.seq);
    uint64_t stored_head = 0;
    cr_assert_eq(pw_store_event_head(t, &stored_head), PW_OK);
    pw_store_abort(&t);
    cr_assert_eq(stored_head, pw_batch_head(batch));
    cr_assert_gt(stored_head, head);
    cr_assert_eq(a.ev.seq > head && a.ev.seq <= stored_head, true);
}
