/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "command.h"

/* A command with a string field, a flag field, a checked option and operands. */
struct opts {
    const char *store;
    bool quiet;
    int number;
    int nargs;
    const char *first;
};

static const struct option longopts[] = {{"store", required_argument, 0, 's'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"number", required_argument, 0, 'n'},
                                         {"help", no_argument, 0, PW_CLI_HELP},
                                         {0, 0, 0, 0}};

static const pw_cli_field_t fields[] = {{'s', offsetof(struct opts, store)},
                                        {'q', offsetof(struct opts, quiet)},
                                        {0, 0}};

static int take_option(void *p, int c, const char *arg)
{
    struct opts *o = p;
    if (c != 'n')
        return PW_CLI_USAGE;
    if (strcmp(arg, "bad") == 0)
        return 2;
    if (strcmp(arg, "usage") == 0)
        return PW_CLI_USAGE;
    o->number = arg[0] - '0';
    return 0;
}

static int finish(void *p, int nargs, char **args)
{
    struct opts *o = p;
    o->nargs = nargs;
    o->first = nargs ? args[0] : NULL;
    return o->store ? 0 : PW_CLI_USAGE;
}

static const pw_cli_command_t with_finish = {"test", "usage: test\n", longopts, take_option,
                                             finish,  fields};
static const pw_cli_command_t without_finish = {"test", "usage: test\n", longopts, take_option,
                                                NULL,   fields};

/* Parses argv (NULL-terminated) as a fresh process would. */
static bool parse(const pw_cli_command_t *cmd, char **argv, struct opts *o, int *status)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    optind = 0; /* getopt_long starts over */
    memset(o, 0, sizeof(*o));
    return pw_cli_parse(cmd, argc, argv, o, status);
}

Test(command, stores_fields_and_hands_other_options_to_the_callback)
{
    char *argv[] = {"test", "--store", "DIR", "--quiet", "--number", "7", "A", "B", NULL};
    struct opts o;
    int status = -1;
    cr_assert(parse(&with_finish, argv, &o, &status));
    cr_assert_eq(status, 0);
    cr_assert_str_eq(o.store, "DIR");
    cr_assert(o.quiet);
    cr_assert_eq(o.number, 7);
    cr_assert_eq(o.nargs, 2);
    cr_assert_str_eq(o.first, "A");
}

Test(command, help_prints_the_usage_on_stdout_and_exits_0, .init = cr_redirect_stdout)
{
    char *argv[] = {"test", "--store", "DIR", "--help", NULL};
    struct opts o;
    int status = -1;
    cr_assert_not(parse(&with_finish, argv, &o, &status));
    cr_assert_eq(status, 0);
    fflush(stdout);
    cr_assert_stdout_eq_str("usage: test\n");
}

Test(command, an_unknown_option_prints_the_usage_on_stderr_and_exits_2,
     .init = cr_redirect_stderr)
{
    char *argv[] = {"test", "--nope", NULL};
    struct opts o;
    int status = -1;
    cr_assert_not(parse(&with_finish, argv, &o, &status));
    cr_assert_eq(status, 2);
}

Test(command, a_callback_status_ends_the_command, .init = cr_redirect_stderr)
{
    char *bad[] = {"test", "--number", "bad", "--store", "DIR", NULL};
    char *usage[] = {"test", "--number", "usage", NULL};
    struct opts o;
    int status = -1;
    cr_assert_not(parse(&with_finish, bad, &o, &status));
    cr_assert_eq(status, 2);
    cr_assert_null(o.store, "options after the bad one are not read");
    cr_assert_not(parse(&with_finish, usage, &o, &status));
    cr_assert_eq(status, 2);
}

Test(command, finish_decides_what_is_required, .init = cr_redirect_stderr)
{
    char *argv[] = {"test", "--quiet", NULL};
    struct opts o;
    int status = -1;
    cr_assert_not(parse(&with_finish, argv, &o, &status));
    cr_assert_eq(status, 2);
}

Test(command, an_operand_without_finish_is_a_usage_error, .init = cr_redirect_stderr)
{
    char *operand[] = {"test", "A", NULL};
    char *none[] = {"test", "--store", "DIR", NULL};
    struct opts o;
    int status = -1;
    cr_assert_not(parse(&without_finish, operand, &o, &status));
    cr_assert_eq(status, 2);
    cr_assert(parse(&without_finish, none, &o, &status));
    cr_assert_eq(status, 0);
}
