/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "mp.h"
#include "pw/error.h"

/* A container at p[pos]: its type and count for the object, its contents
 * walked at the depth of a value in a map. */
static bool read_container(const unsigned char *p, size_t len, size_t pos, unsigned b, int maxdepth,
                           size_t *end, msgpack_object *o)
{
    size_t hdr = b <= 0x9f ? 0 : (b == 0xdc || b == 0xde ? 2 : 4);
    if (len - pos - 1 < hdr)
        return false;
    uint64_t count = hdr ? pw__read_be(p + pos + 1, hdr) : (b & 0x0f);
    bool map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
    o->type = map ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY;
    if (map) {
        o->via.map.size = (uint32_t)count;
        o->via.map.ptr = NULL;
    } else {
        o->via.array.size = (uint32_t)count;
        o->via.array.ptr = NULL;
    }
    *end = pos;
    return pw__mp_walk(p, len, end, 1, maxdepth) == PW_OK;
}

/* bin 8/16/32 (0xc4-0xc6) and str 8/16/32 (0xd9-0xdb): pointing into p. */
static bool read_bytes(const unsigned char *p, size_t *pos, size_t left, unsigned b,
                       msgpack_object *o)
{
    size_t n, hdr = (size_t)1 << ((b - (b >= 0xd9 ? 0xd9u : 0xc4u)));
    if (left < hdr || left - hdr < (n = (size_t)pw__read_be(p + *pos, hdr)))
        return false;
    *pos += hdr;
    if (b >= 0xd9) {
        o->type = MSGPACK_OBJECT_STR;
        o->via.str.size = (uint32_t)n;
        o->via.str.ptr = (const char *)p + *pos;
    } else {
        o->type = MSGPACK_OBJECT_BIN;
        o->via.bin.size = (uint32_t)n;
        o->via.bin.ptr = (const char *)p + *pos;
    }
    *pos += n;
    return true;
}

/* int 8/16/32/64 (0xd0-0xd3), as msgpack-c reads them. */
static bool read_signed(const unsigned char *p, size_t *pos, size_t left, unsigned b,
                        msgpack_object *o)
{
    size_t n = (size_t)1 << (b - 0xd0);
    if (left < n)
        return false;
    uint64_t u = pw__read_be(p + *pos, n);
    uint64_t sign = (uint64_t)1 << (8 * n - 1);
    /* Sign-extend without overflow; msgpack-c calls a value >= 0 positive. */
    if (u & sign) {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = n == 8 ? (int64_t)u : -(int64_t)(sign - (u & (sign - 1)));
    } else {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = u;
    }
    *pos += n;
    return true;
}

/* float 32/64 and uint 8/16/32/64 (0xca-0xcf). */
static bool read_number(const unsigned char *p, size_t *pos, size_t left, unsigned b,
                        msgpack_object *o)
{
    if (b == 0xca) {
        if (left < 4)
            return false;
        uint32_t bits = (uint32_t)pw__read_be(p + *pos, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        o->type = MSGPACK_OBJECT_FLOAT32; /* msgpack-c widens it into f64 */
        o->via.f64 = (double)f;
        *pos += 4;
        return true;
    }
    if (b == 0xcb) {
        if (left < 8)
            return false;
        uint64_t bits = pw__read_be(p + *pos, 8);
        o->type = MSGPACK_OBJECT_FLOAT64;
        memcpy(&o->via.f64, &bits, sizeof bits);
        *pos += 8;
        return true;
    }
    size_t n = (size_t)1 << (b - 0xcc);
    if (left < n)
        return false;
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = pw__read_be(p + *pos, n);
    *pos += n;
    return true;
}

/* The type bytes from 0xc0 on that are neither fixint nor fixstr. */
static bool read_other(const unsigned char *p, size_t *pos, size_t left, unsigned b,
                       msgpack_object *o)
{
    switch (b) {
    case 0xc0:
        o->type = MSGPACK_OBJECT_NIL;
        return true;
    case 0xc2:
    case 0xc3:
        o->type = MSGPACK_OBJECT_BOOLEAN;
        o->via.boolean = b == 0xc3;
        return true;
    case 0xc4: /* bin 8, 16, 32 */
    case 0xc5:
    case 0xc6:
    case 0xd9: /* str 8, 16, 32 */
    case 0xda:
    case 0xdb:
        return read_bytes(p, pos, left, b, o);
    case 0xca: /* float 32, 64 */
    case 0xcb:
    case 0xcc: /* uint 8, 16, 32, 64 */
    case 0xcd:
    case 0xce:
    case 0xcf:
        return read_number(p, pos, left, b, o);
    case 0xd0: /* int 8, 16, 32, 64 */
    case 0xd1:
    case 0xd2:
    case 0xd3:
        return read_signed(p, pos, left, b, o);
    default: /* 0xc1, ext 8/16/32 (0xc7-0xc9), fixext (0xd4-0xd8) */
        return false;
    }
}

bool pw__mp_read_object(const unsigned char *p, size_t len, size_t *pos_io, int maxdepth,
                        msgpack_object *o)
{
    /* Every branch below sets what its type uses, but gcc cannot always see
     * that pw__msg_key_index() reads a string's pointer only when the type is
     * a string (-Wmaybe-uninitialized): a fully set object costs one store
     * and keeps that warning meaningful. */
    *o = (msgpack_object){.type = MSGPACK_OBJECT_NIL};
    size_t pos = *pos_io;
    if (pos >= len)
        return false;
    unsigned b = p[pos++];
    size_t left = len - pos;

    if (b <= 0x7f) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = b;
    } else if (b >= 0xe0) {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = (int8_t)(unsigned char)b;
    } else if (b >= 0xa0 && b <= 0xbf) {
        size_t n = b & 0x1f;
        if (left < n)
            return false;
        o->type = MSGPACK_OBJECT_STR;
        o->via.str.size = (uint32_t)n;
        o->via.str.ptr = (const char *)p + pos;
        pos += n;
    } else if (b <= 0x9f || (b >= 0xdc && b <= 0xdf)) {
        if (!read_container(p, len, pos - 1, b, maxdepth, &pos, o))
            return false;
    } else if (!read_other(p, &pos, left, b, o)) {
        return false;
    }
    *pos_io = pos;
    return true;
}

int pw__mp_unpack(const void *data, size_t len, size_t maxlen, int maxdepth, msgpack_unpacked *u)
{
    size_t off = 0;

    /* Before msgpack-c sees the bytes: it allocates by declared counts (issue #985). */
    int rc = pw__mp_prevalidate(data, len, maxlen, maxdepth);
    if (rc != PW_OK)
        return rc;
    msgpack_unpacked_init(u);
    if (msgpack_unpack_next(u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(u);
        return PW_EMALFORMED;
    }
    return PW_OK;
}

bool pw__mp_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

bool pw__mp_get_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return false;
    *out = o->via.u64;
    return true;
}

bool pw__mp_get_int(const msgpack_object *o, int64_t *out)
{
    if (o == NULL)
        return false;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    return false;
}

bool pw__mp_get_number(const msgpack_object *o, double *out)
{
    double v;

    if (o == NULL)
        return false;
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
        return false;
    }
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

bool pw__mp_get_id(const msgpack_object *o, bool may_be_empty, char out[PW_ID_MAX])
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return false;
    if (!(may_be_empty && o->via.str.size == 0) && !pw__id_valid(o->via.str.ptr, o->via.str.size))
        return false;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return true;
}

bool pw__mp_get_text(const msgpack_object *o, char *out, size_t cap)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap ||
        !pw__utf8_valid(o->via.str.ptr, o->via.str.size))
        return false;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return true;
}

bool pw__mp_get_period(const msgpack_object *o, pw_period_t *out)
{
    return o != NULL && o->type == MSGPACK_OBJECT_STR &&
           pw_period_parse(o->via.str.ptr, o->via.str.size, out) == 0;
}
