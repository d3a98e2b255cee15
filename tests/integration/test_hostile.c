/* SPDX-License-Identifier: MIT */
/*
 * Hostile input against a real aggregator (CURVE on, a valid district key):
 * a table of malformed messages, after the catalogue of RELIABILITY.md 5.3.
 * Each must get a NACK with its documented reason code; a valid update sent
 * right after each one must be stored; at the end the store holds exactly
 * those valid updates and nothing else.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "fixture.h"
#include "pw/auth.h"
#include "pw/error.h"
#include "pw/msg.h"
#include "pw/util.h"
#include "wire.h"

static pw_fixture_t fx;
static void *zctx, *sock;

static void setup(void)
{
    cr_assert_eq(pw_fixture_open(&fx), 0);
    cr_assert_eq(pw_fixture_use_tcp(&fx), 0);
    char *kargs[] = {"keygen", "--out", fx.keys, NULL}, *out, *err;
    cr_assert_eq(pw_fixture_run(&fx, kargs, 30000, &out, &err), 0);
    free(out);
    free(err);
    char *args[] = {"--keys", fx.keys, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, args), 0);
    zctx = zmq_ctx_new();
    sock = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    cr_assert_eq(pw_curve_client_setup(sock, fx.intake, fx.keys, "districts", "jiangan",
                                       "aggregator", false),
                 0);
    cr_assert_eq(zmq_connect(sock, fx.intake), 0);
}

static void teardown(void)
{
    if (sock)
        zmq_close(sock);
    if (zctx)
        zmq_ctx_term(zctx);
    sock = zctx = NULL;
    pw_fixture_close(&fx);
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 300.0);

/* ---- building frames ---------------------------------------------------- */

enum vk { V_UINT, V_INT, V_DBL, V_FLT, V_STR, V_NIL, V_TRUE, V_BIN, V_ARR, V_MAP, V_EXT };

struct fld {
    const char *key;
    enum vk k;
    uint64_t u;
    int64_t i;
    double d;
    const char *s; /* V_STR, V_BIN: bytes (slen of them) */
    size_t slen;
};

#define NFLD 12

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_val(msgpack_packer *pk, const struct fld *f)
{
    switch (f->k) {
    case V_UINT:
        msgpack_pack_uint64(pk, f->u);
        break;
    case V_INT:
        msgpack_pack_int64(pk, f->i);
        break;
    case V_DBL:
        msgpack_pack_double(pk, f->d);
        break;
    case V_FLT:
        msgpack_pack_float(pk, (float)f->d);
        break;
    case V_STR:
        pack_str(pk, f->s, f->slen);
        break;
    case V_NIL:
        msgpack_pack_nil(pk);
        break;
    case V_TRUE:
        msgpack_pack_true(pk);
        break;
    case V_BIN:
        msgpack_pack_bin(pk, f->slen);
        msgpack_pack_bin_body(pk, f->s, f->slen);
        break;
    case V_ARR:
        msgpack_pack_array(pk, 1);
        msgpack_pack_uint64(pk, 1);
        break;
    case V_MAP:
        msgpack_pack_map(pk, 1);
        pack_str(pk, "a", 1);
        msgpack_pack_uint64(pk, 1);
        break;
    case V_EXT:
        msgpack_pack_ext(pk, 4, 5);
        msgpack_pack_ext_body(pk, "abcd", 4);
        break;
    }
}

struct upd {
    struct fld f[NFLD];
    size_t n;
};

static struct fld S(const char *key, const char *s)
{
    return (struct fld){.key = key, .k = V_STR, .s = s, .slen = strlen(s)};
}

static struct fld U(const char *key, uint64_t u)
{
    return (struct fld){.key = key, .k = V_UINT, .u = u};
}

/* A valid update of jiangan's care_beds for 2016. */
static struct upd valid(uint64_t epoch, uint64_t seq, double v)
{
    struct upd u = {.n = 9};
    u.f[0] = U("pv", 1);
    u.f[1] = S("ty", "update");
    u.f[2] = S("d", "jiangan");
    u.f[3] = U("ep", epoch);
    u.f[4] = U("s", seq);
    u.f[5] = S("e", "care_beds");
    u.f[6] = S("p", "2016");
    u.f[7] = (struct fld){.key = "v", .k = V_DBL, .d = v};
    u.f[8] = U("t", (uint64_t)pw_now_ms());
    return u;
}

static void set(struct upd *u, struct fld f)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->f[i].key, f.key) == 0) {
            u->f[i] = f;
            return;
        }
    cr_assert_fail("no field %s", f.key);
}

static void drop(struct upd *u, const char *key)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->f[i].key, key) == 0) {
            memmove(&u->f[i], &u->f[i + 1], (u->n - i - 1) * sizeof(u->f[0]));
            u->n--;
            return;
        }
    cr_assert_fail("no field %s", key);
}

static void add(struct upd *u, struct fld f)
{
    cr_assert(u->n < NFLD);
    u->f[u->n++] = f;
}

static size_t encode(const struct upd *u, char *out, size_t cap)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, u->n);
    for (size_t i = 0; i < u->n; i++) {
        pack_str(&pk, u->f[i].key, strlen(u->f[i].key));
        pack_val(&pk, &u->f[i]);
    }
    cr_assert(sb.size <= cap);
    memcpy(out, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

/* ---- the table ---------------------------------------------------------- */

#define FRAME_MAX 8192

struct hcase {
    const char *name;
    int expect; /* the NACK's reason code; 0 = no answer at all (dropped connection) */
    char bytes[FRAME_MAX];
    size_t len;
    int frames; /* 1, or more to send it as a multipart message */
};

static struct hcase cases[128];
static size_t ncases;

static struct hcase *new_case(const char *name, int expect)
{
    cr_assert(ncases < sizeof(cases) / sizeof(cases[0]));
    struct hcase *c = &cases[ncases++];
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->expect = expect;
    c->frames = 1;
    return c;
}

static void raw(const char *name, int expect, const void *bytes, size_t len)
{
    struct hcase *c = new_case(name, expect);
    memcpy(c->bytes, bytes, len);
    c->len = len;
}

static void upd_case(const char *name, int expect, const struct upd *u)
{
    struct hcase *c = new_case(name, expect);
    c->len = encode(u, c->bytes, sizeof(c->bytes));
}

static void build_table(void)
{
    struct upd u;
    char buf[FRAME_MAX];
    size_t n;

    /* Bytes that are no message. */
    raw("empty frame", PW_EMALFORMED, "", 0);
    raw("never-used byte 0xc1", PW_EMALFORMED, "\xc1", 1);
    u = valid(pw_random_u64(), 1, 5);
    n = encode(&u, buf, sizeof(buf));
    raw("truncated after the map header", PW_EMALFORMED, buf, 1);
    raw("truncated in the middle", PW_EMALFORMED, buf, n / 2);
    raw("truncated by one byte", PW_EMALFORMED, buf, n - 1);
    /* A frame holds messages back to back: the first one that cannot be
     * read ends it, and what follows is not applied. */
    memmove(buf + 2, buf, n);
    memcpy(buf, "\x01\x02", 2);
    raw("garbage before an update", PW_EMALFORMED, buf, n + 2);
    buf[1] = (char)0xc1;
    raw("an update after a byte that starts nothing", PW_EMALFORMED, buf + 1, n + 1);
    raw("top level an array", PW_EMALFORMED, "\x91\x01", 2);
    raw("top level an integer", PW_EMALFORMED, "\x2a", 1);
    raw("top level nil", PW_EMALFORMED, "\xc0", 1);
    raw("top level a string", PW_EMALFORMED, "\xa3" "abc", 4);
    memset(buf, 0x91, 4000);
    buf[4000] = 0x01;
    raw("nesting 4000 deep", PW_EMALFORMED, buf, 4001);
    raw("array32 of 2^32-1 with no body", PW_EMALFORMED, "\xdd\xff\xff\xff\xff", 5);
    raw("map32 of 2^32-1 with no body", PW_EMALFORMED, "\xdf\xff\xff\xff\xff", 5);
    raw("map16 of 65535 with 2 present", PW_EMALFORMED, "\xde\xff\xff\xa1" "a\x01\xa1" "b\x02",
        9);
    raw("str32 of 4 GiB with 10 bytes", PW_EMALFORMED,
        "\x81\xdb\xff\xff\xff\xff" "0123456789", 16);
    raw("bin32 of 4 GiB", PW_EMALFORMED, "\x81\xa1v\xc6\xff\xff\xff\xff\x00", 9);
    uint64_t seed = 0x5eed;
    static const char *rnd_names[] = {"random bytes 1", "random bytes 2", "random bytes 3"};
    for (int r = 0; r < 3; r++) {
        for (size_t i = 0; i < 64; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (char)(seed >> 56);
        }
        buf[0] = (char)0x89; /* a map of 9, then garbage */
        raw(rnd_names[r], PW_EMALFORMED, buf, 64);
    }

    /* Keys: duplicate, unknown, missing, of the wrong type. */
    u = valid(pw_random_u64(), 1, 5);
    add(&u, (struct fld){.key = "v", .k = V_DBL, .d = 7});
    upd_case("duplicate key v", PW_EMALFORMED, &u);
    u = valid(pw_random_u64(), 1, 5);
    add(&u, U("zz", 1));
    upd_case("unknown key", PW_EMALFORMED, &u);
    static const char *required[] = {"pv", "ty", "d", "ep", "s", "e", "p", "v", "t"};
    static const char *missing_names[] = {"missing pv", "missing ty", "missing d",
                                          "missing ep", "missing s",  "missing e",
                                          "missing p",  "missing v",  "missing t"};
    for (size_t i = 0; i < 9; i++) {
        u = valid(pw_random_u64(), 1, 5);
        drop(&u, required[i]);
        upd_case(missing_names[i], PW_EMALFORMED, &u);
    }
    u = valid(pw_random_u64(), 1, 5);
    struct hcase *c = new_case("non-string key", PW_EMALFORMED);
    c->len = encode(&u, c->bytes, sizeof(c->bytes));
    c->bytes[1] = 0x01; /* the first key "pv" (0xa2 'p' 'v') becomes 1, then 'p','v'... */
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_EXT});
    upd_case("ext value", PW_EMALFORMED, &u);

    /* Protocol. */
    u = valid(pw_random_u64(), 1, 5);
    set(&u, U("pv", 2));
    upd_case("protocol version 2", PW_EVERSION, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("ty", "ack"));
    u.n = 5; /* pv, ty, d, ep, s: */
    drop(&u, "d");
    upd_case("a well-formed ack from a collector", PW_ETYPE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("ty", "launch"));
    upd_case("unknown type", PW_EMALFORMED, &u);

    /* Strings: UTF-8, NUL, size. */
    static const struct {
        const char *name, *bytes;
        size_t len;
    } bad_utf8[] = {{"overlong c0 80 in district", "j\xc0\x80", 3},
                    {"lone continuation 80 in district", "j\x80", 2},
                    {"surrogate ed a0 80 in district", "j\xed\xa0\x80", 4},
                    {"byte ff in district", "j\xff", 2},
                    {"truncated e2 82 in district", "j\xe2\x82", 3}};
    for (size_t i = 0; i < 5; i++) {
        u = valid(pw_random_u64(), 1, 5);
        set(&u, (struct fld){.key = "d", .k = V_STR, .s = bad_utf8[i].bytes,
                             .slen = bad_utf8[i].len});
        upd_case(bad_utf8[i].name, PW_EMALFORMED, &u);
    }
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "e", .k = V_STR, .s = "care\0beds", .slen = 9});
    upd_case("NUL inside the element id", PW_EMALFORMED, &u);
    static char longid[3000];
    memset(longid, 'a', sizeof(longid));
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "e", .k = V_STR, .s = longid, .slen = sizeof(longid)});
    upd_case("element id of 3000 bytes", PW_EMALFORMED, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "d", .k = V_BIN, .s = "jiangan", .slen = 7});
    upd_case("district as bin", PW_EMALFORMED, &u);

    /* The catalog: unknown or foreign names, wrong level. */
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("e", "moon_bases"));
    upd_case("unknown element", PW_EELEMENT, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("d", "atlantis"));
    upd_case("unknown district", PW_EDISTRICT, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("d", "hongshan"));
    upd_case("another district than the key's", PW_EFORBIDDEN, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("e", "urban_dibao_standard"));
    upd_case("a city element from a district", PW_EREPORTER, &u);

    /* Sequence numbers. */
    u = valid(pw_random_u64(), 1, 5);
    set(&u, U("s", 0));
    upd_case("sequence 0", PW_ESEQ, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "s", .k = V_INT, .i = -1});
    upd_case("negative sequence", PW_ESEQ, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "s", .k = V_DBL, .d = 1.5});
    upd_case("fractional sequence", PW_ESEQ, &u);
    u = valid(pw_random_u64(), 1000000000, 5);
    upd_case("sequence gap of 10^9", PW_EGAP, &u);

    /* Values. */
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_DBL, .d = NAN});
    upd_case("value NaN", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_FLT, .d = NAN});
    upd_case("value NaN float32", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_DBL, .d = INFINITY});
    upd_case("value +Inf", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_DBL, .d = -INFINITY});
    upd_case("value -Inf", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("v", "12"));
    upd_case("value a string", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_TRUE});
    upd_case("value true", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_NIL});
    upd_case("value nil", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_MAP});
    upd_case("value a map", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_ARR});
    upd_case("value an array", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_DBL, .d = -3});
    upd_case("negative count", PW_EVALUE, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "v", .k = V_DBL, .d = 2.5});
    upd_case("fractional count of beds", PW_EVALUE, &u);

    /* Periods. */
    static const char *bad_periods[] = {"2018-13", "", "18H1", "2018H3", "2018Q5"};
    static const char *bad_period_names[] = {"period month 13", "period empty",
                                             "period two-digit year", "period 2018H3",
                                             "period 2018Q5"};
    for (size_t i = 0; i < 5; i++) {
        u = valid(pw_random_u64(), 1, 5);
        set(&u, S("p", bad_periods[i]));
        upd_case(bad_period_names[i], PW_EPERIOD, &u);
    }
    u = valid(pw_random_u64(), 1, 5);
    set(&u, U("p", 201801));
    upd_case("period an integer", PW_EPERIOD, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("p", "1900"));
    upd_case("period far in the past", PW_EPERIOD, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("p", "2999H1"));
    upd_case("period far in the future", PW_EPERIOD, &u);

    /* Observation times. */
    u = valid(pw_random_u64(), 1, 5);
    set(&u, U("t", 0));
    upd_case("time 0", PW_ETIME, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, (struct fld){.key = "t", .k = V_INT, .i = -5});
    upd_case("negative time", PW_ETIME, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, U("t", (uint64_t)pw_now_ms() + 3600 * 1000));
    upd_case("time an hour ahead", PW_ETIME, &u);
    u = valid(pw_random_u64(), 1, 5);
    set(&u, S("t", "now"));
    upd_case("time a string", PW_ETIME, &u);

    /* Framing. */
    u = valid(pw_random_u64(), 1, 5);
    c = new_case("three frames", PW_EMALFORMED);
    c->len = encode(&u, c->bytes, sizeof(c->bytes));
    c->frames = 3;
    memset(buf, 0x90, 5000);
    raw("a frame of 5 000 empty arrays", PW_EMALFORMED, buf, 5000);
    static char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    u = valid(pw_random_u64(), 1, 5);
    add(&u, S("x", big));
    upd_case("a message over 4 KiB", PW_EMALFORMED, &u);
}

/* The next answer within ms; false if none. */
static bool answer(int ms, pw_msg_t *m)
{
    return pw_wire_recv(sock, ms, m);
}

static void send_bytes(const char *b, size_t n, int frames)
{
    for (int f = 1; f < frames; f++)
        cr_assert(zmq_send(sock, b, n, ZMQ_SNDMORE) >= 0);
    cr_assert(zmq_send(sock, b, n, 0) >= 0);
}

Test(hostile, every_malformed_message_gets_its_reason_and_the_next_valid_update_is_stored)
{
    build_table();
    cr_assert_geq(ncases, 40, "only %zu cases", ncases);
    pw_msg_t m;
    for (size_t i = 0; i < ncases; i++) {
        struct hcase *c = &cases[i];
        send_bytes(c->bytes, c->len, c->frames);
        if (c->expect == 0) {
            cr_assert_not(answer(1500, &m), "%s: answered", c->name);
        } else {
            cr_assert(answer(10000, &m), "%s: no answer", c->name);
            cr_assert_eq(m.type, PW_MSG_NACK, "%s: answered %d", c->name, m.type);
            cr_assert_eq(m.reason, c->expect, "%s: %s, not %s", c->name, pw_err_name(m.reason),
                         pw_err_name(c->expect));
        }
        /* The canary: a valid update from a fresh collector instance. */
        uint64_t ep = pw_random_u64();
        struct upd u = valid(ep, 1, 1000.0 + (double)i);
        char buf[FRAME_MAX];
        size_t n = encode(&u, buf, sizeof(buf));
        send_bytes(buf, n, 1);
        do {
            cr_assert(answer(10000, &m), "%s: no answer to the valid update after it", c->name);
            /* After its nack, a case's own collector instance (a fresh epoch each)
             * is acknowledged up to the sequence it used up, if any. */
            cr_assert(m.epoch == ep || (m.type == PW_MSG_ACK && m.seq <= 1),
                      "%s: unexpected answer %d %s", c->name, m.type, pw_err_name(m.reason));
        } while (m.epoch != ep);
        cr_assert_eq(m.type, PW_MSG_ACK, "%s: the valid update after it got %s", c->name,
                     pw_err_name(m.reason));
    }
    /* The store holds the canaries, in order, and nothing else. */
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
    char *text = pw_export_csv(PLANWATCH_BIN, fx.store, fx.dir);
    cr_assert(text);
    size_t lines = 0;
    const char *p = strchr(text, '\n'); /* the header */
    for (size_t i = 0; p && p[1]; i++) {
        const char *line = p + 1;
        p = strchr(line, '\n');
        char want[64];
        snprintf(want, sizeof(want), ",care_beds,2016,%zu,", 1000 + i);
        const char *hit = strstr(line, want), *who = strstr(line, ",jiangan,");
        cr_assert(hit && who && (!p || (hit < p && who < p)), "record %zu: %.*s", i,
                  p ? (int)(p - line) : 80, line);
        lines++;
    }
    cr_assert_eq(lines, ncases, "%zu records for %zu valid updates", lines, ncases);
    free(text);
    char alog[256];
    snprintf(alog, sizeof(alog), "%s", fx.agg_log);
    text = pw_read_file(alog);
    cr_assert(text && strstr(text, "jiangan: malformed message"), "no district in the log");
    free(text);
}

Test(hostile, a_value_past_its_bound_is_refused_with_the_bound_and_why)
{
    /* Issue 15: a 20-digit typo was stored and rated -92233720368547760.00. */
    static const struct {
        const char *name;
        struct fld v;
        int expect;
    } bounds[] = {
        {"a 20-digit count as a double", {.key = "v", .k = V_DBL, .d = 1e20}, PW_EVALUE},
        {"2^53 as an integer", {.key = "v", .k = V_UINT, .u = 9007199254740992u}, PW_EVALUE},
        {"2^64 - 1 as an integer", {.key = "v", .k = V_UINT, .u = UINT64_MAX}, PW_EVALUE},
        {"2^53 - 1 as an integer", {.key = "v", .k = V_UINT, .u = 9007199254740991u}, 0},
    };
    uint64_t ep = pw_random_u64();
    pw_msg_t m;
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        struct upd u = valid(ep, i + 1, 5);
        set(&u, bounds[i].v);
        char buf[FRAME_MAX];
        send_bytes(buf, encode(&u, buf, sizeof(buf)), 1);
        /* A refused update still uses up its sequence number: its nack comes
         * first, then the ack up to it. */
        pw_msg_t nk = {.type = PW_MSG_ACK};
        do {
            cr_assert(answer(10000, &m), "%s: no answer", bounds[i].name);
            cr_assert_eq(m.seq, i + 1, "%s", bounds[i].name);
            if (m.type == PW_MSG_NACK)
                nk = m;
        } while (m.type != PW_MSG_ACK);
        if (bounds[i].expect == 0) {
            cr_assert_eq(nk.type, PW_MSG_ACK, "%s: %s (%s)", bounds[i].name, pw_err_name(nk.reason),
                         nk.text);
            continue;
        }
        cr_assert(nk.type == PW_MSG_NACK && nk.reason == bounds[i].expect, "%s: %d %s",
                  bounds[i].name, nk.type, pw_err_name(nk.reason));
        cr_assert(strstr(nk.text, "is above 9007199254740991 (2^53 - 1), past which a number is "
                                  "not held exactly"),
                  "%s: %s", bounds[i].name, nk.text);
    }
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
    char *text = pw_export_csv(PLANWATCH_BIN, fx.store, fx.dir);
    cr_assert(text);
    cr_assert_eq(pw_count(text, ",care_beds,2016,"), 1, "only the last is stored: %s", text);
    cr_assert(strstr(text, ",care_beds,2016,9007199254740991,"), "%s", text);
    free(text);
    char alog[256];
    snprintf(alog, sizeof(alog), "%s", fx.agg_log);
    text = pw_read_file(alog);
    cr_assert(text && strstr(text, "rejected: value 100000000000000000000 is above"), "%s", text);
    free(text);
}

/* Appends u to a frame of several messages. */
static void frame_add(char *frame, size_t *len, size_t cap, const struct upd *u)
{
    *len += encode(u, frame + *len, cap - *len);
}

Test(hostile, a_frame_of_updates_is_applied_in_order_and_ends_at_its_first_malformed_message)
{
    static char frame[PW_FRAME_MAXSIZE + 4096];
    pw_msg_t m;
    uint64_t ep = pw_random_u64();
    /* The welcome says how many updates a frame may carry, only if asked. */
    pw_msg_t h;
    memset(&h, 0, sizeof(h));
    h.type = PW_MSG_HELLO;
    strcpy(h.district, "jiangan");
    h.epoch = ep;
    h.frame_max = 1000;
    cr_assert_eq(pw_wire_send(sock, &h), 0);
    cr_assert(answer(10000, &m) && m.type == PW_MSG_WELCOME);
    cr_assert_eq(m.frame_max, PW_FRAME_UPDATES_MAX);
    h.frame_max = 0;
    cr_assert_eq(pw_wire_send(sock, &h), 0);
    cr_assert(answer(10000, &m) && m.type == PW_MSG_WELCOME);
    cr_assert_eq(m.frame_max, 0, "b for a collector that did not ask for it");

    /* Three updates, the second of an unknown element: it alone is refused. */
    size_t n = 0;
    struct upd u = valid(ep, 1, 1.0);
    frame_add(frame, &n, sizeof(frame), &u);
    u = valid(ep, 2, 2.0);
    set(&u, S("e", "no_such_element"));
    frame_add(frame, &n, sizeof(frame), &u);
    u = valid(ep, 3, 3.0);
    frame_add(frame, &n, sizeof(frame), &u);
    send_bytes(frame, n, 1);
    cr_assert(answer(10000, &m));
    cr_assert(m.type == PW_MSG_NACK && m.reason == PW_EELEMENT && m.seq == 2, "%d %s %llu",
              m.type, pw_err_name(m.reason), (unsigned long long)m.seq);
    cr_assert(answer(10000, &m));
    cr_assert(m.type == PW_MSG_ACK && m.seq == 3);

    /* An update, a byte that starts nothing, an update: the first only. */
    n = 0;
    u = valid(ep, 4, 4.0);
    frame_add(frame, &n, sizeof(frame), &u);
    frame[n++] = (char)0xc1;
    u = valid(ep, 5, 5.0);
    frame_add(frame, &n, sizeof(frame), &u);
    send_bytes(frame, n, 1);
    cr_assert(answer(10000, &m));
    cr_assert(m.type == PW_MSG_NACK && m.reason == PW_EMALFORMED && m.epoch == 0);
    cr_assert(answer(10000, &m));
    cr_assert(m.type == PW_MSG_ACK && m.seq == 4);

    /* 65 updates: 64 are applied, the rest of the frame refused. */
    n = 0;
    for (uint64_t seq = 5; seq <= 69; seq++) {
        u = valid(ep, seq, (double)seq);
        frame_add(frame, &n, sizeof(frame), &u);
    }
    send_bytes(frame, n, 1);
    cr_assert(answer(10000, &m));
    cr_assert(m.type == PW_MSG_NACK && m.reason == PW_EMALFORMED);
    cr_assert(answer(10000, &m));
    cr_assert(m.type == PW_MSG_ACK && m.seq == 68, "ack %llu", (unsigned long long)m.seq);

    /* A frame over 64 KiB: the connection is dropped before anything is read. */
    memset(frame, 0x90, sizeof(frame));
    send_bytes(frame, sizeof(frame), 1);
    cr_assert_not(answer(1500, &m), "a frame over the limit was answered");
    /* The DEALER connects again by itself and the aggregator is still there. */
    cr_assert_eq(pw_wire_send(sock, &h), 0);
    cr_assert(answer(10000, &m) && m.type == PW_MSG_WELCOME);
    cr_assert_eq(m.seq, 68);

    /* Stored: 1, 3, 4 and 5 to 68, in that order. */
    cr_assert_eq(pw_proc_stop(&fx.agg, 10000), 0);
    char *text = pw_export_csv(PLANWATCH_BIN, fx.store, fx.dir);
    cr_assert(text);
    static const int want[] = {1, 3, 4};
    const char *p = strchr(text, '\n');
    int i = 0;
    for (; p && p[1]; i++) {
        const char *line = p + 1;
        p = strchr(line, '\n');
        char v[64];
        snprintf(v, sizeof(v), ",care_beds,2016,%d,", i < 3 ? want[i] : i + 2);
        const char *hit = strstr(line, v);
        cr_assert(hit && (!p || hit < p), "record %d: %.*s", i, p ? (int)(p - line) : 80, line);
    }
    cr_assert_eq(i, 67, "%d records", i);
    free(text);
}
