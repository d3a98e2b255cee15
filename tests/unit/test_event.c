/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <msgpack.h>

#include "pw/error.h"
#include "pw/event.h"
#include "pw/msg.h"
#include "pw/period.h"
#include "pw/rate.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

TestSuite(event, .timeout = 10.0);

static void assert_streq(const char *got, const char *want)
{
    cr_assert(strcmp(got, want) == 0, "\"%s\" != \"%s\"", got, want);
}

static pw_period_t period(const char *text)
{
    pw_period_t p;
    cr_assert(eq(int, pw_period_parse(text, strlen(text), &p), 0), "%s", text);
    return p;
}

static pw_event_t rate_event(void)
{
    pw_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PW_EV_RATE;
    ev.seq = 1234;
    ev.time_ms = 1530000000123;
    strcpy(ev.indicator, "dibao_standard_ratio");
    strcpy(ev.series, "urban");
    ev.period = period("2018Q3");
    ev.has_value = true;
    ev.value = 33.25;
    ev.has_rate = true;
    ev.centi = -2615;
    ev.band = PW_BAND_SEVERE;
    ev.achieved = true;
    ev.have = 13;
    ev.want = 14;
    return ev;
}

static pw_event_t alert_event(void)
{
    pw_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PW_EV_ALERT;
    ev.seq = 99;
    ev.time_ms = 1530000000999;
    strcpy(ev.indicator, "household_check_rate");
    ev.period = period("2019-02");
    ev.has_rate = true;
    ev.centi = 3950;
    ev.band = PW_BAND_SEVERE;
    ev.action = PW_ALERT_OPEN;
    strcpy(ev.why, "江岸区 revised verified_applicants 2019-02");
    return ev;
}

static void assert_same(const pw_event_t *a, const pw_event_t *b)
{
    cr_assert(eq(int, (int)a->type, (int)b->type));
    cr_assert(eq(u64, a->seq, b->seq));
    cr_assert(eq(i64, a->time_ms, b->time_ms));
    assert_streq(a->indicator, b->indicator);
    assert_streq(a->series, b->series);
    cr_assert(pw_period_eq(a->period, b->period));
    cr_assert(eq(int, a->has_value, b->has_value));
    cr_assert(eq(dbl, a->value, b->value));
    cr_assert(eq(int, a->has_rate, b->has_rate));
    cr_assert(eq(i64, a->centi, b->centi));
    cr_assert(eq(int, (int)a->band, (int)b->band));
    cr_assert(eq(int, a->achieved, b->achieved));
    cr_assert(eq(u32, a->have, b->have));
    cr_assert(eq(u32, a->want, b->want));
    cr_assert(eq(int, (int)a->action, (int)b->action));
    assert_streq(a->why, b->why);
}

static void round_trip(const pw_event_t *in)
{
    pw_buf_t buf = {0};
    pw_event_t out;

    int rc = pw_event_encode(in, &buf);
    cr_assert(eq(int, rc, 0), "encode: %s", pw_strerror(rc));
    rc = pw_event_decode(buf.data, buf.len, &out);
    cr_assert(eq(int, rc, 0), "decode: %s", pw_strerror(rc));
    assert_same(in, &out);
    pw_buf_free(&buf);
}

Test(event, round_trip_rate)
{
    pw_event_t ev = rate_event();
    round_trip(&ev);
}

Test(event, round_trip_rate_without_value_or_rate)
{
    pw_event_t ev = rate_event();
    ev.has_value = false;
    ev.value = 0;
    ev.has_rate = false;
    ev.centi = 0;
    ev.band = PW_BAND_NONE;
    ev.achieved = false;
    strcpy(ev.series, ""); /* an indicator's only series */
    ev.period = period("2015");
    round_trip(&ev);
}

Test(event, round_trip_rate_with_value_but_no_rate)
{
    pw_event_t ev = rate_event();
    ev.has_rate = false;
    ev.centi = 0;
    ev.band = PW_BAND_NONE;
    ev.value = -0.5;
    round_trip(&ev);
}

Test(event, round_trip_every_band)
{
    pw_event_t ev = rate_event();
    for (int b = PW_BAND_NONE; b <= PW_BAND_ON_TRACK; b++) {
        ev.band = (pw_band_t)b;
        round_trip(&ev);
    }
}

Test(event, round_trip_alert_open_and_resolve)
{
    pw_event_t ev = alert_event();
    round_trip(&ev);
    ev.action = PW_ALERT_RESOLVE;
    ev.band = PW_BAND_LAGGING;
    ev.centi = 4001;
    round_trip(&ev);
    ev.has_rate = false; /* resolved because the value was withdrawn */
    ev.centi = 0;
    ev.band = PW_BAND_NONE;
    round_trip(&ev);
}

Test(event, round_trip_hb)
{
    pw_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PW_EV_HB;
    ev.seq = UINT64_MAX;
    ev.time_ms = 1530000000000;
    round_trip(&ev);
    ev.seq = 0; /* a publisher with nothing committed yet */
    round_trip(&ev);
}

Test(event, hb_has_only_the_common_keys)
{
    pw_event_t ev;
    pw_buf_t buf = {0};
    msgpack_unpacked up;
    size_t off = 0;

    memset(&ev, 0, sizeof ev);
    ev.type = PW_EV_HB;
    ev.seq = 5;
    ev.time_ms = 7;
    cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
    msgpack_unpacked_init(&up);
    cr_assert(eq(int, msgpack_unpack_next(&up, buf.data, buf.len, &off), MSGPACK_UNPACK_SUCCESS));
    cr_assert(eq(int, up.data.type, MSGPACK_OBJECT_MAP));
    cr_assert(eq(u32, up.data.via.map.size, 4));
    msgpack_unpacked_destroy(&up);
    pw_buf_free(&buf);
}

Test(event, rate_without_value_packs_nil)
{
    pw_event_t ev = rate_event();
    pw_buf_t buf = {0};
    msgpack_unpacked up;
    size_t off = 0;
    int seen = 0;

    ev.has_value = false;
    ev.has_rate = false;
    cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
    msgpack_unpacked_init(&up);
    cr_assert(eq(int, msgpack_unpack_next(&up, buf.data, buf.len, &off), MSGPACK_UNPACK_SUCCESS));
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &up.data.via.map.ptr[i];
        bool is_val = kv->key.via.str.size == 3 && memcmp(kv->key.via.str.ptr, "val", 3) == 0;
        bool is_rate = kv->key.via.str.size == 4 && memcmp(kv->key.via.str.ptr, "rate", 4) == 0;
        if (is_val || is_rate) {
            cr_assert(eq(int, kv->val.type, MSGPACK_OBJECT_NIL));
            seen++;
        }
    }
    cr_assert(eq(int, seen, 2));
    msgpack_unpacked_destroy(&up);
    pw_buf_free(&buf);
}

Test(event, pack_embeds_events_in_a_larger_reply)
{
    /* A snapshot reply: {pv, ty:"snap", q, rows:[rate, rate], alerts:[alert]}. */
    pw_event_t r1 = rate_event(), r2 = rate_event(), a = alert_event(), out;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    size_t off = 0;

    r2.seq = 1235;
    strcpy(r2.series, "rural");
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "pv", 2);
    msgpack_pack_uint64(&pk, PW_PROTO_VERSION);
    msgpack_pack_str_with_body(&pk, "ty", 2);
    msgpack_pack_str_with_body(&pk, "snap", 4);
    msgpack_pack_str_with_body(&pk, "q", 1);
    msgpack_pack_uint64(&pk, 1235);
    msgpack_pack_str_with_body(&pk, "rows", 4);
    msgpack_pack_array(&pk, 2);
    cr_assert(eq(int, pw_event_pack(&pk, &r1), 0));
    cr_assert(eq(int, pw_event_pack(&pk, &r2), 0));
    msgpack_pack_str_with_body(&pk, "alerts", 6);
    msgpack_pack_array(&pk, 1);
    cr_assert(eq(int, pw_event_pack(&pk, &a), 0));

    msgpack_unpacked_init(&up);
    cr_assert(eq(int, msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS));
    const msgpack_object_map *m = &up.data.via.map;
    cr_assert(eq(u32, m->size, 5));
    const msgpack_object *rows = &m->ptr[3].val, *alerts = &m->ptr[4].val;
    cr_assert(eq(int, rows->type, MSGPACK_OBJECT_ARRAY));
    cr_assert(eq(int, pw_event_from_object(&rows->via.array.ptr[0], &out), 0));
    assert_same(&r1, &out);
    cr_assert(eq(int, pw_event_from_object(&rows->via.array.ptr[1], &out), 0));
    assert_same(&r2, &out);
    cr_assert(eq(int, pw_event_from_object(&alerts->via.array.ptr[0], &out), 0));
    assert_same(&a, &out);
    /* The reply map itself is not an event. */
    cr_assert(eq(int, pw_event_from_object(&up.data, &out), PW_EMALFORMED));
    cr_assert(eq(int, pw_event_from_object(rows, &out), PW_EMALFORMED));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* What msgpack-c's packer gives a rate event, key by key: the reference for
 * the direct writer behind pw_event_encode() and pw_event_pack(). */
static void pack_rate_reference(const pw_event_t *ev, msgpack_sbuffer *sb)
{
    char p[PW_PERIOD_STRMAX];
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
#define KEY(k) msgpack_pack_str_with_body(&pk, k, strlen(k))
#define STR(s) msgpack_pack_str_with_body(&pk, s, strlen(s))
    msgpack_pack_map(&pk, 13);
    KEY("pv"), msgpack_pack_uint64(&pk, PW_PROTO_VERSION);
    KEY("ty"), STR("rate");
    KEY("q"), msgpack_pack_uint64(&pk, ev->seq);
    KEY("t"), msgpack_pack_int64(&pk, ev->time_ms);
    KEY("i"), STR(ev->indicator);
    KEY("sr"), STR(ev->series);
    pw_period_format(ev->period, p);
    KEY("p"), STR(p);
    KEY("val"), ev->has_value ? msgpack_pack_double(&pk, ev->value) : msgpack_pack_nil(&pk);
    KEY("rate"), ev->has_rate ? msgpack_pack_int64(&pk, ev->centi) : msgpack_pack_nil(&pk);
    KEY("band"), STR(pw_band_name(ev->band));
    KEY("ach"), ev->achieved ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    KEY("have"), msgpack_pack_uint64(&pk, ev->have);
    KEY("want"), msgpack_pack_uint64(&pk, ev->want);
#undef KEY
#undef STR
}

Test(event, rate_encoding_is_the_packers_byte_for_byte)
{
    /* Every integer width and sign, every optional field, ids of every length. */
    static const int64_t ints[] = {0,      1,      31,         -1,        -32,         -33,
                                   127,    128,    -128,       -129,      255,         256,
                                   -32768, -32769, 65535,      65536,     INT32_MIN,   (int64_t)INT32_MIN - 1,
                                   UINT32_MAX, (int64_t)UINT32_MAX + 1, INT64_MAX, INT64_MIN};
    static const char *const ids[] = {"a", "beds_per_1000_elderly", "abcdefghijklmnopqrstuvwxyz_0123",
                                      "abcdefghijklmnopqrstuvwxyz_0123456789_abcdefghijklmnopqrstuvw"};
    pw_buf_t buf = {0};
    for (size_t i = 0; i < 4000; i++) {
        pw_event_t ev = rate_event();
        int64_t a = ints[i % NELEM(ints)], b = ints[(i / 3) % NELEM(ints)];
        ev.seq = (uint64_t)(a < 0 ? -(a + 1) : a);
        ev.time_ms = b < 0 ? -(b + 1) : b;
        ev.centi = ints[(i / 7) % NELEM(ints)];
        ev.has_rate = i % 5 != 0;
        ev.has_value = i % 3 != 0;
        ev.value = ev.has_value ? (double)i * -1.37 + 5.0 : 0; /* absent: read back as 0 */
        ev.centi = ev.has_rate ? ev.centi : 0;
        ev.band = (pw_band_t)(i % 4);
        ev.achieved = i % 2 == 0;
        ev.have = (uint32_t)(i * 977u);
        ev.want = (uint32_t)(i * 65599u);
        snprintf(ev.indicator, sizeof ev.indicator, "%s", ids[i % NELEM(ids)]);
        snprintf(ev.series, sizeof ev.series, "%s", i % 6 == 0 ? "" : ids[(i / 2) % NELEM(ids)]);
        ev.period = period(i % 2 ? "2016" : "2020-12");
        cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
        msgpack_sbuffer ref, sb;
        pack_rate_reference(&ev, &ref);
        cr_assert(eq(sz, buf.len, ref.size), "event %zu: length", i);
        cr_assert(zero(int, memcmp(buf.data, ref.data, ref.size)), "event %zu: bytes", i);
        /* pw_event_pack() gives the same bytes inside a larger message. */
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 1);
        cr_assert(eq(int, pw_event_pack(&pk, &ev), 0));
        cr_assert(eq(sz, sb.size, ref.size + 1), "event %zu: packed length", i);
        cr_assert(zero(int, memcmp(sb.data + 1, ref.data, ref.size)), "event %zu: packed", i);
        msgpack_sbuffer_destroy(&sb);
        msgpack_sbuffer_destroy(&ref);
        pw_event_t out;
        cr_assert(eq(int, pw_event_decode(buf.data, buf.len, &out), 0), "event %zu", i);
        assert_same(&ev, &out);
    }
    pw_buf_free(&buf);
}

/* The general decoder alone: msgpack-c's object tree, then pw_event_from_object(). */
static int decode_general(const void *data, size_t len, pw_event_t *out)
{
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    int rc = msgpack_unpack_next(&up, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len
                 ? pw_event_from_object(&up.data, out)
                 : PW_EMALFORMED;
    msgpack_unpacked_destroy(&up);
    return rc;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* pw_event_decode() reads rate events in their own layout directly: whatever
 * it accepts, the general decoder must accept too, with the same fields. */
static void assert_fast_agrees(const char *data, size_t len, const char *what, int i)
{
    pw_event_t fast, ref;
    memset(&ref, 0, sizeof ref);
    if (pw_event_decode(data, len, &fast) != 0)
        return; /* refused: the general decoder gave that answer itself */
    int rc = decode_general(data, len, &ref);
    cr_assert(eq(int, rc, 0), "%s %d: accepted, but the general decoder says %s", what, i,
              pw_err_name(rc));
    assert_same(&fast, &ref);
    cr_assert(zero(int, memcmp(&fast, &ref, sizeof fast)), "%s %d: fields differ", what, i);
}

Test(event, direct_rate_decode_agrees_with_the_general_decoder)
{
    pw_buf_t buf = {0};
    int accepted = 0;
    for (int v = 0; v < 8; v++) {
        pw_event_t ev = rate_event();
        ev.has_value = v & 1;
        ev.value = ev.has_value ? -0.0 + v * 1e300 : 0;
        ev.has_rate = v & 2;
        ev.centi = ev.has_rate ? (v & 4 ? INT64_MIN : -5) : 0;
        ev.time_ms = v & 4 ? -1 : 1;
        strcpy(ev.series, v & 1 ? "" : "urban");
        cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
        pw_event_t out;
        cr_assert(eq(int, pw_event_decode(buf.data, buf.len, &out), 0));
        assert_same(&ev, &out);
        assert_fast_agrees(buf.data, buf.len, "variant", v);
        for (size_t cut = 0; cut < buf.len; cut++) {
            cr_assert(not(eq(int, pw_event_decode(buf.data, cut, &out), 0)), "cut at %zu", cut);
            assert_fast_agrees(buf.data, cut, "truncated at", (int)cut);
        }
        for (int i = 0; i < 5000; i++) {
            char copy[512];
            cr_assert(buf.len <= sizeof copy);
            memcpy(copy, buf.data, buf.len);
            for (int f = 1 + (int)(rng() % 3); f > 0; f--) {
                unsigned char b = (unsigned char)rng();
                if (rng() & 1) /* half the time a byte that means something to msgpack */
                    b = (unsigned char)(0xc0 | (rng() % 0x40));
                copy[rng() % buf.len] = (char)b;
            }
            accepted += pw_event_decode(copy, buf.len, &out) == 0;
            assert_fast_agrees(copy, buf.len, "mutation", i);
        }
    }
    /* Values no decoder may take, in the direct layout: NaN, infinities, and
     * counts beyond 32 bits. */
    pw_event_t ev = rate_event();
    cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
    char *val = memmem(buf.data, buf.len, "\xa3val\xcb", 5);
    cr_assert(not(zero(ptr, val)));
    static const uint64_t bad[] = {0x7ff8000000000000ull, 0x7ff0000000000000ull,
                                   0xfff0000000000000ull, 0x7fffffffffffffffull};
    for (size_t k = 0; k < NELEM(bad); k++) {
        for (int i = 0; i < 8; i++)
            val[5 + i] = (char)(bad[k] >> (56 - 8 * i));
        pw_event_t out;
        cr_assert(eq(int, pw_event_decode(buf.data, buf.len, &out), PW_EMALFORMED), "%zu", k);
    }
    ev.want = 5;
    cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
    char *want = memmem(buf.data, buf.len, "\xa4want\x05", 6);
    cr_assert(not(zero(ptr, want)));
    char big[512];
    size_t off = (size_t)(want - buf.data) + 5;
    cr_assert(off + 9 <= sizeof big);
    memcpy(big, buf.data, off);
    memcpy(big + off, "\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9); /* 2^32 */
    pw_event_t out;
    cr_assert(eq(int, pw_event_decode(big, off + 9, &out), PW_EMALFORMED));
    cr_log_info("mutations accepted: %d of 40000", accepted);
    pw_buf_free(&buf);
}

Test(event, encode_rejects_bad_type_and_action)
{
    pw_event_t ev = alert_event();
    pw_buf_t buf = {0};
    ev.action = (pw_alert_action_t)0;
    cr_assert(eq(int, pw_event_encode(&ev, &buf), -EINVAL));
    ev.type = (pw_event_type_t)0;
    cr_assert(eq(int, pw_event_encode(&ev, &buf), -EINVAL));
    pw_buf_free(&buf);
}

Test(event, type_names)
{
    assert_streq(pw_event_type_name(PW_EV_RATE), "rate");
    assert_streq(pw_event_type_name(PW_EV_ALERT), "alert");
    assert_streq(pw_event_type_name(PW_EV_HB), "hb");
    assert_streq(pw_event_type_name((pw_event_type_t)0), "?");
}

Test(event, decode_rejects_every_truncation)
{
    pw_event_t evs[] = {rate_event(), alert_event()};
    pw_buf_t buf = {0};
    pw_event_t out;

    for (size_t e = 0; e < NELEM(evs); e++) {
        cr_assert(eq(int, pw_event_encode(&evs[e], &buf), 0));
        for (size_t cut = 0; cut < buf.len; cut++) {
            char *part = malloc(cut ? cut : 1);
            cr_assert(not(zero(ptr, part)));
            memcpy(part, buf.data, cut);
            int rc = pw_event_decode(part, cut, &out);
            free(part);
            cr_assert(eq(int, rc, PW_EMALFORMED), "event %zu cut at %zu: %s", e, cut,
                      pw_err_name(rc));
        }
    }
    pw_buf_free(&buf);
}

/* Decodes raw bytes from a copy of exactly len bytes, so ASan sees over-reads. */
static int decode_raw(const char *bytes, size_t len)
{
    char *copy = malloc(len ? len : 1);
    pw_event_t out;
    cr_assert(not(zero(ptr, copy)));
    memcpy(copy, bytes, len);
    int rc = pw_event_decode(copy, len, &out);
    free(copy);
    return rc;
}

/* clang-format off */
#define ROW(name, lit) {name, lit, sizeof(lit) - 1}
/* clang-format on */

Test(event, decode_rejects_garbage)
{
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
    } cases[] = {
        ROW("empty", ""),
        ROW("0xc1", "\xc1"),
        ROW("array32 2^32-1", "\xdd\xff\xff\xff\xff"),
        ROW("map32 2^32-1", "\xdf\xff\xff\xff\xff"),
        ROW("str32 4 GiB", "\xdb\xff\xff\xff\xff"
                           "0123456789"),
        ROW("fixext", "\xd4\x01\x00"),
        ROW("top level int", "\x01"),
        ROW("top level array", "\x91\x80"),
        ROW("empty map", "\x80"),
        ROW("map without pv", "\x81\xa2ty\xa2hb"),
        ROW("hb without q", "\x83\xa2pv\x01\xa2ty\xa2hb\xa1t\x01"),
        ROW("unknown type", "\x84\xa2pv\x01\xa2ty\xa3"
                            "bye\xa1q\x01\xa1t\x01"),
        ROW("q negative", "\x84\xa2pv\x01\xa2ty\xa2hb\xa1q\xff\xa1t\x01"),
        ROW("duplicate q", "\x85\xa2pv\x01\xa2ty\xa2hb\xa1q\x01\xa1q\x02\xa1t\x01"),
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        int rc = decode_raw(cases[i].bytes, cases[i].len);
        cr_expect(eq(int, rc, PW_EMALFORMED), "%s: %s", cases[i].name, pw_err_name(rc));
    }
    /* The same hb with valid keys decodes, so the rows above fail for their own reason. */
    static const char hb[] = "\x84\xa2pv\x01\xa2ty\xa2hb\xa1q\x01\xa1t\x01";
    cr_assert(eq(int, decode_raw(hb, sizeof hb - 1), 0));
}

Test(event, decode_rejects_trailing_bytes_and_deep_nesting)
{
    pw_event_t ev = rate_event(), out;
    pw_buf_t buf = {0};

    cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
    char *more = malloc(buf.len + 1);
    cr_assert(not(zero(ptr, more)));
    memcpy(more, buf.data, buf.len);
    more[buf.len] = '\x00';
    cr_assert(eq(int, pw_event_decode(more, buf.len + 1, &out), PW_EMALFORMED));
    free(more);
    pw_buf_free(&buf);

    size_t n = 100000;
    char *deep = malloc(n);
    cr_assert(not(zero(ptr, deep)));
    memset(deep, '\x91', n);
    deep[n - 1] = '\x01';
    cr_assert(eq(int, pw_event_decode(deep, n, &out), PW_EMALFORMED));
    free(deep);
}

/* Packs {pv, ty:"hb", q, t}, declaring room for extra entries the caller appends. */
static void pack_hb(msgpack_packer *pk, uint64_t pv, size_t extra)
{
    msgpack_pack_map(pk, 4 + extra);
    msgpack_pack_str_with_body(pk, "pv", 2);
    msgpack_pack_uint64(pk, pv);
    msgpack_pack_str_with_body(pk, "ty", 2);
    msgpack_pack_str_with_body(pk, "hb", 2);
    msgpack_pack_str_with_body(pk, "q", 1);
    msgpack_pack_uint64(pk, 17);
    msgpack_pack_str_with_body(pk, "t", 1);
    msgpack_pack_int64(pk, 1530000000000);
}

Test(event, unknown_keys_are_ignored)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    pw_event_t out;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_hb(&pk, PW_PROTO_VERSION, 3);
    msgpack_pack_str_with_body(&pk, "future", 6);
    msgpack_pack_array(&pk, 2); /* a new field may be a container */
    msgpack_pack_true(&pk);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_int(&pk, 5); /* even a non-string key */
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "note", 4);
    msgpack_pack_str_with_body(&pk, "hi", 2);
    int rc = pw_event_decode(sb.data, sb.size, &out);
    cr_assert(eq(int, rc, 0), "%s", pw_strerror(rc));
    cr_assert(eq(int, (int)out.type, PW_EV_HB));
    cr_assert(eq(u64, out.seq, 17));
    cr_assert(eq(i64, out.time_ms, 1530000000000));
    msgpack_sbuffer_destroy(&sb);
}

Test(event, unknown_key_in_a_rate_event_is_ignored)
{
    pw_event_t ev = rate_event(), out;
    pw_buf_t buf = {0};

    cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
    /* Bump the fixmap count and append one more entry: "zz": 1. */
    cr_assert(eq(int, (unsigned char)buf.data[0], 0x80 | 13));
    char *more = malloc(buf.len + 4);
    cr_assert(not(zero(ptr, more)));
    memcpy(more, buf.data, buf.len);
    more[0] = (char)(0x80 | 14);
    memcpy(more + buf.len, "\xa2zz\x01", 4);
    int rc = pw_event_decode(more, buf.len + 4, &out);
    cr_assert(eq(int, rc, 0), "%s", pw_strerror(rc));
    assert_same(&ev, &out);
    free(more);
    pw_buf_free(&buf);
}

Test(event, other_version_is_eversion)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    pw_event_t out;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_hb(&pk, 2, 0);
    cr_assert(eq(int, pw_event_decode(sb.data, sb.size, &out), PW_EVERSION));
    msgpack_sbuffer_destroy(&sb);
}

Test(event, rejects_bad_field_values)
{
    pw_event_t ev = rate_event(), out;
    pw_buf_t buf = {0};
    msgpack_unpacked up;
    size_t off = 0;

    cr_assert(eq(int, pw_event_encode(&ev, &buf), 0));
    msgpack_unpacked_init(&up);
    cr_assert(eq(int, msgpack_unpack_next(&up, buf.data, buf.len, &off), MSGPACK_UNPACK_SUCCESS));
    msgpack_object_kv *kv = up.data.via.map.ptr;
    uint32_t n = up.data.via.map.size;

    /* Each mutation of the decoded tree, applied alone, must be refused. */
    for (uint32_t i = 0; i < n; i++) {
        msgpack_object saved = kv[i].val;
        const char *k = kv[i].key.via.str.ptr;
        size_t klen = kv[i].key.via.str.size;
        bool optional =
            (klen == 3 && memcmp(k, "val", 3) == 0) || (klen == 4 && memcmp(k, "rate", 4) == 0);
        /* A map is the wrong type for every field. */
        kv[i].val.type = MSGPACK_OBJECT_MAP;
        kv[i].val.via.map.size = 0;
        kv[i].val.via.map.ptr = NULL;
        cr_expect(eq(int, pw_event_from_object(&up.data, &out), PW_EMALFORMED), "%.*s as map",
                  (int)klen, k);
        /* nil is only allowed where a value or rate may be missing. */
        kv[i].val.type = MSGPACK_OBJECT_NIL;
        int rc = pw_event_from_object(&up.data, &out);
        if (!optional)
            cr_expect(eq(int, rc, PW_EMALFORMED), "%.*s as nil", (int)klen, k);
        else
            cr_expect(eq(int, rc, 0), "%.*s as nil", (int)klen, k);
        kv[i].val = saved;
    }
    cr_assert(eq(int, pw_event_from_object(&up.data, &out), 0), "restored tree decodes");
    msgpack_unpacked_destroy(&up);
    pw_buf_free(&buf);
}

Test(event, rejects_bad_strings)
{
    static const struct {
        const char *key;
        const char *val;
        size_t len;
    } cases[] = {
        ROW("i", ""),           ROW("i", "Upper"),  ROW("i", "a\0b"),
        ROW("sr", "ur-ban"),    ROW("p", "2018H3"), ROW("band", "great"),
        ROW("band", ""),        ROW("a", "close"),  ROW("why", "\xed\xa0\x80"),
        ROW("why", "\xc0\x80"), ROW("why", "a\0"),
    };
    pw_event_t evs[] = {rate_event(), alert_event()}, out;
    pw_buf_t buf = {0};

    for (size_t e = 0; e < NELEM(evs); e++) {
        cr_assert(eq(int, pw_event_encode(&evs[e], &buf), 0));
        for (size_t c = 0; c < NELEM(cases); c++) {
            msgpack_unpacked up;
            size_t off = 0;
            bool found = false;
            msgpack_unpacked_init(&up);
            cr_assert(
                eq(int, msgpack_unpack_next(&up, buf.data, buf.len, &off), MSGPACK_UNPACK_SUCCESS));
            for (uint32_t i = 0; i < up.data.via.map.size; i++) {
                msgpack_object_kv *kv = &up.data.via.map.ptr[i];
                if (kv->key.via.str.size == strlen(cases[c].key) &&
                    memcmp(kv->key.via.str.ptr, cases[c].key, kv->key.via.str.size) == 0) {
                    kv->val.via.str.ptr = cases[c].val;
                    kv->val.via.str.size = (uint32_t)cases[c].len;
                    found = true;
                }
            }
            if (found) {
                int rc = pw_event_from_object(&up.data, &out);
                cr_expect(eq(int, rc, PW_EMALFORMED), "event %zu, %s = \"%.*s\": %s", e,
                          cases[c].key, (int)cases[c].len, cases[c].val, pw_err_name(rc));
            }
            msgpack_unpacked_destroy(&up);
        }
    }
    pw_buf_free(&buf);
}

Test(event, random_frames_never_crash)
{
    uint64_t s = 0x853c49e6748fea9bull;
    char frame[64];

    for (int i = 0; i < 10000; i++) {
        size_t len = 0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        len = (size_t)(s >> 58);
        for (size_t j = 0; j < len; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            frame[j] = (char)(s >> 56);
        }
        if (len > 0 && (i & 1))
            frame[0] = (char)(0x84);
        int rc = decode_raw(frame, len);
        cr_assert(rc == 0 || rc == PW_EMALFORMED || rc == PW_EVERSION, "frame %d: %s", i,
                  pw_err_name(rc));
    }
}
