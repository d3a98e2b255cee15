/* SPDX-License-Identifier: MIT */
/* The command line: help, version, usage errors (exit 2), bad input files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

PW_FIXTURE_SUITE(cli, 60.0);

/* planwatch with args[1..] (args[0] is its name), as the shell would run it. */
static int run(char *const args[], char **out, char **err)
{
    return pw_fixture_run(&fx, args + 1, 30000, out, err);
}

Test(cli, every_command_has_help_on_stdout)
{
    const char *cmds[] = {"demo", "aggregator", "collector", "publisher", "monitor"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "%s", cmds[i]);
        char *args[] = {"planwatch", cmd, "--help", NULL};
        char *out, *err;
        cr_assert_eq(run(args, &out, &err), 0, "%s --help", cmds[i]);
        cr_assert(strstr(out, "usage: planwatch"), "%s --help: %s", cmds[i], out);
        free(out);
        free(err);
    }
    char *args[] = {"planwatch", "--help", NULL};
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 0);
    cr_assert(strstr(out, "monitor"));
    free(out);
    free(err);
}

Test(cli, version)
{
    char *args[] = {"planwatch", "--version", NULL};
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 0);
    cr_assert(strncmp(out, "planwatch ", 10) == 0, "%s", out);
    free(out);
    free(err);
}

Test(cli, usage_errors_exit_2)
{
    char *cases[][6] = {
        {"planwatch", "frobnicate", NULL},
        {"planwatch", "aggregator", NULL},
        {"planwatch", "aggregator", "--store", "/tmp/x", "--bogus", NULL},
        {"planwatch", "collector", "--district", "jiangan", NULL},
        {"planwatch", "collector", "--district", "x", "--period", "2018H3"},
        {"planwatch", "monitor", "--timeout", "0", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *args[8] = {0};
        for (int k = 0; k < 6 && cases[i][k]; k++)
            args[k] = cases[i][k];
        char *out, *err;
        cr_assert_eq(run(args, &out, &err), 2, "case %zu", i);
        cr_assert(err && strlen(err) > 0, "case %zu says why on stderr", i);
        free(out);
        free(err);
    }
}

Test(cli, bad_data_file_names_file_and_line)
{
    char bad[128], spool[128];
    pw_fixture_path(&fx, bad, sizeof(bad), "bad.csv");
    pw_fixture_write(bad, "period,element,value\n2016,care_beds,12\n2016,care_beds,abc\n");
    pw_fixture_path(&fx, spool, sizeof(spool), "spool");
    char *args[] = {"planwatch", "collector", "--insecure", "--district", "jiangan", "--data",
                    bad, "--connect", "tcp://127.0.0.1:1", "--timeout", "1", "--spool", spool,
                    NULL};
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 1);
    cr_assert(strstr(err, "bad.csv:3:"), "%s", err);
    free(out);
    free(err);
}

Test(cli, bad_catalog_names_file_and_line)
{
    char bad[128];
    pw_fixture_path(&fx, bad, sizeof(bad), "catalog.conf");
    pw_fixture_write(
        bad, "[plan]\nname = x\nbase_year = 2015\ntarget_year = 2020\nalert_below = forty\n");
    char *args[] = {"planwatch", "aggregator", "--store", fx.store, "--catalog", bad, NULL};
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 1);
    cr_assert(strstr(err, "catalog.conf:5:"), "%s", err);
    free(out);
    free(err);
}

Test(cli, collector_without_aggregator_times_out_with_a_clear_error)
{
    char spool[128];
    pw_fixture_path(&fx, spool, sizeof(spool), "spool");
    char *args[] = {"planwatch", "collector", "--insecure", "--district", "jiangan", "--data",
                    PW_SOURCE_DIR "/data/wuhan/districts/jiangan.csv", "--connect",
                    "tcp://127.0.0.1:1", "--timeout", "1", "--spool", spool, NULL};
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 1);
    cr_assert(strstr(err, "no answer from the aggregator"), "%s", err);
    cr_assert(strstr(err, "114 updates kept in the spool"), "%s", err);
    free(out);
    free(err);
}
