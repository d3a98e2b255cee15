/* SPDX-License-Identifier: MIT */
/* The store's current values and the last sequence seen per district and epoch. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

struct current_val {
    double value;
    uint64_t logseq;
};

static size_t current_key(uint32_t format, char *buf, const char *district,
                          const char *element, pw_period_t p)
{
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(p, ptext);
    return format == 1 ? pw__store_key(buf, district, element, ptext)
                           : pw__store_key(buf, district, ptext, element);
}

int pw_store_current_get(pw_txn_t *txn, const char *district, const char *element,
                         pw_period_t period, double *value_out, uint64_t *logseq_out)
{
    char key[KEYMAX];
    size_t klen = current_key(txn->format, key, district, element, period);
    MDB_val v;
    int rc = pw__store_get(txn, DB_CURRENT, key, klen, &v);
    if (rc != 0)
        return rc;
    struct current_val cv;
    if (v.mv_size != sizeof(cv))
        return PW_ESTORE;
    memcpy(&cv, v.mv_data, sizeof(cv));
    if (value_out)
        *value_out = cv.value;
    if (logseq_out)
        *logseq_out = cv.logseq;
    return PW_OK;
}

int pw_store_current_put(pw_txn_t *txn, const char *district, const char *element,
                         pw_period_t period, double value, uint64_t logseq)
{
    char key[KEYMAX];
    size_t klen = current_key(txn->format, key, district, element, period);
    struct current_val cv = {value, logseq};
    /* A district's updates come element after element of a period: next to
     * each other in this table. */
    return pw__store_cursor_put(txn, DB_CURRENT, key, klen, &cv, sizeof(cv));
}

struct current_ctx {
    int (*fn)(void *ctx, const char *district, const char *element, pw_period_t period,
              double value);
    void *ctx;
    int pi; /* the part that is the period: 1 in format 2, 2 in format 1 */
};

static int current_cb(void *ctx, const char *parts[], const MDB_val *v)
{
    struct current_ctx *cc = ctx;
    struct current_val cv;
    pw_period_t p;
    if (v->mv_size != sizeof(cv) || pw_period_parse(parts[cc->pi], strlen(parts[cc->pi]), &p) != 0)
        return PW_ESTORE;
    memcpy(&cv, v->mv_data, sizeof(cv));
    return cc->fn(cc->ctx, parts[0], parts[3 - cc->pi], p, cv.value);
}

int pw_store_current_foreach(pw_txn_t *txn,
                             int (*fn)(void *ctx, const char *district, const char *element,
                                       pw_period_t period, double value),
                             void *ctx)
{
    struct current_ctx cc = {fn, ctx, txn->format == 1 ? 2 : 1};
    return pw__store_walk(txn->txn, txn->store->dbi[DB_CURRENT], 3, current_cb, &cc);
}

static size_t seq_key(char *buf, const char *district, uint64_t epoch)
{
    size_t n = pw__store_key(buf, district, NULL, NULL);
    pw__put_be64((unsigned char *)buf + n, epoch);
    return n + 8;
}

int pw_store_seq_get(pw_txn_t *txn, const char *district, uint64_t epoch, uint64_t *seq_out,
                     int64_t *seen_out)
{
    char key[KEYMAX];
    size_t klen = seq_key(key, district, epoch);
    MDB_val v;
    *seq_out = 0;
    if (seen_out)
        *seen_out = 0;
    int rc = pw__store_get(txn, DB_SEQS, key, klen, &v);
    if (rc == PW_ENOTFOUND)
        return PW_OK;
    if (rc != 0)
        return rc;
    if (v.mv_size != 16)
        return PW_ESTORE;
    *seq_out = pw__get_be64(v.mv_data);
    if (seen_out)
        *seen_out = (int64_t)pw__get_be64((const unsigned char *)v.mv_data + 8);
    return PW_OK;
}

int pw_store_seq_put(pw_txn_t *txn, const char *district, uint64_t epoch, uint64_t seq,
                     int64_t seen_ms)
{
    char key[KEYMAX];
    size_t klen = seq_key(key, district, epoch);
    unsigned char v[16];
    pw__put_be64(v, seq);
    pw__put_be64(v + 8, (uint64_t)seen_ms);
    return pw__store_put(txn, DB_SEQS, key, klen, v, sizeof(v), 0);
}
