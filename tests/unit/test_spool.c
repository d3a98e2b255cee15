/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

#include "pw/error.h"
#include "spool.h"
#include "tmpdir.h"

static char dir[64];
static pw_spool_t *spool;

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
    int rc = pw_spool_open(&spool, dir, "d05", 0);
    cr_assert_eq(rc, PW_OK, "%s", pw_strerror(rc));
}

static void teardown(void)
{
    pw_spool_destroy(&spool);
    pw_tmpdir_remove(dir);
}

TestSuite(spool, .init = setup, .fini = teardown, .timeout = 20.0);

#define NOW_MS 1700000000000LL

/* A lasting copy of an element id: an observation only points at its id,
 * which a data file keeps, and the tests build ids in loop-local buffers. */
static const char *keep(const char *id)
{
    static char ids[256][PW_ID_MAX];
    static size_t n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return ids[i];
    cr_assert_lt(n, 256);
    snprintf(ids[n], sizeof ids[n], "%s", id);
    return ids[n++];
}

static pw_obs_t obs(const char *period, const char *element, double value)
{
    pw_obs_t o;
    memset(&o, 0, sizeof(o));
    cr_assert_eq(pw_period_parse(period, strlen(period), &o.period), 0);
    o.element = keep(element);
    o.value = value;
    return o;
}

/* n observations e00..e(n-1) of 2016, values base + i. */
static size_t add_n(size_t n, double base)
{
    pw_obs_t o[64];
    cr_assert(n <= 64);
    for (size_t i = 0; i < n; i++) {
        char e[24];
        snprintf(e, sizeof(e), "e%02zu", i);
        o[i] = obs("2016", e, base + (double)i);
    }
    size_t added = 0;
    cr_assert_eq(pw_spool_add(spool, o, n, NOW_MS, &added), PW_OK);
    return added;
}

struct frames {
    size_t n;
    uint64_t seq[64];
    pw_msg_t msg[64];
    char raw[64][256];
    size_t len[64];
};

static int collect(void *ctx, uint64_t seq, const void *frame, size_t len)
{
    struct frames *f = ctx;
    cr_assert(f->n < 64 && len <= sizeof(f->raw[0]));
    f->seq[f->n] = seq;
    memcpy(f->raw[f->n], frame, len);
    f->len[f->n] = len;
    cr_assert_eq(pw_msg_decode(frame, len, &f->msg[f->n]), PW_OK, "a frame is a valid message");
    f->n++;
    return 0;
}

static int count_msgs(void *ctx, const pw_msg_t *m)
{
    size_t *n = ctx;
    cr_assert_eq(m->type, PW_MSG_UPDATE);
    (*n)++;
    return 0;
}

/* Replaces the stored record of seq with bytes, behind the spool's back. */
static void poke(uint64_t seq, const void *bytes, size_t len)
{
    pw_spool_destroy(&spool);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "pending", 0, &dbi), 0);
    unsigned char key[8];
    for (int i = 0; i < 8; i++)
        key[i] = (unsigned char)(seq >> (8 * (7 - i)));
    MDB_val k = {8, key}, v = {len, NULL};
    memcpy(&v.mv_data, &bytes, sizeof(bytes)); /* LMDB only reads it */
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    cr_assert_eq(pw_spool_open(&spool, dir, "d05", 0), PW_OK);
}

Test(spool, frames_are_the_encoded_updates_in_order)
{
    cr_assert_eq(add_n(10, 100), 10);
    struct frames f = {0};
    cr_assert_eq(pw_spool_read_frames(spool, 3, 5, collect, &f), PW_OK);
    cr_assert_eq(f.n, 5);
    pw_buf_t buf = {0};
    for (size_t i = 0; i < f.n; i++) {
        const pw_msg_t *m = &f.msg[i];
        cr_assert_eq(f.seq[i], 3 + i);
        cr_assert_eq(m->type, PW_MSG_UPDATE);
        cr_assert_eq(m->seq, f.seq[i]);
        cr_assert_eq(m->epoch, pw_spool_epoch(spool));
        cr_assert_str_eq(m->district, "d05");
        cr_assert_eq(m->value, 100 + (double)(2 + i));
        cr_assert_eq(m->observed_ms, NOW_MS);
        /* Exactly what the encoder makes of it: what the wire carries. */
        cr_assert_eq(pw_msg_encode(m, &buf), PW_OK);
        cr_assert_eq(buf.len, f.len[i]);
        cr_assert_eq(memcmp(buf.data, f.raw[i], buf.len), 0);
    }
    pw_buf_free(&buf);
    size_t n = 0;
    cr_assert_eq(pw_spool_read(spool, 1, 100, count_msgs, &n), PW_OK);
    cr_assert_eq(n, 10, "the decoding reader sees the same records");
}

Test(spool, frames_survive_a_reopen_and_skip_what_was_answered)
{
    cr_assert_eq(add_n(8, 1), 8);
    uint64_t epoch = pw_spool_epoch(spool);
    cr_assert_eq(pw_spool_ack(spool, 3), PW_OK);
    pw_spool_destroy(&spool);
    cr_assert_eq(pw_spool_open(&spool, dir, "d05", 0), PW_OK);
    cr_assert_eq(pw_spool_epoch(spool), epoch);
    cr_assert_eq(pw_spool_acked(spool), 3);
    struct frames f = {0};
    cr_assert_eq(pw_spool_read_frames(spool, 1, 100, collect, &f), PW_OK);
    cr_assert_eq(f.n, 5);
    cr_assert_eq(f.seq[0], 4);
    cr_assert_eq(f.msg[4].seq, 8);
}

Test(spool, a_valid_update_in_another_layout_is_sent_as_stored)
{
    cr_assert_eq(add_n(3, 1), 3);
    struct frames f = {0};
    cr_assert_eq(pw_spool_read_frames(spool, 2, 1, collect, &f), PW_OK);
    /* Re-encode seq 2 with a wider integer (0xcc 0x02 instead of 0x02):
     * valid msgpack an older writer could have made. Locate it after "s". */
    char wide[256];
    size_t at = 0;
    for (size_t i = 0; i + 2 < f.len[0]; i++)
        if ((unsigned char)f.raw[0][i] == 0xa1 && f.raw[0][i + 1] == 's' && f.raw[0][i + 2] == 2) {
            at = i + 2;
            break;
        }
    cr_assert(at > 0);
    memcpy(wide, f.raw[0], at);
    wide[at] = (char)0xcc;
    memcpy(wide + at + 1, f.raw[0] + at, f.len[0] - at);
    wide[at + 1] = 2;
    poke(2, wide, f.len[0] + 1);
    struct frames g = {0};
    cr_assert_eq(pw_spool_read_frames(spool, 1, 100, collect, &g), PW_OK);
    cr_assert_eq(g.n, 3);
    cr_assert_eq(g.len[1], f.len[0] + 1);
    cr_assert_eq(memcmp(g.raw[1], wide, g.len[1]), 0);
    cr_assert_eq(g.msg[1].seq, 2);
}

Test(spool, a_damaged_or_foreign_record_is_refused)
{
    cr_assert_eq(add_n(3, 1), 3);
    struct frames f = {0};
    cr_assert_eq(pw_spool_read_frames(spool, 1, 3, collect, &f), PW_OK);
    /* seq 1's frame stored under key 2: not the update the key names. */
    poke(2, f.raw[0], f.len[0]);
    struct frames g = {0};
    cr_assert_eq(pw_spool_read_frames(spool, 1, 100, collect, &g), PW_ESTORE);
    cr_assert_eq(g.n, 1, "stops at the bad record");
    poke(2, "\x81\xa1x\x01", 4);
    memset(&g, 0, sizeof(g));
    cr_assert_eq(pw_spool_read_frames(spool, 2, 100, collect, &g), PW_ESTORE);
    cr_assert_eq(g.n, 0);
    size_t n = 0;
    cr_assert_eq(pw_spool_read(spool, 2, 100, count_msgs, &n), PW_ESTORE);
}

Test(spool, unchanged_values_are_not_spooled_again)
{
    cr_assert_eq(add_n(10, 1), 10);
    cr_assert_eq(add_n(10, 1), 0);
    pw_obs_t o = obs("2016", "e03", 99);
    size_t added = 0;
    cr_assert_eq(pw_spool_add(spool, &o, 1, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 1);
    cr_assert_eq(pw_spool_head(spool), 11);
}

/* How many records the pending DB holds, answered or not. */
static size_t stored(const char *path)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    cr_assert_eq(mdb_env_open(env, path, MDB_RDONLY, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "pending", 0, &dbi), 0);
    cr_assert_eq(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return st.ms_entries;
}

static int count_frames(void *ctx, uint64_t seq, const void *frame, size_t len)
{
    uint64_t *next = ctx;
    (void)frame;
    (void)len;
    cr_assert_eq(seq, *next, "pending updates come in order, none skipped");
    (*next)++;
    return 0;
}

/* months x elements observations of 2016, all new. */
static size_t add_grid(pw_spool_t *sp, int months, int elements, double base)
{
    size_t added = 0;
    for (int mo = 1; mo <= months; mo++) {
        pw_obs_t o[100];
        char p[16];
        snprintf(p, sizeof(p), "2016-%02d", mo);
        for (int e = 0; e < elements; e++) {
            char el[24];
            snprintf(el, sizeof(el), "e%02d", e);
            o[e] = obs(p, el, base + e);
        }
        size_t n = 0;
        cr_assert_eq(pw_spool_add(sp, o, (size_t)elements, NOW_MS, &n), PW_OK);
        added += n;
    }
    return added;
}

Test(spool, everything_answered_empties_the_spool_and_numbering_goes_on)
{
    cr_assert_eq(add_n(20, 1), 20);
    cr_assert_eq(pw_spool_ack(spool, 19), PW_OK);
    pw_spool_destroy(&spool);
    cr_assert_eq(stored(dir), 20, "nothing removed while one is unanswered");
    cr_assert_eq(pw_spool_open(&spool, dir, "d05", 0), PW_OK);
    cr_assert_eq(pw_spool_acked(spool), 19);
    cr_assert_eq(pw_spool_ack(spool, 20), PW_OK);
    cr_assert_eq(pw_spool_pending(spool), 0);
    pw_spool_destroy(&spool);
    cr_assert_eq(stored(dir), 0);
    cr_assert_eq(pw_spool_open(&spool, dir, "d05", 0), PW_OK);
    cr_assert_eq(pw_spool_head(spool), 20);
    cr_assert_eq(add_n(5, 50), 5);
    uint64_t next = 21;
    cr_assert_eq(pw_spool_read_frames(spool, 1, 100, count_frames, &next), PW_OK);
    cr_assert_eq(next, 26);
}

Test(spool, answered_updates_leave_in_bounded_batches_and_never_early)
{
    char small[96];
    pw_spool_t *sp;
    snprintf(small, sizeof(small), "%s/small", dir);
    /* 1000 updates at most: answered ones are removed 512 at a time. */
    cr_assert_eq(pw_spool_open(&sp, small, "d05", 256 * 1000), PW_OK);
    cr_assert_eq(add_grid(sp, 10, 60, 1), 600);
    cr_assert_eq(pw_spool_ack(sp, 300), PW_OK);
    pw_spool_destroy(&sp);
    cr_assert_eq(stored(small), 600);
    cr_assert_eq(pw_spool_open(&sp, small, "d05", 256 * 1000), PW_OK);
    cr_assert_eq(pw_spool_acked(sp), 300);
    uint64_t next = 301;
    cr_assert_eq(pw_spool_read_frames(sp, 1, 1000, count_frames, &next), PW_OK);
    cr_assert_eq(next, 601, "what was answered is not read again");
    cr_assert_eq(pw_spool_ack(sp, 550), PW_OK);
    cr_assert_eq(pw_spool_flush(sp), PW_OK);
    pw_spool_destroy(&sp);
    cr_assert_eq(stored(small), 50, "a batch is removed, the unanswered stay");
    cr_assert_eq(pw_spool_open(&sp, small, "d05", 256 * 1000), PW_OK);
    next = 551;
    cr_assert_eq(pw_spool_read_frames(sp, 551, 1000, count_frames, &next), PW_OK);
    cr_assert_eq(next, 601);
    cr_assert_eq(pw_spool_ack(sp, 600), PW_OK);
    pw_spool_destroy(&sp);
    cr_assert_eq(stored(small), 0);
}

Test(spool, a_full_spool_counts_only_unanswered_updates)
{
    char small[96];
    pw_spool_t *sp;
    snprintf(small, sizeof(small), "%s/small", dir);
    cr_assert_eq(pw_spool_open(&sp, small, "d05", 256 * 100), PW_OK);
    pw_obs_t o[60];
    for (int e = 0; e < 60; e++) {
        char el[24];
        snprintf(el, sizeof(el), "e%02d", e);
        o[e] = obs("2017", el, e);
    }
    cr_assert_eq(add_grid(sp, 1, 60, 1), 60);
    size_t n = 0;
    cr_assert_eq(pw_spool_add(sp, o, 60, NOW_MS, &n), PW_ESTOREFULL);
    cr_assert_eq(n, 40);
    cr_assert_eq(pw_spool_ack(sp, 50), PW_OK); /* stays stored, below a batch */
    cr_assert_eq(pw_spool_add(sp, o, 60, NOW_MS, &n), PW_OK);
    cr_assert_eq(n, 20, "the rest, found again by comparison");
    cr_assert_eq(pw_spool_head(sp), 120);
    pw_spool_destroy(&sp);
}

Test(spool, keys_in_any_order_are_compared_with_the_last_value_spooled)
{
    /* Months, quarters, halves and the year: not in key order ("2016H1"
     * sorts before "2016Q4", "2016" before all), so some keys are appended
     * and some inserted. */
    static const char *const periods[] = {"2016-01", "2016-02", "2016Q1", "2016Q4", "2016H1",
                                          "2016",    "2017-05", "2015-03", "2017"};
    enum { NP = sizeof periods / sizeof periods[0], NE = 7 };
    pw_obs_t o[NP * NE];
    for (size_t p = 0; p < NP; p++)
        for (size_t e = 0; e < NE; e++) {
            char el[24];
            snprintf(el, sizeof(el), "e%zu", (e * 5) % NE); /* elements out of order too */
            o[p * NE + e] = obs(periods[p], el, (double)(p * 100 + e));
        }
    size_t added = 0;
    cr_assert_eq(pw_spool_add(spool, o, NP * NE, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, NP * NE);
    cr_assert_eq(pw_spool_add(spool, o, NP * NE, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 0, "nothing changed");
    pw_spool_destroy(&spool);
    cr_assert_eq(pw_spool_open(&spool, dir, "d05", 0), PW_OK);
    o[3].value = -1;                      /* changed, in the middle */
    o[NP * NE - 1].value = -2;            /* changed, the highest key */
    pw_obs_t more[3] = {obs("2014", "e1", 1), obs("2018-01", "e0", 2), obs("2016Q2", "e9", 3)};
    cr_assert_eq(pw_spool_add(spool, o, NP * NE, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 2);
    cr_assert_eq(pw_spool_add(spool, more, 3, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 3);
    cr_assert_eq(pw_spool_add(spool, more, 3, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 0);
    cr_assert_eq(pw_spool_add(spool, o, NP * NE, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 0);
    struct frames f = {0};
    cr_assert_eq(pw_spool_read_frames(spool, NP * NE + 1, 10, collect, &f), PW_OK);
    cr_assert_eq(f.n, 5);
    cr_assert_eq(f.msg[0].value, -1);
    cr_assert_eq(f.msg[1].value, -2);
    cr_assert_str_eq(f.msg[2].element, "e1");
    cr_assert_eq(f.msg[4].value, 3);
}

static void count_rejected(void *ctx, const pw_obs_t *o, const pw_spool_rejection_t *rej)
{
    (void)o;
    cr_assert_eq(rej->reason, PW_EVALUE);
    cr_assert_str_eq(rej->text, "fractional count");
    cr_assert_eq(rej->line, 7);
    (*(int *)ctx)++;
}

Test(spool, a_rejection_is_remembered_until_the_value_changes)
{
    pw_obs_t o[2] = {obs("2016", "beds", 10.5), obs("2016", "elderly", 100)};
    size_t added = 0, found = 0;
    cr_assert_eq(pw_spool_add(spool, o, 2, NOW_MS, &added), PW_OK);
    pw_spool_rejection_t rej = {.period = o[0].period, .element = "beds", .value = 10.5,
                                .reason = PW_EVALUE, .line = 7, .text = "fractional count"};
    cr_assert_eq(pw_spool_reject(spool, &rej, 1), PW_OK);
    /* Reopened: it lasts. */
    pw_spool_destroy(&spool);
    cr_assert_eq(pw_spool_open(&spool, dir, "d05", 0), PW_OK);
    int calls = 0;
    cr_assert_eq(pw_spool_rejected(spool, o, 2, count_rejected, &calls, &found), PW_OK);
    cr_assert_eq(found, 1);
    cr_assert_eq(calls, 1);
    /* Unchanged: nothing spooled, still rejected. --resend spools both and
     * forgets the rejection, which the answer to the resent value replaces. */
    cr_assert_eq(pw_spool_add(spool, o, 2, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 0);
    cr_assert_eq(pw_spool_resend(spool, o, 2, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 2);
    cr_assert_eq(pw_spool_rejected(spool, o, 2, NULL, NULL, &found), PW_OK);
    cr_assert_eq(found, 0);
    /* Rejected again, then fixed: the new value is spooled, nothing rejected. */
    cr_assert_eq(pw_spool_reject(spool, &rej, 1), PW_OK);
    cr_assert_eq(pw_spool_rejected(spool, o, 2, NULL, NULL, &found), PW_OK);
    cr_assert_eq(found, 1);
    o[0].value = 10;
    cr_assert_eq(pw_spool_add(spool, o, 2, NOW_MS, &added), PW_OK);
    cr_assert_eq(added, 1);
    o[0].value = 10.5; /* back to the typo: spooled again, not reported unsent */
    cr_assert_eq(pw_spool_rejected(spool, o, 2, NULL, NULL, &found), PW_OK);
    cr_assert_eq(found, 0);
    /* A rejection of a value no longer the last one spooled is not kept. */
    cr_assert_eq(pw_spool_reject(spool, &rej, 1), PW_OK);
    cr_assert_eq(pw_spool_rejected(spool, o, 2, NULL, NULL, &found), PW_OK);
    cr_assert_eq(found, 0);
}

Test(spool, a_restart_is_a_new_instance_that_spools_everything_again)
{
    cr_assert_eq(add_n(10, 100), 10);
    cr_assert_eq(pw_spool_ack(spool, 10), PW_OK);
    uint64_t epoch = pw_spool_epoch(spool);
    cr_assert_eq(add_n(10, 100), 0, "unchanged: nothing spooled");
    cr_assert_eq(pw_spool_restart(spool), PW_OK);
    cr_assert_neq(pw_spool_epoch(spool), epoch);
    cr_assert_eq(pw_spool_head(spool), 0);
    cr_assert_eq(pw_spool_acked(spool), 0);
    cr_assert_eq(add_n(10, 100), 10, "no last values: everything again");
    /* It lasts, and its updates carry the new epoch from sequence 1. */
    epoch = pw_spool_epoch(spool);
    pw_spool_destroy(&spool);
    cr_assert_eq(pw_spool_open(&spool, dir, "d05", 0), PW_OK);
    cr_assert_eq(pw_spool_epoch(spool), epoch);
    struct frames f = {0};
    cr_assert_eq(pw_spool_read_frames(spool, 1, 64, collect, &f), PW_OK);
    cr_assert_eq(f.n, 10);
    cr_assert_eq(f.seq[0], 1);
    cr_assert_eq(f.msg[0].epoch, epoch);
}
