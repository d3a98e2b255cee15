/* SPDX-License-Identifier: MIT */
#ifndef PW_AGG_METRICS_H
#define PW_AGG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"

/*
 * The aggregator's counters, written in the Prometheus text format for
 * node_exporter's textfile collector (--metrics FILE). The aggregator counts
 * only what a committed batch decided, so a batch applied again after the
 * map grew is counted once. Metric names are listed in README "Metrics".
 */

typedef struct pw_agg_metrics pw_agg_metrics_t;

/** Counters for a catalog's districts, all zero. NULL when out of memory. Caller owns. */
pw_agg_metrics_t *pw_agg_metrics_new(const pw_catalog_t *cat);

/** Frees it and NULLs *self_p. NULL-safe. */
void pw_agg_metrics_destroy(pw_agg_metrics_t **self_p);

/**
 * Counts one committed batch: frames and messages received in it, updates
 * stored, duplicates acknowledged again, and how long its transaction took.
 */
void pw_agg_metrics_batch(pw_agg_metrics_t *self, size_t frames, size_t messages,
                          uint64_t stored, uint64_t duplicates, double seconds);

/** Counts one NACK sent, by its wire reason code (ours or a negative errno). */
void pw_agg_metrics_nack(pw_agg_metrics_t *self, int reason);

/** Records the ZAP handler's totals of handshakes accepted and refused. */
void pw_agg_metrics_handshakes(pw_agg_metrics_t *self, uint64_t accepted, uint64_t refused);

/** Records what is known of district d (catalog index): unix ms last heard, spool lag. */
void pw_agg_metrics_district(pw_agg_metrics_t *self, size_t d, bool connected, int64_t seen_ms,
                             uint64_t lag, uint64_t last_seq);

/**
 * Writes every metric to path atomically, with the store's file size (from
 * store_dir/data.mdb), its map size and the event head. 0 or -errno.
 */
int pw_agg_metrics_write(pw_agg_metrics_t *self, const char *path, const char *store_dir,
                         size_t map_size, uint64_t head);

#endif
