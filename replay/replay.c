/* SPDX-License-Identifier: MIT */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

#define CHUNK 65536 /* records per read transaction */

struct read_ctx {
    const pw_replay_filter_t *f;
    const pw_catalog_t *cat;
    const unsigned char *elements; /* per catalog element: used by the indicator */
    pw_replay_fn fn;
    pw_replay_raw_fn raw_fn;
    void *ctx;
    uint64_t last;
    bool past_end;
};

static bool pass(const struct read_ctx *rc, const pw_msg_t *rec)
{
    const pw_replay_filter_t *f = rc->f;
    if (!f)
        return true;
    if ((f->from_ms && rec->received_ms < f->from_ms) || (f->to_ms && rec->received_ms > f->to_ms))
        return false;
    if (f->has_from_period && pw_period_cmp(rec->period, f->from_period) < 0)
        return false;
    if (f->has_to_period && pw_period_cmp(rec->period, f->to_period) > 0)
        return false;
    if (f->district && strcmp(f->district, rec->district) != 0)
        return false;
    if (rc->elements) {
        int e = pw_catalog_element(rc->cat, rec->element, strlen(rec->element));
        if (e < 0 || !rc->elements[e])
            return false;
    }
    return true;
}

static int on_raw(void *ctx, uint64_t seq, const pw_msg_t *rec, const void *raw, size_t len)
{
    struct read_ctx *rc = ctx;
    rc->last = seq;
    /* The log is in commit order: past the end time, nothing more can pass. */
    if (rc->f && rc->f->to_ms && rec->received_ms > rc->f->to_ms) {
        rc->past_end = true;
        return 1;
    }
    if (!pass(rc, rec))
        return 0;
    return rc->raw_fn ? rc->raw_fn(rc->ctx, seq, rec, raw, len) : rc->fn(rc->ctx, seq, rec);
}

static int read_log(pw_store_t *store, const pw_replay_filter_t *filter, const pw_catalog_t *cat,
                    pw_replay_fn fn, pw_replay_raw_fn raw_fn, void *ctx)
{
    struct read_ctx rc = {filter, cat, NULL, fn, raw_fn, ctx, 0, false};
    unsigned char *elements = NULL;
    if (filter && filter->indicator) {
        int i = cat ? pw_catalog_indicator(cat, filter->indicator, strlen(filter->indicator)) : -1;
        if (i < 0)
            return PW_ENOTFOUND;
        elements = calloc(cat->nelements + 1, 1);
        if (!elements)
            return PW_ESTORE;
        for (size_t s = 0; s < cat->indicators[i].nseries; s++) {
            elements[cat->indicators[i].series[s].a] = 1;
            if (cat->indicators[i].series[s].b >= 0)
                elements[cat->indicators[i].series[s].b] = 1;
        }
        rc.elements = elements;
    }
    uint64_t head;
    int err = pw_replay_count(store, &head);
    uint64_t from = filter && filter->from_seq ? filter->from_seq : 1;
    uint64_t to = filter && filter->to_seq && filter->to_seq < head ? filter->to_seq : head;
    while (err == 0 && from <= to && !rc.past_end) {
        pw_txn_t *txn;
        if ((err = pw_store_begin(store, false, &txn)) != 0)
            break;
        uint64_t end = to - from >= CHUNK ? from + CHUNK - 1 : to;
        err = pw_store_log_foreach_raw(txn, from, end, on_raw, &rc);
        pw_store_abort(&txn);
        from = end + 1;
    }
    free(elements);
    return rc.past_end && err == 1 ? 0 : err;
}

int pw_replay_read(pw_store_t *store, const pw_replay_filter_t *filter, const pw_catalog_t *cat,
                   pw_replay_fn fn, void *ctx)
{
    return read_log(store, filter, cat, fn, NULL, ctx);
}

int pw_replay_read_raw(pw_store_t *store, const pw_replay_filter_t *filter,
                       const pw_catalog_t *cat, pw_replay_raw_fn fn, void *ctx)
{
    return read_log(store, filter, cat, NULL, fn, ctx);
}

int pw_replay_count(pw_store_t *store, uint64_t *out)
{
    pw_txn_t *txn;
    int rc = pw_store_begin(store, false, &txn);
    if (rc != 0)
        return rc;
    rc = pw_store_log_head(txn, out);
    pw_store_abort(&txn);
    return rc;
}
