/* SPDX-License-Identifier: MIT */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <getopt.h>
#include <stdbool.h>

/*
 * Configuration files for the daemons. `--config FILE` reads FILE's lines,
 *     # a comment
 *     key = value        (key: a long option's name; repeat it for a repeatable option)
 *     flag               (or flag = true / false, for an option without value)
 * and turns them into --key=value options placed before the command line's,
 * so the command line wins: an option that the command line gives replaces
 * every line of the file with the same key. Errors read "FILE:LINE: what".
 */

typedef struct pw_config {
    int argc;    /**< the options to parse with getopt_long: argv[0], the file's, the command line's */
    char **argv; /**< NULL-terminated; owned by the config */
} pw_config_t;

/**
 * Expands every --config FILE of argv (argv[0] is the subcommand's name)
 * against longopts, which must not list "config". Prints what is wrong on
 * stderr. 0; 2 for a usage error (an unknown key, a missing value); 1 when a
 * file cannot be read. Caller owns *out; free with pw_config_destroy().
 */
int pw_config_load(pw_config_t **out, const char *cmd, const struct option *longopts, int argc,
                   char **argv);

/** Frees it and NULLs *self_p. NULL-safe. */
void pw_config_destroy(pw_config_t **self_p);

/**
 * "FILE:LINE: " when the option getopt_long just returned (argv[optind - 1])
 * came from a config file, else "". For value errors. Borrowed; valid until
 * the next call.
 */
const char *pw_config_where(void);

/**
 * A daemon's entry point: expands --config, then calls run with the result.
 * Returns run's exit code (0, 1, 2), or pw_config_load()'s; with
 * --check-config, a usage error is reported as 1 (the configuration is bad).
 */
int pw_config_main(const char *cmd, const struct option *longopts,
                   int (*run)(int argc, char **argv), int argc, char **argv);

/** --check-config helpers: each prints "planwatch CMD: what: why" on failure and returns false. */
bool pw_config_check_dir(const char *cmd, const char *what, const char *dir);
bool pw_config_check_file_dir(const char *cmd, const char *what, const char *path);
bool pw_config_check_endpoint(const char *cmd, const char *what, const char *endpoint);

#endif
