/* SPDX-License-Identifier: MIT */
#ifndef PW_STORE_H
#define PW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/bureau.h"
#include "pw/catalog.h"
#include "pw/event.h"
#include "pw/msg.h"

/*
 * The aggregator's LMDB environment. One writer (the aggregator), any number
 * of read-only readers in other processes (publisher, replay, report).
 * Named databases:
 *   log      u64 log seq (big-endian)       -> record (every stored update, in order)
 *   current  "district\0period\0element"    -> f64 value, u64 log seq (format 2;
 *            format 1 had element before period: read as it is, converted when
 *            opened for writing)
 *   seqs     "district\0" + u64 epoch        -> u64 last seq, i64 last seen ms
 *   rates    "indicator\0series\0period"     -> rate event (as last published)
 *   open     "indicator\0series"             -> alert event (the open alert)
 *   alerts   u64 alert seq                   -> alert event (the alert history)
 *   events   u64 event seq                   -> event (everything published, in order)
 *   status   "district"                      -> epoch, last seq, last seen, spool lag
 *   meta     "format", "catalog"             -> store format, catalog digest
 *            "plan:" + u64 first log seq + u64 time -> catalog text (each plan version)
 * Every change of one intake batch is in one transaction: data, sequences,
 * rates, alerts and events commit together or not at all.
 */

typedef struct pw_store pw_store_t;
typedef struct pw_txn pw_txn_t;

typedef struct pw_store_opts {
    bool readonly;
    size_t map_size; /**< bytes; 0 = 1 GiB (the file grows as used, the map is virtual) */
} pw_store_opts_t;

/**
 * Opens (creating if needed, unless readonly) the store in directory dir.
 * Opened for writing, it holds dir/writer.pid locked (flock) until
 * pw_store_destroy() or the process's death: one writer at a time, and any
 * number of read-only readers beside it. 0, -errno, PW_ESTORE or
 * PW_EINCOMPAT (written by another format version); -EBUSY when another
 * process has the store open for writing (see pw_store_busy_text());
 * -ENOSPC (or -EDQUOT, -EIO) when the file system has no room to create or
 * open it, which is refused before LMDB could die of SIGBUS on it.
 * Caller owns *out; free with pw_store_destroy().
 */
int pw_store_open(pw_store_t **out, const char *dir, const pw_store_opts_t *opts);

/** After pw_store_open() gave -EBUSY: "store DIR in use by pid N" into buf. */
void pw_store_busy_text(const char *dir, char *buf, size_t len);

/** Closes the environment (no transaction may be open) and NULLs *self_p. NULL-safe. */
void pw_store_destroy(pw_store_t **self_p);

/**
 * Doubles the map (the most the store can hold), up to max bytes. No
 * transaction of this process may be open. 0 with *size_out the new size, or
 * PW_ESTOREFULL when it is at max already.
 */
int pw_store_grow(pw_store_t *self, size_t max, size_t *size_out);

/** The current map size in bytes. */
size_t pw_store_map_size(const pw_store_t *self);

/** The directory the store lives in. Borrowed; valid until destroy. */
const char *pw_store_dir(const pw_store_t *self);

/** Begins a transaction (write only on a writable store). 0 or PW_ESTORE/-errno. */
int pw_store_begin(pw_store_t *self, bool write, pw_txn_t **out);

/** Commits and frees the transaction; *txn_p is NULLed either way. 0, PW_ESTOREFULL, PW_ESTORE. */
int pw_store_commit(pw_txn_t **txn_p);

/** Aborts and frees the transaction. NULL-safe. */
void pw_store_abort(pw_txn_t **txn_p);

/** Reads the catalog digest stored in meta (PW_ENOTFOUND in a new store). */
int pw_store_get_digest(pw_txn_t *txn, unsigned char digest[32]);

/** Records the catalog digest. */
int pw_store_put_digest(pw_txn_t *txn, const unsigned char digest[32]);

/**
 * One version of the plan (catalog) a store was written with. A plan can be
 * revised (targets are revised at mid-term): each version applies to the
 * log records from `from` on, until the next version's `from`.
 */
typedef struct pw_store_plan {
    uint64_t from;    /**< the first log sequence it applies to */
    int64_t time_ms;  /**< when it took effect (the rates it changed carry this time) */
    const char *text; /**< the catalog file's bytes; borrowed, valid while the txn lives */
    size_t len;
} pw_store_plan_t;

/** Records a plan version applying from log sequence from on. */
int pw_store_plan_put(pw_txn_t *txn, uint64_t from, int64_t time_ms, const char *text, size_t len);

/** Calls fn for each plan version, oldest first; stops on non-zero return (returned). */
int pw_store_plan_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_store_plan_t *plan),
                          void *ctx);

/** The latest plan version; PW_ENOTFOUND in a store that records none (before format 2's plans). */
int pw_store_plan_latest(pw_txn_t *txn, pw_store_plan_t *out);

/** Appends a record (type PW_MSG_RECORD) to the log; *seq_out gets its log seq. */
int pw_store_log_append(pw_txn_t *txn, const pw_msg_t *rec, uint64_t *seq_out);

/** Appends a record already encoded (as read from another store's log). */
int pw_store_log_append_raw(pw_txn_t *txn, const void *data, size_t len, uint64_t *seq_out);

/** Number of records in the log (its last seq). */
int pw_store_log_head(pw_txn_t *txn, uint64_t *out);

/** Calls fn for log records with from <= seq <= to, in order; stops on non-zero return. */
int pw_store_log_foreach(pw_txn_t *txn, uint64_t from, uint64_t to,
                         int (*fn)(void *ctx, uint64_t seq, const pw_msg_t *rec), void *ctx);

/** As pw_store_log_foreach(), also handing over each record's stored bytes (valid in fn). */
int pw_store_log_foreach_raw(pw_txn_t *txn, uint64_t from, uint64_t to,
                             int (*fn)(void *ctx, uint64_t seq, const pw_msg_t *rec,
                                       const void *raw, size_t len),
                             void *ctx);

/** Current value of (district, element, period). 0 or PW_ENOTFOUND. */
int pw_store_current_get(pw_txn_t *txn, const char *district, const char *element,
                         pw_period_t period, double *value_out, uint64_t *logseq_out);

/** Sets the current value of (district, element, period). */
int pw_store_current_put(pw_txn_t *txn, const char *district, const char *element,
                         pw_period_t period, double value, uint64_t logseq);

/** Calls fn for every current value; stops on non-zero return (returned). */
int pw_store_current_foreach(pw_txn_t *txn,
                             int (*fn)(void *ctx, const char *district, const char *element,
                                       pw_period_t period, double value),
                             void *ctx);

/** Last committed seq and last-seen time of (district, epoch); 0/0 when unknown. */
int pw_store_seq_get(pw_txn_t *txn, const char *district, uint64_t epoch, uint64_t *seq_out,
                     int64_t *seen_out);

/** Records the last committed seq of (district, epoch). */
int pw_store_seq_put(pw_txn_t *txn, const char *district, uint64_t epoch, uint64_t seq,
                     int64_t seen_ms);

/** Stores the rate row (a PW_EV_RATE event) under its indicator/series/period. */
int pw_store_rate_put(pw_txn_t *txn, const pw_event_t *ev);

/** Calls fn for every stored rate row; stops on non-zero return. */
int pw_store_rate_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx);

/** Sets (ev != NULL) or clears the open alert of ev's indicator/series. */
int pw_store_open_put(pw_txn_t *txn, const pw_event_t *ev);
int pw_store_open_del(pw_txn_t *txn, const char *indicator, const char *series);

/** Calls fn for every open alert. */
int pw_store_open_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx);

/** Appends ev to the alert history. */
int pw_store_alert_append(pw_txn_t *txn, const pw_event_t *ev);

/** Calls fn for the alert history in order. */
int pw_store_alert_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx);

/** Appends ev to the event log, setting ev->seq to its number (from 1). */
int pw_store_event_append(pw_txn_t *txn, pw_event_t *ev);

/** The last event seq (0 when none). */
int pw_store_event_head(pw_txn_t *txn, uint64_t *out);

/** Calls fn for events with from <= seq <= to, at most max of them. */
int pw_store_event_foreach(pw_txn_t *txn, uint64_t from, uint64_t to, size_t max,
                           int (*fn)(void *ctx, const pw_event_t *ev), void *ctx);

/**
 * Stores an event the model emitted, everywhere it belongs: the event log
 * (ev->seq is set), the rate rows, the alert history and the open alerts.
 */
int pw_store_persist_event(pw_txn_t *txn, pw_event_t *ev);

/** Records what is known of a reporter's collector (district, epoch, seq, seen, lag). */
int pw_store_status_put(pw_txn_t *txn, const pw_district_status_t *st);

/** Calls fn for each reporter's status row (completeness fields left 0). */
int pw_store_status_foreach(pw_txn_t *txn, int (*fn)(void *ctx, const pw_district_status_t *st),
                            void *ctx);

#endif
