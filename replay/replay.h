/* SPDX-License-Identifier: MIT */
#ifndef PW_REPLAY_H
#define PW_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/msg.h"
#include "pw/period.h"
#include "store.h"

/*
 * Reading a store's update log for replay: in log order, through filters,
 * in bounded read transactions (a long-lived reader would pin the
 * aggregator's old pages, so a replay never holds one for long).
 */

typedef struct pw_replay_filter {
    uint64_t from_seq, to_seq;  /**< log sequence range; 0 = open */
    int64_t from_ms, to_ms;     /**< commit-time range (unix ms); 0 = open */
    bool has_from_period, has_to_period;
    pw_period_t from_period, to_period; /**< the records' period range */
    const char *district;       /**< only this reporter; NULL = all */
    const char *indicator;      /**< only elements this indicator uses; NULL = all */
} pw_replay_filter_t;

/** Receives each selected record and its log sequence; non-zero stops the read. */
typedef int (*pw_replay_fn)(void *ctx, uint64_t logseq, const pw_msg_t *rec);

/**
 * Calls fn for each record of the store's log that passes filter (may be NULL),
 * in order. cat (may be NULL) resolves --indicator. 0, PW_ENOTFOUND (unknown
 * indicator), a store error, or fn's non-zero return.
 */
int pw_replay_read(pw_store_t *store, const pw_replay_filter_t *filter, const pw_catalog_t *cat,
                   pw_replay_fn fn, void *ctx);

/** As pw_replay_fn, with the record's stored bytes (valid during the call). */
typedef int (*pw_replay_raw_fn)(void *ctx, uint64_t logseq, const pw_msg_t *rec, const void *raw,
                                size_t len);

/** As pw_replay_read(), handing over each record's stored bytes too. */
int pw_replay_read_raw(pw_store_t *store, const pw_replay_filter_t *filter,
                       const pw_catalog_t *cat, pw_replay_raw_fn fn, void *ctx);

/** Number of records in the store's log. */
int pw_replay_count(pw_store_t *store, uint64_t *out);

/** planwatch replay, verify, export and import: argv[0] is the subcommand's name.
 *  Exit status 0, 1 or 2 (verify: 1 when the stores differ). */
int pw_cmd_replay(int argc, char **argv);
int pw_cmd_verify(int argc, char **argv);
int pw_cmd_export(int argc, char **argv);
int pw_cmd_import(int argc, char **argv);

#endif
