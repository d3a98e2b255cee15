/* SPDX-License-Identifier: MIT */
#ifndef PW_COLLECTOR_H
#define PW_COLLECTOR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/datafile.h"
#include "pw/msg.h"

/*
 * A district collector. It reads the district's data file and commits every
 * observation that is new or changed to its spool (spool.h) before sending
 * anything. It then sends the spooled updates to the aggregator over a DEALER
 * socket, with up to `window` in flight, and removes each one from the spool
 * only when the aggregator has answered it (an ack after its commit, or a
 * nack with a reason).
 *
 * It says hello with its spool's epoch and learns the last sequence the
 * aggregator committed for it, so a restarted collector resends exactly what
 * is unanswered, in order. After a gap report or a silence it resends from the
 * last answered sequence; the aggregator absorbs duplicates. A hello every
 * second while idle, and a resync after a silence, notice a dead peer.
 *
 * An update the aggregator rejects is remembered in the spool with its value
 * and reason: a later run whose file still holds that value reports it again
 * rather than sending it or forgetting it.
 *
 * One-shot mode returns once the file is spooled and the spool is empty.
 * Follow mode watches the file and spools every change, until *stop; with the
 * aggregator down it keeps spooling and catches up when it returns.
 */

#define PW_COLLECTOR_PERIODS_MAX 16

typedef struct pw_collector_opts {
    const char *district;        /**< reporter id */
    const char *connect;         /**< aggregator intake endpoint */
    const char *data;            /**< the district's data file */
    const char *spool_dir;       /**< the spool's directory */
    const pw_catalog_t *catalog; /**< check the file against it; may be NULL */
    pw_period_t periods[PW_COLLECTOR_PERIODS_MAX]; /**< send only these (none = all) */
    size_t nperiods;
    bool follow;                 /**< keep watching the file */
    size_t window;               /**< updates in flight at most; 0 = 4096 */
    int timeout_ms;              /**< one-shot: give up after this silence; 0 = 30000 */
    int resend_ms;               /**< resend after this silence; 0 = 2000 */
    size_t spool_max;            /**< spool size bound in bytes; 0 = 1 GiB */
    const char *keys_dir;        /**< CURVE: DIR/districts/ID.secret, DIR/aggregator.pub */
    bool insecure;               /**< allow TCP without CURVE */
    bool resend;                 /**< spool every observation of the file, changed or not */
} pw_collector_opts_t;

typedef struct pw_collector_result {
    size_t spooled;   /**< updates added to the spool by this run */
    size_t answered;  /**< updates answered during this run */
    size_t stored;    /**< of them, acknowledged (stored) */
    size_t rejected;  /**< of them, rejected */
    size_t still_rejected; /**< lines rejected by an earlier run, unchanged since */
    size_t resent;    /**< sends of an update already sent */
    uint64_t pending; /**< left in the spool at the end */
    char handshake[192]; /**< why handshakes with the aggregator failed, if they did; else "" */
} pw_collector_result_t;

/**
 * Called for each rejected update; line is its data-file line, or 0 if
 * unknown. before: the rejection came in an earlier run, and the file still
 * holds the same value, so it was not sent again.
 */
typedef void (*pw_collector_reject_fn)(void *ctx, const pw_msg_t *update, int line, int reason,
                                       const char *text, bool before);

/**
 * Runs the collector. 0 when done (one-shot: everything answered; follow:
 * stopped), PW_ETIMEOUT when nothing was answered for timeout_ms (one-shot;
 * the rest stays spooled), PW_ESTOREFULL when the spool is full or the
 * aggregator kept refusing updates because its store is full (one-shot; the
 * rest stays spooled), PW_EDATA for a bad data file (one-shot; in follow mode
 * it is logged and the file is read again when it changes), -errno for
 * socket failures.
 */
int pw_collector_run(const pw_collector_opts_t *opts, pw_collector_reject_fn on_reject,
                     void *ctx, pw_collector_result_t *res, volatile sig_atomic_t *stop);

/** planwatch collector: argv[0] is the subcommand's name. Exit status 0, 1 or 2. */
int pw_cmd_collector(int argc, char **argv);

#endif
