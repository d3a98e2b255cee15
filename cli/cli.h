/* SPDX-License-Identifier: MIT */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pw/catalog.h"

/* What the subcommands share: the default data paths, signals, catalog loading. */

/** Set by SIGINT/SIGTERM; a second signal exits at once. */
extern volatile sig_atomic_t pw_cli_stop;

/** Set by SIGHUP: daemons re-read their keys. */
extern volatile sig_atomic_t pw_cli_reload;

/** Installs the SIGINT/SIGTERM and SIGHUP handlers and ignores SIGPIPE. */
void pw_cli_signals(void);

/**
 * The default data directory: $PLANWATCH_DATA, else the source tree's data/
 * when planwatch runs from its build tree, else the installed share/planwatch.
 */
const char *pw_cli_datadir(void);

/** Loads path (NULL = the default catalog), printing "planwatch: file:line: ..." on error. */
int pw_cli_load_catalog(const char *path, pw_catalog_t **out);

/**
 * The plan to read store_dir with. A store that records its plan is read
 * with it (its latest version); path (NULL = none given) must then be that
 * same plan, or, with revise (the aggregator), is a revised plan the caller
 * will record. A store that records none (older, or new) is read with path
 * (NULL = the default catalog), which must match the digest the store was
 * written with. Errors are printed as "planwatch cmd: ..."; 0, PW_EINCOMPAT
 * (another plan), PW_ECATALOG or -errno. Caller owns *out.
 */
int pw_cli_store_catalog(const char *cmd, const char *store_dir, const char *path, bool revise,
                         pw_catalog_t **out);

/** The hex of a digest's first 6 bytes: enough to tell plans apart in a message. */
void pw_cli_short_digest(const unsigned char d[32], char out[13]);

/** One version of a store's plan, parsed. */
typedef struct pw_cli_plan {
    pw_catalog_t *cat;
    uint64_t from;   /**< the first log record it applies to */
    int64_t time_ms; /**< when it took effect; -1: not recorded (an older store) */
} pw_cli_plan_t;

/**
 * Every version of the plan store_dir records, oldest first; for a store
 * that records none, the one pw_cli_store_catalog() gives, from record 1
 * with time_ms -1. path as there (never a revision). Errors printed; caller
 * frees *out with pw_cli_plans_free().
 */
int pw_cli_store_plans(const char *cmd, const char *store_dir, const char *path,
                       pw_cli_plan_t **out, size_t *n_out);

/** Frees n plans and NULLs *plans_p. NULL-safe. */
void pw_cli_plans_free(pw_cli_plan_t **plans_p, size_t n);

/** The path of the running planwatch binary (for starting child processes). */
const char *pw_cli_self(void);

#endif
