/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "internal.h"
#include "mp.h"
#include "pw/error.h"
#include "pw/event.h"

/* The event decoders: a rate event as pw_event_encode() writes it read in
 * place, anything else through msgpack-c's object tree. */

/* Every fault of an event is PW_EMALFORMED: the getters' verdict as a code. */
static int need(bool ok)
{
    return ok ? PW_OK : PW_EMALFORMED;
}

/* The value is optional: absent or nil both mean "no value". */
static int get_value(const msgpack_object *o, pw_event_t *out)
{
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return PW_OK;
    if (!pw__mp_get_number(o, &out->value))
        return PW_EMALFORMED;
    out->has_value = true;
    return PW_OK;
}

static int get_rate(const msgpack_object *o, bool required, pw_event_t *out)
{
    if (o == NULL)
        return required ? PW_EMALFORMED : PW_OK;
    if (o->type == MSGPACK_OBJECT_NIL)
        return PW_OK;
    if (!pw__mp_get_int(o, &out->centi))
        return PW_EMALFORMED;
    out->has_rate = true;
    return PW_OK;
}

static int get_band(const msgpack_object *o, pw_band_t *out)
{
    /* Matched against pw_band_name() itself, so the two can never disagree. */
    for (int b = PW_BAND_NONE; b <= PW_BAND_ON_TRACK; b++) {
        if (o != NULL && pw__mp_str_is(o, pw_band_name((pw_band_t)b))) {
            *out = (pw_band_t)b;
            return PW_OK;
        }
    }
    return PW_EMALFORMED;
}

static int read_rate(const msgpack_object *const v[E_COUNT], pw_event_t *out)
{
    uint64_t have, want;
    int rc = get_value(v[E_VAL], out);

    rc = rc ? rc : get_rate(v[E_RATE], false, out);
    rc = rc ? rc : get_band(v[E_BAND], &out->band);
    if (rc == PW_OK && (v[E_ACH] == NULL || v[E_ACH]->type != MSGPACK_OBJECT_BOOLEAN))
        rc = PW_EMALFORMED;
    if (rc == PW_OK)
        out->achieved = v[E_ACH]->via.boolean;
    rc = rc ? rc : need(pw__mp_get_uint(v[E_HAVE], UINT32_MAX, &have));
    rc = rc ? rc : need(pw__mp_get_uint(v[E_WANT], UINT32_MAX, &want));
    if (rc == PW_OK) {
        out->have = (uint32_t)have;
        out->want = (uint32_t)want;
    }
    return rc;
}

/* The alert detail is optional (events written before it existed lack it). */
static int read_detail(const msgpack_object *const v[E_COUNT], pw_event_t *out)
{
    if (v[E_PL] == NULL)
        return PW_OK;
    int rc = need(pw__mp_get_number(v[E_PL], &out->planned));
    rc = rc ? rc : need(pw__mp_get_number(v[E_TG], &out->target));
    rc = rc ? rc : need(pw__mp_get_number(v[E_NP], &out->needed_per_year));
    const msgpack_object *top = v[E_TOP];
    if (rc == PW_OK && (top == NULL || top->type != MSGPACK_OBJECT_ARRAY ||
                        top->via.array.size > PW_TOP_MAX))
        rc = PW_EMALFORMED;
    for (uint32_t i = 0; rc == PW_OK && i < top->via.array.size; i++) {
        const msgpack_object *m = &top->via.array.ptr[i];
        pw_event_district_t *d = &out->top[i];
        if (m->type != MSGPACK_OBJECT_MAP) {
            rc = PW_EMALFORMED;
            break;
        }
        int seen = 0;
        for (uint32_t k = 0; rc == PW_OK && k < m->via.map.size; k++) {
            const msgpack_object_kv *kv = &m->via.map.ptr[k];
            if (pw__mp_str_is(&kv->key, "d")) {
                rc = need(pw__mp_get_id(&kv->val, false, d->district));
                seen |= 1;
            } else if (pw__mp_str_is(&kv->key, "v")) {
                rc = need(pw__mp_get_number(&kv->val, &d->value));
                seen |= 2;
            } else if (pw__mp_str_is(&kv->key, "w")) {
                rc = need(pw__mp_get_number(&kv->val, &d->weight));
                seen |= 4;
            } else if (pw__mp_str_is(&kv->key, "s")) {
                rc = need(pw__mp_get_number(&kv->val, &d->shortfall));
                seen |= 8;
            }
        }
        if (rc == PW_OK && seen != 15)
            rc = PW_EMALFORMED;
        out->ntop = i + 1;
    }
    if (rc == PW_OK)
        out->has_detail = true;
    return rc;
}

static int read_alert(const msgpack_object *const v[E_COUNT], pw_event_t *out)
{
    int rc = PW_OK;

    if (v[E_A] != NULL && pw__mp_str_is(v[E_A], "open"))
        out->action = PW_ALERT_OPEN;
    else if (v[E_A] != NULL && pw__mp_str_is(v[E_A], "resolve"))
        out->action = PW_ALERT_RESOLVE;
    else if (v[E_A] != NULL && pw__mp_str_is(v[E_A], "update"))
        out->action = PW_ALERT_UPDATE;
    else
        rc = PW_EMALFORMED;
    rc = rc ? rc : get_value(v[E_VAL], out);
    rc = rc ? rc : get_rate(v[E_RATE], true, out);
    rc = rc ? rc : get_band(v[E_BAND], &out->band);
    rc = rc ? rc : need(pw__mp_get_text(v[E_WHY], out->why, PW_MSG_TEXTMAX));
    /* Completeness is optional in an alert: version 1 stores written before
     * it was added still decode. */
    uint64_t have = 0, want = 0;
    if (rc == PW_OK && v[E_HAVE] != NULL)
        rc = need(pw__mp_get_uint(v[E_HAVE], UINT32_MAX, &have));
    if (rc == PW_OK && v[E_WANT] != NULL)
        rc = need(pw__mp_get_uint(v[E_WANT], UINT32_MAX, &want));
    out->have = (uint32_t)have;
    out->want = (uint32_t)want;
    return rc ? rc : read_detail(v, out);
}

/* The known key a map key is, or -1: lengths first, so that decoding an event
 * (the publisher reads every one from the store) costs no strlen per key. */
static int ekey_index(const msgpack_object *key)
{
    if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0 || key->via.str.size > 4)
        return -1;
    for (int k = 0; k < E_COUNT; k++)
        if (key->via.str.size == pw__event_key_lens[k] &&
            memcmp(key->via.str.ptr, pw__event_key_names[k], pw__event_key_lens[k]) == 0)
            return k;
    return -1;
}

static int read_event(const msgpack_object *obj, pw_event_t *out)
{
    const msgpack_object *v[E_COUNT] = {0};
    const msgpack_object *pv;
    uint64_t seq;
    int rc;

    if (obj->type != MSGPACK_OBJECT_MAP)
        return PW_EMALFORMED;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        int k = ekey_index(&kv->key);
        if (k < 0)
            continue; /* unknown keys are skipped, for later versions */
        if (v[k] != NULL)
            return PW_EMALFORMED; /* a known one twice is ambiguous */
        v[k] = &kv->val;
    }
    pv = v[E_PV];
    if (pv == NULL || pv->type != MSGPACK_OBJECT_POSITIVE_INTEGER || pv->via.u64 == 0)
        return PW_EMALFORMED;
    if (pv->via.u64 != PW_PROTO_VERSION)
        return PW_EVERSION;

    if (v[E_TY] != NULL && pw__mp_str_is(v[E_TY], "rate"))
        out->type = PW_EV_RATE;
    else if (v[E_TY] != NULL && pw__mp_str_is(v[E_TY], "alert"))
        out->type = PW_EV_ALERT;
    else if (v[E_TY] != NULL && pw__mp_str_is(v[E_TY], "hb"))
        out->type = PW_EV_HB;
    else
        return PW_EMALFORMED;
    rc = need(pw__mp_get_uint(v[E_Q], UINT64_MAX, &seq) && pw__mp_get_int(v[E_T], &out->time_ms));
    if (rc != PW_OK)
        return rc;
    out->seq = seq;
    if (out->type == PW_EV_HB)
        return PW_OK;

    /* sr may be empty (an indicator's only series); i may not. */
    rc = need(pw__mp_get_id(v[E_I], false, out->indicator) &&
              pw__mp_get_id(v[E_SR], true, out->series) && pw__mp_get_period(v[E_P], &out->period));
    if (rc != PW_OK)
        return rc;
    return out->type == PW_EV_RATE ? read_rate(v, out) : read_alert(v, out);
}

int pw_event_from_object(const msgpack_object *obj, pw_event_t *out)
{
    int rc;

    memset(out, 0, sizeof *out);
    rc = read_event(obj, out);
    if (rc != PW_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* The key k as event.c's writer puts it. */
static bool rd_ekey(struct pw__rd *r, enum pw__event_key k)
{
    return pw__rd_key(r, pw__event_key_names[k], pw__event_key_lens[k]);
}

/*
 * A rate event exactly as pw_event_encode() writes it, read directly: the same
 * checks as read_event() and read_rate() make, so that whenever this succeeds
 * the result is the general decoder's (unit_event compares them on every
 * truncation and thousands of mutations). Anything else, including every
 * alert and every frame of another writer, is for the general decoder.
 */
static bool decode_rate_flat(const void *data, size_t len, pw_event_t *out)
{
    struct pw__rd r = {data, (const unsigned char *)data + len};
    const char *s;
    size_t n;
    uint64_t u;

    if (len == 0 || *r.p != (0x80 | 13))
        return false;
    r.p++;
    out->type = PW_EV_RATE;
    if (!rd_ekey(&r, E_PV) || !pw__rd_uint(&r, &u) || u != PW_PROTO_VERSION ||
        !rd_ekey(&r, E_TY) || !pw__rd_str(&r, &s, &n) || n != 4 || memcmp(s, "rate", 4) != 0 ||
        !rd_ekey(&r, E_Q) || !pw__rd_uint(&r, &out->seq) || !rd_ekey(&r, E_T) ||
        !pw__rd_int(&r, &out->time_ms) || !rd_ekey(&r, E_I) ||
        !pw__rd_id(&r, false, out->indicator) || !rd_ekey(&r, E_SR) ||
        !pw__rd_id(&r, true, out->series) || !rd_ekey(&r, E_P) ||
        !pw__rd_str(&r, &s, &n) || pw_period_parse(s, n, &out->period) != 0 ||
        !rd_ekey(&r, E_VAL) || r.p >= r.end)
        return false;
    if (*r.p == 0xc0)
        r.p++;
    else if (pw__rd_double(&r, &out->value))
        out->has_value = true;
    else
        return false;
    if (!rd_ekey(&r, E_RATE) || r.p >= r.end)
        return false;
    if (*r.p == 0xc0)
        r.p++;
    else if (pw__rd_int(&r, &out->centi))
        out->has_rate = true;
    else
        return false;
    if (!rd_ekey(&r, E_BAND) || !pw__rd_str(&r, &s, &n))
        return false;
    bool band = false;
    for (int b = PW_BAND_NONE; b <= PW_BAND_ON_TRACK && !band; b++) {
        const char *name = pw_band_name((pw_band_t)b);
        if (n == strlen(name) && memcmp(s, name, n) == 0) {
            out->band = (pw_band_t)b;
            band = true;
        }
    }
    if (!band || !rd_ekey(&r, E_ACH) || r.p >= r.end || (*r.p != 0xc2 && *r.p != 0xc3))
        return false;
    out->achieved = *r.p++ == 0xc3;
    uint64_t have, want;
    if (!rd_ekey(&r, E_HAVE) || !pw__rd_uint(&r, &have) || have > UINT32_MAX ||
        !rd_ekey(&r, E_WANT) || !pw__rd_uint(&r, &want) || want > UINT32_MAX)
        return false;
    out->have = (uint32_t)have;
    out->want = (uint32_t)want;
    return r.p == r.end;
}

int pw_event_decode(const void *data, size_t len, pw_event_t *out)
{
    msgpack_unpacked up;
    int rc;

    memset(out, 0, sizeof *out);
    /* Nearly every stored or published event is a rate event as
     * pw_event_encode() writes it: read that layout directly. */
    if (decode_rate_flat(data, len, out))
        return PW_OK;
    memset(out, 0, sizeof *out);
    rc = pw__mp_unpack(data, len, PW__EVENT_MAXSIZE, PW__MP_MAXDEPTH, &up);
    if (rc != PW_OK)
        return rc;
    rc = pw_event_from_object(&up.data, out);
    msgpack_unpacked_destroy(&up);
    return rc;
}
