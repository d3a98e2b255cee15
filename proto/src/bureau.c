/* SPDX-License-Identifier: MIT */
#include "pw/bureau.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mp.h"
#include "pw/error.h"

static int pack_head(msgpack_packer *pk, size_t nkeys, const char *type)
{
    int rc = msgpack_pack_map(pk, nkeys);
    rc |= pw__pack_str(pk, "pv", 2);
    rc |= msgpack_pack_unsigned_int(pk, PW_PROTO_VERSION);
    rc |= pw__pack_str(pk, "ty", 2);
    rc |= pw__pack_str(pk, type, strlen(type));
    return rc;
}

static const char *const req_names[] = {
    [PW_REQ_SNAP] = "snap",     [PW_REQ_RANGE] = "range",       [PW_REQ_STATUS] = "status",
    [PW_REQ_ALERTS] = "alerts", [PW_REQ_DISTRICT] = "district", [PW_REQ_ROWS] = "rows",
    [PW_REQ_PLAN] = "plan",
};
#define NREQ (sizeof(req_names) / sizeof(req_names[0]))

static int pack_period(msgpack_packer *pk, pw_period_t p)
{
    char text[PW_PERIOD_STRMAX];
    pw_period_format(p, text);
    int rc = pw__pack_str(pk, "p", 1);
    return rc | pw__pack_str(pk, text, strlen(text));
}

int pw_request_encode(const pw_request_t *req, pw_buf_t *buf)
{
    buf->len = 0;
    if ((size_t)req->type >= NREQ || !req_names[req->type])
        return -EINVAL;
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, pw__buf_write);
    bool from = req->type == PW_REQ_RANGE || req->type == PW_REQ_ALERTS ||
                req->type == PW_REQ_ROWS;
    /* A rows request for the city has no d: an empty id is not valid. */
    bool district = req->type == PW_REQ_DISTRICT || (req->type == PW_REQ_ROWS && req->district[0]);
    bool period = (req->type == PW_REQ_STATUS || req->type == PW_REQ_DISTRICT ||
                   req->type == PW_REQ_ROWS) &&
                  req->has_period;
    size_t n = 2 + (size_t)from + (size_t)(req->type == PW_REQ_RANGE) + (size_t)district +
               (size_t)period;
    int rc = pack_head(&pk, n, req_names[req->type]);
    if (from) {
        rc |= pw__pack_str(&pk, "from", 4);
        rc |= msgpack_pack_uint64(&pk, req->from);
    }
    if (req->type == PW_REQ_RANGE) {
        rc |= pw__pack_str(&pk, "to", 2);
        rc |= msgpack_pack_uint64(&pk, req->to);
    }
    if (district) {
        rc |= pw__pack_str(&pk, "d", 1);
        rc |= pw__pack_str(&pk, req->district, strnlen(req->district, PW_ID_MAX - 1));
    }
    if (period)
        rc |= pack_period(&pk, req->period);
    return rc ? -ENOMEM : 0;
}

/* Unpacks a prevalidated frame; the caller destroys *u. */
static int unpack(const void *data, size_t len, size_t maxlen, msgpack_unpacked *u)
{
    if (pw__mp_unpack(data, len, maxlen, PW__MP_MAXDEPTH, u) != 0)
        return PW_EMALFORMED;
    if (u->data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(u);
        return PW_EMALFORMED;
    }
    return 0;
}

/* The map key of kv is name. */
static bool key_is(const msgpack_object_kv *kv, const char *name)
{
    return pw__mp_str_is(&kv->key, name);
}

/* Checks pv and returns the ty object, or NULL. */
static const msgpack_object *version_and_type(const msgpack_object *map, int *rc)
{
    const msgpack_object *ty = NULL;
    bool pv_ok = false;
    *rc = PW_EMALFORMED;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (key_is(kv, "pv")) {
            if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return NULL;
            if (kv->val.via.u64 != PW_PROTO_VERSION) {
                *rc = PW_EVERSION;
                return NULL;
            }
            pv_ok = true;
        } else if (key_is(kv, "ty")) {
            ty = &kv->val;
        }
    }
    if (!pv_ok || !ty)
        return NULL;
    *rc = 0;
    return ty;
}

static pw_req_type_t req_type(const msgpack_object *ty)
{
    for (size_t i = 1; ty && i < NREQ; i++)
        if (req_names[i] && pw__mp_str_is(ty, req_names[i]))
            return (pw_req_type_t)i;
    return 0;
}

int pw_request_decode(const void *data, size_t len, pw_request_t *out)
{
    memset(out, 0, sizeof(*out));
    msgpack_unpacked u;
    int rc = unpack(data, len, PW_MSG_MAXSIZE, &u);
    if (rc != 0)
        return rc;
    const msgpack_object *ty = version_and_type(&u.data, &rc);
    out->type = req_type(ty);
    if (rc == 0 && out->type == 0)
        rc = PW_EMALFORMED;
    unsigned found = 0;
    for (uint32_t i = 0; rc == 0 && i < u.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
        if (key_is(kv, "from") || key_is(kv, "to")) {
            if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                rc = PW_EMALFORMED;
                break;
            }
            bool from = key_is(kv, "from");
            *(from ? &out->from : &out->to) = kv->val.via.u64;
            found |= from ? 1u : 2u;
        } else if (key_is(kv, "p")) {
            rc = pw__mp_get_period(&kv->val, &out->period) ? 0 : PW_EMALFORMED;
            out->has_period = true;
        } else if (key_is(kv, "d")) {
            if (!pw__mp_get_id(&kv->val, false, out->district)) {
                rc = PW_EMALFORMED;
                break;
            }
            found |= 4u;
        }
    }
    if (rc == 0 && ((out->type == PW_REQ_RANGE && found != 3) ||
                    ((out->type == PW_REQ_ALERTS || out->type == PW_REQ_ROWS) && !(found & 1u)) ||
                    (out->type == PW_REQ_DISTRICT && !(found & 4u))))
        rc = PW_EMALFORMED;
    msgpack_unpacked_destroy(&u);
    return rc;
}

int pw_reply_add(pw_reply_t *self, int list, const pw_event_t *ev)
{
    pw_event_t **arr = list == 0 ? &self->rows : list == 1 ? &self->alerts : &self->events;
    size_t *n = list == 0 ? &self->nrows : list == 1 ? &self->nalerts : &self->nevents;
    size_t *cap = list == 0 ? &self->caprows : list == 1 ? &self->capalerts : &self->capevents;
    return pw_event_push(arr, n, cap, ev);
}

int pw_reply_add_status(pw_reply_t *self, const pw_district_status_t *st)
{
    if (self->nstatus == self->capstatus) {
        size_t ncap = self->capstatus ? self->capstatus * 2 : 32;
        pw_district_status_t *na = realloc(self->status, ncap * sizeof(*na));
        if (!na)
            return -ENOMEM;
        self->status = na;
        self->capstatus = ncap;
    }
    self->status[self->nstatus++] = *st;
    return 0;
}

int pw_reply_set_plan(pw_reply_t *self, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    free(self->plan);
    self->plan = copy;
    self->plan_len = len;
    return 0;
}

static int pack_status(msgpack_packer *pk, const pw_district_status_t *st)
{
    int rc = msgpack_pack_map(pk, 9);
    rc |= pw__pack_str(pk, "d", 1);
    rc |= pw__pack_str(pk, st->district, strnlen(st->district, PW_ID_MAX - 1));
    rc |= pw__pack_str(pk, "c", 1);
    rc |= st->connected ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    rc |= pw__pack_str(pk, "ls", 2);
    rc |= msgpack_pack_int64(pk, st->last_seen_ms);
    rc |= pw__pack_str(pk, "ep", 2);
    rc |= msgpack_pack_uint64(pk, st->epoch);
    rc |= pw__pack_str(pk, "s", 1);
    rc |= msgpack_pack_uint64(pk, st->last_seq);
    rc |= pw__pack_str(pk, "lg", 2);
    rc |= msgpack_pack_uint64(pk, st->lag);
    rc |= pw__pack_str(pk, "rp", 2);
    rc |= msgpack_pack_uint32(pk, st->reported);
    rc |= pw__pack_str(pk, "ex", 2);
    rc |= msgpack_pack_uint32(pk, st->expected);
    rc |= pw__pack_str(pk, "mi", 2);
    rc |= pw__pack_str(pk, st->missing, strnlen(st->missing, PW_MISSING_MAX - 1));
    return rc;
}

static int pack_list(msgpack_packer *pk, const char *key, const pw_event_t *evs, size_t n)
{
    int rc = pw__pack_str(pk, key, strlen(key));
    rc |= msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = pw_event_pack(pk, &evs[i]);
    return rc;
}

int pw_reply_encode(const pw_reply_t *self, pw_buf_t *buf)
{
    buf->len = 0;
    if ((size_t)self->type >= NREQ || !req_names[self->type])
        return -EINVAL;
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, pw__buf_write);
    bool rows = self->type == PW_REQ_SNAP || self->type == PW_REQ_DISTRICT ||
                self->type == PW_REQ_ROWS;
    bool next = self->type == PW_REQ_ROWS && self->has_next;
    bool alerts = self->type == PW_REQ_SNAP;
    bool events = self->type == PW_REQ_RANGE || self->type == PW_REQ_ALERTS;
    bool status = self->type == PW_REQ_STATUS || (self->type == PW_REQ_SNAP && self->nstatus);
    bool plan = self->type == PW_REQ_PLAN;
    size_t n = 3 + (size_t)rows + (size_t)alerts + (size_t)events + (size_t)status +
               (size_t)self->has_period + (size_t)next + (size_t)plan;
    int rc = pack_head(&pk, n, req_names[self->type]);
    rc |= pw__pack_str(&pk, "q", 1);
    rc |= msgpack_pack_uint64(&pk, self->seq);
    if (self->has_period)
        rc |= pack_period(&pk, self->period);
    if (rows)
        rc |= pack_list(&pk, "rows", self->rows, self->nrows);
    if (alerts)
        rc |= pack_list(&pk, "alerts", self->alerts, self->nalerts);
    if (events)
        rc |= pack_list(&pk, "events", self->events, self->nevents);
    if (plan) {
        rc |= pw__pack_str(&pk, "plan", 4);
        rc |= self->plan ? pw__pack_str(&pk, self->plan, self->plan_len) : msgpack_pack_nil(&pk);
    }
    if (status) {
        rc |= pw__pack_str(&pk, "districts", 9);
        rc |= msgpack_pack_array(&pk, self->nstatus);
        for (size_t i = 0; i < self->nstatus && rc == 0; i++)
            rc = pack_status(&pk, &self->status[i]);
    }
    if (next) {
        rc |= pw__pack_str(&pk, "next", 4);
        rc |= msgpack_pack_uint64(&pk, self->next);
    }
    return rc ? -ENOMEM : 0;
}

static int read_u64(const msgpack_object *o, uint64_t *out)
{
    return pw__mp_get_uint(o, UINT64_MAX, out) ? 0 : PW_EMALFORMED;
}

static int read_status(pw_reply_t *self, const msgpack_object *arr)
{
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return PW_EMALFORMED;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *m = &arr->via.array.ptr[i];
        if (m->type != MSGPACK_OBJECT_MAP)
            return PW_EMALFORMED;
        pw_district_status_t st;
        memset(&st, 0, sizeof(st));
        int rc = 0;
        uint64_t v;
        for (uint32_t k = 0; k < m->via.map.size && rc == 0; k++) {
            const msgpack_object_kv *kv = &m->via.map.ptr[k];
            const msgpack_object *o = &kv->val;
            if (key_is(kv, "d") || key_is(kv, "mi")) {
                bool d = key_is(kv, "d");
                if (!pw__mp_get_text(o, d ? st.district : st.missing,
                                     d ? PW_ID_MAX : PW_MISSING_MAX)) {
                    rc = PW_EMALFORMED;
                    break;
                }
            } else if (key_is(kv, "c")) {
                if (o->type != MSGPACK_OBJECT_BOOLEAN)
                    rc = PW_EMALFORMED;
                else
                    st.connected = o->via.boolean;
            } else if (key_is(kv, "ls")) {
                if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
                    st.last_seen_ms = (int64_t)o->via.u64;
                else if (o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
                    rc = PW_EMALFORMED;
            } else if (key_is(kv, "ep")) {
                rc = read_u64(o, &st.epoch);
            } else if (key_is(kv, "s")) {
                rc = read_u64(o, &st.last_seq);
            } else if (key_is(kv, "lg")) {
                rc = read_u64(o, &st.lag);
            } else if (key_is(kv, "rp") || key_is(kv, "ex")) {
                if ((rc = read_u64(o, &v)) == 0 && v > UINT32_MAX)
                    rc = PW_EMALFORMED;
                *(key_is(kv, "rp") ? &st.reported : &st.expected) = (uint32_t)v;
            }
        }
        if (rc == 0 && !st.district[0])
            rc = PW_EMALFORMED;
        if (rc == 0)
            rc = pw_reply_add_status(self, &st);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int read_list(pw_reply_t *self, int list, const msgpack_object *arr)
{
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return PW_EMALFORMED;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        pw_event_t ev;
        int rc = pw_event_from_object(&arr->via.array.ptr[i], &ev);
        if (rc == 0)
            rc = pw_reply_add(self, list, &ev);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int pw_reply_decode(const void *data, size_t len, pw_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    msgpack_unpacked u;
    int rc = unpack(data, len, PW__EVENT_MAXSIZE, &u);
    if (rc != 0)
        return rc;
    const msgpack_object *ty = version_and_type(&u.data, &rc);
    out->type = req_type(ty);
    if (ty && out->type != 0) {
        bool have_q = false;
        for (uint32_t i = 0; i < u.data.via.map.size && rc == 0; i++) {
            const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
            if (key_is(kv, "q")) {
                if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                    rc = PW_EMALFORMED;
                out->seq = kv->val.via.u64;
                have_q = true;
            } else if (key_is(kv, "rows")) {
                rc = read_list(out, 0, &kv->val);
            } else if (key_is(kv, "alerts")) {
                rc = read_list(out, 1, &kv->val);
            } else if (key_is(kv, "events")) {
                rc = read_list(out, 2, &kv->val);
            } else if (key_is(kv, "districts")) {
                rc = read_status(out, &kv->val);
            } else if (key_is(kv, "plan") && kv->val.type == MSGPACK_OBJECT_STR) {
                const msgpack_object_str *t = &kv->val.via.str;
                rc = pw__utf8_valid(t->ptr, t->size) ? pw_reply_set_plan(out, t->ptr, t->size)
                                                      : PW_EMALFORMED;
            } else if (key_is(kv, "plan") && kv->val.type != MSGPACK_OBJECT_NIL) {
                rc = PW_EMALFORMED;
            } else if (key_is(kv, "p")) {
                rc = pw__mp_get_period(&kv->val, &out->period) ? 0 : PW_EMALFORMED;
                out->has_period = true;
            } else if (key_is(kv, "next") && out->type == PW_REQ_ROWS) {
                rc = read_u64(&kv->val, &out->next);
                out->has_next = true;
            }
        }
        if (rc == 0 && !have_q)
            rc = PW_EMALFORMED;
    } else if (rc == 0) {
        rc = PW_EMALFORMED;
    }
    msgpack_unpacked_destroy(&u);
    if (rc != 0)
        pw_reply_clear(out);
    return rc;
}

void pw_reply_clear(pw_reply_t *self)
{
    if (!self)
        return;
    free(self->rows);
    free(self->alerts);
    free(self->events);
    free(self->status);
    free(self->plan);
    memset(self, 0, sizeof(*self));
}
