/* SPDX-License-Identifier: MIT */
#ifndef PW_REBUILD_H
#define PW_REBUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "pw/catalog.h"
#include "pw/event.h"
#include "pw/msg.h"

/*
 * Rebuilds state from stored update records, exactly as the aggregator built
 * it: records are applied in log order, and the records of one original
 * batch (the same commit time, rt) are evaluated together, so the rows,
 * alerts and events that come out are the ones the aggregator produced,
 * stamped with the original commit times. Deterministic: the same records
 * always give the same events, byte for byte.
 *
 * With a store directory, everything is written there (a new store: log,
 * current values, sequences, rates, alerts, events), in large transactions
 * synced once at the end. Without one, only the events are produced.
 */

typedef struct pw_rebuild pw_rebuild_t;

/**
 * Starts a rebuild for cat (borrowed). into: a directory for a new store, or
 * NULL for events only. on_event (may be NULL) sees every event, numbered.
 * 0, PW_EINCOMPAT (into already holds a store with data), -errno, PW_ESTORE.
 * Caller owns *out.
 */
int pw_rebuild_new(const pw_catalog_t *cat, const char *into, pw_model_emit_fn on_event,
                   void *ctx, pw_rebuild_t **out);

/**
 * From now on, reads records under cat (borrowed; must outlive the rebuild):
 * a version of the plan that took effect at time_ms. What is pending is
 * evaluated under the plan before; then, if cat differs, every rate is
 * recomputed under it, as the aggregator did when it started with the
 * revision, stamped time_ms. Into a store, the version is recorded there
 * from its next record on. 0 or a store error.
 */
int pw_rebuild_plan(pw_rebuild_t *self, const pw_catalog_t *cat, int64_t time_ms);

/**
 * Applies one record (type PW_MSG_RECORD). Records the catalog does not know
 * are counted and skipped (a what-if catalog may drop an element). 0 or a
 * store error.
 */
int pw_rebuild_add(pw_rebuild_t *self, const pw_msg_t *rec);

/** As pw_rebuild_add(), storing raw (the record's encoded bytes) without encoding it again. */
int pw_rebuild_add_raw(pw_rebuild_t *self, const pw_msg_t *rec, const void *raw, size_t len);

/** Evaluates what is pending, commits and syncs. 0 or a store error. */
int pw_rebuild_finish(pw_rebuild_t *self);

/** The model as rebuilt so far. Borrowed. */
pw_model_t *pw_rebuild_model(pw_rebuild_t *self);

/** Records applied, and records skipped as unknown to the catalog. */
void pw_rebuild_counts(const pw_rebuild_t *self, uint64_t *applied, uint64_t *skipped);

/** Frees (aborting anything not finished) and NULLs. NULL-safe. */
void pw_rebuild_destroy(pw_rebuild_t **self_p);

#endif
