/* SPDX-License-Identifier: MIT */
/*
 * The maps an export is made of, bounded before msgpack-c sees them: every
 * length is checked against the bytes present before it is used, so
 * msgpack-c is only ever given objects whose declared counts are small and
 * whose bytes are all there.
 */
#include <string.h>

#include <msgpack.h>

#include "archive_internal.h"
#include "pw/error.h"

#define MAP_MAX   PW__ARCHIVE_MAP_MAX
#define OBJ_MAX   PW__ARCHIVE_OBJ_MAX
#define PLAN_MAX  PW_ARCHIVE_PLAN_MAX
#define STR32_HDR PW__ARCHIVE_STR32

/*
 * The extent of one msgpack scalar of the kinds an export holds: nil, bool,
 * integers, floats and strings up to str 16, or str 32 when big (a plan's
 * text; keys: strings only), within budget bytes. 1 with *n_out set, 0 when
 * avail holds only its beginning, PW_EDATA for anything else.
 */
static int scalar_extent(const unsigned char *p, size_t avail, bool key, bool big, size_t budget,
                         size_t *n_out)
{
    if (avail == 0)
        return 0;
    unsigned b = p[0];
    size_t hdr = 1, body;
    if (b >= 0xa0 && b <= 0xbf) {
        body = b & 0x1f;
    } else if (b == 0xd9 || b == 0xda) {
        hdr = b == 0xd9 ? 2 : 3;
        if (avail < hdr)
            return 0;
        body = b == 0xd9 ? p[1] : ((size_t)p[1] << 8 | p[2]);
    } else if (b == 0xdb && big) {
        hdr = STR32_HDR;
        if (avail < hdr)
            return 0;
        body = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    } else if (key) {
        return PW_EDATA;
    } else if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        body = 0;
    } else if (b == 0xcc || b == 0xd0) {
        body = 1;
    } else if (b == 0xcd || b == 0xd1) {
        body = 2;
    } else if (b == 0xce || b == 0xd2 || b == 0xca) {
        body = 4;
    } else if (b == 0xcf || b == 0xd3 || b == 0xcb) {
        body = 8;
    } else {
        return PW_EDATA; /* arrays, maps, bin, ext, str 32, 0xc1 */
    }
    if (hdr + body > budget)
        return PW_EDATA;
    if (avail < hdr + body)
        return 0;
    *n_out = hdr + body;
    return 1;
}

/* Whether the key at p (a string, n bytes with its header) is "plan". */
static bool is_plan_key(const unsigned char *p, size_t n)
{
    size_t hdr = p[0] == 0xd9 ? 2 : p[0] == 0xda ? 3 : 1;
    return n == hdr + 4 && memcmp(p + hdr, "plan", 4) == 0;
}

int pw__archive_map_extent(const unsigned char *p, size_t avail, size_t *n_out, bool *plan_out)
{
    *plan_out = false;
    if (avail == 0)
        return 0;
    size_t count, pos;
    if (p[0] >= 0x80 && p[0] <= 0x8f) {
        count = p[0] & 0x0f;
        pos = 1;
    } else if (p[0] == 0xde) {
        if (avail < 3)
            return 0;
        count = (size_t)p[1] << 8 | p[2];
        pos = 3;
    } else {
        return PW_EDATA;
    }
    if (count > MAP_MAX)
        return PW_EDATA;
    size_t text = 0; /* the bytes of the plan's text, outside the OBJ_MAX budget */
    bool text_next = false;
    for (size_t i = 0; i < 2 * count; i++) {
        bool key = i % 2 == 0, big = text_next;
        size_t n = 0;
        int rc = scalar_extent(p + pos, avail - pos, key, big,
                               big ? STR32_HDR + PLAN_MAX : OBJ_MAX - (pos - text), &n);
        if (rc != 1)
            return rc;
        /* Only the first "plan" gets the large budget: a map holds one text. */
        text_next = key && !*plan_out && is_plan_key(p + pos, n);
        *plan_out = *plan_out || text_next;
        if (big)
            text = n;
        pos += n;
    }
    *n_out = pos;
    return 1;
}

bool pw__archive_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

bool pw__archive_map_unpack(msgpack_unpacked *up, const unsigned char *p, size_t n)
{
    size_t off = 0;
    return msgpack_unpack_next(up, (const char *)p, n, &off) == MSGPACK_UNPACK_SUCCESS &&
           off == n && up->data.type == MSGPACK_OBJECT_MAP;
}

int pw__archive_map_fields(const msgpack_object_map *m, const char *const names[], size_t n,
                           const msgpack_object *slots[], char *why, size_t len)
{
    for (size_t j = 0; j < n; j++)
        slots[j] = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) {
            pw__archive_seterr(why, len, "a field name is not a string");
            return PW_EDATA;
        }
        size_t j = 0;
        while (j < n && !pw__archive_str_is(k, names[j]))
            j++;
        if (j == n || slots[j]) {
            pw__archive_seterr(why, len,
                               j == n ? "unknown field \"%.*s\"" : "field \"%.*s\" given twice",
                               (int)k->via.str.size, k->via.str.ptr);
            return PW_EDATA;
        }
        slots[j] = &m->ptr[i].val;
    }
    return 0;
}
