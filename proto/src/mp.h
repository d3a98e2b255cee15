/* SPDX-License-Identifier: MIT */
#ifndef PW_MP_H
#define PW_MP_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "pw/msg.h"
#include "pw/period.h"
#include "pw/text.h"

/* The msgpack reader and writer of proto/: the pre-validator, the direct
 * writers and readers of the layouts our encoders produce, and the typed
 * getters of msgpack-c objects that the general decoders share. Private to
 * proto/src; never installed. */

/**
 * Walks one msgpack frame without allocating and without recursion, so that
 * msgpack_unpack_next() can then only allocate in proportion to len. Rejects
 * frames larger than maxlen, the never-used byte 0xc1, every ext and fixext
 * type, str/bin lengths and array/map counts that the remaining bytes cannot
 * hold, containers nested deeper than maxdepth (at most 32), and anything
 * other than exactly one object with no trailing bytes.
 * Returns 0 or PW_EMALFORMED.
 */
int pw__mp_prevalidate(const void *data, size_t len, size_t maxlen, int maxdepth);

/**
 * The walk of pw__mp_prevalidate() over the one object at p[*pos_io] of a
 * frame of len bytes, whose container depth there is depth0 (0 for the frame
 * itself): moves *pos_io past it. Returns 0 or PW_EMALFORMED.
 */
int pw__mp_walk(const unsigned char *p, size_t len, size_t *pos_io, int depth0, int maxdepth);

/**
 * Prevalidates (as above) and unpacks the one object of a frame into *u.
 * Returns 0, and the caller destroys *u; or PW_EMALFORMED, and *u needs no
 * destroy.
 */
int pw__mp_unpack(const void *data, size_t len, size_t maxlen, int maxdepth, msgpack_unpacked *u);

/**
 * Reads the object at p[*pos_io] of a frame of len bytes into o, as
 * msgpack-c's unpacker fills a msgpack_object (strings point into p), and
 * moves *pos_io past it. A container is read as its type and count only (ptr
 * NULL), its contents walked with the checks of pw__mp_prevalidate() at depth
 * 1 of maxdepth. False for anything that the prevalidation would refuse.
 */
bool pw__mp_read_object(const unsigned char *p, size_t len, size_t *pos_io, int maxdepth,
                        msgpack_object *o);

/* Typed getters of msgpack-c objects: each takes o (NULL reads as absent),
 * fills *out and returns true when o is that value, and returns false
 * without a full *out otherwise. */

/** o is the string s. */
bool pw__mp_str_is(const msgpack_object *o, const char *s);
/** A positive integer at most max. */
bool pw__mp_get_uint(const msgpack_object *o, uint64_t max, uint64_t *out);
/** Any integer in the range of int64_t. */
bool pw__mp_get_int(const msgpack_object *o, int64_t *out);
/** Any integer or float, finite. */
bool pw__mp_get_number(const msgpack_object *o, double *out);
/** An id (pw__id_valid), or with may_be_empty also "", copied NUL-terminated. */
bool pw__mp_get_id(const msgpack_object *o, bool may_be_empty, char out[PW_ID_MAX]);
/** Valid UTF-8 of fewer than cap bytes, copied NUL-terminated. */
bool pw__mp_get_text(const msgpack_object *o, char *out, size_t cap);
/** A period as pw_period_format() writes it. */
bool pw__mp_get_period(const msgpack_object *o, pw_period_t *out);

/** msgpack_packer_write callback appending to a pw_buf_t; 0, or -1 when out of memory. */
int pw__buf_write(void *data, const char *buf, size_t len);

/** Makes buf->cap at least n (contents kept); 0, or -ENOMEM with buf->len 0. */
int pw__buf_reserve(pw_buf_t *buf, size_t n);

/** Packs a msgpack str of len bytes; 0, or the packer's non-zero write error. */
int pw__pack_str(msgpack_packer *pk, const char *s, size_t len);

/*
 * Direct msgpack writers: each writes at p the bytes msgpack-c's packer
 * gives for the value and returns the end. The caller has made room (at most
 * 9 bytes for a number, 2 + n for a string).
 */
unsigned char *pw__put_uint(unsigned char *p, uint64_t v);
unsigned char *pw__put_int(unsigned char *p, int64_t v);
/** n < 256: ids, periods and names, never free text. */
unsigned char *pw__put_str(unsigned char *p, const char *s, size_t n);
unsigned char *pw__put_double(unsigned char *p, double v);

/* Direct readers of the writers' layouts: each reads one value at r->p and
 * advances, or returns false (r->p then undefined) when the bytes there are
 * not that value in a form the writers above produce. */
struct pw__rd {
    const unsigned char *p, *end;
};

/* The readers are inline: a message is a dozen of them, and a call each
 * cost as much as the reading. Every read is bounds-checked. */
static inline uint64_t pw__read_be(const unsigned char *p, size_t n)
{
    /* msgpack's widths are 1, 2, 4 and 8 bytes: a load and a byte swap. */
    switch (n) {
    case 1:
        return p[0];
    case 2: {
        uint16_t x;
        memcpy(&x, p, 2);
        return __builtin_bswap16(x);
    }
    case 4: {
        uint32_t x;
        memcpy(&x, p, 4);
        return __builtin_bswap32(x);
    }
    case 8: {
        uint64_t x;
        memcpy(&x, p, 8);
        return __builtin_bswap64(x);
    }
    default: {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v << 8 | p[i];
        return v;
    }
    }
}

/** Any msgpack unsigned form: positive fixint, uint 8/16/32/64. */
static inline bool pw__rd_uint(struct pw__rd *r, uint64_t *out)
{
    static const unsigned char widths[4] = {1, 2, 4, 8};
    if (r->p >= r->end)
        return false;
    unsigned b = *r->p;
    if (b <= 0x7f) {
        *out = b;
        r->p++;
        return true;
    }
    if (b < 0xcc || b > 0xcf)
        return false;
    size_t n = widths[b - 0xcc];
    if ((size_t)(r->end - r->p) < 1 + n)
        return false;
    *out = pw__read_be(r->p + 1, n);
    r->p += 1 + n;
    return true;
}

/** fixstr or str8: *s points into the frame. */
static inline bool pw__rd_str(struct pw__rd *r, const char **s, size_t *n)
{
    size_t hdr;
    if (r->p >= r->end)
        return false;
    unsigned b = *r->p;
    if (b >= 0xa0 && b <= 0xbf) {
        hdr = 1;
        *n = b & 0x1f;
    } else if (b == 0xd9 && r->end - r->p >= 2) {
        hdr = 2;
        *n = r->p[1];
    } else {
        return false;
    }
    if ((size_t)(r->end - r->p) < hdr + *n)
        return false;
    *s = (const char *)r->p + hdr;
    r->p += hdr + *n;
    return true;
}

/** Any form pw__put_int() writes, of a value in the range of int64_t. */
static inline bool pw__rd_int(struct pw__rd *r, int64_t *out)
{
    if (r->p >= r->end)
        return false;
    unsigned b = *r->p;
    if (b >= 0xe0) { /* negative fixint */
        *out = (int64_t)(int8_t)b;
        r->p++;
        return true;
    }
    if (b >= 0xd0 && b <= 0xd3) {
        size_t n = (size_t)1 << (b - 0xd0);
        if ((size_t)(r->end - r->p) < 1 + n)
            return false;
        uint64_t u = pw__read_be(r->p + 1, n);
        /* Sign-extend the n-byte two's complement value. */
        int shift = (int)(64 - 8 * n);
        *out = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
        r->p += 1 + n;
        return true;
    }
    uint64_t u;
    if (!pw__rd_uint(r, &u) || u > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)u;
    return true;
}

/** A float64, finite. */
static inline bool pw__rd_double(struct pw__rd *r, double *out)
{
    if (r->end - r->p < 9 || *r->p != 0xcb)
        return false;
    uint64_t bits = pw__read_be(r->p + 1, 8);
    memcpy(out, &bits, sizeof *out);
    if (!isfinite(*out))
        return false;
    r->p += 9;
    return true;
}

/** The fixstr name[0..n), n < 32: a map key as the writers put it. */
static inline bool pw__rd_key(struct pw__rd *r, const char *name, size_t n)
{
    if ((size_t)(r->end - r->p) < 1 + n || r->p[0] != (0xa0 | n))
        return false;
    /* Keys are a few bytes: compared in place, not by a call per field. */
    for (size_t i = 0; i < n; i++)
        if (r->p[1 + i] != (unsigned char)name[i])
            return false;
    r->p += 1 + n;
    return true;
}

/** An id (pw__id_valid), or with may_be_empty also "", copied NUL-terminated. */
static inline bool pw__rd_id(struct pw__rd *r, bool may_be_empty, char out[PW_ID_MAX])
{
    const char *s;
    size_t n;
    if (!pw__rd_str(r, &s, &n) || (!(may_be_empty && n == 0) && !pw__id_valid(s, n)))
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

#endif
