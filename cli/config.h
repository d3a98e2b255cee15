/* SPDX-License-Identifier: MIT */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "pw/catalog.h"

/*
 * Configuration files for the daemons. `--config FILE` reads FILE's lines,
 *     # a comment
 *     key = value        (key: a long option's name; repeat it for a repeatable option)
 *     flag               (or flag = true / false, for an option without value)
 * and turns them into --key=value options placed before the command line's,
 * so the command line wins: an option that the command line gives replaces
 * every line of the file with the same key. Errors read "FILE:LINE: what".
 */

/**
 * Expands every --config FILE of the arguments (argv[0] is the subcommand's
 * name) against longopts, which must not list "config", and replaces them
 * with the result: argv[0], the files' options, the command line's. Prints
 * what is wrong on stderr. 0; 2 for a usage error (an unknown key, a missing
 * value); 1 when a file cannot be read. The new argv is the module's, valid
 * until pw_config_release().
 */
int pw_config_expand(const char *cmd, const struct option *longopts, int *argc, char ***argv);

/** Whether the last pw_config_expand() saw --check-config on the command line. */
bool pw_config_checking(void);

/** Frees what pw_config_expand() made. Call once the command is done. */
void pw_config_release(void);

/**
 * "FILE:LINE: " when the option getopt_long just returned (argv[optind - 1])
 * came from a config file, else "". For value errors. Borrowed; valid until
 * the next call.
 */
const char *pw_config_where(void);

/** --check-config helpers: each prints "planwatch CMD: what: why" on failure and returns false. */
bool pw_config_check_dir(const char *cmd, const char *what, const char *dir);
bool pw_config_check_file_dir(const char *cmd, const char *what, const char *path);
bool pw_config_check_endpoint(const char *cmd, const char *what, const char *endpoint);

/**
 * With keys_dir: DIR/NAME.secret and the keys DIR/RING/ *.pub must load (RING
 * NULL: none). Without: each of the n endpoints must be allowed without CURVE
 * (ipc://, or TCP with insecure).
 */
bool pw_config_check_keys(const char *cmd, const char *keys_dir, const char *name,
                          const char *ring, const char *const *endpoints, size_t n,
                          bool insecure);

/** The optional --notify endpoint and --metrics file (NULL: not given) of a store's daemon. */
bool pw_config_check_outputs(const char *cmd, const char *notify, const char *metrics);

/** What --check-config prints for --keys: the directory, "(insecure)" or "(none)". */
const char *pw_config_keys_text(const char *keys_dir, bool insecure);

/**
 * --check-config's lines for a store's plan and the keys: "catalog = PATH
 * (\"name\": N indicators, M districts)" (PATH NULL: the store's plan), then
 * "keys = ...".
 */
void pw_config_print_plan(const char *path, const pw_catalog_t *cat, const char *keys_dir,
                          bool insecure);

#endif
