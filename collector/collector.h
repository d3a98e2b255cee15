/* SPDX-License-Identifier: MIT */
#ifndef PW_COLLECTOR_H
#define PW_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "pw/datafile.h"

/*
 * A district collector: sends observations to the aggregator over a DEALER
 * socket and waits until each is acknowledged (committed) or rejected.
 * It says hello with a fresh random epoch and learns the last sequence the
 * aggregator committed for it; updates are numbered from there, kept in
 * flight up to a window, and resent from the last acknowledged sequence after
 * a gap report or a silence.
 */

typedef struct pw_collector_opts {
    const char *district;  /**< reporter id */
    const char *connect;   /**< aggregator intake endpoint */
    size_t window;         /**< updates in flight at most; 0 = 1024 */
    int timeout_ms;        /**< give up after this long without any answer; 0 = 30000 */
    int resend_ms;         /**< resend unacknowledged updates after this silence; 0 = 2000 */
} pw_collector_opts_t;

typedef struct pw_collector_result {
    size_t sent;      /**< updates to send */
    size_t stored;    /**< acknowledged and stored */
    size_t rejected;  /**< answered with a NACK */
    size_t resent;    /**< updates sent more than once */
} pw_collector_result_t;

/** Called for each rejected observation, with the aggregator's reason. */
typedef void (*pw_collector_reject_fn)(void *ctx, const pw_obs_t *obs, int reason,
                                       const char *text);

/**
 * Sends obs[0..n) in order and waits for every answer.
 * 0 when all were answered (res tells how many were rejected), PW_ETIMEOUT
 * when the aggregator stopped answering, -errno for socket failures.
 */
int pw_collector_send(const pw_collector_opts_t *opts, const pw_obs_t *obs, size_t n,
                      pw_collector_reject_fn on_reject, void *ctx, pw_collector_result_t *res);

#endif
