/* SPDX-License-Identifier: MIT */
#ifndef PW_DAEMON_H
#define PW_DAEMON_H

#include <signal.h>

#include "cli.h"
#include "command.h"
#include "pw/catalog.h"
#include "pw/log.h"

/*
 * The life of a daemon's command, shared by the aggregator, the publisher and
 * the collector: --config files, the options, --log-level, --check-config,
 * logging, signals, then start, run until stopped, stop. Each command fills a
 * pw_cli_daemon_t with what is its own.
 */

/** The daemons' option codes the runner takes itself; their tables list them. */
#define PW_CLI_LOG_LEVEL    'l' /**< {"log-level", required_argument, 0, PW_CLI_LOG_LEVEL} */
#define PW_CLI_CHECK_CONFIG 'K' /**< {"check-config", no_argument, 0, PW_CLI_CHECK_CONFIG} */

/** A daemon's command: its command line and its life. opts is the command's own. */
typedef struct pw_cli_daemon {
    pw_cli_command_t cmd;  /**< longopts also list log-level and check-config */
    pw_log_level_t level;  /**< the level without --log-level */
    int (*check)(void *opts); /**< --check-config: check, print; 0 when all is well, else 1 */
    /** The plan to run with (*out may stay NULL: none); 0, else exit 1 (said). */
    int (*catalog)(void *opts, pw_catalog_t **out);
    /**
     * Makes the daemon with cat (borrowed until stop): 0, or a PW_E* code,
     * logged as "cannot start: why" (exit 1).
     */
    int (*start)(void *opts, const pw_catalog_t *cat);
    /** Runs until *stop is set (SIGINT, SIGTERM) or it is done: 0, else exit 1. */
    int (*run)(void *opts, volatile sig_atomic_t *stop);
    /** Frees what start made, also after a failed start; NULL: nothing to free. */
    void (*stop)(void *opts);
} pw_cli_daemon_t;

/**
 * Runs the daemon's command on argv (argv[0] is the command's name): expands
 * --config, reads the options, then either checks the configuration or logs
 * at the level asked, installs the signal handlers and starts, runs and
 * stops. The exit status: 0, 1 (a failure, or --check-config finding one), 2
 * (bad usage).
 */
int pw_cli_daemon_main(const pw_cli_daemon_t *self, int argc, char **argv, void *opts);

/**
 * Defines the catalog, start, run and stop callbacks (load, start, run,
 * stop) of the daemon of a store, whose options struct T keeps the
 * module's options in .opts (with .store_dir and .catalog), --catalog in
 * .catalog_path and its object in .obj, made by NEW(&opts, &obj), run by
 * RUN(obj, stop) and freed by DESTROY(&obj). The plan is the store's, with
 * --catalog as a revision of it when REVISE. Written once for the
 * aggregator and the publisher.
 */
#define PW_CLI_STORE_DAEMON(T, NAME, REVISE, NEW, RUN, DESTROY)                                    \
    static int load(void *p, pw_catalog_t **out)                                                   \
    {                                                                                              \
        const T *o = p;                                                                            \
        return pw_cli_store_catalog(NAME, o->opts.store_dir, o->catalog_path, REVISE, out);        \
    }                                                                                              \
    static int start(void *p, const pw_catalog_t *cat)                                             \
    {                                                                                              \
        T *o = p;                                                                                  \
        o->opts.catalog = cat;                                                                     \
        return NEW(&o->opts, &o->obj);                                                             \
    }                                                                                              \
    static int run(void *p, volatile sig_atomic_t *stop_p)                                         \
    {                                                                                              \
        return RUN(((T *)p)->obj, stop_p);                                                         \
    }                                                                                              \
    static void stop(void *p)                                                                      \
    {                                                                                              \
        DESTROY(&((T *)p)->obj);                                                                   \
    }

#endif
