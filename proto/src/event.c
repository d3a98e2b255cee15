/* SPDX-License-Identifier: MIT */
#include "pw/event.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "internal.h"
#include "mp.h"
#include "pw/error.h"

enum ekey {
    E_PV,
    E_TY,
    E_Q,
    E_T,
    E_I,
    E_SR,
    E_P,
    E_VAL,
    E_RATE,
    E_BAND,
    E_ACH,
    E_HAVE,
    E_WANT,
    E_A,
    E_WHY,
    E_PL,
    E_TG,
    E_NP,
    E_TOP,
    E_COUNT
};

static const char *const ekey_names[E_COUNT] = {
    [E_PV] = "pv",   [E_TY] = "ty",     [E_Q] = "q",       [E_T] = "t",       [E_I] = "i",
    [E_SR] = "sr",   [E_P] = "p",       [E_VAL] = "val",   [E_RATE] = "rate", [E_BAND] = "band",
    [E_ACH] = "ach", [E_HAVE] = "have", [E_WANT] = "want", [E_A] = "a",       [E_WHY] = "why",
    [E_PL] = "pl",   [E_TG] = "tg",     [E_NP] = "np",     [E_TOP] = "top",
};

/* strlen(ekey_names[k]), for the direct readers and writers. */
static const unsigned char ekey_lens[E_COUNT] = {
    [E_PV] = 2,  [E_TY] = 2,   [E_Q] = 1,    [E_T] = 1,   [E_I] = 1,    [E_SR] = 2,   [E_P] = 1,
    [E_VAL] = 3, [E_RATE] = 4, [E_BAND] = 4, [E_ACH] = 3, [E_HAVE] = 4, [E_WANT] = 4, [E_A] = 1,
    [E_WHY] = 3, [E_PL] = 2,   [E_TG] = 2,   [E_NP] = 2,  [E_TOP] = 3,
};

static const char *const action_names[] = {
    [PW_ALERT_OPEN] = "open",
    [PW_ALERT_RESOLVE] = "resolve",
    [PW_ALERT_UPDATE] = "update",
};

const char *pw_event_type_name(pw_event_type_t type)
{
    switch (type) {
    case PW_EV_RATE:
        return "rate";
    case PW_EV_ALERT:
        return "alert";
    case PW_EV_HB:
        return "hb";
    }
    return "?";
}

/* Each helper returns the packer's write result: 0, or non-zero when it failed. */
static int pack_key(msgpack_packer *pk, enum ekey k)
{
    return pw__pack_str(pk, ekey_names[k], strlen(ekey_names[k]));
}

static int pack_cstr(msgpack_packer *pk, enum ekey k, const char *s, size_t max)
{
    int err = pack_key(pk, k);
    return err != 0 ? err : pw__pack_str(pk, s, strnlen(s, max));
}

static int pack_u64(msgpack_packer *pk, enum ekey k, uint64_t v)
{
    int err = pack_key(pk, k);
    return err != 0 ? err : msgpack_pack_uint64(pk, v);
}

static int pack_i64(msgpack_packer *pk, enum ekey k, int64_t v)
{
    int err = pack_key(pk, k);
    return err != 0 ? err : msgpack_pack_int64(pk, v);
}

static int pack_rate(msgpack_packer *pk, const pw_event_t *ev)
{
    int err = pack_key(pk, E_RATE);
    if (err != 0)
        return err;
    return ev->has_rate ? msgpack_pack_int64(pk, ev->centi) : msgpack_pack_nil(pk);
}

static int pack_double(msgpack_packer *pk, enum ekey k, double v)
{
    int err = pack_key(pk, k);
    return err != 0 ? err : msgpack_pack_double(pk, v);
}

static int pack_detail(msgpack_packer *pk, const pw_event_t *ev)
{
    int err = pack_double(pk, E_PL, ev->planned);
    err = err ? err : pack_double(pk, E_TG, ev->target);
    err = err ? err : pack_double(pk, E_NP, ev->needed_per_year);
    err = err ? err : pack_key(pk, E_TOP);
    uint32_t n = ev->ntop < PW_TOP_MAX ? ev->ntop : PW_TOP_MAX;
    err = err ? err : msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n && err == 0; i++) {
        const pw_event_district_t *d = &ev->top[i];
        err = msgpack_pack_map(pk, 4);
        err = err ? err : pw__pack_str(pk, "d", 1);
        err = err ? err : pw__pack_str(pk, d->district, strnlen(d->district, PW_ID_MAX - 1));
        err = err ? err : pw__pack_str(pk, "v", 1);
        err = err ? err : msgpack_pack_double(pk, d->value);
        err = err ? err : pw__pack_str(pk, "w", 1);
        err = err ? err : msgpack_pack_double(pk, d->weight);
        err = err ? err : pw__pack_str(pk, "s", 1);
        err = err ? err : msgpack_pack_double(pk, d->shortfall);
    }
    return err;
}

static int pack_body(msgpack_packer *pk, const pw_event_t *ev)
{
    char period[PW_PERIOD_STRMAX];
    int err = 0;

    pw_period_format(ev->period, period);
    err = err ? err : pack_cstr(pk, E_I, ev->indicator, PW_ID_MAX - 1);
    err = err ? err : pack_cstr(pk, E_SR, ev->series, PW_ID_MAX - 1);
    err = err ? err : pack_cstr(pk, E_P, period, sizeof period);
    if (ev->type == PW_EV_RATE) {
        err = err ? err : pack_key(pk, E_VAL);
        if (err == 0)
            err = ev->has_value ? msgpack_pack_double(pk, ev->value) : msgpack_pack_nil(pk);
        err = err ? err : pack_rate(pk, ev);
        err = err ? err : pack_cstr(pk, E_BAND, pw_band_name(ev->band), PW_ID_MAX);
        err = err ? err : pack_key(pk, E_ACH);
        if (err == 0)
            err = ev->achieved ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        err = err ? err : pack_u64(pk, E_HAVE, ev->have);
        err = err ? err : pack_u64(pk, E_WANT, ev->want);
    } else {
        err = err ? err : pack_cstr(pk, E_A, action_names[ev->action], 16);
        err = err ? err : pack_key(pk, E_VAL);
        if (err == 0)
            err = ev->has_value ? msgpack_pack_double(pk, ev->value) : msgpack_pack_nil(pk);
        err = err ? err : pack_rate(pk, ev);
        err = err ? err : pack_cstr(pk, E_BAND, pw_band_name(ev->band), PW_ID_MAX);
        err = err ? err : pack_u64(pk, E_HAVE, ev->have);
        err = err ? err : pack_u64(pk, E_WANT, ev->want);
        err = err ? err : pack_cstr(pk, E_WHY, ev->why, PW_MSG_TEXTMAX - 1);
        if (err == 0 && ev->has_detail)
            err = pack_detail(pk, ev);
    }
    return err;
}

static unsigned char *put_ekey(unsigned char *p, enum ekey k)
{
    *p++ = (unsigned char)(0xa0 | ekey_lens[k]);
    for (unsigned i = 0; i < ekey_lens[k]; i++)
        *p++ = (unsigned char)ekey_names[k][i];
    return p;
}

/*
 * A rate event is what the aggregator writes for every indicator and period
 * an update moves (the event log and the rates table) and what the publisher
 * sends on in batches: written here directly, byte for byte what msgpack-c's
 * packer gives it (unit_event compares them), at a fraction of the packer's
 * cost. The map, 13 keys of at most 5 bytes, "rate", two ids, a period, a
 * band name, a double and 5 integers of at most 9 bytes, two booleans:
 */
#define RATE_MAX (1 + 13 * 5 + 5 + 2 * (2 + PW_ID_MAX) + 2 + PW_PERIOD_STRMAX + 2 + 32 + 6 * 9 + 2)

static size_t put_rate(unsigned char *start, const pw_event_t *ev)
{
    char period[PW_PERIOD_STRMAX];
    const char *band = pw_band_name(ev->band);
    unsigned char *p = start;

    *p++ = 0x80 | 13;
    p = pw__put_uint(put_ekey(p, E_PV), PW_PROTO_VERSION);
    p = pw__put_str(put_ekey(p, E_TY), "rate", 4);
    p = pw__put_uint(put_ekey(p, E_Q), ev->seq);
    p = pw__put_int(put_ekey(p, E_T), ev->time_ms);
    p = pw__put_str(put_ekey(p, E_I), ev->indicator, strnlen(ev->indicator, PW_ID_MAX - 1));
    p = pw__put_str(put_ekey(p, E_SR), ev->series, strnlen(ev->series, PW_ID_MAX - 1));
    pw_period_format(ev->period, period);
    p = pw__put_str(put_ekey(p, E_P), period, strlen(period));
    p = put_ekey(p, E_VAL);
    if (ev->has_value)
        p = pw__put_double(p, ev->value);
    else
        *p++ = 0xc0;
    p = put_ekey(p, E_RATE);
    if (ev->has_rate)
        p = pw__put_int(p, ev->centi);
    else
        *p++ = 0xc0;
    p = pw__put_str(put_ekey(p, E_BAND), band, strnlen(band, 31));
    p = put_ekey(p, E_ACH);
    *p++ = ev->achieved ? 0xc3 : 0xc2;
    p = pw__put_uint(put_ekey(p, E_HAVE), ev->have);
    p = pw__put_uint(put_ekey(p, E_WANT), ev->want);
    return (size_t)(p - start);
}

int pw_event_pack(msgpack_packer *pk, const pw_event_t *ev)
{
    size_t nkeys;
    int err;

    switch (ev->type) {
    case PW_EV_RATE: {
        unsigned char tmp[RATE_MAX];
        size_t n = put_rate(tmp, ev);
        return pk->callback(pk->data, (const char *)tmp, n) != 0 ? -ENOMEM : PW_OK;
    }
    case PW_EV_ALERT:
        if (ev->action != PW_ALERT_OPEN && ev->action != PW_ALERT_RESOLVE &&
            ev->action != PW_ALERT_UPDATE)
            return -EINVAL;
        nkeys = ev->has_detail ? 18 : 14;
        break;
    case PW_EV_HB:
        nkeys = 4;
        break;
    default:
        return -EINVAL;
    }
    err = msgpack_pack_map(pk, nkeys);
    err = err ? err : pack_u64(pk, E_PV, PW_PROTO_VERSION);
    err = err ? err : pack_cstr(pk, E_TY, pw_event_type_name(ev->type), 8);
    err = err ? err : pack_u64(pk, E_Q, ev->seq);
    err = err ? err : pack_i64(pk, E_T, ev->time_ms);
    if (err == 0 && ev->type != PW_EV_HB)
        err = pack_body(pk, ev);
    return err != 0 ? -ENOMEM : PW_OK;
}

int pw_event_encode(const pw_event_t *ev, pw_buf_t *buf)
{
    msgpack_packer pk;
    int rc;

    if (ev->type == PW_EV_RATE) {
        if (pw__buf_reserve(buf, RATE_MAX) != 0)
            return -ENOMEM;
        buf->len = put_rate((unsigned char *)buf->data, ev);
        return PW_OK;
    }
    buf->len = 0;
    msgpack_packer_init(&pk, buf, pw__buf_write);
    rc = pw_event_pack(&pk, ev);
    if (rc != PW_OK)
        buf->len = 0;
    return rc;
}

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
        if (key->via.str.size == ekey_lens[k] &&
            memcmp(key->via.str.ptr, ekey_names[k], ekey_lens[k]) == 0)
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

/* The key k as put_ekey() writes it. */
static bool rd_ekey(struct pw__rd *r, enum ekey k)
{
    return pw__rd_key(r, ekey_names[k], ekey_lens[k]);
}

/*
 * A rate event exactly as put_rate() writes it, read directly: the same
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
