/* SPDX-License-Identifier: MIT */
#ifndef PW_MODEL_H
#define PW_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/event.h"
#include "pw/period.h"
#include "pw/rate.h"

/*
 * The city-wide model: every reporter's current element values per period,
 * the city-wide value, rate and band of each indicator series per period, and
 * the alert state of each series. Pure computation, no I/O: the aggregator
 * feeds it and persists what it emits; replay and what-if runs reuse it.
 *
 * Values set since the last flush mark the series that use them "dirty";
 * pw_model_flush() re-evaluates only those, emits a rate event for each row
 * that changed and an alert event for each alert that opened or resolved.
 */

typedef struct pw_model pw_model_t;

/** One evaluated row: a series at a period. */
typedef struct pw_cell {
    bool has_value;  /**< false when no reporter has sent the elements yet */
    double value;    /**< city-wide value at the indicator's published precision */
    pw_rate_t rate;
    uint32_t have;   /**< reporters that sent every element of the series */
    uint32_t want;   /**< reporters expected */
} pw_cell_t;

/** Receives each event of a flush; a non-zero return stops the flush and is returned. */
typedef int (*pw_model_emit_fn)(void *ctx, pw_event_t *ev);

/** Creates an empty model for cat (borrowed; must outlive the model). Caller owns *out. */
int pw_model_new(const pw_catalog_t *cat, pw_model_t **out);

/** Frees and NULLs. NULL-safe. */
void pw_model_destroy(pw_model_t **self_p);

/** The catalog. Borrowed. */
const pw_catalog_t *pw_model_catalog(const pw_model_t *self);

/**
 * Sets reporter d's value of element e for period p (indexes into the catalog).
 * *changed_out (may be NULL) tells whether it differs from what was there.
 * 0 or -ENOMEM (a new period needs memory).
 */
int pw_model_set(pw_model_t *self, int d, int e, pw_period_t p, double v, bool *changed_out);

/** Reporter d's value of element e at p; false when not reported. */
bool pw_model_get(const pw_model_t *self, int d, int e, pw_period_t p, double *v_out);

/**
 * A model for cat (a revised plan) holding old's values, published rows and
 * open alerts, matched by id (what cat does not know is dropped), with every
 * row due for evaluation: its next flush emits what the revision changes,
 * exactly as a restart on old's store with cat would. Caller owns *out.
 */
int pw_model_rebase(const pw_model_t *old, const pw_catalog_t *cat, pw_model_t **out);

/** Periods with any data, in order (pw_period_cmp). Borrowed; valid until the next set. */
const pw_period_t *pw_model_periods(const pw_model_t *self, size_t *n_out);

/** Reporters series s of indicator i expects: each one at the level of one of its elements. */
uint32_t pw_model_want(const pw_catalog_t *cat, int i, int s);

/** Evaluates series s of indicator i at period p (no data -> has_value false). */
void pw_model_eval(const pw_model_t *self, int i, int s, pw_period_t p, pw_cell_t *out);

/**
 * Reporter d's own figure for series s of indicator i at p, from its elements
 * alone; no value when the series needs another level's elements. Only
 * ratios, shares and weighted means get a rate: a district's share of a
 * city-wide sum has no plan of its own.
 */
void pw_model_eval_reporter(const pw_model_t *self, int d, int i, int s, pw_period_t p,
                            pw_cell_t *out);

/**
 * Reporter d's reporting for p: the elements it owes (at its level and used by
 * some indicator), how many it has sent, and the ids of the missing ones,
 * space-separated into missing (cut with "..." when longer than len).
 */
void pw_model_reporting(const pw_model_t *self, int d, pw_period_t p, uint32_t *reported,
                        uint32_t *expected, char *missing, size_t len);

/**
 * Re-evaluates dirty rows and alert states, calling emit for each rate row
 * that changed (PW_EV_RATE) and each alert opened or resolved (PW_EV_ALERT),
 * stamped with now_ms. The events' seq is left 0 for the caller to assign.
 */
int pw_model_flush(pw_model_t *self, int64_t now_ms, pw_model_emit_fn emit, void *ctx);

/** Marks every row dirty (after a catalog change, say). */
void pw_model_touch_all(pw_model_t *self);

/** Restores a published rate row (PW_EV_RATE) at start-up, without emitting. */
int pw_model_restore_rate(pw_model_t *self, const pw_event_t *ev);

/** Restores an open alert (PW_EV_ALERT, action open) at start-up, without emitting. */
int pw_model_restore_alert(pw_model_t *self, const pw_event_t *ev);

/** Ends a restore: the latest complete period of each series governs its alert. */
void pw_model_restore_finish(pw_model_t *self);

/** The cell a published rate row (PW_EV_RATE) describes. */
void pw_model_cell_of(const pw_event_t *ev, pw_cell_t *out);

/** Number of rows evaluated by flushes so far (for metrics and benchmarks). */
uint64_t pw_model_evaluations(const pw_model_t *self);

#endif
