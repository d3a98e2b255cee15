/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "internal.h"
#include "mp.h"
#include "pw/error.h"
#include "pw/msg.h"

/* The decoders used on intake and on replay: one pass over the frame in
 * place, with the direct readers of mp.h for the layout pw_msg_encode()
 * writes and pw__mp_read_object() for any other. msg_reference.c is the
 * plain decoder they must agree with. */

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
 * applies the same range checks as pw__msg_decode_fields(), so whenever it succeeds
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

/*
 * The strict decoder. It accepts and rejects exactly what
 * pw_msg_decode_reference() does, with the same codes and fields (a unit test
 * compares them on round trips, every truncation and many thousands of
 * mutated and generated frames), but reads the one flat map of a message in
 * place, in one pass, instead of prevalidating it and then having msgpack-c
 * build an object tree for it. Every structural fault is PW_EMALFORMED and
 * found before any other code can be returned, as in the reference, whose
 * prevalidation runs first; the keys are mapped by the same pw__msg_key_index()
 * and the fields checked by the same pw__msg_decode_fields().
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
     * As in the reference decoder, pv is looked for among all the keys before any
     * other key counts, so a key error is only noted here and reported after
     * the version. Every pair takes at least two bytes, so the loop ends
     * within the frame whatever the count says.
     */
    for (uint64_t i = 0; i < npairs; i++) {
        msgpack_object key, val;
        if (!pw__mp_read_object(p, len, &pos, PW__MSG_MAXDEPTH, &key) ||
            !pw__mp_read_object(p, len, &pos, PW__MSG_MAXDEPTH, &val))
            return PW_EMALFORMED;
        int k = pw__msg_key_index(&key);
        if (k < 0 || (seen & KEY_BIT(k))) {
            if (k == K_PV)
                return PW_EMALFORMED; /* pv twice: the reference's answer */
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
    int rc = pw__msg_decode_fields(vals, seen, out);
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
    int rc = pw__mp_walk(frame, len, &end, 0, PW__MSG_MAXDEPTH);
    if (rc != PW_OK) {
        memset(out, 0, sizeof *out);
        *pos = len;
        return rc;
    }
    *pos = end;
    return pw_msg_decode((const unsigned char *)frame + start, end - start, out);
}

int pw_msg_decode_stored(const void *data, size_t len, pw_msg_t *out)
{
    if (decode_flat(data, len, PW_MSG_RECORD, out))
        return PW_OK;
    return pw_msg_decode(data, len, out);
}
