/* SPDX-License-Identifier: MIT */
#include "restore.h"

#include <string.h>

#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

/* What a restore reads into and writes with. */
struct restore {
    const pw_catalog_t *cat;
    pw_model_t *model;
    pw_txn_t *txn;
    uint64_t pending; /* the last event appended in txn */
};

int pw__restore_persist_event(pw_txn_t *txn, pw_event_t *ev)
{
    int rc = pw_store_persist_event(txn, ev);
    if (rc != 0)
        return rc;
    if (ev->type == PW_EV_ALERT && ev->action != PW_ALERT_UPDATE) {
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(ev->period, ptext);
        PW_INFO("alert %s: %s%s%s %s rate %.2f (%s)",
                ev->action == PW_ALERT_OPEN ? "open" : "resolve", ev->indicator,
                ev->series[0] ? "/" : "", ev->series, ptext, (double)ev->centi / 100.0, ev->why);
    }
    return 0;
}

static int persist_event(void *ctx, pw_event_t *ev)
{
    struct restore *r = ctx;
    int rc = pw__restore_persist_event(r->txn, ev);
    if (rc == 0)
        r->pending = ev->seq;
    return rc;
}

static int load_current(void *ctx, const char *district, const char *element, pw_period_t p,
                        double value)
{
    struct restore *r = ctx;
    int d = pw_catalog_district(r->cat, district, strlen(district));
    int e = pw_catalog_element(r->cat, element, strlen(element));
    if (d < 0 || e < 0) {
        PW_WARN("store holds %s/%s, unknown to the catalog: ignored", district, element);
        return 0;
    }
    return pw_model_set(r->model, d, e, p, value, NULL);
}

static int load_rate(void *ctx, const pw_event_t *ev)
{
    return pw_model_restore_rate(((struct restore *)ctx)->model, ev);
}

static int load_alert(void *ctx, const pw_event_t *ev)
{
    return pw_model_restore_alert(((struct restore *)ctx)->model, ev);
}

/*
 * Records the plan the store is written with from now on, when it is not the
 * one it records already: a new version, applying from the next log record,
 * so that every reader reads each record under the plan it was rated with.
 * A store of before plans were recorded takes the plan from its first record
 * when its digest says it is the one it was written with.
 */
static int record_plan(pw_txn_t *txn, const pw_catalog_t *cat, int64_t now)
{
    pw_store_plan_t plan;
    int rc = pw_store_plan_latest(txn, &plan);
    if (rc != 0 && rc != PW_ENOTFOUND)
        return rc;
    bool recorded = rc == 0;
    /* Written only when it changes: a full store must still restore. */
    if (recorded && plan.len == cat->text_len && memcmp(plan.text, cat->text, plan.len) == 0)
        return PW_OK;
    uint64_t head;
    unsigned char digest[32];
    int drc = pw_store_get_digest(txn, digest);
    if (drc != 0 && drc != PW_ENOTFOUND)
        return drc;
    bool same = drc == 0 && memcmp(digest, cat->digest, 32) == 0;
    if ((rc = pw_store_log_head(txn, &head)) != 0)
        return rc;
    uint64_t from = !recorded && (same || head == 0) ? 1 : head + 1;
    if (!same && drc == 0)
        PW_WARN("plan revised: \"%s\" applies from log record %llu on; recomputing every rate",
                cat->name, (unsigned long long)from);
    if ((rc = pw_store_plan_put(txn, from, now, cat->text, cat->text_len)) != 0)
        return rc;
    return same ? PW_OK : pw_store_put_digest(txn, cat->digest);
}

/*
 * A flush after the restore emits only what differs from the store, which is
 * nothing unless the catalog changed.
 */
int pw__restore_model(pw_store_t *store, const pw_catalog_t *cat, pw_model_t **model_p,
                      uint64_t *head_out)
{
    pw_model_destroy(model_p);
    int rc = pw_model_new(cat, model_p);
    if (rc != 0)
        return rc;
    struct restore r = {.cat = cat, .model = *model_p};
    rc = pw_store_begin(store, true, &r.txn);
    if (rc != 0)
        return rc;
    uint64_t head;
    if ((rc = pw_store_current_foreach(r.txn, load_current, &r)) != 0 ||
        (rc = pw_store_rate_foreach(r.txn, load_rate, &r)) != 0 ||
        (rc = pw_store_open_foreach(r.txn, load_alert, &r)) != 0 ||
        (rc = pw_store_event_head(r.txn, &head)) != 0)
        goto fail;
    int64_t now = pw_now_ms();
    if ((rc = record_plan(r.txn, cat, now)) != 0)
        goto fail;
    pw_model_restore_finish(r.model);
    pw_model_touch_all(r.model);
    r.pending = head;
    /* The rates a revised plan changes carry the time the revision took
     * effect, which the store records with it: a replay stamps them alike. */
    if ((rc = pw_model_flush(r.model, now, persist_event, &r)) != 0)
        goto fail;
    rc = pw_store_commit(&r.txn);
    if (rc == 0)
        *head_out = r.pending;
    return rc;
fail:
    pw_store_abort(&r.txn);
    return rc;
}
