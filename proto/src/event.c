/* SPDX-License-Identifier: MIT */
#include "pw/event.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "internal.h"
#include "mp.h"
#include "pw/error.h"
#include "pw/text.h"

const char *const pw__event_key_names[E_COUNT] = {
    [E_PV] = "pv",   [E_TY] = "ty",     [E_Q] = "q",       [E_T] = "t",       [E_I] = "i",
    [E_SR] = "sr",   [E_P] = "p",       [E_VAL] = "val",   [E_RATE] = "rate", [E_BAND] = "band",
    [E_ACH] = "ach", [E_HAVE] = "have", [E_WANT] = "want", [E_A] = "a",       [E_WHY] = "why",
    [E_PL] = "pl",   [E_TG] = "tg",     [E_NP] = "np",     [E_TOP] = "top",
};

const unsigned char pw__event_key_lens[E_COUNT] = {
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
static int pack_key(msgpack_packer *pk, enum pw__event_key k)
{
    return pw__pack_str(pk, pw__event_key_names[k], strlen(pw__event_key_names[k]));
}

static int pack_cstr(msgpack_packer *pk, enum pw__event_key k, const char *s, size_t max)
{
    int err = pack_key(pk, k);
    return err != 0 ? err : pw__pack_str(pk, s, strnlen(s, max));
}

static int pack_u64(msgpack_packer *pk, enum pw__event_key k, uint64_t v)
{
    int err = pack_key(pk, k);
    return err != 0 ? err : msgpack_pack_uint64(pk, v);
}

static int pack_i64(msgpack_packer *pk, enum pw__event_key k, int64_t v)
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

static int pack_double(msgpack_packer *pk, enum pw__event_key k, double v)
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

static unsigned char *put_ekey(unsigned char *p, enum pw__event_key k)
{
    *p++ = (unsigned char)(0xa0 | pw__event_key_lens[k]);
    for (unsigned i = 0; i < pw__event_key_lens[k]; i++)
        *p++ = (unsigned char)pw__event_key_names[k][i];
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

int pw_event_push(pw_event_t **arr, size_t *n, size_t *cap, const pw_event_t *ev)
{
    pw_event_t *grown = pw__text_reserve(*arr, *n, cap, sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    *arr = grown;
    (*arr)[(*n)++] = *ev;
    return 0;
}
