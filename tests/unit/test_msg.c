/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <msgpack.h>

#include "pw/catalog.h"
#include "pw/error.h"
#include "pw/msg.h"
#include "pw/period.h"

/*
 * Frames are built from a list of key/value fields so that each malformed
 * case reads as "a valid update, except ...". Values are a small tagged
 * union; V_RAW writes bytes as they are, for what msgpack_pack_* cannot make
 * (ext types, huge declared lengths).
 */
enum vkind {
    V_NONE,
    V_UINT,
    V_INT,
    V_F64,
    V_F32,
    V_STR,
    V_BIN,
    V_NIL,
    V_TRUE,
    V_MAP,
    V_ARR,
    V_RAW
};

struct val {
    enum vkind kind;
    uint64_t u;
    int64_t i;
    double f;
    const char *s;
    size_t n;
};

enum keykind { KEY_STR = 0, KEY_INT, KEY_BIN };

struct field {
    const char *key;
    enum keykind keykind;
    struct val v;
};

enum opkind { OP_END = 0, OP_SET, OP_DEL, OP_ADD, OP_ADD_INTKEY, OP_ADD_BINKEY };

struct op {
    enum opkind op;
    const char *key;
    struct val v;
};

enum base { B_UPDATE = 0, B_WELCOME, B_NACK, B_RECORD, B_ACK };

#define MAXOPS 4

struct mcase {
    const char *name;
    enum base base;
    struct op ops[MAXOPS];
    bool use_raw; /* the frame is raw[0..rawlen), not a built map */
    const char *raw;
    size_t rawlen;
    const char *suffix; /* appended after the built map */
    size_t suffixlen;
    bool twice; /* the built map twice in one frame */
    int want;
};

/* Braced initialisers in macros: clang-format 14 would spread each over four lines. */
/* clang-format off */
#define U(x)    {.kind = V_UINT, .u = (x)}
#define IN(x)   {.kind = V_INT, .i = (x)}
#define F(x)    {.kind = V_F64, .f = (double)(x)}
#define F32(x)  {.kind = V_F32, .f = (double)(x)}
#define S(x)    {.kind = V_STR, .s = (x), .n = sizeof(x) - 1}
#define BIN(x)  {.kind = V_BIN, .s = (x), .n = sizeof(x) - 1}
#define RAWV(x) {.kind = V_RAW, .s = (x), .n = sizeof(x) - 1}
#define NIL     {.kind = V_NIL}
#define TRUE_V  {.kind = V_TRUE}
#define MAP0    {.kind = V_MAP}
#define ARR0    {.kind = V_ARR}

#define SET(k, v) {OP_SET, k, v}
#define DEL(k)    {OP_DEL, k, {0}}
#define ADD(k, v) {OP_ADD, k, v}

#define RAW(nm, bytes, code) \
    {.name = nm, .use_raw = true, .raw = bytes, .rawlen = sizeof(bytes) - 1, .want = code}
/* clang-format on */

#define T_OBS 1530000000000ull

static const struct field update_fields[] = {
    {"pv", KEY_STR, U(1)},        {"ty", KEY_STR, S("update")}, {"d", KEY_STR, S("jiangan")},
    {"ep", KEY_STR, U(7)},        {"s", KEY_STR, U(42)},        {"e", KEY_STR, S("communities")},
    {"p", KEY_STR, S("2018-07")}, {"v", KEY_STR, F(12.5)},      {"t", KEY_STR, U(T_OBS)},
};

static const struct field record_fields[] = {
    {"pv", KEY_STR, U(1)},         {"ty", KEY_STR, S("record")}, {"d", KEY_STR, S("jiangan")},
    {"ep", KEY_STR, U(7)},         {"s", KEY_STR, U(42)},        {"e", KEY_STR, S("communities")},
    {"p", KEY_STR, S("2018-07")},  {"v", KEY_STR, F(12.5)},      {"t", KEY_STR, U(T_OBS)},
    {"rt", KEY_STR, U(T_OBS + 5)}, {"k", KEY_STR, U(1)},
};

static const struct field welcome_fields[] = {
    {"pv", KEY_STR, U(1)}, {"ty", KEY_STR, S("welcome")}, {"d", KEY_STR, S("jiangan")},
    {"ep", KEY_STR, U(7)}, {"s", KEY_STR, U(42)},
};

static const struct field ack_fields[] = {
    {"pv", KEY_STR, U(1)},
    {"ty", KEY_STR, S("ack")},
    {"ep", KEY_STR, U(7)},
    {"s", KEY_STR, U(42)},
};

static const struct field nack_fields[] = {
    {"pv", KEY_STR, U(1)}, {"ty", KEY_STR, S("nack")},  {"ep", KEY_STR, U(7)},
    {"s", KEY_STR, U(42)}, {"r", KEY_STR, S("EVALUE")}, {"m", KEY_STR, S("value is NaN")},
};

#define NELEM(a)  (sizeof(a) / sizeof((a)[0]))
#define MAXFIELDS 24

static void assert_streq(const char *got, const char *want)
{
    cr_assert(strcmp(got, want) == 0, "\"%s\" != \"%s\"", got, want);
}

static void pack_val(msgpack_packer *pk, msgpack_sbuffer *sb, const struct val *v)
{
    switch (v->kind) {
    case V_NONE:
        break;
    case V_UINT:
        msgpack_pack_uint64(pk, v->u);
        break;
    case V_INT:
        msgpack_pack_int64(pk, v->i);
        break;
    case V_F64:
        msgpack_pack_double(pk, v->f);
        break;
    case V_F32:
        msgpack_pack_float(pk, (float)v->f);
        break;
    case V_STR:
        msgpack_pack_str(pk, v->n);
        msgpack_pack_str_body(pk, v->s, v->n);
        break;
    case V_BIN:
        msgpack_pack_bin(pk, v->n);
        msgpack_pack_bin_body(pk, v->s, v->n);
        break;
    case V_NIL:
        msgpack_pack_nil(pk);
        break;
    case V_TRUE:
        msgpack_pack_true(pk);
        break;
    case V_MAP:
        msgpack_pack_map(pk, 0);
        break;
    case V_ARR:
        msgpack_pack_array(pk, 0);
        break;
    case V_RAW:
        msgpack_sbuffer_write(sb, v->s, v->n);
        break;
    }
}

static void pack_fields(msgpack_packer *pk, msgpack_sbuffer *sb, const struct field *f, size_t n)
{
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        size_t klen = strlen(f[i].key);
        switch (f[i].keykind) {
        case KEY_STR:
            msgpack_pack_str(pk, klen);
            msgpack_pack_str_body(pk, f[i].key, klen);
            break;
        case KEY_INT:
            msgpack_pack_int(pk, 5);
            break;
        case KEY_BIN:
            msgpack_pack_bin(pk, klen);
            msgpack_pack_bin_body(pk, f[i].key, klen);
            break;
        }
        pack_val(pk, sb, &f[i].v);
    }
}

static size_t base_fields(enum base b, struct field *out)
{
    const struct field *src = update_fields;
    size_t n = NELEM(update_fields);

    switch (b) {
    case B_UPDATE:
        break;
    case B_WELCOME:
        src = welcome_fields;
        n = NELEM(welcome_fields);
        break;
    case B_NACK:
        src = nack_fields;
        n = NELEM(nack_fields);
        break;
    case B_RECORD:
        src = record_fields;
        n = NELEM(record_fields);
        break;
    case B_ACK:
        src = ack_fields;
        n = NELEM(ack_fields);
        break;
    }
    memcpy(out, src, n * sizeof *src);
    return n;
}

static size_t apply_ops(struct field *f, size_t n, const struct op *ops)
{
    for (size_t o = 0; o < MAXOPS && ops[o].op != OP_END; o++) {
        const struct op *op = &ops[o];
        size_t at = n;
        for (size_t i = 0; i < n; i++) {
            if (f[i].keykind == KEY_STR && strcmp(f[i].key, op->key) == 0) {
                at = i;
                break;
            }
        }
        switch (op->op) {
        case OP_END:
            break;
        case OP_SET:
            if (at == n)
                n++;
            f[at] = (struct field){op->key, KEY_STR, op->v};
            break;
        case OP_DEL:
            cr_assert(at < n, "test bug: no key %s to delete", op->key);
            memmove(&f[at], &f[at + 1], (n - at - 1) * sizeof *f);
            n--;
            break;
        case OP_ADD:
            f[n++] = (struct field){op->key, KEY_STR, op->v};
            break;
        case OP_ADD_INTKEY:
            f[n++] = (struct field){op->key, KEY_INT, op->v};
            break;
        case OP_ADD_BINKEY:
            f[n++] = (struct field){op->key, KEY_BIN, op->v};
            break;
        }
    }
    return n;
}

/* Builds a case's frame into sb (initialised by the caller). */
static void build_case(const struct mcase *c, msgpack_sbuffer *sb)
{
    struct field f[MAXFIELDS];
    msgpack_packer pk;

    if (c->use_raw) {
        /* sbuffer would memcpy from NULL for the empty frame. */
        if (c->rawlen > 0)
            msgpack_sbuffer_write(sb, c->raw, c->rawlen);
        return;
    }
    size_t n = apply_ops(f, base_fields(c->base, f), c->ops);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    pack_fields(&pk, sb, f, n);
    if (c->twice)
        pack_fields(&pk, sb, f, n);
    if (c->suffix != NULL)
        msgpack_sbuffer_write(sb, c->suffix, c->suffixlen);
}

static int decode_case(const struct mcase *c, pw_msg_t *out)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    build_case(c, &sb);
    int rc = pw_msg_decode(sb.data, sb.size, out);
    /* Every malformed row also checks that the reference decoder agrees. */
    pw_msg_t ref;
    int want = pw_msg_decode_reference(sb.data, sb.size, &ref);
    cr_expect(eq(int, rc, want), "%s: reference gives %s, decoder %s", c->name,
              pw_err_name(want), pw_err_name(rc));
    cr_expect(zero(int, memcmp(&ref, out, sizeof ref)), "%s: fields differ from the reference",
              c->name);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* clang-format off */
/* Framing and msgpack structure (pre-validator). */
static const struct mcase framing_cases[] = {
    RAW("empty frame", "", PW_EMALFORMED),
    RAW("never-used byte 0xc1", "\xc1", PW_EMALFORMED),
    RAW("top level array", "\x91\x01", PW_EMALFORMED),
    RAW("top level int", "\x01", PW_EMALFORMED),
    RAW("top level nil", "\xc0", PW_EMALFORMED),
    RAW("top level str", "\xa3" "abc", PW_EMALFORMED),
    RAW("top level empty map", "\x80", PW_EMALFORMED),
    RAW("array32 count 2^32-1, no body", "\xdd\xff\xff\xff\xff", PW_EMALFORMED),
    RAW("map32 count 2^32-1, no body", "\xdf\xff\xff\xff\xff", PW_EMALFORMED),
    RAW("array16 count 65535, no body", "\xdc\xff\xff", PW_EMALFORMED),
    RAW("map16 65535 entries, 2 present", "\xde\xff\xff\xa1p\x01\xa1q\x02", PW_EMALFORMED),
    RAW("map header cut", "\xde\x00", PW_EMALFORMED),
    RAW("str32 4 GiB, 10-byte body", "\xdb\xff\xff\xff\xff" "0123456789", PW_EMALFORMED),
    RAW("bin32 huge, 10-byte body", "\xc6\xff\xff\xff\xff" "0123456789", PW_EMALFORMED),
    RAW("str32 4 GiB as a map value", "\x81\xa1v\xdb\xff\xff\xff\xff" "0123456789", PW_EMALFORMED),
    RAW("fixext 1", "\xd4\x01\x00", PW_EMALFORMED),
    RAW("fixext 16", "\xd8\x01" "0123456789abcdef", PW_EMALFORMED),
    RAW("ext 8", "\xc7\x01\x05\x00", PW_EMALFORMED),
    RAW("ext 16", "\xc8\x00\x01\x05\x00", PW_EMALFORMED),
    RAW("ext 32", "\xc9\x00\x00\x00\x01\x05\x00", PW_EMALFORMED),
    RAW("float64 cut short", "\xcb\x00\x00", PW_EMALFORMED),
    {.name = "trailing garbage", .suffix = "\x00", .suffixlen = 1, .want = PW_EMALFORMED},
    {.name = "trailing 0xc1", .suffix = "\xc1", .suffixlen = 1, .want = PW_EMALFORMED},
    {.name = "two objects", .twice = true, .want = PW_EMALFORMED},
    {.name = "timestamp ext, nsec > 999999999",
     .ops = {SET("t", RAWV("\xd7\xff\xff\xff\xff\xff\x00\x00\x00\x00"))}, .want = PW_EMALFORMED},
    {.name = "fixext inside the map", .ops = {SET("v", RAWV("\xd4\x01\x00"))},
     .want = PW_EMALFORMED},
    {.name = "nesting depth 4 passes the walk", .ops = {SET("v", RAWV("\x91\x91\x91\x01"))},
     .want = PW_EVALUE},
    {.name = "nesting depth 5", .ops = {SET("v", RAWV("\x91\x91\x91\x91\x01"))},
     .want = PW_EMALFORMED},
};

/* Keys. */
static const struct mcase keys_cases[] = {
    {.name = "duplicate key v", .ops = {ADD("v", F(1.0))}, .want = PW_EMALFORMED},
    {.name = "duplicate key pv", .ops = {ADD("pv", U(1))}, .want = PW_EMALFORMED},
    {.name = "duplicate key, same value", .ops = {ADD("s", U(42))}, .want = PW_EMALFORMED},
    {.name = "missing pv", .ops = {DEL("pv")}, .want = PW_EMALFORMED},
    {.name = "missing ty", .ops = {DEL("ty")}, .want = PW_EMALFORMED},
    {.name = "missing d", .ops = {DEL("d")}, .want = PW_EMALFORMED},
    {.name = "missing ep", .ops = {DEL("ep")}, .want = PW_EMALFORMED},
    {.name = "missing s", .ops = {DEL("s")}, .want = PW_EMALFORMED},
    {.name = "missing e", .ops = {DEL("e")}, .want = PW_EMALFORMED},
    {.name = "missing p", .ops = {DEL("p")}, .want = PW_EMALFORMED},
    {.name = "missing v", .ops = {DEL("v")}, .want = PW_EMALFORMED},
    {.name = "missing t", .ops = {DEL("t")}, .want = PW_EMALFORMED},
    {.name = "record missing rt", .base = B_RECORD, .ops = {DEL("rt")}, .want = PW_EMALFORMED},
    {.name = "record missing k", .base = B_RECORD, .ops = {DEL("k")}, .want = PW_EMALFORMED},
    {.name = "nack missing m", .base = B_NACK, .ops = {DEL("m")}, .want = PW_EMALFORMED},
    {.name = "welcome missing s", .base = B_WELCOME, .ops = {DEL("s")}, .want = PW_EMALFORMED},
    {.name = "unknown key", .ops = {ADD("x", U(1))}, .want = PW_EMALFORMED},
    {.name = "key of another type (rt in update)", .ops = {ADD("rt", U(T_OBS))},
     .want = PW_EMALFORMED},
    {.name = "key of another type (d in ack)", .base = B_ACK, .ops = {ADD("d", S("jiangan"))},
     .want = PW_EMALFORMED},
    {.name = "int key", .ops = {{OP_ADD_INTKEY, "5", U(1)}}, .want = PW_EMALFORMED},
    {.name = "bin key", .ops = {{OP_ADD_BINKEY, "x", U(1)}}, .want = PW_EMALFORMED},
    {.name = "bin key spelling a known key", .ops = {DEL("v"), {OP_ADD_BINKEY, "v", F(1.0)}},
     .want = PW_EMALFORMED},
    {.name = "welcome with b", .base = B_WELCOME, .ops = {ADD("b", U(64))}, .want = PW_OK},
    {.name = "welcome with b = 0", .base = B_WELCOME, .ops = {ADD("b", U(0))},
     .want = PW_EMALFORMED},
    {.name = "welcome with b = 2^32", .base = B_WELCOME, .ops = {ADD("b", U(1ull << 32))},
     .want = PW_EMALFORMED},
    {.name = "welcome with b a string", .base = B_WELCOME, .ops = {ADD("b", S("64"))},
     .want = PW_EMALFORMED},
    {.name = "b in an update", .ops = {ADD("b", U(64))}, .want = PW_EMALFORMED},
    {.name = "b in an ack", .base = B_ACK, .ops = {ADD("b", U(64))}, .want = PW_EMALFORMED},
};

/* Version and type. */
static const struct mcase version_and_type_cases[] = {
    {.name = "pv 2", .ops = {SET("pv", U(2))}, .want = PW_EVERSION},
    {.name = "pv 2 with a key we do not know", .ops = {SET("pv", U(2)), ADD("zz", U(1))},
     .want = PW_EVERSION},
    {.name = "pv 2 with a type we do not know", .ops = {SET("pv", U(2)), SET("ty", S("bye"))},
     .want = PW_EVERSION},
    {.name = "pv 0", .ops = {SET("pv", U(0))}, .want = PW_EMALFORMED},
    {.name = "pv -1", .ops = {SET("pv", IN(-1))}, .want = PW_EMALFORMED},
    {.name = "pv as string", .ops = {SET("pv", S("1"))}, .want = PW_EMALFORMED},
    {.name = "pv as float", .ops = {SET("pv", F(1.0))}, .want = PW_EMALFORMED},
    {.name = "unknown ty", .ops = {SET("ty", S("updat"))}, .want = PW_EMALFORMED},
    {.name = "ty as int", .ops = {SET("ty", U(3))}, .want = PW_EMALFORMED},
    {.name = "ty as bin", .ops = {SET("ty", BIN("update"))}, .want = PW_EMALFORMED},
    {.name = "ty ack with update keys", .ops = {SET("ty", S("ack"))}, .want = PW_EMALFORMED},
};

/* Ids and strings. */
static const struct mcase ids_and_strings_cases[] = {
    {.name = "district overlong c0 80", .ops = {SET("d", S("\xc0\x80"))}, .want = PW_EMALFORMED},
    {.name = "district NUL inside", .ops = {SET("d", S("jian\0gan"))}, .want = PW_EMALFORMED},
    {.name = "element NUL inside", .ops = {SET("e", S("communities\0x"))}, .want = PW_EMALFORMED},
    {.name = "element NUL at end", .ops = {SET("e", S("communities\0"))}, .want = PW_EMALFORMED},
    {.name = "district uppercase", .ops = {SET("d", S("Jiangan"))}, .want = PW_EMALFORMED},
    {.name = "district empty", .ops = {SET("d", S(""))}, .want = PW_EMALFORMED},
    {.name = "district with dash", .ops = {SET("d", S("jiang-an"))}, .want = PW_EMALFORMED},
    {.name = "district as bin", .ops = {SET("d", BIN("jiangan"))}, .want = PW_EMALFORMED},
    {.name = "district as int", .ops = {SET("d", U(1))}, .want = PW_EMALFORMED},
    {.name = "element 64 bytes",
     .ops = {SET("e", S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))},
     .want = PW_EMALFORMED},
    {.name = "element 63 bytes",
     .ops = {SET("e", S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))},
     .want = PW_OK},
    {.name = "text overlong c0 80", .base = B_NACK, .ops = {SET("m", S("a\xc0\x80"))},
     .want = PW_EMALFORMED},
    {.name = "text lone continuation 80", .base = B_NACK, .ops = {SET("m", S("a\x80z"))},
     .want = PW_EMALFORMED},
    {.name = "text surrogate ed a0 80", .base = B_NACK, .ops = {SET("m", S("\xed\xa0\x80"))},
     .want = PW_EMALFORMED},
    {.name = "text byte ff", .base = B_NACK, .ops = {SET("m", S("\xff"))}, .want = PW_EMALFORMED},
    {.name = "text truncated e2 82", .base = B_NACK, .ops = {SET("m", S("\xe2\x82"))},
     .want = PW_EMALFORMED},
    {.name = "text overlong e0 80 80", .base = B_NACK, .ops = {SET("m", S("\xe0\x80\x80"))},
     .want = PW_EMALFORMED},
    {.name = "text above U+10FFFF", .base = B_NACK, .ops = {SET("m", S("\xf4\x90\x80\x80"))},
     .want = PW_EMALFORMED},
    {.name = "text embedded NUL", .base = B_NACK, .ops = {SET("m", S("a\0b"))},
     .want = PW_EMALFORMED},
    {.name = "text CJK and U+10FFFF accepted", .base = B_NACK,
     .ops = {SET("m", S("\xe6\xb1\x9f\xe5\xb2\xb8 \xf4\x8f\xbf\xbf"))}, .want = PW_OK},
    {.name = "text 160 bytes", .base = B_NACK,
     .ops = {SET("m", S("0123456789012345678901234567890123456789012345678901234567890123456789"
                        "0123456789012345678901234567890123456789012345678901234567890123456789"
                        "01234567890123456789"))},
     .want = PW_EMALFORMED},
    {.name = "text 159 bytes", .base = B_NACK,
     .ops = {SET("m", S("0123456789012345678901234567890123456789012345678901234567890123456789"
                        "0123456789012345678901234567890123456789012345678901234567890123456789"
                        "0123456789012345678"))},
     .want = PW_OK},
    {.name = "reason unknown", .base = B_NACK, .ops = {SET("r", S("ENOPE"))}, .want = PW_EMALFORMED},
    {.name = "reason OK", .base = B_NACK, .ops = {SET("r", S("OK"))}, .want = PW_EMALFORMED},
    {.name = "reason with NUL", .base = B_NACK, .ops = {SET("r", S("EVALUE\0x"))},
     .want = PW_EMALFORMED},
    {.name = "reason as int", .base = B_NACK, .ops = {SET("r", IN(-1006))}, .want = PW_EMALFORMED},
};

/* Epoch and sequence. */
static const struct mcase epoch_and_seq_cases[] = {
    {.name = "epoch 0", .ops = {SET("ep", U(0))}, .want = PW_EMALFORMED},
    {.name = "epoch negative", .ops = {SET("ep", IN(-7))}, .want = PW_EMALFORMED},
    {.name = "seq 0", .ops = {SET("s", U(0))}, .want = PW_ESEQ},
    {.name = "record seq 0", .base = B_RECORD, .ops = {SET("s", U(0))}, .want = PW_ESEQ},
    {.name = "seq negative", .ops = {SET("s", IN(-1))}, .want = PW_ESEQ},
    {.name = "seq float 1.5", .ops = {SET("s", F(1.5))}, .want = PW_ESEQ},
    {.name = "seq float 1.0", .ops = {SET("s", F(1.0))}, .want = PW_ESEQ},
    {.name = "seq as string", .ops = {SET("s", S("42"))}, .want = PW_ESEQ},
    {.name = "seq UINT64_MAX accepted", .ops = {SET("s", U(UINT64_MAX))}, .want = PW_OK},
    {.name = "welcome seq 0 accepted", .base = B_WELCOME, .ops = {SET("s", U(0))}, .want = PW_OK},
    {.name = "ack seq 0 accepted", .base = B_ACK, .ops = {SET("s", U(0))}, .want = PW_OK},
};

/* Value. */
static const struct mcase value_cases[] = {
    {.name = "value NaN float64", .ops = {SET("v", F(NAN))}, .want = PW_EVALUE},
    {.name = "value NaN float32", .ops = {SET("v", F32(NAN))}, .want = PW_EVALUE},
    {.name = "value signalling NaN float64",
     .ops = {SET("v", RAWV("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x01"))}, .want = PW_EVALUE},
    {.name = "value signalling NaN float32", .ops = {SET("v", RAWV("\xca\x7f\x80\x00\x01"))},
     .want = PW_EVALUE},
    {.name = "value +Inf", .ops = {SET("v", F(INFINITY))}, .want = PW_EVALUE},
    {.name = "value -Inf", .ops = {SET("v", F(-INFINITY))}, .want = PW_EVALUE},
    {.name = "value +Inf float32", .ops = {SET("v", F32(INFINITY))}, .want = PW_EVALUE},
    {.name = "value as string", .ops = {SET("v", S("12"))}, .want = PW_EVALUE},
    {.name = "value as bool", .ops = {SET("v", TRUE_V)}, .want = PW_EVALUE},
    {.name = "value as nil", .ops = {SET("v", NIL)}, .want = PW_EVALUE},
    {.name = "value as map", .ops = {SET("v", MAP0)}, .want = PW_EVALUE},
    {.name = "value as array", .ops = {SET("v", ARR0)}, .want = PW_EVALUE},
    {.name = "value as bin", .ops = {SET("v", BIN("\x01"))}, .want = PW_EVALUE},
    {.name = "value -0.0 accepted", .ops = {SET("v", F(-0.0))}, .want = PW_OK},
    {.name = "value uint accepted", .ops = {SET("v", U(12))}, .want = PW_OK},
    {.name = "value negative int accepted", .ops = {SET("v", IN(-3))}, .want = PW_OK},
    {.name = "value float32 accepted", .ops = {SET("v", F32(1.5))}, .want = PW_OK},
};

/* Period. */
static const struct mcase period_cases[] = {
    {.name = "period 2024-13", .ops = {SET("p", S("2024-13"))}, .want = PW_EPERIOD},
    {.name = "period empty", .ops = {SET("p", S(""))}, .want = PW_EPERIOD},
    {.name = "period 24-1", .ops = {SET("p", S("24-1"))}, .want = PW_EPERIOD},
    {.name = "period int 202401", .ops = {SET("p", U(202401))}, .want = PW_EPERIOD},
    {.name = "period 2018H3", .ops = {SET("p", S("2018H3"))}, .want = PW_EPERIOD},
    {.name = "period 2018Q0", .ops = {SET("p", S("2018Q0"))}, .want = PW_EPERIOD},
    {.name = "period 2024-02-30", .ops = {SET("p", S("2024-02-30"))}, .want = PW_EPERIOD},
    {.name = "period 2018-7", .ops = {SET("p", S("2018-7"))}, .want = PW_EPERIOD},
    {.name = "period with NUL", .ops = {SET("p", S("2018\0"))}, .want = PW_EPERIOD},
    {.name = "period nil", .ops = {SET("p", NIL)}, .want = PW_EPERIOD},
};

/* Times and record kind. */
static const struct mcase time_and_kind_cases[] = {
    {.name = "t 0", .ops = {SET("t", U(0))}, .want = PW_ETIME},
    {.name = "t negative", .ops = {SET("t", IN(-5))}, .want = PW_ETIME},
    {.name = "t float", .ops = {SET("t", F(1530000000000.0))}, .want = PW_ETIME},
    {.name = "t above INT64_MAX", .ops = {SET("t", U(UINT64_MAX))}, .want = PW_ETIME},
    {.name = "t as string", .ops = {SET("t", S("1530000000000"))}, .want = PW_ETIME},
    {.name = "record rt 0", .base = B_RECORD, .ops = {SET("rt", U(0))}, .want = PW_ETIME},
    {.name = "record k 3", .base = B_RECORD, .ops = {SET("k", U(3))}, .want = PW_EMALFORMED},
    {.name = "record k -1", .base = B_RECORD, .ops = {SET("k", IN(-1))}, .want = PW_EMALFORMED},
};
/* clang-format on */

/*
 * Each group is one test that goes through all its rows, reporting every
 * failing row by name: one process per row would cost a sanitizer start-up
 * each (about 0.2 s), and the unit suite has to stay fast.
 */
static void run_cases(const struct mcase *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pw_msg_t m;
        int rc = decode_case(&rows[i], &m);
        cr_expect(eq(int, rc, rows[i].want), "%s: got %s, want %s", rows[i].name, pw_err_name(rc),
                  pw_err_name(rows[i].want));
    }
}

TestSuite(msg_decode, .timeout = 10.0);

Test(msg_decode, framing)
{
    run_cases(framing_cases, NELEM(framing_cases));
}

Test(msg_decode, keys)
{
    run_cases(keys_cases, NELEM(keys_cases));
}

Test(msg_decode, version_and_type)
{
    run_cases(version_and_type_cases, NELEM(version_and_type_cases));
}

Test(msg_decode, ids_and_strings)
{
    run_cases(ids_and_strings_cases, NELEM(ids_and_strings_cases));
}

Test(msg_decode, epoch_and_seq)
{
    run_cases(epoch_and_seq_cases, NELEM(epoch_and_seq_cases));
}

Test(msg_decode, value)
{
    run_cases(value_cases, NELEM(value_cases));
}

Test(msg_decode, period)
{
    run_cases(period_cases, NELEM(period_cases));
}

Test(msg_decode, time_and_kind)
{
    run_cases(time_and_kind_cases, NELEM(time_and_kind_cases));
}

TestSuite(msg, .timeout = 10.0);

static pw_msg_t sample(pw_msg_type_t type)
{
    pw_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.epoch = 0x1234567890abcdefull;
    switch (type) {
    case PW_MSG_HELLO:
        strcpy(m.district, "jiangan");
        break;
    case PW_MSG_WELCOME:
        strcpy(m.district, "hongshan");
        m.seq = 0;
        break;
    case PW_MSG_UPDATE:
    case PW_MSG_RECORD:
        strcpy(m.district, "dongxihu");
        m.seq = 77;
        strcpy(m.element, "dibao_precise_cases");
        cr_assert(eq(int, pw_period_parse("2018Q3", 6, &m.period), 0));
        m.value = 1234.0625;
        m.observed_ms = 1530000000123;
        if (type == PW_MSG_RECORD) {
            m.received_ms = 1530000000999;
            m.kind = PW_RECORD_REVISION;
        }
        break;
    case PW_MSG_ACK:
        m.seq = UINT64_MAX;
        break;
    case PW_MSG_NACK:
        m.seq = 5;
        m.reason = PW_EREPORTER;
        strcpy(m.text, "城市低保标准 is reported by the city office");
        break;
    }
    return m;
}

static void assert_same(const pw_msg_t *a, const pw_msg_t *b)
{
    cr_assert(eq(int, (int)a->type, (int)b->type));
    assert_streq(a->district, b->district);
    cr_assert(eq(u64, a->epoch, b->epoch));
    cr_assert(eq(u64, a->seq, b->seq));
    assert_streq(a->element, b->element);
    cr_assert(pw_period_eq(a->period, b->period));
    cr_assert(eq(dbl, a->value, b->value));
    cr_assert(eq(i64, a->observed_ms, b->observed_ms));
    cr_assert(eq(i64, a->received_ms, b->received_ms));
    cr_assert(eq(int, (int)a->kind, (int)b->kind));
    cr_assert(eq(int, a->reason, b->reason));
    assert_streq(a->text, b->text);
    cr_assert(eq(u64, a->spool_head, b->spool_head));
    cr_assert(eq(u32, a->frame_max, b->frame_max));
}

static void round_trip(pw_msg_type_t type)
{
    pw_msg_t in = sample(type), out;
    pw_buf_t buf = {0};

    int rc = pw_msg_encode(&in, &buf);
    cr_assert(eq(int, rc, 0), "encode %s: %s", pw_msg_type_name(type), pw_strerror(rc));
    cr_assert(le(sz, buf.len, (size_t)PW_MSG_MAXSIZE));
    rc = pw_msg_decode(buf.data, buf.len, &out);
    cr_assert(eq(int, rc, 0), "decode %s: %s", pw_msg_type_name(type), pw_strerror(rc));
    assert_same(&in, &out);
    pw_buf_free(&buf);
}

Test(msg, round_trip_hello)
{
    round_trip(PW_MSG_HELLO);
}

Test(msg, round_trip_welcome)
{
    round_trip(PW_MSG_WELCOME);
}

Test(msg, round_trip_update)
{
    round_trip(PW_MSG_UPDATE);
}

Test(msg, round_trip_ack)
{
    round_trip(PW_MSG_ACK);
}

Test(msg, round_trip_nack)
{
    round_trip(PW_MSG_NACK);
}

Test(msg, round_trip_record)
{
    round_trip(PW_MSG_RECORD);
}

Test(msg, hello_and_welcome_carry_b_only_when_set)
{
    pw_buf_t buf = {0};
    pw_msg_t out, ref;
    for (int t = PW_MSG_HELLO; t <= PW_MSG_WELCOME; t++) {
        pw_msg_t in = sample((pw_msg_type_t)t);
        if (t == PW_MSG_HELLO)
            in.spool_head = 99;
        cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
        cr_assert_null(memmem(buf.data, buf.len, "\xa1" "b", 2), "b written while 0");
        in.frame_max = 64;
        cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
        cr_assert_not_null(memmem(buf.data, buf.len, "\xa1" "b\x40", 3));
        cr_assert(eq(int, pw_msg_decode(buf.data, buf.len, &out), 0));
        assert_same(&in, &out);
        cr_assert(eq(int, pw_msg_decode_reference(buf.data, buf.len, &ref), 0));
        assert_same(&in, &ref);
    }
    /* Only hello and welcome have it. */
    pw_msg_t up = sample(PW_MSG_UPDATE);
    up.frame_max = 64;
    cr_assert(eq(int, pw_msg_encode(&up, &buf), 0));
    cr_assert(eq(int, pw_msg_decode(buf.data, buf.len, &out), 0));
    cr_assert(eq(u32, out.frame_max, 0));
    pw_buf_free(&buf);
}

/* A frame of messages back to back, as pw_msg_decode_next() reads it. */
static size_t frame_of(pw_buf_t *frame, const pw_msg_t *msgs, size_t n, size_t *ends)
{
    pw_buf_t one = {0};
    frame->len = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(eq(int, pw_msg_encode(&msgs[i], &one), 0));
        cr_assert(eq(int, pw_buf_append(frame, one.data, one.len), 0));
        ends[i] = frame->len;
    }
    pw_buf_free(&one);
    return frame->len;
}

Test(msg, decode_next_reads_a_frame_of_several_messages_in_order)
{
    pw_msg_t msgs[4] = {sample(PW_MSG_UPDATE), sample(PW_MSG_HELLO), sample(PW_MSG_UPDATE),
                        sample(PW_MSG_RECORD)};
    msgs[1].frame_max = 64;
    msgs[2].seq = 78;
    msgs[2].value = -0.5;
    msgs[2].period.months = 1; /* another layout of the period: still direct */
    pw_buf_t frame = {0};
    size_t ends[4], len = frame_of(&frame, msgs, 4, ends);
    size_t pos = 0;
    for (size_t i = 0; i < 4; i++) {
        pw_msg_t out;
        cr_assert(eq(int, pw_msg_decode_next(frame.data, len, &pos, &out), 0), "message %zu", i);
        cr_assert(eq(sz, pos, ends[i]));
        assert_same(&msgs[i], &out);
    }
    /* A message of one frame reads the same way, and the frame is done. */
    pw_msg_t out;
    pos = 0;
    cr_assert(eq(int, pw_msg_decode_next(frame.data, ends[0], &pos, &out), 0));
    cr_assert(eq(sz, pos, ends[0]));
    cr_assert(eq(int, pw_msg_decode_next(frame.data, ends[0], &pos, &out), PW_EMALFORMED),
              "nothing left to read");
    pw_buf_free(&frame);
}

Test(msg, decode_next_stops_at_what_it_cannot_read)
{
    pw_msg_t msgs[2] = {sample(PW_MSG_UPDATE), sample(PW_MSG_UPDATE)};
    pw_buf_t frame = {0};
    size_t ends[2];
    frame_of(&frame, msgs, 1, ends);
    /* A valid update, a byte that starts no object, another update. */
    cr_assert(eq(int, pw_buf_append(&frame, "\xc1", 1), 0));
    size_t bad = frame.len - 1;
    pw_buf_t second = {0};
    cr_assert(eq(int, pw_msg_encode(&msgs[1], &second), 0));
    cr_assert(eq(int, pw_buf_append(&frame, second.data, second.len), 0));
    size_t pos = 0;
    pw_msg_t out;
    cr_assert(eq(int, pw_msg_decode_next(frame.data, frame.len, &pos, &out), 0));
    cr_assert(eq(sz, pos, bad));
    cr_assert(eq(int, pw_msg_decode_next(frame.data, frame.len, &pos, &out), PW_EMALFORMED));
    cr_assert(eq(sz, pos, frame.len), "the rest of the frame is given up");
    /* A complete object that is no message: its code, and the reader moves past it. */
    frame.len = 0;
    cr_assert(eq(int, pw_buf_append(&frame, "\x2a", 1), 0));
    cr_assert(eq(int, pw_buf_append(&frame, second.data, second.len), 0));
    pos = 0;
    cr_assert(eq(int, pw_msg_decode_next(frame.data, frame.len, &pos, &out), PW_EMALFORMED));
    cr_assert(eq(sz, pos, 1));
    /* A message cut short at the end of the frame. */
    pos = 0;
    cr_assert(eq(int, pw_msg_decode_next(second.data, second.len - 1, &pos, &out), PW_EMALFORMED));
    cr_assert(eq(sz, pos, second.len - 1));
    /* A field error keeps its own code, as in a frame of one. */
    pw_msg_t bad_time = sample(PW_MSG_UPDATE);
    cr_assert(eq(int, pw_msg_encode(&bad_time, &second), 0));
    size_t tpos = (size_t)((char *)memmem(second.data, second.len, "\xa1t", 2) - second.data);
    second.data[tpos + 2] = 0x00; /* t = 0 ... */
    second.len = tpos + 3;        /* ... as a positive fixint, the frame ends there */
    pos = 0;
    cr_assert(eq(int, pw_msg_decode_next(second.data, second.len, &pos, &out), PW_ETIME));
    cr_assert(eq(sz, pos, second.len));
    pw_buf_free(&frame);
    pw_buf_free(&second);
}

Test(msg, round_trip_every_period_kind_and_extreme_values)
{
    static const char *const periods[] = {"2016",    "2018H1",  "2018H2",  "2018Q1", "2018Q4",
                                          "2018-01", "2018-12", "9999-12", "1000"};
    static const double values[] = {0.0, 1e-300, 1.7976931348623157e308, -42.5, 0.1};
    pw_msg_t in = sample(PW_MSG_UPDATE), out;
    pw_buf_t buf = {0};

    for (size_t i = 0; i < NELEM(periods); i++) {
        cr_assert(eq(int, pw_period_parse(periods[i], strlen(periods[i]), &in.period), 0));
        in.value = values[i % NELEM(values)];
        int rc = pw_msg_encode(&in, &buf);
        cr_assert(eq(int, rc, 0), "%s", pw_strerror(rc));
        rc = pw_msg_decode(buf.data, buf.len, &out);
        cr_assert(eq(int, rc, 0), "%s: %s", periods[i], pw_strerror(rc));
        assert_same(&in, &out);
    }
    pw_buf_free(&buf);
}

Test(msg, encode_writes_keys_in_documented_order)
{
    static const char *const want[] = {"pv", "ty", "d", "ep", "s", "e", "p", "v", "t", "rt", "k"};
    pw_msg_t in = sample(PW_MSG_RECORD);
    pw_buf_t buf = {0};
    msgpack_unpacked up;
    size_t off = 0;

    cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
    msgpack_unpacked_init(&up);
    cr_assert(eq(int, msgpack_unpack_next(&up, buf.data, buf.len, &off), MSGPACK_UNPACK_SUCCESS));
    cr_assert(eq(sz, off, buf.len));
    cr_assert(eq(int, up.data.type, MSGPACK_OBJECT_MAP));
    cr_assert(eq(sz, (size_t)up.data.via.map.size, NELEM(want)));
    for (size_t i = 0; i < NELEM(want); i++) {
        const msgpack_object *k = &up.data.via.map.ptr[i].key;
        cr_assert(eq(int, k->type, MSGPACK_OBJECT_STR));
        cr_assert(eq(sz, (size_t)k->via.str.size, strlen(want[i])));
        cr_assert(zero(int, memcmp(k->via.str.ptr, want[i], strlen(want[i]))), "key %zu", i);
        const msgpack_object *v = &up.data.via.map.ptr[i].val;
        if (strcmp(want[i], "v") == 0)
            cr_assert(eq(int, v->type, MSGPACK_OBJECT_FLOAT64), "v must be a float64");
        if (strcmp(want[i], "p") == 0)
            cr_assert(zero(int, memcmp(v->via.str.ptr, "2018Q3", 6)));
    }
    msgpack_unpacked_destroy(&up);
    pw_buf_free(&buf);
}

static bool contains(const char *hay, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    }
    return false;
}

Test(msg, encode_packs_whole_value_as_float64)
{
    pw_msg_t in = sample(PW_MSG_UPDATE);
    pw_buf_t buf = {0};
    in.value = 12.0;
    cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
    /* "v" then 0xcb and the IEEE bits of 12.0. */
    static const char want[] = "\xa1v\xcb\x40\x28\x00\x00\x00\x00\x00\x00";
    cr_assert(contains(buf.data, buf.len, want, sizeof want - 1));
    pw_buf_free(&buf);
}

Test(msg, encode_reuses_the_buffer)
{
    pw_msg_t big = sample(PW_MSG_NACK), small = sample(PW_MSG_ACK);
    pw_buf_t buf = {0};

    cr_assert(eq(int, pw_msg_encode(&big, &buf), 0));
    char *data = buf.data;
    size_t cap = buf.cap, biglen = buf.len;
    cr_assert(eq(int, pw_msg_encode(&small, &buf), 0));
    cr_assert(eq(ptr, buf.data, data));
    cr_assert(eq(sz, buf.cap, cap));
    cr_assert(lt(sz, buf.len, biglen));
    pw_msg_t out;
    cr_assert(eq(int, pw_msg_decode(buf.data, buf.len, &out), 0));
    cr_assert(eq(int, (int)out.type, PW_MSG_ACK));
    pw_buf_free(&buf);
    cr_assert(zero(ptr, buf.data));
    cr_assert(eq(sz, buf.len, 0));
    cr_assert(eq(sz, buf.cap, 0));
    pw_buf_free(&buf);
    pw_buf_free(NULL);
}

Test(msg, encode_rejects_bad_type_and_reason)
{
    pw_msg_t m = sample(PW_MSG_NACK);
    pw_buf_t buf = {0};

    m.type = (pw_msg_type_t)0;
    cr_assert(eq(int, pw_msg_encode(&m, &buf), -EINVAL));
    m.type = (pw_msg_type_t)99;
    cr_assert(eq(int, pw_msg_encode(&m, &buf), -EINVAL));
    m.type = PW_MSG_NACK;
    m.reason = -ENOMEM; /* has a name, but not one the decoder maps back */
    cr_assert(eq(int, pw_msg_encode(&m, &buf), -EINVAL));
    m.reason = 0;
    cr_assert(eq(int, pw_msg_encode(&m, &buf), -EINVAL));
    pw_buf_free(&buf);
}

Test(msg, type_names)
{
    assert_streq(pw_msg_type_name(PW_MSG_HELLO), "hello");
    assert_streq(pw_msg_type_name(PW_MSG_WELCOME), "welcome");
    assert_streq(pw_msg_type_name(PW_MSG_UPDATE), "update");
    assert_streq(pw_msg_type_name(PW_MSG_ACK), "ack");
    assert_streq(pw_msg_type_name(PW_MSG_NACK), "nack");
    assert_streq(pw_msg_type_name(PW_MSG_RECORD), "record");
    assert_streq(pw_msg_type_name((pw_msg_type_t)0), "?");
    assert_streq(pw_msg_type_name((pw_msg_type_t)42), "?");
}

Test(msg, negative_zero_is_normalised)
{
    struct mcase c = {.name = "-0.0", .ops = {SET("v", F(-0.0))}};
    pw_msg_t m;
    cr_assert(eq(int, decode_case(&c, &m), 0));
    cr_assert(eq(dbl, m.value, 0.0));
    cr_assert(not(signbit(m.value)), "-0.0 must come out as +0.0");
}

Test(msg, integer_and_float32_values_are_converted)
{
    struct mcase c1 = {.name = "uint", .ops = {SET("v", U(9007199254740992ull))}};
    struct mcase c2 = {.name = "int", .ops = {SET("v", IN(-3))}};
    struct mcase c3 = {.name = "f32", .ops = {SET("v", F32(0.5))}};
    pw_msg_t m;
    cr_assert(eq(int, decode_case(&c1, &m), 0));
    cr_assert(eq(dbl, m.value, 9007199254740992.0));
    cr_assert(eq(int, decode_case(&c2, &m), 0));
    cr_assert(eq(dbl, m.value, -3.0));
    cr_assert(eq(int, decode_case(&c3, &m), 0));
    cr_assert(eq(dbl, m.value, 0.5));
}

Test(msg, failed_decode_leaves_output_zeroed)
{
    struct mcase c = {.name = "t 0", .ops = {SET("t", U(0))}};
    pw_msg_t m, zero_msg;
    memset(&m, 0xa5, sizeof m);
    memset(&zero_msg, 0, sizeof zero_msg);
    cr_assert(eq(int, decode_case(&c, &m), PW_ETIME));
    cr_assert(zero(int, memcmp(&m, &zero_msg, sizeof m)));
}

/* Encodes the standard update into a heap buffer the test frees. */
static char *valid_update(size_t *len)
{
    struct mcase c = {.name = "valid"};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    build_case(&c, &sb);
    *len = sb.size;
    return msgpack_sbuffer_release(&sb);
}

Test(msg, rejects_update_truncated_at_every_offset)
{
    size_t len;
    char *frame = valid_update(&len);
    pw_msg_t m;

    cr_assert(eq(int, pw_msg_decode(frame, len, &m), 0), "the uncut frame is valid");
    for (size_t cut = 0; cut < len; cut++) {
        /* A copy of exactly cut bytes, so ASan sees any read past the end. */
        char *part = malloc(cut ? cut : 1);
        cr_assert(not(zero(ptr, part)));
        memcpy(part, frame, cut);
        int rc = pw_msg_decode(part, cut, &m);
        free(part);
        cr_assert(eq(int, rc, PW_EMALFORMED), "cut at %zu of %zu: %s", cut, len, pw_err_name(rc));
    }
    free(frame);
}

static int decode_filled(unsigned char first, unsigned char fill, size_t n, unsigned char last)
{
    unsigned char *p = malloc(n);
    pw_msg_t m;
    cr_assert(not(zero(ptr, p)));
    memset(p, fill, n);
    p[0] = first;
    p[n - 1] = last;
    int rc = pw_msg_decode(p, n, &m);
    free(p);
    return rc;
}

Test(msg, rejects_deep_nesting)
{
    /* 0x91 x 100 000: oversized, and nested far beyond any depth limit. */
    cr_assert(eq(int, decode_filled(0x91, 0x91, 100000, 0x01), PW_EMALFORMED));
    /* The same within the size limit reaches the depth check itself. */
    cr_assert(eq(int, decode_filled(0x91, 0x91, PW_MSG_MAXSIZE, 0x01), PW_EMALFORMED));
    cr_assert(eq(int, decode_filled(0x81, 0x81, PW_MSG_MAXSIZE, 0x01), PW_EMALFORMED));
}

Test(msg, rejects_oversized_frames)
{
    size_t len;
    char *frame = valid_update(&len);
    char *big = calloc(1, PW_MSG_MAXSIZE + 1);
    pw_msg_t m;

    cr_assert(not(zero(ptr, big)));
    memcpy(big, frame, len);
    /* A valid update followed by zeros up to one byte past the limit. */
    cr_assert(eq(int, pw_msg_decode(big, PW_MSG_MAXSIZE + 1, &m), PW_EMALFORMED));
    free(big);
    free(frame);
    /* A 32 768-element array where a scalar is expected, and a 10 KiB id. */
    cr_assert(eq(int, decode_filled(0xdc, 0x01, 3 + 32768, 0x01), PW_EMALFORMED));
    cr_assert(eq(int, decode_filled(0xdd, 0x00, 5 + 32768, 0x01), PW_EMALFORMED));
}

Test(msg, rejects_10k_id)
{
    size_t n = 10 * 1024;
    char *id = malloc(n);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    pw_msg_t m;
    struct field f[MAXFIELDS];
    size_t nf = base_fields(B_UPDATE, f);

    cr_assert(not(zero(ptr, id)));
    memset(id, 'a', n);
    f[5].v = (struct val){.kind = V_STR, .s = id, .n = n}; /* e */
    assert_streq(f[5].key, "e");
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_fields(&pk, &sb, f, nf);
    cr_assert(eq(int, pw_msg_decode(sb.data, sb.size, &m), PW_EMALFORMED));
    msgpack_sbuffer_destroy(&sb);
    free(id);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* What any successful decode must satisfy, whatever bytes it came from. */
static void assert_plausible(const pw_msg_t *m)
{
    cr_assert(strcmp(pw_msg_type_name(m->type), "?") != 0);
    cr_assert(gt(u64, m->epoch, 0));
    cr_assert(isfinite(m->value));
    if (m->type == PW_MSG_UPDATE || m->type == PW_MSG_RECORD) {
        cr_assert(gt(u64, m->seq, 0));
        cr_assert(gt(i64, m->observed_ms, 0));
        cr_assert(not(zero(sz, strlen(m->element))));
    }
}

Test(msg, random_frames_never_crash)
{
    static const int allowed[] = {PW_EMALFORMED, PW_EVERSION, PW_EPERIOD,
                                  PW_EVALUE,     PW_ESEQ,     PW_ETIME};
    unsigned char frame[96];
    pw_msg_t m;
    int valid = 0;

    rng_state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 10000; i++) {
        size_t len = (size_t)(rng() % sizeof frame);
        for (size_t j = 0; j < len; j++)
            frame[j] = (unsigned char)rng();
        /* Half of the frames start like a map, so they get past the first byte. */
        if (len > 0 && (i & 1))
            frame[0] = (unsigned char)(0x80 | (rng() % 12));
        unsigned char *copy = malloc(len ? len : 1);
        cr_assert(not(zero(ptr, copy)));
        memcpy(copy, frame, len);
        int rc = pw_msg_decode(copy, len, &m);
        free(copy);
        if (rc == 0) {
            assert_plausible(&m);
            valid++;
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < NELEM(allowed); k++)
            known = known || rc == allowed[k];
        cr_assert(known, "frame %d: unexpected %d (%s)", i, rc, pw_err_name(rc));
    }
    cr_log_info("random frames: %d of 10000 decoded", valid);
}

Test(msg, mutated_updates_never_crash)
{
    size_t len;
    char *frame = valid_update(&len);
    pw_msg_t m;
    int valid = 0;

    rng_state = 0x243f6a8885a308d3ull;
    for (int i = 0; i < 10000; i++) {
        char *copy = malloc(len);
        cr_assert(not(zero(ptr, copy)));
        memcpy(copy, frame, len);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++)
            copy[rng() % len] = (char)rng();
        int rc = pw_msg_decode(copy, len, &m);
        free(copy);
        if (rc == 0) {
            assert_plausible(&m);
            valid++;
        } else {
            cr_assert(lt(int, rc, -1000), "mutation %d: %s", i, pw_err_name(rc));
        }
    }
    free(frame);
    cr_log_info("mutated updates: %d of 10000 still valid", valid);
}

/* The stored-record reader must agree with the strict decoder: same code, same fields. */
static void assert_stored_agrees(const void *data, size_t len, const char *what, int i)
{
    pw_msg_t strict, fast;
    int want = pw_msg_decode(data, len, &strict);
    int got = pw_msg_decode_stored(data, len, &fast);
    cr_assert(eq(int, got, want), "%s %d: %s vs %s", what, i, pw_err_name(got), pw_err_name(want));
    cr_assert(zero(int, memcmp(&fast, &strict, sizeof fast)), "%s %d: fields differ", what, i);
}

Test(msg, decode_stored_matches_strict_decode)
{
    static const char *const periods[] = {"2016", "2018H2", "2018Q1", "2018-12", "9999-12"};
    static const double values[] = {0.0, -0.0, 1e-300, 1.7976931348623157e308, 3.0, 0.1};
    static const uint64_t ints[] = {1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX,
                                    (uint64_t)UINT32_MAX + 1, INT64_MAX};
    pw_msg_t in = sample(PW_MSG_RECORD);
    pw_buf_t buf = {0};
    int n = 0;

    for (size_t i = 0; i < NELEM(periods) * NELEM(values) * NELEM(ints); i++, n++) {
        const char *p = periods[i % NELEM(periods)];
        cr_assert(eq(int, pw_period_parse(p, strlen(p), &in.period), 0));
        in.value = values[i % NELEM(values)];
        in.seq = ints[i % NELEM(ints)];
        in.epoch = ints[(i / 3) % NELEM(ints)];
        in.observed_ms = (int64_t)ints[(i / 7) % NELEM(ints)];
        in.received_ms = (int64_t)ints[(i / 11) % NELEM(ints)];
        in.kind = (pw_record_kind_t)(i % 3);
        cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
        pw_msg_t out;
        cr_assert(eq(int, pw_msg_decode_stored(buf.data, buf.len, &out), 0));
        assert_stored_agrees(buf.data, buf.len, "round trip", n);
    }
    /* Every truncation, and mutated records, including other message types. */
    in = sample(PW_MSG_RECORD);
    cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
    for (size_t cut = 0; cut < buf.len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        cr_assert(not(zero(ptr, copy)));
        memcpy(copy, buf.data, cut);
        assert_stored_agrees(copy, cut, "truncated at", (int)cut);
        free(copy);
    }
    rng_state = 0x452821e638d01377ull;
    for (int i = 0; i < 10000; i++) {
        char *copy = malloc(buf.len);
        cr_assert(not(zero(ptr, copy)));
        memcpy(copy, buf.data, buf.len);
        int flips = 1 + (int)(rng() % 3);
        for (int f = 0; f < flips; f++)
            copy[rng() % buf.len] = (char)rng();
        assert_stored_agrees(copy, buf.len, "mutation", i);
        free(copy);
    }
    in = sample(PW_MSG_UPDATE);
    cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
    assert_stored_agrees(buf.data, buf.len, "an update", 0);
    pw_buf_free(&buf);
}

/* The in-place strict decoder must agree with the msgpack-c reference: same code, same fields. */
static void assert_decode_agrees(const void *data, size_t len, const char *what, int i)
{
    pw_msg_t ref, got;
    /* Garbage in both, so that a field left unset by one of them would show. */
    memset(&ref, 0xa5, sizeof ref);
    memset(&got, 0x5a, sizeof got);
    int want = pw_msg_decode_reference(data, len, &ref);
    int rc = pw_msg_decode(data, len, &got);
    cr_assert(eq(int, rc, want), "%s %d: %s vs reference %s", what, i, pw_err_name(rc),
              pw_err_name(want));
    cr_assert(zero(int, memcmp(&got, &ref, sizeof got)), "%s %d: fields differ", what, i);
}

/* Packs one field's value in one of the encodings msgpack allows for it. */
static void pack_variant(msgpack_packer *pk, msgpack_sbuffer *sb, int how, uint64_t u)
{
    unsigned char raw[9];
    switch (how) {
    case 0: /* shortest unsigned */
        msgpack_pack_uint64(pk, u);
        break;
    case 1: /* as a signed int of 8 bytes: msgpack-c calls a value >= 0 positive */
        raw[0] = 0xd3;
        for (int b = 0; b < 8; b++)
            raw[1 + b] = (unsigned char)(u >> (56 - 8 * b));
        msgpack_sbuffer_write(sb, (const char *)raw, 9);
        break;
    case 2: /* int 8 / 16 / 32 by size, possibly negative */
        if ((int64_t)u >= INT8_MIN && (int64_t)u <= INT8_MAX) {
            raw[0] = 0xd0;
            raw[1] = (unsigned char)u;
            msgpack_sbuffer_write(sb, (const char *)raw, 2);
        } else if ((int64_t)u >= INT16_MIN && (int64_t)u <= INT16_MAX) {
            raw[0] = 0xd1;
            raw[1] = (unsigned char)(u >> 8);
            raw[2] = (unsigned char)u;
            msgpack_sbuffer_write(sb, (const char *)raw, 3);
        } else {
            raw[0] = 0xd2;
            for (int b = 0; b < 4; b++)
                raw[1 + b] = (unsigned char)(u >> (24 - 8 * b));
            msgpack_sbuffer_write(sb, (const char *)raw, 5);
        }
        break;
    case 3:
        msgpack_pack_float(pk, (float)(int64_t)u);
        break;
    case 4:
        msgpack_pack_double(pk, (double)(int64_t)u);
        break;
    case 5:
        msgpack_pack_nil(pk);
        break;
    case 6:
        msgpack_pack_true(pk);
        break;
    case 7:
        msgpack_pack_bin(pk, 2);
        msgpack_pack_bin_body(pk, "ab", 2);
        break;
    case 8:
        msgpack_pack_array(pk, 1);
        msgpack_pack_map(pk, 1);
        msgpack_pack_uint8(pk, 1);
        msgpack_pack_str(pk, 1);
        msgpack_pack_str_body(pk, "x", 1);
        break;
    default: /* a str of 8, 16 or 32-bit length header */
        raw[0] = 0xda;
        raw[1] = 0;
        raw[2] = 4;
        msgpack_sbuffer_write(sb, (const char *)raw, 3);
        msgpack_sbuffer_write(sb, "2018", 4);
        break;
    }
}

Test(msg, decode_matches_reference_decoder)
{
    static const pw_msg_type_t types[] = {PW_MSG_HELLO, PW_MSG_WELCOME, PW_MSG_UPDATE,
                                          PW_MSG_ACK,   PW_MSG_NACK,    PW_MSG_RECORD};
    static const double values[] = {0.0, -0.0, 1e-300, 1.7976931348623157e308, 3.0, 0.1, -2.5};
    static const uint64_t ints[] = {0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX,
                                    (uint64_t)UINT32_MAX + 1, INT64_MAX, UINT64_MAX};
    static const char *const keys[] = {"pv", "ty", "d", "ep", "s", "e", "p", "v", "t", "rt", "k",
                                       "r", "m", "hd", "x", "<NUL>d", "pvx"};
    pw_buf_t buf = {0};
    int n = 0;

    /* Round trips of every type, with integers and values at every width. */
    for (size_t t = 0; t < NELEM(types); t++) {
        for (size_t i = 0; i < NELEM(values) * NELEM(ints); i++, n++) {
            pw_msg_t in = sample(types[t]);
            in.value = values[i % NELEM(values)];
            in.seq = ints[i % NELEM(ints)];
            in.epoch = ints[(i / 5) % NELEM(ints)];
            in.spool_head = ints[(i / 3) % NELEM(ints)];
            if (types[t] == PW_MSG_UPDATE || types[t] == PW_MSG_RECORD) {
                in.observed_ms = (int64_t)(ints[(i / 7) % NELEM(ints)] >> 1);
                in.received_ms = (int64_t)(ints[(i / 11) % NELEM(ints)] >> 1);
            }
            if (pw_msg_encode(&in, &buf) != 0)
                continue;
            assert_decode_agrees(buf.data, buf.len, "round trip", n);
        }
    }
    /* Every truncation and thousands of mutations of every type. */
    rng_state = 0x13198a2e03707344ull;
    for (size_t t = 0; t < NELEM(types); t++) {
        pw_msg_t in = sample(types[t]);
        cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
        for (size_t cut = 0; cut <= buf.len; cut++) {
            char *copy = malloc(cut ? cut : 1);
            cr_assert(not(zero(ptr, copy)));
            memcpy(copy, buf.data, cut);
            assert_decode_agrees(copy, cut, "truncated at", (int)cut);
            free(copy);
        }
        for (int i = 0; i < 5000; i++) {
            char *copy = malloc(buf.len + 8);
            cr_assert(not(zero(ptr, copy)));
            memcpy(copy, buf.data, buf.len);
            size_t len = buf.len;
            int flips = 1 + (int)(rng() % 4);
            for (int f = 0; f < flips; f++) {
                unsigned char b = (unsigned char)rng();
                /* Half the time a byte that means something to msgpack. */
                if (rng() & 1)
                    b = (unsigned char)(0xc0 | (rng() % 0x20));
                copy[rng() % len] = (char)b;
            }
            if (rng() % 8 == 0)
                len -= rng() % len;
            assert_decode_agrees(copy, len, "mutation", i);
            free(copy);
        }
    }
    /* Messages of every type with their keys in random order, values in every
     * encoding msgpack allows (most of them valid), keys dropped, repeated,
     * unknown or not strings, and map16 headers. */
    static const unsigned type_keys[] = {
        [PW_MSG_HELLO] = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 3 | 1u << 13,
        [PW_MSG_WELCOME] = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4,
        [PW_MSG_UPDATE] = 0x1ffu,
        [PW_MSG_ACK] = 1u << 0 | 1u << 1 | 1u << 3 | 1u << 4,
        [PW_MSG_NACK] = 1u << 0 | 1u << 1 | 1u << 3 | 1u << 4 | 1u << 11 | 1u << 12,
        [PW_MSG_RECORD] = 0x7ffu,
    };
    int decoded = 0;
    for (int i = 0; i < 30000; i++) {
        pw_msg_type_t type = types[rng() % NELEM(types)];
        int order[24];
        size_t npairs = 0;
        for (int k = 0; k < 14; k++)
            if (type_keys[type] & (1u << k))
                order[npairs++] = k;
        for (int extra = (int)(rng() % 4) - 2; extra > 0 && npairs < NELEM(order); extra--)
            order[npairs++] = (int)(rng() % (NELEM(keys) + 1)); /* repeated, unknown, int key */
        if (npairs > 0 && rng() % 6 == 0) {
            size_t drop = rng() % npairs; /* one key dropped */
            npairs--;
            order[drop] = order[npairs];
        }
        for (size_t k = npairs; k > 1; k--) {
            size_t r = rng() % k;
            int tmp = order[k - 1];
            order[k - 1] = order[r];
            order[r] = tmp;
        }
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (rng() % 4 == 0)
            msgpack_sbuffer_write(&sb, (const char[]){(char)0xde, 0, (char)npairs}, 3);
        else
            msgpack_pack_map(&pk, npairs);
        for (size_t k = 0; k < npairs; k++) {
            int kk = order[k];
            if (kk == (int)NELEM(keys)) {
                msgpack_pack_uint8(&pk, 7);
            } else {
                /* "<NUL>d" stands for the two bytes NUL, 'd'. */
                bool nul = strcmp(keys[kk], "<NUL>d") == 0;
                const char *key = nul ? "\0d" : keys[kk];
                size_t klen = nul ? 2 : strlen(key);
                msgpack_pack_str(&pk, klen);
                msgpack_pack_str_body(&pk, key, klen);
            }
            const char *str = NULL;
            bool valid = rng() % 8 != 0;
            if (kk == 0 && valid)
                msgpack_pack_uint8(&pk, (uint8_t)(rng() % 16 ? 1 : 2));
            else if (kk == 1 && valid)
                str = pw_msg_type_name(rng() % 16 ? type : types[rng() % NELEM(types)]);
            else if (kk == 2 && valid)
                str = "jiangan";
            else if (kk == 5 && valid)
                str = "dibao_cases";
            else if (kk == 6 && valid)
                str = rng() % 2 ? "2018H1" : "2019-07";
            else if (kk == 11 && valid)
                str = rng() % 2 ? "EVALUE" : "ESTOREFULL";
            else if (kk == 12 && valid)
                str = "城市低保标准";
            else if (valid && (kk == 3 || kk == 4 || kk == 7 || kk == 8 || kk == 9 || kk == 10 ||
                               kk == 13))
                /* An integer or a number in any of its encodings, small enough to be valid. */
                pack_variant(&pk, &sb, (int)(rng() % 5),
                             kk == 10  ? rng() % 3
                             : kk == 7 ? (uint64_t) - (int64_t)(rng() % 70000) /* <= 0: decodes */
                                       : 1 + rng() % 300);
            else
                pack_variant(&pk, &sb, (int)(rng() % 10),
                             rng() % 4 ? ints[rng() % NELEM(ints)]
                                       : (uint64_t) - (int64_t)(rng() % 70000));
            if (str) {
                msgpack_pack_str(&pk, strlen(str));
                msgpack_pack_str_body(&pk, str, strlen(str));
            }
        }
        pw_msg_t m;
        decoded += pw_msg_decode_reference(sb.data, sb.size, &m) == 0;
        assert_decode_agrees(sb.data, sb.size, "random map", i);
        msgpack_sbuffer_destroy(&sb);
    }
    cr_assert(gt(int, decoded, 1000), "only %d of the random maps were valid", decoded);
    cr_log_info("random maps: %d of 30000 valid", decoded);
    pw_buf_free(&buf);
}

/* What msgpack-c's packer gives a record or an update: the bytes encode_flat() must match. */
static void pack_record_reference(const pw_msg_t *m, msgpack_sbuffer *sb)
{
    /* An update has the record's keys but rt and k. */
    size_t nkeys = m->type == PW_MSG_UPDATE ? 9 : 11;
    static const char *const keys[] = {"pv", "ty", "d", "ep", "s", "e", "p", "v", "t", "rt", "k"};
    char period[PW_PERIOD_STRMAX];
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        msgpack_pack_str(&pk, strlen(keys[i]));
        msgpack_pack_str_body(&pk, keys[i], strlen(keys[i]));
        const char *str = NULL;
        switch (i) {
        case 0: msgpack_pack_uint64(&pk, PW_PROTO_VERSION); break;
        case 1: str = pw_msg_type_name(m->type); break;
        case 2: str = m->district; break;
        case 3: msgpack_pack_uint64(&pk, m->epoch); break;
        case 4: msgpack_pack_uint64(&pk, m->seq); break;
        case 5: str = m->element; break;
        case 6: pw_period_format(m->period, period); str = period; break;
        case 7: msgpack_pack_double(&pk, m->value); break;
        case 8: msgpack_pack_int64(&pk, m->observed_ms); break;
        case 9: msgpack_pack_int64(&pk, m->received_ms); break;
        default: msgpack_pack_uint64(&pk, (uint64_t)m->kind); break;
        }
        if (str) {
            msgpack_pack_str(&pk, strlen(str));
            msgpack_pack_str_body(&pk, str, strlen(str));
        }
    }
}

Test(msg, record_and_update_encoding_is_msgpack_c_byte_for_byte)
{
    static const uint64_t ints[] = {1,     127,   128,        255,        256,
                                    65535, 65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1, INT64_MAX};
    static const char *const ids[] = {"a", "dongxihu", "abcdefghijklmnopqrstuvwxyz_0123",
                                      "abcdefghijklmnopqrstuvwxyz_0123456789_abcdefghijklmnopqrstuvw"};
    pw_msg_t in = sample(PW_MSG_RECORD);
    pw_buf_t buf = {0};
    for (size_t i = 0; i < 2000; i++) {
        in.epoch = ints[i % NELEM(ints)];
        in.seq = ints[(i / 2) % NELEM(ints)];
        in.observed_ms = (int64_t)ints[(i / 3) % NELEM(ints)];
        in.received_ms = (int64_t)ints[(i / 5) % NELEM(ints)];
        in.kind = (pw_record_kind_t)(i % 3);
        in.type = i % 4 == 3 ? PW_MSG_UPDATE : PW_MSG_RECORD;
        if (in.type == PW_MSG_UPDATE) {
            in.received_ms = 0;
            in.kind = PW_RECORD_NEW;
        }
        in.value = (double)i * 1.37 - 300.0;
        snprintf(in.district, sizeof in.district, "%s", ids[i % NELEM(ids)]);
        snprintf(in.element, sizeof in.element, "%s", ids[(i / 3) % NELEM(ids)]);
        in.period.months = (uint8_t)(i % 2 ? 12 : 1);
        in.period.end = 2016 * 12 + (int)(i % 48);
        cr_assert(eq(int, pw_msg_encode(&in, &buf), 0));
        msgpack_sbuffer ref;
        pack_record_reference(&in, &ref);
        cr_assert(eq(sz, buf.len, ref.size), "record %zu: length", i);
        cr_assert(zero(int, memcmp(buf.data, ref.data, ref.size)), "record %zu: bytes", i);
        msgpack_sbuffer_destroy(&ref);
    }
    pw_buf_free(&buf);
}

/* Catalog checks: a small catalog in the data/ file format. */
static const char catalog_text[] = "[plan]\n"
                                   "name        = test plan\n"
                                   "base_year   = 2015\n"
                                   "target_year = 2020\n"
                                   "alert_below = 40\n"
                                   "on_track_at = 100\n"
                                   "\n"
                                   "[district jiangan]\n"
                                   "name_zh = 江岸区\n"
                                   "name_en = Jiang'an\n"
                                   "level   = district\n"
                                   "\n"
                                   "[district wuhan]\n"
                                   "name_zh = 武汉市(市本级)\n"
                                   "name_en = Wuhan city office\n"
                                   "level   = city\n"
                                   "\n"
                                   "[element communities]\n"
                                   "name_zh = 社区总数\n"
                                   "name_en = Communities\n"
                                   "unit    = communities\n"
                                   "kind    = count\n"
                                   "level   = district\n"
                                   "\n"
                                   "[element new_orgs]\n"
                                   "name_zh = 新登记社会组织数\n"
                                   "name_en = Newly registered organisations\n"
                                   "unit    = organisations\n"
                                   "kind    = flow\n"
                                   "level   = district\n"
                                   "\n"
                                   "[element urban_dibao_standard]\n"
                                   "name_zh = 城市低保标准\n"
                                   "name_en = Urban dibao standard\n"
                                   "unit    = yuan per person per month\n"
                                   "kind    = amount\n"
                                   "level   = city\n"
                                   "\n"
                                   "[indicator communities_total]\n"
                                   "row         = 1\n"
                                   "name_zh     = 社区总数\n"
                                   "name_en     = Communities in total\n"
                                   "category    = test\n"
                                   "unit        = count\n"
                                   "attribute   = expected\n"
                                   "base        = 100\n"
                                   "target      = 200\n"
                                   "target_kind = exact\n"
                                   "direction   = up\n"
                                   "method      = linear\n"
                                   "decimals    = 0\n"
                                   "value       = sum communities\n";

static pw_catalog_t *cat;

static void load_catalog(void)
{
    char err[256] = "";
    int rc =
        pw_catalog_parse("test.conf", catalog_text, sizeof catalog_text - 1, &cat, err, sizeof err);
    cr_assert(eq(int, rc, 0), "pw_catalog_parse: %s: %s", pw_strerror(rc), err);
}

static void free_catalog(void)
{
    pw_catalog_destroy(&cat);
}

TestSuite(msg_check, .init = load_catalog, .fini = free_catalog, .timeout = 10.0);

static pw_msg_t update_of(const char *district, const char *element, const char *period,
                          double value)
{
    pw_msg_t m = sample(PW_MSG_UPDATE);
    strcpy(m.district, district);
    strcpy(m.element, element);
    cr_assert(eq(int, pw_period_parse(period, strlen(period), &m.period), 0), "%s", period);
    m.value = value;
    return m;
}

static struct check_case {
    const char *name;
    const char *district, *element, *period;
    double value;
    int want;
} check_cases[] = {
    {"district count", "jiangan", "communities", "2018-07", 1200, PW_OK},
    {"district flow", "jiangan", "new_orgs", "2018Q3", 15, PW_OK},
    {"city amount, fractional", "wuhan", "urban_dibao_standard", "2018", 540.5, PW_OK},
    {"zero count", "jiangan", "communities", "2018-07", 0, PW_OK},
    {"base year", "jiangan", "communities", "2015", 1000, PW_OK},
    {"target year's last month", "jiangan", "communities", "2020-12", 1000, PW_OK},
    {"unknown district", "wuchang", "communities", "2018-07", 1, PW_EDISTRICT},
    {"unknown element", "jiangan", "care_beds", "2018-07", 1, PW_EELEMENT},
    {"city element from a district", "jiangan", "urban_dibao_standard", "2018", 540, PW_EREPORTER},
    {"district element from the city", "wuhan", "communities", "2018", 1, PW_EREPORTER},
    {"before the base year", "jiangan", "communities", "2014-12", 1, PW_EPERIOD},
    {"after the target year", "jiangan", "communities", "2021-01", 1, PW_EPERIOD},
    {"far future", "jiangan", "communities", "2999-12", 1, PW_EPERIOD},
    {"far past", "jiangan", "communities", "1900-01", 1, PW_EPERIOD},
    {"fractional count", "jiangan", "communities", "2018-07", 1.5, PW_EVALUE},
    {"fractional flow", "jiangan", "new_orgs", "2018-07", 0.25, PW_EVALUE},
    {"negative count", "jiangan", "communities", "2018-07", -1, PW_EVALUE},
    {"negative amount", "wuhan", "urban_dibao_standard", "2018", -0.5, PW_EVALUE},
};

Test(msg_check, update_table)
{
    for (size_t i = 0; i < NELEM(check_cases); i++) {
        const struct check_case *c = &check_cases[i];
        pw_msg_t m = update_of(c->district, c->element, c->period, c->value);
        int rc = pw_msg_check(&m, cat);
        cr_expect(eq(int, rc, c->want), "%s: got %s, want %s", c->name, pw_err_name(rc),
                  pw_err_name(c->want));
        m.type = PW_MSG_RECORD;
        rc = pw_msg_check(&m, cat);
        cr_expect(eq(int, rc, c->want), "%s (record): got %s", c->name, pw_err_name(rc));
        /* With the district already looked up: the same verdict, and the element's index. */
        int di = pw_catalog_district(cat, m.district, strlen(m.district)), ei = -2;
        if (di < 0)
            continue;
        rc = pw_msg_check_update(&m, cat, di, &ei);
        cr_expect(eq(int, rc, c->want), "%s (known district): got %s", c->name, pw_err_name(rc));
        cr_expect(eq(int, ei, pw_catalog_element(cat, m.element, strlen(m.element))), "%s",
                  c->name);
    }
}

Test(msg_check, decoded_update_passes)
{
    struct mcase c = {.name = "valid", .ops = {SET("v", F(1200.0))}};
    pw_msg_t m;
    cr_assert(eq(int, decode_case(&c, &m), 0));
    int rc = pw_msg_check(&m, cat);
    cr_assert(eq(int, rc, 0), "%s", pw_strerror(rc));
}

Test(msg_check, hello_and_welcome_check_the_district_only)
{
    pw_msg_t m = sample(PW_MSG_HELLO);
    strcpy(m.district, "wuhan");
    cr_assert(eq(int, pw_msg_check(&m, cat), 0));
    strcpy(m.district, "nowhere");
    cr_assert(eq(int, pw_msg_check(&m, cat), PW_EDISTRICT));
    m.type = PW_MSG_WELCOME;
    cr_assert(eq(int, pw_msg_check(&m, cat), PW_EDISTRICT));
    strcpy(m.district, "jiangan");
    cr_assert(eq(int, pw_msg_check(&m, cat), 0));
}

Test(msg_check, ack_and_nack_have_nothing_to_check)
{
    pw_msg_t m = sample(PW_MSG_ACK);
    cr_assert(eq(int, pw_msg_check(&m, cat), 0));
    m = sample(PW_MSG_NACK);
    cr_assert(eq(int, pw_msg_check(&m, cat), 0));
}
