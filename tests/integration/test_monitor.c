/* SPDX-License-Identifier: MIT */
/*
 * What the bureau sees through planwatch monitor, with real processes:
 * per-district reporting status, a district's own figures, the alert log,
 * filters, alert detail, alert hooks that never block the monitor, and the
 * bureau's follow-up beside the open alerts (monitor and report --followup).
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "followup.h"
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

/* The indicator[/series] of the first open alert in monitor's text, into ind and series. */
static void first_open_alert(const char *text, char *ind, char *series)
{
    const char *line = strstr(text, "ALERT OPEN");
    cr_assert_not_null(line, "an alert is open: %s", text);
    line += strlen("ALERT OPEN");
    while (*line == ' ')
        line++;
    size_t n = strcspn(line, " /");
    cr_assert_lt(n, (size_t)PW_ID_MAX);
    memcpy(ind, line, n);
    ind[n] = '\0';
    series[0] = '\0';
    if (line[n] == '/') {
        size_t m = strcspn(line + n + 1, " ");
        cr_assert_lt(m, (size_t)PW_ID_MAX);
        memcpy(series, line + n + 1, m);
        series[m] = '\0';
    }
}

Test(monitor, followup_shows_beside_open_alerts_and_in_the_report)
{
    for (int i = 0; i < NREPORTERS; i++)
        feed(i, NULL);
    char *text = monitor((char *[]){"--once", NULL}, 0);
    char ind[PW_ID_MAX], series[PW_ID_MAX];
    first_open_alert(text, ind, series);
    free(text);

    /* What planwatch web would record, written here through the library. */
    char fudir[192], key[PW_FU_KEY_MAX];
    pw_fixture_path(&fx, fudir, sizeof(fudir), "followup");
    pw_followup_t *fu = NULL;
    cr_assert_eq(pw_followup_open(fudir, true, &fu), 0);
    pw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = PW_EV_ALERT;
    ev.action = PW_ALERT_OPEN;
    snprintf(ev.indicator, sizeof(ev.indicator), "%s", ind);
    snprintf(ev.series, sizeof(ev.series), "%s", series);
    cr_assert_eq(pw_period_parse("2018H1", 6, &ev.period), 0);
    pw_fu_alert_t a;
    int64_t t = 1796119320000; /* 2026-12-01T10:02:00Z */
    cr_assert_eq(pw_followup_observe(fu, &ev, t - 3600000, NULL, &a), 0);
    snprintf(key, sizeof(key), "%s", a.key);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ACK, "wang", NULL, t), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_ASSIGN, "wang", "养老服务处", t + 60000), 0);
    cr_assert_eq(pw_followup_act(fu, key, PW_FU_COMMENT, "li", "已电话核实 <b>", t + 120000), 0);

    /* The monitor reads it while this process still holds it for writing, as web would. */
    text = monitor((char *[]){"--once", "--followup", fudir, NULL}, 0);
    cr_assert(strstr(text, "[acknowledged by wang 2026-12-01 10:02; assigned to 养老服务处; "
                           "1 comment]"),
              "%s", text);
    free(text);
    char nodir[192];
    pw_fixture_path(&fx, nodir, sizeof(nodir), "nofollowup");
    free(monitor((char *[]){"--once", "--followup", nodir, NULL}, 2));

    /* The report: the section with the state and the whole log, in text and HTML. */
    char *out, *err;
    char *rargs[] = {"report", "--store", fx.store, "--followup", fudir, NULL};
    int rc = pw_fixture_run(&fx, rargs, 60000, &out, &err);
    cr_assert_eq(rc, 0, "report: %s", err);
    const char *sec = strstr(out, "跟进 Follow-up");
    cr_assert_not_null(sec, "%s", out);
    cr_assert(strstr(sec, key), "%s", sec);
    cr_assert(strstr(sec, "acknowledged by wang 2026-12-01 10:02; assigned to 养老服务处"), "%s",
              sec);
    cr_assert(strstr(sec, "2026-12-01 10:04  li         comment  已电话核实 <b>"), "%s", sec);
    free(out);
    free(err);
    char html[192];
    pw_fixture_path(&fx, html, sizeof(html), "report.html");
    char *hargs[] = {"report", "--store", fx.store, "--followup", fudir, "--html", html, NULL};
    rc = pw_fixture_run(&fx, hargs, 60000, &out, &err);
    cr_assert_eq(rc, 0, "report --html: %s", err);
    free(out);
    free(err);
    char *page = pw_read_file(html);
    cr_assert_not_null(page);
    cr_assert(strstr(page, "<section class='followup'>"), "the section is in the page");
    cr_assert(strstr(page, "已电话核实 &lt;b&gt;") && !strstr(page, "已电话核实 <b>"),
              "comments are escaped");
    free(page);
    char *bad[] = {"report", "--store", fx.store, "--followup", nodir, NULL};
    cr_assert_eq(pw_fixture_run(&fx, bad, 60000, &out, &err), 2);
    cr_assert(strstr(err, "follow-up"), "%s", err);
    free(out);
    free(err);
    pw_followup_destroy(&fu);
}

Test(monitor, followup_member_on_live_json_alerts)
{
    char fudir[192], out[192];
    pw_fixture_path(&fx, fudir, sizeof(fudir), "followup");
    pw_fixture_path(&fx, out, sizeof(out), "live.out");
    pw_followup_t *fu = NULL;
    cr_assert_eq(pw_followup_open(fudir, true, &fu), 0);
    pw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = PW_EV_ALERT;
    ev.action = PW_ALERT_OPEN;
    snprintf(ev.indicator, sizeof(ev.indicator), "beds_per_1000_elderly");
    cr_assert_eq(pw_period_parse("2016", 4, &ev.period), 0);
    pw_fu_alert_t a;
    cr_assert_eq(pw_followup_observe(fu, &ev, 1796119320000, NULL, &a), 0);
    cr_assert_eq(pw_followup_act(fu, a.key, PW_FU_ACK, "wang", NULL, 1796119320000), 0);

    pw_proc_t mon;
    char *args[] = {"planwatch", "monitor", "--insecure", "--connect", fx.stream, "--snapshot",
                    fx.snap,     "--json",  "--followup", fudir,       NULL};
    cr_assert_eq(pw_proc_spawn(&mon, PLANWATCH_BIN, args, out), 0);
    usleep(500000);
    for (int i = 0; i < NREPORTERS; i++)
        feed(i, NULL);
    int64_t deadline = pw_mono_ms() + 20000;
    char *text = NULL;
    const char *line = NULL;
    while (!line && pw_mono_ms() < deadline) {
        free(text);
        usleep(100000);
        text = pw_read_file(out);
        line = text ? strstr(text, "{\"alert\":\"open\",\"indicator\":\"beds_per_1000_elderly\"")
                    : NULL;
    }
    cr_assert_not_null(line, "%s", text);
    cr_assert(strstr(line, ",\"followup\":{\"key\":\"beds_per_1000_elderly#1\",\"state\":"
                           "\"acknowledged\",\"assignee\":null,\"acked_by\":\"wang\","
                           "\"acked_ms\":1796119320000,\"escalated\":false,\"comments\":0,"
                           "\"silenced_until\":null}"),
              "%s", line);
    free(text);
    cr_assert_eq(pw_proc_stop(&mon, 5000), 0);
    pw_followup_destroy(&fu);
}
