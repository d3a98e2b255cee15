/* SPDX-License-Identifier: MIT */
#ifndef PW_CLI_H
#define PW_CLI_H

#include <signal.h>
#include <stddef.h>
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

/** The path of the running planwatch binary (for starting child processes). */
const char *pw_cli_self(void);

/** Subcommand entry points: argv[0] is the subcommand's name. */
int pw_cmd_aggregator(int argc, char **argv);
int pw_cmd_collector(int argc, char **argv);
int pw_cmd_publisher(int argc, char **argv);
int pw_cmd_monitor(int argc, char **argv);
int pw_cmd_demo(int argc, char **argv);
int pw_cmd_replay(int argc, char **argv);
int pw_cmd_verify(int argc, char **argv);
int pw_cmd_export(int argc, char **argv);
int pw_cmd_import(int argc, char **argv);
int pw_cmd_keygen(int argc, char **argv);
int pw_cmd_report(int argc, char **argv);

/**
 * Writes DIR/report.html and DIR/report.csv (creating DIR) for the latest
 * period of the store (read-only) under cat, and prints their paths on info.
 * 0 or an error (said on stderr).
 */
int pw_cli_report_files(const pw_catalog_t *cat, const char *store, const char *dir, FILE *info);
int pw_cmd_status(int argc, char **argv);

#endif
