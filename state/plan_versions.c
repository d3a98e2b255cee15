/* SPDX-License-Identifier: MIT */
/* The store's plan versions: each plan text with the log sequence it applies from. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

/*
 * Plan versions live in meta under "plan:", the big-endian log sequence from
 * which they apply and the big-endian time they took effect, so they sort in
 * the order they took effect (two revisions between the same records keep
 * both); the value is the catalog's text.
 */
#define PLAN_PREFIX     "plan:"
#define PLAN_PREFIX_LEN 5
#define PLAN_KEY_LEN    (PLAN_PREFIX_LEN + 16)

int pw_store_plan_put(pw_txn_t *txn, uint64_t from, int64_t time_ms, const char *text, size_t len)
{
    unsigned char key[PLAN_KEY_LEN];
    memcpy(key, PLAN_PREFIX, PLAN_PREFIX_LEN);
    pw__put_be64(key + PLAN_PREFIX_LEN, from);
    pw__put_be64(key + PLAN_PREFIX_LEN + 8, (uint64_t)time_ms);
    return pw__store_put(txn, DB_META, key, sizeof(key), text, len, 0);
}

static int plan_of(const MDB_val *k, const MDB_val *v, pw_store_plan_t *out)
{
    if (k->mv_size != PLAN_KEY_LEN)
        return PW_ESTORE;
    out->from = pw__get_be64((const unsigned char *)k->mv_data + PLAN_PREFIX_LEN);
    out->time_ms = (int64_t)pw__get_be64((const unsigned char *)k->mv_data + PLAN_PREFIX_LEN + 8);
    out->text = v->mv_data;
    out->len = v->mv_size;
    return PW_OK;
}

int pw_store_plan_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_store_plan_t *plan),
                          void *ctx)
{
    MDB_cursor *cur;
    int rc = pw__mdb_rc(mdb_cursor_open(txn->txn, txn->store->dbi[DB_META], &cur));
    if (rc != 0)
        return rc;
    MDB_val k = pw__mdb_val(PLAN_PREFIX, PLAN_PREFIX_LEN), v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == 0 && rc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < PLAN_PREFIX_LEN || memcmp(k.mv_data, PLAN_PREFIX, PLAN_PREFIX_LEN) != 0)
            break;
        pw_store_plan_t plan;
        if ((rc = plan_of(&k, &v, &plan)) == 0)
            rc = fn(ctx, &plan);
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = pw__mdb_rc(mrc);
    mdb_cursor_close(cur);
    return rc;
}

static int keep_plan(void *ctx, const pw_store_plan_t *plan)
{
    *(pw_store_plan_t *)ctx = *plan;
    return PW_OK;
}

int pw_store_plan_latest(pw_txn_t *txn, pw_store_plan_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = pw_store_plan_foreach(txn, keep_plan, out);
    return rc != 0 ? rc : out->text ? PW_OK : PW_ENOTFOUND;
}
