/* SPDX-License-Identifier: MIT */
/*
 * Running as a service: --config files (the command line wins, errors name
 * file:line), --check-config (exit 0 or 1), daemons started from config files
 * alone, and journald priority prefixes when stderr is the journal.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"

PW_FIXTURE_SUITE(config, 60.0);

/* Runs planwatch with args (args[0] its name); its exit code, its stdout and
 * stderr in *out and *err (caller frees). */
static int run(char *const args[], char **out, char **err)
{
    int rc = pw_fixture_run(&fx, args + 1, 30000, out, err);
    cr_assert(*out && *err);
    return rc;
}

Test(config, check_config_prints_the_options_and_the_command_line_wins)
{
    char conf[128], text[512];
    snprintf(conf, sizeof(conf), "%s/agg.conf", fx.dir);
    snprintf(text, sizeof(text),
             "# the aggregator\n"
             "store = %s/store\n"
             "  bind = ipc://%s/a.sock   \n"
             "bind = ipc://%s/b.sock\n"
             "\n"
             "batch = 100\n"
             "metrics = %s/agg.prom\n",
             fx.dir, fx.dir, fx.dir, fx.dir);
    cr_assert_eq(pw_fixture_write(conf, text), 0, "%s", conf);
    char *args[] = {"planwatch", "aggregator", "--config", conf, "--check-config", NULL};
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char want[256];
    snprintf(want, sizeof(want), "bind = ipc://%s/a.sock\nbind = ipc://%s/b.sock\n", fx.dir,
             fx.dir);
    cr_assert(strstr(out, want), "repeated keys: %s", out);
    cr_assert(strstr(out, "configuration OK"), "%s", out);
    free(out);
    free(err);

    /* A --bind on the command line replaces every bind of the file. */
    char *args2[] = {"planwatch", "aggregator", "--bind", "tcp://127.0.0.1:7000", "--config",
                     conf, "--insecure", "--check-config", NULL};
    cr_assert_eq(run(args2, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "bind = tcp://127.0.0.1:7000\n"), "%s", out);
    cr_assert_null(strstr(out, "a.sock"), "%s", out);
    free(out);
    free(err);

    /* An abbreviation (getopt_long takes --bin for --bind) wins as well. */
    char *args3[] = {"planwatch", "aggregator", "--config", conf, "--bin", "tcp://127.0.0.1:7001",
                     "--insecure", "--check-config", NULL};
    cr_assert_eq(run(args3, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "bind = tcp://127.0.0.1:7001\n"), "%s", out);
    cr_assert_null(strstr(out, "a.sock"), "%s", out);
    free(out);
    free(err);
}

Test(config, errors_name_the_file_and_line)
{
    static const struct {
        const char *cmd, *line, *want;
    } cases[] = {
        {"aggregator", "bogus = 1", ":3: unknown key 'bogus'"},
        {"aggregator", "batch = lots", ":3: --batch wants a positive number"},
        {"aggregator", "batch", ":3: 'batch' needs a value"},
        {"aggregator", "log-level = loud", ":3: unknown log level 'loud'"},
        {"publisher", "help", ":3: unknown key 'help'"},
        {"collector", "follow = maybe", ":3: 'follow' is true or false"},
        {"collector", "period = 2018H3", ":3: bad --period '2018H3'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char conf[128], text[512];
        snprintf(conf, sizeof(conf), "%s/bad.conf", fx.dir);
        snprintf(text, sizeof(text), "# line 1\nstore = %s/store\n%s\n", fx.dir, cases[i].line);
        if (strcmp(cases[i].cmd, "collector") == 0)
            snprintf(text, sizeof(text), "district = jiangan\ndata = %s/x.csv\n%s\n", fx.dir,
                     cases[i].line);
        cr_assert_eq(pw_fixture_write(conf, text), 0, "%s", conf);
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "%s", cases[i].cmd);
        char *args[] = {"planwatch", cmd, "--config", conf, NULL};
        char *out, *err;
        cr_assert_eq(run(args, &out, &err), 2, "%s: %s", cases[i].line, err);
        char want[256];
        snprintf(want, sizeof(want), "%s%s", conf, cases[i].want);
        cr_assert(strstr(err, want), "%s: want '%s' in: %s", cases[i].line, want, err);
        free(out);
        free(err);
        /* With --check-config the answer is just "bad": 1. */
        char *check[] = {"planwatch", cmd, "--config", conf, "--check-config", NULL};
        cr_assert_eq(run(check, &out, &err), 1, "%s: %s", cases[i].line, err);
        free(out);
        free(err);
    }
}

Test(config, check_config_fails_on_a_bad_catalog_or_path)
{
    char conf[128], text[512], cat[128];
    snprintf(cat, sizeof(cat), "%s/catalog.conf", fx.dir);
    cr_assert_eq(pw_fixture_write(cat, "this is no catalog\n"), 0, "%s", cat);
    snprintf(conf, sizeof(conf), "%s/pub.conf", fx.dir);
    snprintf(text, sizeof(text), "store = %s/store\ncatalog = %s\n", fx.dir, cat);
    cr_assert_eq(pw_fixture_write(conf, text), 0, "%s", conf);
    char *args[] = {"planwatch", "publisher", "--config", conf, "--check-config", NULL};
    char *out, *err;
    cr_assert_eq(run(args, &out, &err), 1);
    cr_assert(strstr(err, cat), "%s", err);
    free(out);
    free(err);
    char *args2[] = {"planwatch",      "aggregator", "--store",
                     fx.dir,           "--metrics",  "/nonexistent/dir/agg.prom",
                     "--check-config", NULL};
    cr_assert_eq(run(args2, &out, &err), 1);
    cr_assert(strstr(err, "--metrics /nonexistent/dir/agg.prom"), "%s", err);
    free(out);
    free(err);
    char *args3[] = {"planwatch", "aggregator", "--config", "/nonexistent.conf", NULL};
    cr_assert_eq(run(args3, &out, &err), 1);
    cr_assert(strstr(err, "cannot read config /nonexistent.conf"), "%s", err);
    free(out);
    free(err);
}

Test(config, daemons_run_from_config_files_and_log_for_the_journal)
{
    char aconf[128], cconf[128], text[768], log[128];
    snprintf(aconf, sizeof(aconf), "%s/aggregator.conf", fx.dir);
    snprintf(cconf, sizeof(cconf), "%s/collector.conf", fx.dir);
    snprintf(text, sizeof(text), "store = %s/store\nbind = ipc://%s/agg.sock\nlog-level = debug\n",
             fx.dir, fx.dir);
    cr_assert_eq(pw_fixture_write(aconf, text), 0, "%s", aconf);
    snprintf(text, sizeof(text),
             "district = jiangan\ndata = %s/data/wuhan/districts/jiangan.csv\n"
             "connect = ipc://%s/agg.sock\nspool = %s/spool\nperiod = 2015\nperiod = 2016\n"
             "quiet = false\n",
             PW_SOURCE_DIR, fx.dir, fx.dir);
    cr_assert_eq(pw_fixture_write(cconf, text), 0, "%s", cconf);

    /* stderr is "the journal" when JOURNAL_STREAM names its device and inode. */
    snprintf(log, sizeof(log), "%s/agg.log", fx.dir);
    cr_assert_eq(pw_fixture_write(log, ""), 0, "%s", log);
    struct stat st;
    cr_assert_eq(stat(log, &st), 0);
    char stream[64];
    snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", stream, 1);
    char *aargs[] = {"planwatch", "aggregator", "--config", aconf, NULL};
    pw_proc_t agg;
    cr_assert_eq(pw_proc_spawn(&agg, PLANWATCH_BIN, aargs, log), 0);
    unsetenv("JOURNAL_STREAM");
    cr_assert_eq(pw_proc_wait_log(&agg, "INFO: ready", 20000), 0);

    char *cargs[] = {"planwatch", "collector", "--config", cconf, NULL};
    char *out, *err;
    cr_assert_eq(run(cargs, &out, &err), 0, "%s", err);
    /* Only the two periods of the config file: 2015 and 2016's lines. */
    cr_assert(strstr(out, "jiangan: 53 updates sent, 53 stored, 0 rejected"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(pw_proc_stop(&agg, 10000), 0);
    char *text_log = pw_read_file(log);
    cr_assert(text_log);
    cr_assert(strncmp(text_log, "<6>", 3) == 0 || strncmp(text_log, "<7>", 3) == 0, "%s",
              text_log);
    cr_assert(strstr(text_log, "\n<6>") && strstr(text_log, "INFO: ready"), "%s", text_log);
    for (const char *p = text_log; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
        cr_assert(*p == '<', "a line without its priority: %.80s", p);
    free(text_log);

    /* Without the journal, plain lines. */
    char plain[128];
    snprintf(plain, sizeof(plain), "%s/plain.log", fx.dir);
    cr_assert_eq(pw_proc_spawn(&agg, PLANWATCH_BIN, aargs, plain), 0);
    cr_assert_eq(pw_proc_wait_log(&agg, "INFO: ready", 20000), 0);
    cr_assert_eq(pw_proc_stop(&agg, 10000), 0);
    char *plain_log = pw_read_file(plain);
    cr_assert(plain_log && strncmp(plain_log, "20", 2) == 0, "%s", plain_log);
    free(plain_log);
}
