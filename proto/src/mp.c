/* SPDX-License-Identifier: MIT */
#include "mp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "pw/error.h"

/* The container stack of the pre-validator; msgpack-c's own limit is 32 as well. */
#define MP_STACK_MAX 32

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

int pw__mp_walk(const unsigned char *p, size_t len, size_t *pos_io, int depth0, int maxdepth)
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
    int rc = pw__mp_walk(data, len, &pos, 0, maxdepth);
    if (rc != PW_OK)
        return rc;
    return pos == len ? PW_OK : PW_EMALFORMED;
}
