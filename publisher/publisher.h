/* SPDX-License-Identifier: MIT */
#ifndef PW_PUBLISHER_H
#define PW_PUBLISHER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "model.h"
#include "pw/catalog.h"
#include "store.h"

/*
 * The publisher: a process of its own that opens the aggregator's store
 * read-only, follows its event log (woken by the aggregator's notify socket,
 * and polling as a fallback), and serves the bureau:
 *   PUB    every event, two frames: topic ("rate.<indicator>", "alert.<indicator>",
 *          "hb") and the msgpack event; a heartbeat with the head sequence every second;
 *   ROUTER snapshot, range, status, alert-history and district requests
 *          (bureau.h), each answered from one read transaction, so a snapshot
 *          is exactly the state after event q.
 * Because everything comes from the store, a publisher can restart at any time
 * and monitors fill any gap from the stored log.
 */

typedef struct pw_publisher pw_publisher_t;

typedef struct pw_publisher_opts {
    const char *store_dir;     /**< the aggregator's store */
    const char *bind;          /**< PUB endpoint */
    const char *snapshot_bind; /**< ROUTER endpoint; NULL = derived from bind */
    const char *notify;        /**< the aggregator's notify endpoint; NULL = default */
    int heartbeat_ms;          /**< 0 = 1000 */
    const pw_catalog_t *catalog; /**< for status and district requests; borrowed */
    const char *keys_dir;      /**< CURVE keys: DIR/publisher.secret, DIR/desks/ *.pub; NULL = none */
    bool insecure;             /**< allow TCP without CURVE (loudly) */
    volatile sig_atomic_t *reload; /**< set (by SIGHUP): re-read the desk keys */
    const char *metrics_path;  /**< Prometheus text file to keep up to date; NULL = none */
} pw_publisher_opts_t;

/** Binds the sockets; the store is opened when it exists. 0 or -errno. Caller owns *out. */
int pw_publisher_new(const pw_publisher_opts_t *opts, pw_publisher_t **out);

/** Serves until *stop. 0, or a fatal error code. */
int pw_publisher_run(pw_publisher_t *self, volatile sig_atomic_t *stop);

/** Closes everything, NULLs *self_p. NULL-safe. */
void pw_publisher_destroy(pw_publisher_t **self_p);

/** planwatch publisher: argv[0] is the subcommand's name. Exit status 0, 1 or 2. */
int pw_cmd_publisher(int argc, char **argv);

#endif
