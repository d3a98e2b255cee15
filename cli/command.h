/* SPDX-License-Identifier: MIT */
#ifndef PW_COMMAND_H
#define PW_COMMAND_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The option loop every subcommand shares: getopt_long over the command's
 * table, -h/--help, unknown options and leftover operands. The command only
 * says what each of its options means (an option callback) and what it
 * needs once all are read (a finish callback).
 */

/** Every command's -h/--help code: {"help", no_argument, 0, PW_CLI_HELP}. */
#define PW_CLI_HELP 'h'

/** From a callback: bad usage; the usage text goes to stderr and the command exits 2. */
#define PW_CLI_USAGE (-2)

/**
 * Takes one option: c is its code in the table, arg its value (NULL for an
 * option without one). Returns 0 to go on, PW_CLI_USAGE, or the status to
 * exit with at once (2 after printing what is wrong).
 */
typedef int (*pw_cli_option_fn)(void *opts, int c, const char *arg);

/**
 * Called once every option is read: defaults, required options, the nargs
 * operands args (borrowed from argv). Returns as pw_cli_option_fn.
 */
typedef int (*pw_cli_finish_fn)(void *opts, int nargs, char **args);

/**
 * An option that only stores what it says in the command's options struct:
 * its value in a const char * member, or true in a bool member for an
 * option without a value.
 */
typedef struct pw_cli_field {
    int code;      /**< its code in the longopts table; 0 ends a table */
    size_t offset; /**< offsetof(the options struct, the member) */
} pw_cli_field_t;

/** A subcommand's command line. */
typedef struct pw_cli_command {
    const char *name;              /**< "aggregator": messages say "planwatch aggregator: " */
    const char *usage;             /**< the --help text */
    const struct option *longopts; /**< getopt_long's table, with help as PW_CLI_HELP */
    pw_cli_option_fn option;       /**< every option but help and the fields; NULL: none */
    pw_cli_finish_fn finish;       /**< NULL: no operands, nothing required */
    const pw_cli_field_t *fields;  /**< the options that only store; NULL: none */
} pw_cli_command_t;

/**
 * Takes one option of cmd's (not help): stores a field, or hands it to the
 * option callback. Returns as pw_cli_option_fn.
 */
int pw_cli_take(const pw_cli_command_t *cmd, void *opts, int c, const char *arg);

/**
 * Reads argv's options (argv[0] is the command's name) into opts through
 * cmd's callbacks. --help prints the usage on stdout (status 0); an unknown
 * option or, without a finish callback, an operand prints it on stderr
 * (status 2). True when the command should run; false when it is done, with
 * *status_out the status it exits with.
 */
bool pw_cli_parse(const pw_cli_command_t *cmd, int argc, char **argv, void *opts,
                  int *status_out);

#endif
