/* SPDX-License-Identifier: MIT */
#include "pw/msg.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "internal.h"
#include "mp.h"
#include "pw/error.h"

/* Longer than any error name, so a longer "r" cannot be a code and is rejected early. */
#define ERR_NAME_MAX 32

#define KEYS_COMMON (KEY_BIT(K_PV) | KEY_BIT(K_TY))
#define KEYS_OBS                                                                                   \
    (KEY_BIT(K_D) | KEY_BIT(K_EP) | KEY_BIT(K_S) | KEY_BIT(K_E) | KEY_BIT(K_P) | KEY_BIT(K_V) |    \
     KEY_BIT(K_T))

static const char *const key_names[K_COUNT] = {
    [K_PV] = "pv", [K_TY] = "ty", [K_D] = "d", [K_EP] = "ep", [K_S] = "s",
    [K_E] = "e",   [K_P] = "p",   [K_V] = "v", [K_T] = "t",   [K_RT] = "rt",
    [K_K] = "k",   [K_R] = "r",   [K_M] = "m",  [K_LG] = "hd", [K_B] = "b",
};

static const char *const type_names[] = {
    [PW_MSG_HELLO] = "hello", [PW_MSG_WELCOME] = "welcome", [PW_MSG_UPDATE] = "update",
    [PW_MSG_ACK] = "ack",     [PW_MSG_NACK] = "nack",       [PW_MSG_RECORD] = "record",
};

static const unsigned type_keys[] = {
    [PW_MSG_HELLO] = KEYS_COMMON | KEY_BIT(K_D) | KEY_BIT(K_EP) | KEY_BIT(K_LG),
    [PW_MSG_WELCOME] = KEYS_COMMON | KEY_BIT(K_D) | KEY_BIT(K_EP) | KEY_BIT(K_S),
    [PW_MSG_UPDATE] = KEYS_COMMON | KEYS_OBS,
    [PW_MSG_ACK] = KEYS_COMMON | KEY_BIT(K_EP) | KEY_BIT(K_S),
    [PW_MSG_NACK] = KEYS_COMMON | KEY_BIT(K_EP) | KEY_BIT(K_S) | KEY_BIT(K_R) | KEY_BIT(K_M),
    [PW_MSG_RECORD] = KEYS_COMMON | KEYS_OBS | KEY_BIT(K_RT) | KEY_BIT(K_K),
};

/* Keys a type may carry or leave out (written only when set). */
static const unsigned type_optional[] = {
    [PW_MSG_HELLO] = KEY_BIT(K_B),
    [PW_MSG_WELCOME] = KEY_BIT(K_B),
    [PW_MSG_UPDATE] = 0,
    [PW_MSG_ACK] = 0,
    [PW_MSG_NACK] = 0,
    [PW_MSG_RECORD] = 0,
};

#define NTYPES (sizeof type_names / sizeof type_names[0])

static bool type_valid(pw_msg_type_t type)
{
    return (size_t)type < NTYPES && type_names[type] != NULL;
}

const char *pw_msg_type_name(pw_msg_type_t type)
{
    return type_valid(type) ? type_names[type] : "?";
}

static int pack_field(msgpack_packer *pk, enum pw__msg_key k, const pw_msg_t *m)
{
    char period[PW_PERIOD_STRMAX];
    const char *s;
    int err = pw__pack_str(pk, key_names[k], strlen(key_names[k]));

    if (err != 0)
        return err;
    switch (k) {
    case K_PV:
        return msgpack_pack_uint64(pk, PW_PROTO_VERSION);
    case K_TY:
        s = type_names[m->type];
        return pw__pack_str(pk, s, strlen(s));
    case K_D:
        return pw__pack_str(pk, m->district, strnlen(m->district, PW_ID_MAX - 1));
    case K_EP:
        return msgpack_pack_uint64(pk, m->epoch);
    case K_S:
        return msgpack_pack_uint64(pk, m->seq);
    case K_E:
        return pw__pack_str(pk, m->element, strnlen(m->element, PW_ID_MAX - 1));
    case K_P:
        pw_period_format(m->period, period);
        return pw__pack_str(pk, period, strlen(period));
    case K_V:
        return msgpack_pack_double(pk, m->value);
    case K_T:
        return msgpack_pack_int64(pk, m->observed_ms);
    case K_RT:
        return msgpack_pack_int64(pk, m->received_ms);
    case K_K:
        return msgpack_pack_uint64(pk, (uint64_t)m->kind);
    case K_R:
        s = pw_err_name(m->reason);
        return pw__pack_str(pk, s, strlen(s));
    case K_M:
        return pw__pack_str(pk, m->text, strnlen(m->text, PW_MSG_TEXTMAX - 1));
    case K_LG:
        return msgpack_pack_uint64(pk, m->spool_head);
    case K_B:
        return msgpack_pack_uint64(pk, m->frame_max);
    case K_COUNT:
        break;
    }
    return -1;
}

static unsigned char *put_key(unsigned char *p, enum pw__msg_key k)
{
    return pw__put_str(p, key_names[k], strlen(key_names[k]));
}

/*
 * Records are what the aggregator writes to the log for every update and a
 * rebuild writes for every record; updates are what a collector spools and
 * sends. Both are written here directly, byte for byte what the msgpack-c
 * packer below gives them (a unit test compares the two), at a fraction of
 * its cost (it calls back for every piece). -1 when a value is outside what
 * this writer handles (a negative time), for the packer to do.
 */
static int encode_flat(const pw_msg_t *m, pw_buf_t *buf)
{
    /* The map, 11 keys of at most 3 bytes, the type, two ids below PW_ID_MAX,
     * a period, 6 integers of at most 9 bytes and a double. */
    enum { MAX = 1 + 11 * 3 + 7 + 2 * (2 + PW_ID_MAX) + 2 + PW_PERIOD_STRMAX + 6 * 9 + 9 };
    char period[PW_PERIOD_STRMAX];
    const char *ty = type_names[m->type];
    bool record = m->type == PW_MSG_RECORD;

    if (m->observed_ms < 0 || (record && m->received_ms < 0))
        return -1;
    if (pw__buf_reserve(buf, MAX) != 0)
        return -ENOMEM;
    unsigned char *start = (unsigned char *)buf->data, *p = start;
    *p++ = record ? 0x8b : 0x89; /* fixmap of the record's 11 keys, the update's 9 */
    p = pw__put_uint(put_key(p, K_PV), PW_PROTO_VERSION);
    p = pw__put_str(put_key(p, K_TY), ty, strlen(ty));
    p = pw__put_str(put_key(p, K_D), m->district, strnlen(m->district, PW_ID_MAX - 1));
    p = pw__put_uint(put_key(p, K_EP), m->epoch);
    p = pw__put_uint(put_key(p, K_S), m->seq);
    p = pw__put_str(put_key(p, K_E), m->element, strnlen(m->element, PW_ID_MAX - 1));
    pw_period_format(m->period, period);
    p = pw__put_str(put_key(p, K_P), period, strlen(period));
    p = pw__put_double(put_key(p, K_V), m->value);
    p = pw__put_uint(put_key(p, K_T), (uint64_t)m->observed_ms);
    if (record) {
        p = pw__put_uint(put_key(p, K_RT), (uint64_t)m->received_ms);
        p = pw__put_uint(put_key(p, K_K), (uint64_t)m->kind);
    }
    buf->len = (size_t)(p - start);
    return PW_OK;
}

int pw_msg_encode(const pw_msg_t *m, pw_buf_t *buf)
{
    msgpack_packer pk;
    unsigned keys, nkeys = 0;

    if (!type_valid(m->type))
        return -EINVAL;
    /* A reason the decoder cannot map back to a code would make the frame undecodable. */
    if (m->type == PW_MSG_NACK &&
        (m->reason == 0 || pw_err_from_name(pw_err_name(m->reason)) != m->reason))
        return -EINVAL;
    if (m->type == PW_MSG_RECORD || m->type == PW_MSG_UPDATE) {
        int rc = encode_flat(m, buf);
        if (rc != -1)
            return rc;
    }
    keys = type_keys[m->type];
    if (m->frame_max != 0)
        keys |= type_optional[m->type] & KEY_BIT(K_B);
    for (int k = 0; k < K_COUNT; k++)
        nkeys += (keys & KEY_BIT(k)) ? 1u : 0u;

    buf->len = 0;
    msgpack_packer_init(&pk, buf, pw__buf_write);
    int err = msgpack_pack_map(&pk, nkeys);
    for (int k = 0; k < K_COUNT && err == 0; k++) {
        if (keys & KEY_BIT(k))
            err = pack_field(&pk, (enum pw__msg_key)k, m);
    }
    if (err != 0) {
        buf->len = 0;
        return -ENOMEM;
    }
    return PW_OK;
}

/* Every key is one or two bytes: compare them as a number, not as strings
 * (this runs for every field of every update and every replayed record). */
int pw__msg_key_index(const msgpack_object *key)
{
#define C2(a, b) ((unsigned)(a) << 8 | (unsigned)(b))
    static const unsigned codes[K_COUNT] = {
        [K_PV] = C2('p', 'v'), [K_TY] = C2('t', 'y'), [K_D] = 'd',   [K_EP] = C2('e', 'p'),
        [K_S] = 's',           [K_E] = 'e',           [K_P] = 'p',   [K_V] = 'v',
        [K_T] = 't',           [K_RT] = C2('r', 't'), [K_K] = 'k',   [K_R] = 'r',
        [K_M] = 'm',           [K_LG] = C2('h', 'd'), [K_B] = 'b',
    };
#undef C2
    if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0 || key->via.str.size > 2)
        return -1;
    const unsigned char *p = (const unsigned char *)key->via.str.ptr;
    /* No key starts with NUL, so "\0d" cannot pass for "d". */
    if (p[0] == 0)
        return -1;
    unsigned code = key->via.str.size == 2 ? (unsigned)p[0] << 8 | p[1] : p[0];
    /* The one-byte keys by their byte; the rest (four of them) by search. */
    if (code < 0x80) {
        static const signed char one[0x80] = {
            ['d'] = K_D + 1, ['s'] = K_S + 1, ['e'] = K_E + 1, ['p'] = K_P + 1, ['v'] = K_V + 1,
            ['t'] = K_T + 1, ['k'] = K_K + 1, ['r'] = K_R + 1, ['m'] = K_M + 1,
            ['b'] = K_B + 1,
        };
        return one[code] - 1;
    }
    for (int k = 0; k < K_COUNT; k++)
        if (codes[k] == code)
            return k;
    return -1;
}

static int get_time(const msgpack_object *o, int64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 == 0 ||
        o->via.u64 > (uint64_t)INT64_MAX)
        return PW_ETIME;
    *out = (int64_t)o->via.u64;
    return PW_OK;
}

static int get_value(const msgpack_object *o, double *out)
{
    double v;

    if (!pw__mp_get_number(o, &v))
        return PW_EVALUE;
    /* -0.0 == 0.0, so this makes the stored bits of every zero the same. */
    *out = v == 0.0 ? 0.0 : v;
    return PW_OK;
}

static int get_reason(const msgpack_object *o, int *out)
{
    char name[ERR_NAME_MAX];

    if (!pw__mp_get_text(o, name, sizeof name))
        return PW_EMALFORMED;
    *out = pw_err_from_name(name);
    return *out != 0 ? PW_OK : PW_EMALFORMED;
}

/*
 * A field's own code covers everything wrong with it, its msgpack type as
 * well as its range, so a NACK names the field that was at fault: a string
 * where the value should be is PW_EVALUE, a float sequence number PW_ESEQ.
 * Fields without a code of their own (ids, epoch, kind, reason, text) are
 * PW_EMALFORMED.
 */
static int decode_field(enum pw__msg_key k, const msgpack_object *o, pw_msg_t *out)
{
    switch (k) {
    case K_PV:
    case K_TY:
        return PW_OK; /* checked before the fields */
    case K_D:
        return pw__mp_get_id(o, false, out->district) ? PW_OK : PW_EMALFORMED;
    case K_EP:
        /* A nack of a frame that could not be read names no epoch: 0. */
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            (o->via.u64 == 0 && out->type != PW_MSG_NACK))
            return PW_EMALFORMED;
        out->epoch = o->via.u64;
        return PW_OK;
    case K_S:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return PW_ESEQ;
        /* welcome and ack may say 0: nothing committed yet. */
        if (o->via.u64 == 0 && (out->type == PW_MSG_UPDATE || out->type == PW_MSG_RECORD))
            return PW_ESEQ;
        out->seq = o->via.u64;
        return PW_OK;
    case K_E:
        return pw__mp_get_id(o, false, out->element) ? PW_OK : PW_EMALFORMED;
    case K_P:
        return pw__mp_get_period(o, &out->period) ? PW_OK : PW_EPERIOD;
    case K_V:
        return get_value(o, &out->value);
    case K_T:
        return get_time(o, &out->observed_ms);
    case K_RT:
        return get_time(o, &out->received_ms);
    case K_K:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > PW_RECORD_SAME)
            return PW_EMALFORMED;
        out->kind = (pw_record_kind_t)o->via.u64;
        return PW_OK;
    case K_R:
        return get_reason(o, &out->reason);
    case K_M:
        return pw__mp_get_text(o, out->text, PW_MSG_TEXTMAX) ? PW_OK : PW_EMALFORMED;
    case K_LG:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return PW_EMALFORMED;
        out->spool_head = o->via.u64;
        return PW_OK;
    case K_B:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 == 0 ||
            o->via.u64 > UINT32_MAX)
            return PW_EMALFORMED;
        out->frame_max = (uint32_t)o->via.u64;
        return PW_OK;
    case K_COUNT:
        break;
    }
    return PW_EMALFORMED;
}

int pw__msg_decode_fields(const msgpack_object *const vals[K_COUNT], unsigned seen, pw_msg_t *out)
{
    int rc;

    if (vals[K_TY] == NULL)
        return PW_EMALFORMED;
    for (size_t t = 0; t < NTYPES; t++) {
        if (type_names[t] != NULL && pw__mp_str_is(vals[K_TY], type_names[t]))
            out->type = (pw_msg_type_t)t;
    }
    /* Exactly the type's keys, and perhaps its optional ones: a missing one
     * or another type's one is malformed. */
    if (!type_valid(out->type) || (seen & ~type_optional[out->type]) != type_keys[out->type])
        return PW_EMALFORMED;
    for (int k = 0; k < K_COUNT; k++) {
        if (vals[k] == NULL)
            continue;
        rc = decode_field((enum pw__msg_key)k, vals[k], out);
        if (rc != PW_OK)
            return rc;
    }
    return PW_OK;
}

int pw_msg_check(const pw_msg_t *m, const pw_catalog_t *cat)
{
    switch (m->type) {
    case PW_MSG_HELLO:
    case PW_MSG_WELCOME:
    case PW_MSG_UPDATE:
    case PW_MSG_RECORD:
        break;
    default:
        return PW_OK; /* ack and nack name nothing from the catalog */
    }
    int di = pw_catalog_district(cat, m->district, strnlen(m->district, PW_ID_MAX));
    if (di < 0)
        return PW_EDISTRICT;
    if (m->type == PW_MSG_HELLO || m->type == PW_MSG_WELCOME)
        return PW_OK;
    int ei;
    return pw_msg_check_update(m, cat, di, &ei);
}

int pw_msg_check_update(const pw_msg_t *m, const pw_catalog_t *cat, int di, int *ei_out)
{
    int ei = *ei_out = pw_catalog_element(cat, m->element, strnlen(m->element, PW_ID_MAX));
    if (ei < 0)
        return PW_EELEMENT;
    const pw_element_t *el = &cat->elements[ei];
    if (el->level != cat->districts[di].level)
        return PW_EREPORTER;
    int year = pw_period_year(m->period);
    if (year < cat->base_year || year > cat->target_year)
        return PW_EPERIOD;
    /* Every element is a count or an amount; neither can be negative. */
    if (!isfinite(m->value) || m->value < 0.0)
        return PW_EVALUE;
    if (el->integer && m->value != floor(m->value))
        return PW_EVALUE;
    return PW_OK;
}
