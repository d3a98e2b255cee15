/* SPDX-License-Identifier: MIT */
#ifndef PW_AGGREGATOR_H
#define PW_AGGREGATOR_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "pw/catalog.h"

/*
 * The aggregator: a ROUTER socket that takes updates from collectors, commits
 * each batch of waiting updates in one LMDB transaction together with the
 * per-district sequences, recomputed rates, alerts and events, and only then
 * acknowledges. After each commit it sends the new event head on a PUB
 * "notify" socket so that publishers can read the new events from the store.
 */

#define PW_AGG_BINDS_MAX 8

typedef struct pw_aggregator pw_aggregator_t;

typedef struct pw_aggregator_opts {
    const char *store_dir;                /**< LMDB environment directory */
    const pw_catalog_t *catalog;          /**< borrowed; must outlive the aggregator */
    const char *binds[PW_AGG_BINDS_MAX];  /**< intake endpoints (ROUTER) */
    size_t nbinds;
    const char *notify;                   /**< PUB endpoint for publishers; NULL = default */
    size_t map_size;                      /**< LMDB map size to start with; 0 = 1 GiB */
    size_t map_max;                       /**< grow the map up to this; 0 = 64 GiB */
    size_t batch_max;                     /**< messages per transaction, about (a frame is never split); 0 = 16384 */
    const char *keys_dir;                 /**< CURVE keys (planwatch keygen); NULL = none */
    bool insecure;                        /**< allow TCP without CURVE (loudly) */
    volatile sig_atomic_t *reload;        /**< set (by SIGHUP): re-read the district keys */
    const char *metrics_path;             /**< Prometheus text file to keep up to date; NULL = none */
} pw_aggregator_opts_t;

/**
 * Opens the store, restores the model from it, binds every socket.
 * 0, -errno (bind failure), PW_ESTORE, PW_EINCOMPAT. Caller owns *out.
 */
int pw_aggregator_new(const pw_aggregator_opts_t *opts, pw_aggregator_t **out);

/** The endpoints actually bound (wildcard ports resolved), space-separated. Borrowed. */
const char *pw_aggregator_endpoints(const pw_aggregator_t *self);

/** Serves until *stop becomes non-zero. 0, or a code for a fatal store error. */
int pw_aggregator_run(pw_aggregator_t *self, volatile sig_atomic_t *stop);

/** Closes sockets and the store, NULLs *self_p. NULL-safe. */
void pw_aggregator_destroy(pw_aggregator_t **self_p);

/** planwatch aggregator: argv[0] is the subcommand's name. Exit status 0, 1 or 2. */
int pw_cmd_aggregator(int argc, char **argv);

#endif
