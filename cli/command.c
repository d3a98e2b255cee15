/* SPDX-License-Identifier: MIT */
#include "command.h"

#include <stdio.h>

/* Whether the option with code c takes a value. */
static bool takes_value(const struct option *longopts, int c)
{
    for (const struct option *o = longopts; o->name; o++)
        if (o->val == c)
            return o->has_arg != no_argument;
    return false;
}

int pw_cli_take(const pw_cli_command_t *cmd, void *opts, int c, const char *arg)
{
    for (const pw_cli_field_t *f = cmd->fields; f && f->code; f++) {
        if (f->code != c)
            continue;
        void *member = (char *)opts + f->offset;
        if (takes_value(cmd->longopts, c))
            *(const char **)member = arg;
        else
            *(bool *)member = true;
        return 0;
    }
    return cmd->option ? cmd->option(opts, c, arg) : PW_CLI_USAGE;
}

/* A callback's answer as the command's exit status; -1: go on. */
static int status_of(const pw_cli_command_t *cmd, int rc)
{
    if (rc == 0)
        return -1;
    if (rc == PW_CLI_USAGE) {
        fputs(cmd->usage, stderr);
        return 2;
    }
    return rc;
}

bool pw_cli_parse(const pw_cli_command_t *cmd, int argc, char **argv, void *opts,
                  int *status_out)
{
    int c, status = -1;
    while (status < 0 && (c = getopt_long(argc, argv, "h", cmd->longopts, NULL)) != -1) {
        if (c == PW_CLI_HELP) {
            fputs(cmd->usage, stdout);
            status = 0;
        } else if (c == '?' || c == ':') {
            fputs(cmd->usage, stderr);
            status = 2;
        } else {
            status = status_of(cmd, pw_cli_take(cmd, opts, c, optarg));
        }
    }
    if (status < 0 && cmd->finish)
        status = status_of(cmd, cmd->finish(opts, argc - optind, argv + optind));
    else if (status < 0 && optind != argc)
        status = status_of(cmd, PW_CLI_USAGE);
    *status_out = status < 0 ? 0 : status;
    return status < 0;
}
