/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "internal.h"
#include "mp.h"
#include "pw/error.h"
#include "pw/msg.h"

/* The reference decoder: the plain way, prevalidate, let msgpack-c build the
 * object tree, map its keys. pw_msg_decode() reads the same frames in place
 * and must agree with this one on every input; unit_msg and the fuzzers hold
 * the two side by side. */

/*
 * Looks at pv alone before anything else, so that a peer speaking a later
 * version gets PW_EVERSION even when its messages carry keys we do not know.
 */
static int check_version(const msgpack_object_map *map)
{
    const msgpack_object *pv = NULL;

    for (uint32_t i = 0; i < map->size; i++) {
        if (!pw__mp_str_is(&map->ptr[i].key, "pv"))
            continue;
        if (pv != NULL)
            return PW_EMALFORMED;
        pv = &map->ptr[i].val;
    }
    if (pv == NULL || pv->type != MSGPACK_OBJECT_POSITIVE_INTEGER || pv->via.u64 == 0)
        return PW_EMALFORMED;
    return pv->via.u64 == PW_PROTO_VERSION ? PW_OK : PW_EVERSION;
}

static int decode_object(const msgpack_object *obj, pw_msg_t *out)
{
    const msgpack_object *vals[K_COUNT] = {0};
    unsigned seen = 0;
    int rc;

    if (obj->type != MSGPACK_OBJECT_MAP)
        return PW_EMALFORMED;
    rc = check_version(&obj->via.map);
    if (rc != PW_OK)
        return rc;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        int k = pw__msg_key_index(&kv->key);
        if (k < 0 || (seen & KEY_BIT(k)))
            return PW_EMALFORMED;
        seen |= KEY_BIT(k);
        vals[k] = &kv->val;
    }
    return pw__msg_decode_fields(vals, seen, out);
}

int pw_msg_decode_reference(const void *data, size_t len, pw_msg_t *out)
{
    msgpack_unpacked up;

    memset(out, 0, sizeof *out);
    int rc = pw__mp_unpack(data, len, PW_MSG_MAXSIZE, PW__MSG_MAXDEPTH, &up);
    if (rc != PW_OK)
        return rc;
    rc = decode_object(&up.data, out);
    msgpack_unpacked_destroy(&up);
    if (rc != PW_OK)
        memset(out, 0, sizeof *out);
    return rc;
}
