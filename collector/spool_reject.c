/* SPDX-License-Identifier: MIT */
/* The spool's rejections: what the aggregator refused, kept until the value changes. */
#include "spool_internal.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_util.h"
#include "pw/error.h"
#include "pw/util.h"

/*
 * A rejection record: the value, the reason code and the line, in this
 * machine's layout like the last-value table (a spool never moves between
 * machines), then the reason's text.
 */
#define REJ_HEAD 16

int pw_spool_reject(pw_spool_t *self, const pw_spool_rejection_t *rej, size_t n)
{
    if (n == 0)
        return 0;
    MDB_txn *txn;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    struct last_table t = {0};
    for (size_t i = 0; i < n && rc == 0; i++) {
        pw_obs_t o = {.period = rej[i].period, .element = rej[i].element, .value = rej[i].value};
        char key[PW_PERIOD_STRMAX + PW_ID_MAX];
        MDB_val k = pw__mdb_val(key, pw__spool_last_key(&t, key, &o)), v;
        /* Only while the rejected value is still the last one spooled: an
         * answer that comes after a newer value was spooled is about a value
         * the file no longer holds. */
        int mrc = mdb_get(txn, self->dbi[DB_LAST], &k, &v);
        double last;
        if (mrc == MDB_NOTFOUND)
            continue;
        if (mrc != 0) {
            rc = pw__mdb_rc(mrc);
            break;
        }
        if (v.mv_size != sizeof(last))
            continue;
        memcpy(&last, v.mv_data, sizeof(last));
        if (last != rej[i].value)
            continue;
        unsigned char rec[REJ_HEAD + sizeof(rej[i].text)];
        size_t tlen = strnlen(rej[i].text, sizeof(rej[i].text) - 1);
        int32_t reason = rej[i].reason, line = rej[i].line;
        memcpy(rec, &rej[i].value, 8);
        memcpy(rec + 8, &reason, 4);
        memcpy(rec + 12, &line, 4);
        memcpy(rec + REJ_HEAD, rej[i].text, tlen);
        v = pw__mdb_val(rec, REJ_HEAD + tlen);
        rc = pw__mdb_rc(mdb_put(txn, self->dbi[DB_REJECTED], &k, &v, 0));
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = pw__mdb_rc(mdb_txn_commit(txn))) == 0)
        self->has_rejected = true;
    return rc;
}

int pw_spool_rejected(pw_spool_t *self, const pw_obs_t *obs, size_t n,
                      void (*fn)(void *ctx, const pw_obs_t *o, const pw_spool_rejection_t *rej),
                      void *ctx, size_t *found_out)
{
    size_t found = 0;
    if (found_out)
        *found_out = 0;
    if (!self->has_rejected || n == 0)
        return 0;
    MDB_txn *txn;
    int rc = pw__mdb_rc(mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn));
    if (rc != 0)
        return rc;
    struct last_table t = {0};
    for (size_t i = 0; i < n; i++) {
        char key[PW_PERIOD_STRMAX + PW_ID_MAX];
        MDB_val k = pw__mdb_val(key, pw__spool_last_key(&t, key, &obs[i])), v;
        int mrc = mdb_get(txn, self->dbi[DB_REJECTED], &k, &v);
        if (mrc == MDB_NOTFOUND)
            continue;
        if (mrc != 0) {
            rc = pw__mdb_rc(mrc);
            break;
        }
        pw_spool_rejection_t rej;
        const unsigned char *p = v.mv_data;
        if (v.mv_size < REJ_HEAD || v.mv_size > REJ_HEAD + sizeof(rej.text) - 1) {
            rc = PW_ESTORE;
            break;
        }
        memcpy(&rej.value, p, 8);
        if (rej.value != obs[i].value)
            continue; /* the line was changed: it is spooled anew */
        rej.period = obs[i].period;
        snprintf(rej.element, sizeof(rej.element), "%s", obs[i].element);
        int32_t reason, line;
        memcpy(&reason, p + 8, 4);
        memcpy(&line, p + 12, 4);
        rej.reason = reason;
        rej.line = line;
        memcpy(rej.text, p + REJ_HEAD, v.mv_size - REJ_HEAD);
        rej.text[v.mv_size - REJ_HEAD] = '\0';
        found++;
        if (fn)
            fn(ctx, &obs[i], &rej);
    }
    mdb_txn_abort(txn);
    if (found_out)
        *found_out = found;
    return rc;
}
