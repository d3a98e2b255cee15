/* SPDX-License-Identifier: MIT */
#ifndef PW_VERIFY_H
#define PW_VERIFY_H

#include <stdint.h>

#include "store.h"

/*
 * Compares two stores and reports every difference: the catalog digest and
 * the plan versions recorded (the record each applies from, and its text), the
 * current values, the rate rows, the open alerts, the alert history and the
 * update log. What is compared is what the data says, not when it was
 * written: the time and sequence stamps of rate rows and alerts are ignored,
 * and the alert history is compared series by series, in order, because how
 * transitions of different series interleave depends on batching. The log is
 * compared record by record, stamps included (district, epoch, seq, element,
 * period, value, observed and received times, kind).
 *
 * Each store is read in one read transaction, so each side is a consistent
 * snapshot even while an aggregator writes to it.
 */

/** The parts of a store that are compared, in the order they are reported. */
typedef enum pw_verify_part {
    PW_VERIFY_CATALOG = 0, /**< the catalog digest and the plan versions recorded in meta */
    PW_VERIFY_CURRENT,     /**< current values: district/element/period -> value */
    PW_VERIFY_RATE,        /**< rate rows: indicator/series/period -> value, rate, band... */
    PW_VERIFY_OPEN,        /**< open alerts, per indicator/series */
    PW_VERIFY_ALERT,       /**< alert history: each series' transitions, in order */
    PW_VERIFY_LOG,         /**< the update log, record by record */
    PW_VERIFY_NPARTS
} pw_verify_part_t;

/** One difference. Every string is borrowed, valid during the callback only. */
typedef struct pw_verify_diff {
    pw_verify_part_t part;
    const char *key; /**< what differs: "jiangan/care_beds/2016", "#17"; "" for the part */
    const char *a;   /**< A's side as text; NULL when only B has it */
    const char *b;   /**< B's side as text; NULL when only A has it */
} pw_verify_diff_t;

/** Receives each difference; a non-zero return stops the comparison and is returned. */
typedef int (*pw_verify_fn)(void *ctx, const pw_verify_diff_t *diff);

/**
 * Compares store a with store b (both borrowed, may be read-only, may be the
 * same pointer), calling fn for each difference in part order. *count_out
 * (may be NULL) gets the number of differences reported.
 * 0 (whether or not they differ), -ENOMEM, a store error (PW_ESTORE for a
 * record or row that does not decode), or fn's non-zero return.
 */
int pw_verify_stores(pw_store_t *a, pw_store_t *b, pw_verify_fn fn, void *ctx, uint64_t *count_out);

/** "catalog", "current", "rate", "open", "alert" or "log". */
const char *pw_verify_part_name(pw_verify_part_t part);

#endif
