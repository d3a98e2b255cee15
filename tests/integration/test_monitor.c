/* SPDX-License-Identifier: MIT */
/*
 * What the bureau sees through planwatch monitor, with real processes:
 * per-district reporting status, a district's own figures, the alert log,
 * filters, alert detail, and alert hooks that never block the monitor.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "pw/util.h"

#define NREPORTERS PW_FIXTURE_NREPORTERS

static pw_fixture_t fx;

static void start_servers(void)
{
    cr_assert_eq(pw_fixture_use_tcp(&fx), 0);
    char *aargs[] = {"--insecure", NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, aargs), 0);
    char *pargs[] = {"--insecure", "--snapshot-bind", fx.snap, NULL};
    cr_assert_eq(pw_fixture_start_publisher(&fx, pargs), 0);
}

static void setup(void)
{
    cr_assert_eq(pw_fixture_open(&fx), 0);
    start_servers();
}

static void teardown(void)
{
    pw_fixture_close(&fx);
}

TestSuite(monitor, .init = setup, .fini = teardown, .timeout = 180.0);

/* Sends reporter i's data for one period (NULL: all), and waits. */
static void feed(int i, const char *period)
{
    char file[256], spool[128], id[32], per[16], *out, *err;
    snprintf(id, sizeof(id), "%s", pw_fixture_reporters[i]);
    pw_fixture_reporter_file(file, sizeof(file), i);
    snprintf(spool, sizeof(spool), "%s/spool-%s", fx.dir, pw_fixture_reporters[i]);
    snprintf(per, sizeof(per), "%s", period ? period : "");
    char *args[] = {"--insecure", period ? "--period" : NULL, per, NULL};
    cr_assert_eq(pw_fixture_collect(&fx, id, file, spool, args, &out, &err), 0, "collector %s", id);
    free(out);
    free(err);
}

static void feed_all_but(const char *skip_id, const char *skip_period)
{
    const char *periods[] = {"2015", "2016", "2017", "2018H1"};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < NREPORTERS; i++)
            if (!(skip_id && strcmp(pw_fixture_reporters[i], skip_id) == 0 &&
                  strcmp(periods[k], skip_period) == 0))
                feed(i, periods[k]);
}

/* Runs planwatch monitor with extra arguments; returns its stdout (caller frees). */
static char *monitor(char *const extra[], int want_rc)
{
    char *args[32] = {"monitor", "--insecure", "--connect", fx.stream, "--snapshot", fx.snap};
    int n = 6;
    for (int i = 0; extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    char *out, *err;
    int rc = pw_fixture_run(&fx, args, 30000, &out, &err);
    free(err);
    cr_assert_eq(rc, want_rc, "monitor exit %d", rc);
    return out;
}

Test(monitor, status_names_who_has_not_reported_what)
{
    feed_all_but("xinzhou", "2018H1");
    char *text = monitor((char *[]){"--status", "--once", "--json", NULL}, 0);
    cr_assert_eq(pw_count(text, "{\"district\":"), NREPORTERS, "%s", text);
    char *line = strstr(text, "{\"district\":\"xinzhou\"");
    cr_assert_not_null(line);
    char buf[4096];
    cr_assert(pw_json_get(line, "period", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "2018H1");
    cr_assert(pw_json_get(line, "complete", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "false");
    cr_assert(pw_json_get(line, "reported", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "0");
    cr_assert(strstr(line, "\"care_beds\"") && strstr(line, "\"elderly\""), "%s", line);
    line = strstr(text, "{\"district\":\"hongshan\"");
    cr_assert(pw_json_get(line, "complete", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "true");
    cr_assert(pw_json_get(line, "last_seq", buf, sizeof(buf)));
    cr_assert_gt(atoi(buf), 0);
    cr_assert(pw_json_get(line, "spool_lag", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "0", "everything it spooled is committed");
    free(text);
    /* The provisional period shows xinzhou missing, and opens no alert. */
    text = monitor((char *[]){"--once", "--json", "--indicator", "beds_per_1000_elderly",
                              NULL},
                   0);
    cr_assert(strstr(text, "\"complete\":\"12/13\"") && strstr(text, "\"provisional\":true"),
              "%s", text);
    free(text);
    /* For people: a table naming the late reporter. */
    text = monitor((char *[]){"--status", "--once", NULL}, 0);
    cr_assert(strstr(text, "xinzhou") && strstr(text, "0/31"), "%s", text);
    free(text);
}

Test(monitor, district_figures_alert_log_filters_and_detail)
{
    feed_all_but(NULL, NULL);
    /* hongshan's own beds per 1 000 elderly, from its own elements only. */
    char *text = monitor((char *[]){"--district", "hongshan", "--once", "--json", "--indicator",
                                    "beds_per_1000_elderly", NULL},
                         0);
    char value[64];
    cr_assert(pw_json_get(text, "value", value, sizeof(value)), "%s", text);
    cr_assert_str_eq(value, "31.1", "hongshan's own ratio: %s", text);
    cr_assert(strstr(text, "\"complete\":\"1/1\""));
    free(text);

    /* The alert log: every open and resolve, with the detail. */
    text = monitor((char *[]){"--since", "1h", "--once", "--json", NULL}, 0);
    cr_assert_eq(pw_count(text, "\"alert\":\"open\""), 3, "%s", text);
    cr_assert_eq(pw_count(text, "\"alert\":\"resolve\""), 2, "%s", text);
    char *beds = strstr(text, "\"alert\":\"open\",\"indicator\":\"beds_per_1000_elderly\"");
    cr_assert_not_null(beds);
    char buf[512];
    cr_assert(pw_json_get(beds, "planned", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "39.6", "planned at 2016: 37 + 13 * 0.2");
    cr_assert(pw_json_get(beds, "target", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "50");
    cr_assert(pw_json_get(beds, "needed_per_period", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "3.15", "(50 - 37.4) / 4 years");
    cr_assert(strstr(beds, "\"top_districts\":[{\"district\":\"hongshan\""), "%s", beds);
    free(text);
    text = monitor((char *[]){"--since", "2999-01-01", "--once", "--json", NULL}, 0);
    cr_assert_eq(pw_count(text, "\"alert\""), 0, "nothing since the future");
    free(text);

    /* Filters: the severe band holds only the headline indicator. */
    text = monitor((char *[]){"--band", "severe", "--once", "--json", NULL}, 0);
    cr_assert_eq(pw_count(text, "{\"indicator\""), 1, "%s", text);
    cr_assert(strstr(text, "beds_per_1000_elderly"));
    free(text);
    text = monitor((char *[]){"--category", "elderly_care", "--once", "--json", NULL}, 0);
    cr_assert_eq(pw_count(text, "{\"indicator\""), 5, "rows 17-21: %s", text);
    free(text);
    text = monitor((char *[]){"--band", "purple", "--once", NULL}, 2);
    free(text);
    text = monitor((char *[]){"--district", "atlantis", "--once", NULL}, 2);
    free(text);
}

Test(monitor, exec_hook_gets_every_alert_and_a_slow_one_blocks_nothing)
{
    char hooked[128], slow[128], out[128], log[128], cmd[512], slowcmd[512];
    snprintf(hooked, sizeof(hooked), "%s/hooked.jsonl", fx.dir);
    snprintf(slow, sizeof(slow), "%s/slow.jsonl", fx.dir);
    snprintf(out, sizeof(out), "%s/live.out", fx.dir);
    snprintf(log, sizeof(log), "%s/live.log", fx.dir);
    snprintf(cmd, sizeof(cmd), "cat >> %s", hooked);
    /* A gateway that takes 90 s per message must not delay anything. */
    snprintf(slowcmd, sizeof(slowcmd), "sleep 90; cat >> %s", slow);
    pw_proc_t fast, stuck;
    char *a1[] = {"planwatch", "monitor", "--insecure", "--connect", fx.stream, "--snapshot",
                  fx.snap,     "--json",  "--exec",     cmd,         NULL};
    char *a2[] = {"planwatch", "monitor", "--insecure", "--connect", fx.stream, "--snapshot",
                  fx.snap,     "--json",  "--exec",     slowcmd,     NULL};
    cr_assert_eq(pw_proc_spawn(&fast, PLANWATCH_BIN, a1, out), 0);
    cr_assert_eq(pw_proc_spawn(&stuck, PLANWATCH_BIN, a2, log), 0);
    usleep(500000);
    int64_t t0 = pw_mono_ms();
    feed_all_but(NULL, NULL);
    /* Both monitors print all five alert events promptly. */
    int64_t deadline = pw_mono_ms() + 20000;
    char *a = NULL, *b = NULL, *h = NULL;
    while (pw_mono_ms() < deadline) {
        free(a);
        free(b);
        free(h);
        a = pw_read_file(out);
        b = pw_read_file(log);
        h = pw_read_file(hooked);
        if (a && b && h && pw_count(a, "\"alert\":") == 5 && pw_count(b, "\"alert\":") == 5 &&
            pw_count(h, "\"alert\":") == 5)
            break;
        usleep(100000);
    }
    /* A monitor that waited for its gateway could not print a second alert
     * before the first one's 90 s were over: when all five are printed, the
     * slow gateway has finished none (a causal check, not a clock one, so a
     * loaded machine does not fail it). */
    char *done = pw_read_file(slow);
    int handled = done ? pw_count(done, "\"alert\":") : 0;
    free(done);
    cr_assert(h && pw_count(h, "\"alert\":") == 5, "the hook got every alert: %s", h);
    cr_assert(b && pw_count(b, "\"alert\":") == 5, "the slow hook blocked nothing: %s", b);
    cr_assert_eq(handled, 0, "printed before the slow gateway finished any (%lld ms)",
                 (long long)(pw_mono_ms() - t0));
    cr_assert(strstr(h, "\"top_districts\""), "the hook gets the detail");
    free(a);
    free(b);
    free(h);
    cr_assert_eq(pw_proc_stop(&fast, 5000), 0);
    cr_assert_eq(pw_proc_stop(&stuck, 5000), 0, "exits without waiting for its gateway");
}
