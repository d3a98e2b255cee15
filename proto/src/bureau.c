/* SPDX-License-Identifier: MIT */
#include "pw/bureau.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
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

int pw_request_encode(const pw_request_t *req, pw_buf_t *buf)
{
    buf->len = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, pw__buf_write);
    int rc;
    if (req->type == PW_REQ_SNAP) {
        rc = pack_head(&pk, 2, "snap");
    } else {
        rc = pack_head(&pk, 4, "range");
        rc |= pw__pack_str(&pk, "from", 4);
        rc |= msgpack_pack_uint64(&pk, req->from);
        rc |= pw__pack_str(&pk, "to", 2);
        rc |= msgpack_pack_uint64(&pk, req->to);
    }
    return rc ? -ENOMEM : 0;
}

static bool key_is(const msgpack_object_kv *kv, const char *name)
{
    size_t n = strlen(name);
    return kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
           memcmp(kv->key.via.str.ptr, name, n) == 0;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

/* Unpacks a prevalidated frame; the caller destroys *u. */
static int unpack(const void *data, size_t len, size_t maxlen, msgpack_unpacked *u)
{
    if (pw__mp_prevalidate(data, len, maxlen, PW__MP_MAXDEPTH) != 0)
        return PW_EMALFORMED;
    msgpack_unpacked_init(u);
    size_t off = 0;
    if (msgpack_unpack_next(u, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u->data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(u);
        return PW_EMALFORMED;
    }
    return 0;
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

int pw_request_decode(const void *data, size_t len, pw_request_t *out)
{
    memset(out, 0, sizeof(*out));
    msgpack_unpacked u;
    int rc = unpack(data, len, PW_MSG_MAXSIZE, &u);
    if (rc != 0)
        return rc;
    const msgpack_object *ty = version_and_type(&u.data, &rc);
    if (ty && str_is(ty, "snap")) {
        out->type = PW_REQ_SNAP;
    } else if (ty && str_is(ty, "range")) {
        out->type = PW_REQ_RANGE;
        int found = 0;
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
            bool from = key_is(kv, "from"), to = key_is(kv, "to");
            if (!from && !to)
                continue;
            if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                rc = PW_EMALFORMED;
                break;
            }
            *(from ? &out->from : &out->to) = kv->val.via.u64;
            found |= from ? 1 : 2;
        }
        if (rc == 0 && found != 3)
            rc = PW_EMALFORMED;
    } else if (rc == 0) {
        rc = PW_EMALFORMED;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int pw_reply_add(pw_reply_t *self, int list, const pw_event_t *ev)
{
    pw_event_t **arr = list == 0 ? &self->rows : list == 1 ? &self->alerts : &self->events;
    size_t *n = list == 0 ? &self->nrows : list == 1 ? &self->nalerts : &self->nevents;
    size_t *cap = list == 0 ? &self->caprows : list == 1 ? &self->capalerts : &self->capevents;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        pw_event_t *na = realloc(*arr, ncap * sizeof(*na));
        if (!na)
            return -ENOMEM;
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = *ev;
    return 0;
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
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, pw__buf_write);
    int rc;
    if (self->type == PW_REQ_SNAP) {
        rc = pack_head(&pk, 5, "snap");
        rc |= pw__pack_str(&pk, "q", 1);
        rc |= msgpack_pack_uint64(&pk, self->seq);
        rc |= pack_list(&pk, "rows", self->rows, self->nrows);
        rc |= pack_list(&pk, "alerts", self->alerts, self->nalerts);
    } else {
        rc = pack_head(&pk, 4, "range");
        rc |= pw__pack_str(&pk, "q", 1);
        rc |= msgpack_pack_uint64(&pk, self->seq);
        rc |= pack_list(&pk, "events", self->events, self->nevents);
    }
    return rc ? -ENOMEM : 0;
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
    if (ty && (str_is(ty, "snap") || str_is(ty, "range"))) {
        out->type = str_is(ty, "snap") ? PW_REQ_SNAP : PW_REQ_RANGE;
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
    memset(self, 0, sizeof(*self));
}
