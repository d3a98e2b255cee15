/* SPDX-License-Identifier: MIT */
#include "pw/msg.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "internal.h"
#include "pw/error.h"

/* The container stack of the pre-validator; msgpack-c's own limit is 32 as well. */
#define MP_STACK_MAX 32

/* Longer than any error name, so a longer "r" cannot be a code and is rejected early. */
#define ERR_NAME_MAX 32

/*
 * Every key of the intake protocol, in the order the encoder writes them. The
 * order of msg.h's table is a subsequence of this one for every type, so a
 * single list gives both the key set and the key order of each type.
 */
enum key { K_PV, K_TY, K_D, K_EP, K_S, K_E, K_P, K_V, K_T, K_RT, K_K, K_R, K_M, K_LG, K_B, K_COUNT };

#define KEY_BIT(k)  (1u << (unsigned)(k))
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

void pw_buf_free(pw_buf_t *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

int pw__buf_write(void *data, const char *src, size_t n)
{
    pw_buf_t *buf = data;

    if (n == 0)
        return 0;
    if (n > SIZE_MAX - buf->len)
        return -1;
    size_t need = buf->len + n;
    if (need > buf->cap) {
        /* Doubling keeps a reused buffer allocation-free once it fits the largest message. */
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *p = realloc(buf->data, cap);
        if (p == NULL)
            return -1;
        buf->data = p;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, src, n);
    buf->len = need;
    return 0;
}

int pw__pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    int err = msgpack_pack_str(pk, len);
    if (err == 0)
        err = msgpack_pack_str_body(pk, s, len);
    return err;
}

/* The writers below give byte for byte what msgpack-c's packer gives for the
 * same value (unit_msg and unit_event compare them), without its callback
 * for every piece. put_be is always inlined: n is known at each call, and
 * a big-endian number is one byte swap and one store. */
static inline __attribute__((always_inline)) unsigned char *put_be(unsigned char *p, uint64_t v,
                                                                  int n)
{
    switch (n) {
    case 1:
        *p = (unsigned char)v;
        break;
    case 2: {
        uint16_t x = __builtin_bswap16((uint16_t)v);
        memcpy(p, &x, 2);
        break;
    }
    case 4: {
        uint32_t x = __builtin_bswap32((uint32_t)v);
        memcpy(p, &x, 4);
        break;
    }
    default: {
        uint64_t x = __builtin_bswap64(v);
        memcpy(p, &x, 8);
        break;
    }
    }
    return p + n;
}

unsigned char *pw__put_uint(unsigned char *p, uint64_t v)
{
    if (v < 0x80) {
        *p++ = (unsigned char)v;
        return p;
    }
    if (v <= 0xff) {
        *p++ = 0xcc;
        return put_be(p, v, 1);
    }
    if (v <= 0xffff) {
        *p++ = 0xcd;
        return put_be(p, v, 2);
    }
    if (v <= 0xffffffffu) {
        *p++ = 0xce;
        return put_be(p, v, 4);
    }
    *p++ = 0xcf;
    return put_be(p, v, 8);
}

unsigned char *pw__put_int(unsigned char *p, int64_t v)
{
    if (v >= -32)
        return v < 0 ? (*p++ = (unsigned char)v, p) : pw__put_uint(p, (uint64_t)v);
    if (v >= -128) {
        *p++ = 0xd0;
        return put_be(p, (uint64_t)v, 1);
    }
    if (v >= -32768) {
        *p++ = 0xd1;
        return put_be(p, (uint64_t)v, 2);
    }
    if (v >= INT32_MIN) {
        *p++ = 0xd2;
        return put_be(p, (uint64_t)v, 4);
    }
    *p++ = 0xd3;
    return put_be(p, (uint64_t)v, 8);
}

unsigned char *pw__put_str(unsigned char *p, const char *s, size_t n)
{
    if (n < 32) {
        *p++ = (unsigned char)(0xa0 | n);
    } else {
        *p++ = 0xd9;
        *p++ = (unsigned char)n;
    }
    memcpy(p, s, n);
    return p + n;
}

unsigned char *pw__put_double(unsigned char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    *p++ = 0xcb;
    return put_be(p, bits, 8);
}

int pw_buf_append(pw_buf_t *buf, const void *data, size_t n)
{
    /* The packer's write callback is this very append. */
    return pw__buf_write(buf, data, n) == 0 ? 0 : -ENOMEM;
}

int pw__buf_reserve(pw_buf_t *buf, size_t n)
{
    if (buf->cap >= n)
        return 0;
    char *d = realloc(buf->data, n);
    if (d == NULL) {
        buf->len = 0;
        return -ENOMEM;
    }
    buf->data = d;
    buf->cap = n;
    return 0;
}


enum mp_kind { MP_SCALAR, MP_BYTES, MP_ARRAY, MP_MAP };

/*
 * Classifies a type byte: how many bytes of length or count follow it (hdr),
 * how many fixed body bytes follow (fixed), and what it is. -1 for the bytes
 * we refuse: 0xc1 is never used, and no message of ours has an ext type.
 */
static int classify(unsigned b, enum mp_kind *kind, size_t *hdr, uint64_t *fixed)
{
    *kind = MP_SCALAR;
    *hdr = 0;
    *fixed = 0;
    if (b <= 0x7f || b >= 0xe0)
        return 0;
    if (b <= 0x8f) {
        *kind = MP_MAP;
        *fixed = b & 0x0f;
        return 0;
    }
    if (b <= 0x9f) {
        *kind = MP_ARRAY;
        *fixed = b & 0x0f;
        return 0;
    }
    if (b <= 0xbf) {
        *kind = MP_BYTES;
        *fixed = b & 0x1f;
        return 0;
    }
    switch (b) {
    case 0xc0: /* nil */
    case 0xc2: /* false */
    case 0xc3: /* true */
        return 0;
    case 0xc4: /* bin 8 */
    case 0xd9: /* str 8 */
        *kind = MP_BYTES;
        *hdr = 1;
        return 0;
    case 0xc5: /* bin 16 */
    case 0xda: /* str 16 */
        *kind = MP_BYTES;
        *hdr = 2;
        return 0;
    case 0xc6: /* bin 32 */
    case 0xdb: /* str 32 */
        *kind = MP_BYTES;
        *hdr = 4;
        return 0;
    case 0xcc: /* uint 8 */
    case 0xd0: /* int 8 */
        *fixed = 1;
        return 0;
    case 0xcd:
    case 0xd1:
        *fixed = 2;
        return 0;
    case 0xca: /* float 32 */
    case 0xce:
    case 0xd2:
        *fixed = 4;
        return 0;
    case 0xcb: /* float 64 */
    case 0xcf:
    case 0xd3:
        *fixed = 8;
        return 0;
    case 0xdc:
        *kind = MP_ARRAY;
        *hdr = 2;
        return 0;
    case 0xdd:
        *kind = MP_ARRAY;
        *hdr = 4;
        return 0;
    case 0xde:
        *kind = MP_MAP;
        *hdr = 2;
        return 0;
    case 0xdf:
        *kind = MP_MAP;
        *hdr = 4;
        return 0;
    default: /* 0xc1, ext 8/16/32 (0xc7-0xc9), fixext (0xd4-0xd8) */
        return -1;
    }
}

/*
 * Walks the one object at p[*pos] of a frame of len bytes, whose container
 * depth there is depth0 (0 for the frame itself), and moves *pos past it.
 * PW_EMALFORMED for a byte we refuse, a length or count the remaining bytes
 * cannot hold, or nesting deeper than maxdepth.
 */
static int mp_walk(const unsigned char *p, size_t len, size_t *pos_io, int depth0, int maxdepth)
{
    /*
     * pending[d] is how many objects the container open at level d still
     * expects; level depth0 holds exactly the one object walked. owed is
     * their sum. Every object takes at least one byte, so keeping owed <=
     * bytes left bounds the sum of all counts, and with it what msgpack-c
     * allocates, by the frame's length.
     */
    uint64_t pending[MP_STACK_MAX + 1];
    uint64_t owed = 1;
    int depth = depth0;
    size_t pos = *pos_io;

    if (maxdepth > MP_STACK_MAX)
        maxdepth = MP_STACK_MAX;
    if (depth0 < 0 || depth0 > maxdepth)
        return PW_EMALFORMED;
    pending[depth] = 1;
    while (owed > 0) {
        enum mp_kind kind;
        size_t hdr;
        uint64_t n;

        while (pending[depth] == 0)
            depth--;
        pending[depth]--;
        owed--;
        if (pos >= len)
            return PW_EMALFORMED;
        if (classify(p[pos++], &kind, &hdr, &n) != 0)
            return PW_EMALFORMED;
        if (hdr > 0) {
            if (len - pos < hdr)
                return PW_EMALFORMED;
            n = pw__read_be(p + pos, hdr);
            pos += hdr;
        }
        if (kind == MP_SCALAR || kind == MP_BYTES) {
            if (n > (uint64_t)(len - pos))
                return PW_EMALFORMED;
            pos += (size_t)n;
            continue;
        }
        if (kind == MP_MAP)
            n *= 2; /* at most 2 * (2^32 - 1): no overflow in 64 bits */
        if (depth + 1 > maxdepth)
            return PW_EMALFORMED;
        if (n > (uint64_t)(len - pos) || owed > (uint64_t)(len - pos) - n)
            return PW_EMALFORMED;
        depth++;
        pending[depth] = n;
        owed += n;
    }
    *pos_io = pos;
    return PW_OK;
}

int pw__mp_prevalidate(const void *data, size_t len, size_t maxlen, int maxdepth)
{
    size_t pos = 0;

    if (data == NULL || len == 0 || len > maxlen)
        return PW_EMALFORMED;
    int rc = mp_walk(data, len, &pos, 0, maxdepth);
    if (rc != PW_OK)
        return rc;
    return pos == len ? PW_OK : PW_EMALFORMED;
}

static int pack_field(msgpack_packer *pk, enum key k, const pw_msg_t *m)
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

static unsigned char *put_key(unsigned char *p, enum key k)
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
            err = pack_field(&pk, (enum key)k, m);
    }
    if (err != 0) {
        buf->len = 0;
        return -ENOMEM;
    }
    return PW_OK;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

/* Every key is one or two bytes: compare them as a number, not as strings
 * (this runs for every field of every update and every replayed record). */
static int key_index(const msgpack_object *key)
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

/*
 * Looks at pv alone before anything else, so that a peer speaking a later
 * version gets PW_EVERSION even when its messages carry keys we do not know.
 */
static int check_version(const msgpack_object_map *map)
{
    const msgpack_object *pv = NULL;

    for (uint32_t i = 0; i < map->size; i++) {
        if (!str_is(&map->ptr[i].key, "pv"))
            continue;
        if (pv != NULL)
            return PW_EMALFORMED;
        pv = &map->ptr[i].val;
    }
    if (pv == NULL || pv->type != MSGPACK_OBJECT_POSITIVE_INTEGER || pv->via.u64 == 0)
        return PW_EMALFORMED;
    return pv->via.u64 == PW_PROTO_VERSION ? PW_OK : PW_EVERSION;
}

static int get_id(const msgpack_object *o, char out[PW_ID_MAX])
{
    if (o->type != MSGPACK_OBJECT_STR || !pw__id_valid(o->via.str.ptr, o->via.str.size))
        return PW_EMALFORMED;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return PW_OK;
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

    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32: /* msgpack-c widens float32 into via.f64 */
    case MSGPACK_OBJECT_FLOAT64:
        v = o->via.f64;
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        v = (double)o->via.u64;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v = (double)o->via.i64;
        break;
    default:
        return PW_EVALUE;
    }
    if (!isfinite(v))
        return PW_EVALUE;
    /* -0.0 == 0.0, so this makes the stored bits of every zero the same. */
    *out = v == 0.0 ? 0.0 : v;
    return PW_OK;
}

static int get_reason(const msgpack_object *o, int *out)
{
    char name[ERR_NAME_MAX];

    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= sizeof name ||
        !pw__utf8_valid(o->via.str.ptr, o->via.str.size))
        return PW_EMALFORMED;
    memcpy(name, o->via.str.ptr, o->via.str.size);
    name[o->via.str.size] = '\0';
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
static int decode_field(enum key k, const msgpack_object *o, pw_msg_t *out)
{
    switch (k) {
    case K_PV:
    case K_TY:
        return PW_OK; /* checked before the fields */
    case K_D:
        return get_id(o, out->district);
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
        return get_id(o, out->element);
    case K_P:
        if (o->type != MSGPACK_OBJECT_STR)
            return PW_EPERIOD;
        return pw_period_parse(o->via.str.ptr, o->via.str.size, &out->period) == 0 ? PW_OK
                                                                                   : PW_EPERIOD;
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
        if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= PW_MSG_TEXTMAX ||
            !pw__utf8_valid(o->via.str.ptr, o->via.str.size))
            return PW_EMALFORMED;
        memcpy(out->text, o->via.str.ptr, o->via.str.size);
        out->text[o->via.str.size] = '\0';
        return PW_OK;
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

/*
 * What both decoders do once the keys are known: the type, exactly its keys,
 * then every field in key order, so that the first bad field in that order
 * names the code.
 */
static int decode_fields(const msgpack_object *const vals[K_COUNT], unsigned seen,
                         pw_msg_t *out)
{
    int rc;

    if (vals[K_TY] == NULL)
        return PW_EMALFORMED;
    for (size_t t = 0; t < NTYPES; t++) {
        if (type_names[t] != NULL && str_is(vals[K_TY], type_names[t]))
            out->type = (pw_msg_type_t)t;
    }
    /* Exactly the type's keys, and perhaps its optional ones: a missing one
     * or another type's one is malformed. */
    if (!type_valid(out->type) || (seen & ~type_optional[out->type]) != type_keys[out->type])
        return PW_EMALFORMED;
    for (int k = 0; k < K_COUNT; k++) {
        if (vals[k] == NULL)
            continue;
        rc = decode_field((enum key)k, vals[k], out);
        if (rc != PW_OK)
            return rc;
    }
    return PW_OK;
}

static int decode_object(const msgpack_object *obj, pw_msg_t *out)
{
    const msgpack_object *vals[K_COUNT] = {0};
    unsigned seen = 0;
    int rc;

    if (obj->type != MSGPACK_OBJECT_MAP)
        return PW_EMALFORMED;
    rc = check_version(&obj->via.map);
    if (rc != PW_OK)
        return rc;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        int k = key_index(&kv->key);
        if (k < 0 || (seen & KEY_BIT(k)))
            return PW_EMALFORMED;
        seen |= KEY_BIT(k);
        vals[k] = &kv->val;
    }
    return decode_fields(vals, seen, out);
}

int pw_msg_decode_reference(const void *data, size_t len, pw_msg_t *out)
{
    msgpack_unpacked up;
    size_t off = 0;
    int rc;

    memset(out, 0, sizeof *out);
    /* Before msgpack-c sees the bytes: it allocates by declared counts (issue #985). */
    rc = pw__mp_prevalidate(data, len, PW_MSG_MAXSIZE, PW__MSG_MAXDEPTH);
    if (rc != PW_OK)
        return rc;

    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = PW_EMALFORMED;
        goto out;
    }
    rc = decode_object(&up.data, out);
out:
    msgpack_unpacked_destroy(&up);
    if (rc != PW_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/*
 * Reads the object at p[*pos] of a frame of len bytes into o, as msgpack-c's
 * unpacker fills a msgpack_object (only the union member its type uses), and
 * moves *pos past it. A container is read as its type and count only: it is
 * always the wrong type for a field, so nothing looks inside, but its
 * contents are walked with the same checks as pw__mp_prevalidate(), at the
 * depth of a value in the message's map. False for anything that the
 * prevalidation would refuse.
 */
static bool read_object(const unsigned char *p, size_t len, size_t *pos_io, msgpack_object *o)
{
    /* Every branch below sets what its type uses, but gcc -O3 inlines this
     * into pw_msg_decode() and cannot see that key_index() reads a string's
     * pointer only when the type is a string (-Wmaybe-uninitialized): a
     * fully set object costs one store and keeps that warning meaningful. */
    *o = (msgpack_object){.type = MSGPACK_OBJECT_NIL};
    size_t pos = *pos_io;
    if (pos >= len)
        return false;
    unsigned b = p[pos++];
    size_t left = len - pos;
    size_t n;

    if (b <= 0x7f) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = b;
    } else if (b >= 0xe0) {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = (int8_t)(unsigned char)b;
    } else if (b >= 0xa0 && b <= 0xbf) {
        n = b & 0x1f;
        if (left < n)
            return false;
        o->type = MSGPACK_OBJECT_STR;
        o->via.str.size = (uint32_t)n;
        o->via.str.ptr = (const char *)p + pos;
        pos += n;
    } else if (b <= 0x9f || (b >= 0xdc && b <= 0xdf)) {
        /* A container: its count for the object, its contents walked. */
        size_t hdr = b <= 0x9f ? 0 : (b == 0xdc || b == 0xde ? 2 : 4);
        if (left < hdr)
            return false;
        uint64_t count = hdr ? pw__read_be(p + pos, hdr) : (b & 0x0f);
        bool map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
        o->type = map ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY;
        if (map) {
            o->via.map.size = (uint32_t)count;
            o->via.map.ptr = NULL;
        } else {
            o->via.array.size = (uint32_t)count;
            o->via.array.ptr = NULL;
        }
        pos--;
        if (mp_walk(p, len, &pos, 1, PW__MSG_MAXDEPTH) != PW_OK)
            return false;
    } else {
        switch (b) {
        case 0xc0:
            o->type = MSGPACK_OBJECT_NIL;
            break;
        case 0xc2:
        case 0xc3:
            o->type = MSGPACK_OBJECT_BOOLEAN;
            o->via.boolean = b == 0xc3;
            break;
        case 0xc4: /* bin 8, 16, 32 */
        case 0xc5:
        case 0xc6:
        case 0xd9: /* str 8, 16, 32 */
        case 0xda:
        case 0xdb: {
            size_t hdr = (size_t)1 << ((b - (b >= 0xd9 ? 0xd9u : 0xc4u)));
            if (left < hdr || left - hdr < (n = (size_t)pw__read_be(p + pos, hdr)))
                return false;
            pos += hdr;
            if (b >= 0xd9) {
                o->type = MSGPACK_OBJECT_STR;
                o->via.str.size = (uint32_t)n;
                o->via.str.ptr = (const char *)p + pos;
            } else {
                o->type = MSGPACK_OBJECT_BIN;
                o->via.bin.size = (uint32_t)n;
                o->via.bin.ptr = (const char *)p + pos;
            }
            pos += n;
            break;
        }
        case 0xca: {
            if (left < 4)
                return false;
            uint32_t bits = (uint32_t)pw__read_be(p + pos, 4);
            float f;
            memcpy(&f, &bits, sizeof f);
            o->type = MSGPACK_OBJECT_FLOAT32; /* msgpack-c widens it into f64 */
            o->via.f64 = (double)f;
            pos += 4;
            break;
        }
        case 0xcb: {
            if (left < 8)
                return false;
            uint64_t bits = pw__read_be(p + pos, 8);
            o->type = MSGPACK_OBJECT_FLOAT64;
            memcpy(&o->via.f64, &bits, sizeof bits);
            pos += 8;
            break;
        }
        case 0xcc: /* uint 8, 16, 32, 64 */
        case 0xcd:
        case 0xce:
        case 0xcf:
            n = (size_t)1 << (b - 0xcc);
            if (left < n)
                return false;
            o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
            o->via.u64 = pw__read_be(p + pos, n);
            pos += n;
            break;
        case 0xd0: /* int 8, 16, 32, 64 */
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            n = (size_t)1 << (b - 0xd0);
            if (left < n)
                return false;
            uint64_t u = pw__read_be(p + pos, n);
            uint64_t sign = (uint64_t)1 << (8 * n - 1);
            /* Sign-extend without overflow; msgpack-c calls a value >= 0 positive. */
            if (u & sign) {
                o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
                o->via.i64 = n == 8 ? (int64_t)u : -(int64_t)(sign - (u & (sign - 1)));
            } else {
                o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
                o->via.u64 = u;
            }
            pos += n;
            break;
        }
        default: /* 0xc1, ext 8/16/32 (0xc7-0xc9), fixext (0xd4-0xd8) */
            return false;
        }
    }
    *pos_io = pos;
    return true;
}

static bool decode_flat(const void *data, size_t len, pw_msg_type_t type, pw_msg_t *out);
static bool decode_flat_prefix(const void *data, size_t len, pw_msg_type_t type, pw_msg_t *out,
                               size_t *used);

/*
 * The strict decoder. It accepts and rejects exactly what
 * pw_msg_decode_reference() does, with the same codes and fields (a unit test
 * compares them on round trips, every truncation and many thousands of
 * mutated and generated frames), but reads the one flat map of a message in
 * place, in one pass, instead of prevalidating it and then having msgpack-c
 * build an object tree for it. Every structural fault is PW_EMALFORMED and
 * found before any other code can be returned, as in the reference, whose
 * prevalidation runs first; the keys are mapped by the same key_index() and
 * the fields checked by the same decode_fields().
 */
int pw_msg_decode(const void *data, size_t len, pw_msg_t *out)
{
    const unsigned char *p = data;
    msgpack_object objs[K_COUNT];
    const msgpack_object *vals[K_COUNT] = {0};
    bool bad_key = false;
    unsigned seen = 0;
    uint64_t npairs;
    size_t pos;

    memset(out, 0, sizeof *out);
    if (data == NULL || len == 0 || len > PW_MSG_MAXSIZE)
        return PW_EMALFORMED;
    /* Nearly every frame on the intake is an update exactly as
     * pw_msg_encode() writes it: read that layout directly. */
    if (p[0] == 0x89) {
        if (decode_flat(data, len, PW_MSG_UPDATE, out))
            return PW_OK;
        memset(out, 0, sizeof *out);
    }
    /* Anything but a map is refused by the reference too, whatever follows. */
    if (p[0] >= 0x80 && p[0] <= 0x8f) {
        npairs = p[0] & 0x0f;
        pos = 1;
    } else if ((p[0] == 0xde && len >= 3) || (p[0] == 0xdf && len >= 5)) {
        pos = p[0] == 0xde ? 3 : 5;
        npairs = pw__read_be(p + 1, pos - 1);
    } else {
        return PW_EMALFORMED;
    }
    /*
     * Like check_version(), pv is looked for among all the keys before any
     * other key counts, so a key error is only noted here and reported after
     * the version. Every pair takes at least two bytes, so the loop ends
     * within the frame whatever the count says.
     */
    for (uint64_t i = 0; i < npairs; i++) {
        msgpack_object key, val;
        if (!read_object(p, len, &pos, &key) || !read_object(p, len, &pos, &val))
            return PW_EMALFORMED;
        int k = key_index(&key);
        if (k < 0 || (seen & KEY_BIT(k))) {
            if (k == K_PV)
                return PW_EMALFORMED; /* pv twice: check_version()'s answer */
            bad_key = true;
            continue;
        }
        seen |= KEY_BIT(k);
        objs[k] = val;
        vals[k] = &objs[k];
    }
    if (pos != len)
        return PW_EMALFORMED; /* trailing bytes */
    const msgpack_object *pv = vals[K_PV];
    if (pv == NULL || pv->type != MSGPACK_OBJECT_POSITIVE_INTEGER || pv->via.u64 == 0)
        return PW_EMALFORMED;
    if (pv->via.u64 != PW_PROTO_VERSION)
        return PW_EVERSION;
    if (bad_key)
        return PW_EMALFORMED;
    int rc = decode_fields(vals, seen, out);
    if (rc != PW_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

int pw_msg_decode_next(const void *frame, size_t len, size_t *pos, pw_msg_t *out)
{
    size_t start = *pos, end = start;
    if (frame == NULL || start >= len) {
        memset(out, 0, sizeof *out);
        *pos = len;
        return PW_EMALFORMED;
    }
    const unsigned char *p = (const unsigned char *)frame + start;
    size_t used, left = len - start < PW_MSG_MAXSIZE ? len - start : PW_MSG_MAXSIZE;
    /* An update as pw_msg_encode() writes it ends where the direct reader
     * stops: the same message and end the walk and pw_msg_decode() give. */
    if (p[0] == 0x89) {
        if (decode_flat_prefix(p, left, PW_MSG_UPDATE, out, &used)) {
            *pos = start + used;
            return PW_OK;
        }
        memset(out, 0, sizeof *out);
    }
    /* One message is as deep as a whole frame of one may be. */
    int rc = mp_walk(frame, len, &end, 0, PW__MSG_MAXDEPTH);
    if (rc != PW_OK) {
        memset(out, 0, sizeof *out);
        *pos = len;
        return rc;
    }
    *pos = end;
    return pw_msg_decode((const unsigned char *)frame + start, end - start, out);
}

static bool rd_time(struct pw__rd *r, int64_t *out)
{
    uint64_t u;
    if (!pw__rd_uint(r, &u) || u == 0 || u > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)u;
    return true;
}

/* A one- or two-byte map key as the writers put it (fixstr). */
static inline bool rd_key1(struct pw__rd *r, char c)
{
    if (r->end - r->p < 2 || r->p[0] != 0xa1 || r->p[1] != (unsigned char)c)
        return false;
    r->p += 2;
    return true;
}

static inline bool rd_key2(struct pw__rd *r, char c, char d)
{
    if (r->end - r->p < 3 || r->p[0] != 0xa2 || r->p[1] != (unsigned char)c ||
        r->p[2] != (unsigned char)d)
        return false;
    r->p += 3;
    return true;
}

/* What an update and a record start with, as pw_msg_encode() writes them:
 * the fixmap of their 9 or 11 keys, "pv" 1, and "ty" with the type's name. */
#define FLAT_HEAD 15
static const unsigned char update_head[FLAT_HEAD] = {0x89, 0xa2, 'p', 'v', PW_PROTO_VERSION,
                                                     0xa2, 't', 'y', 0xa6, 'u', 'p', 'd', 'a', 't',
                                                     'e'};
static const unsigned char record_head[FLAT_HEAD] = {0x8b, 0xa2, 'p', 'v', PW_PROTO_VERSION,
                                                     0xa2, 't', 'y', 0xa6, 'r', 'e', 'c', 'o', 'r',
                                                     'd'};

/*
 * The fast path only knows the one layout pw_msg_encode() gives a record or
 * an update: a fixmap of its keys in the encoder's order, ids and periods as
 * fixstr or str8, the value as float64, integers in their shortest form. It
 * applies the same range checks as decode_field(), so whenever it succeeds
 * the result is the one the general decoder would give (unit_msg and
 * fuzz_msg compare both with the msgpack-c reference). Anything else (another
 * layout, a damaged or hostile frame) is for the general decoder, which also
 * gives the precise error code. false: out is to be reset by the caller.
 */
static bool decode_flat_prefix(const void *data, size_t len, pw_msg_type_t type, pw_msg_t *out,
                               size_t *used)
{
    assert(type == PW_MSG_UPDATE || type == PW_MSG_RECORD);
    struct pw__rd r = {data, (const unsigned char *)data + len};
    const char *s;
    size_t n;
    double v = 0;
    uint64_t u = 0;
    memset(out, 0, sizeof *out);
    out->type = type;
    /* The keys in the encoder's order, in straight line: this runs for every
     * update received and every record replayed. */
    bool ok = len >= FLAT_HEAD &&
              memcmp(r.p, type == PW_MSG_UPDATE ? update_head : record_head, FLAT_HEAD) == 0;
    if (ok)
        r.p += FLAT_HEAD;
    ok = ok && rd_key1(&r, 'd') && pw__rd_id(&r, false, out->district) &&
         rd_key2(&r, 'e', 'p') && pw__rd_uint(&r, &out->epoch) && out->epoch != 0 &&
         rd_key1(&r, 's') && pw__rd_uint(&r, &out->seq) && out->seq != 0 &&
         rd_key1(&r, 'e') && pw__rd_id(&r, false, out->element) && rd_key1(&r, 'p') &&
         pw__rd_str(&r, &s, &n) && pw_period_parse(s, n, &out->period) == 0 &&
         rd_key1(&r, 'v') && pw__rd_double(&r, &v) && rd_key1(&r, 't') &&
         rd_time(&r, &out->observed_ms);
    out->value = v == 0.0 ? 0.0 : v;
    if (ok && type == PW_MSG_RECORD) {
        ok = rd_key2(&r, 'r', 't') && rd_time(&r, &out->received_ms) && rd_key1(&r, 'k') &&
             pw__rd_uint(&r, &u) && u <= PW_RECORD_SAME;
        out->kind = (pw_record_kind_t)u;
    }
    *used = (size_t)(r.p - (const unsigned char *)data);
    return ok;
}

static bool decode_flat(const void *data, size_t len, pw_msg_type_t type, pw_msg_t *out)
{
    size_t used;
    return decode_flat_prefix(data, len, type, out, &used) && used == len;
}

int pw_msg_decode_stored(const void *data, size_t len, pw_msg_t *out)
{
    if (decode_flat(data, len, PW_MSG_RECORD, out))
        return PW_OK;
    return pw_msg_decode(data, len, out);
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
