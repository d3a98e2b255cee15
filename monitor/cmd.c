/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "command.h"
#include "monitor.h"
#include "client.h"
#include "followup_view.h"
#include "hook.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"
#include "view.h"

static const char usage_text[] =
    "usage: planwatch monitor [options]\n"
    "\n"
    "Shows the central bureau the evaluation table (indicator, base, target,\n"
    "value, progress rate, band, reporters in) and the open alerts, then follows\n"
    "the live stream. On a terminal the table redraws itself as figures change;\n"
    "otherwise each alert is printed as it opens or resolves. Runs until\n"
    "interrupted, or prints once with --once.\n"
    "\n"
    "options:\n"
    "  --connect ENDPOINT   the publisher's event stream (default tcp://127.0.0.1:5560)\n"
    "  --snapshot ENDPOINT  its snapshot endpoint (default: the stream's port + 1)\n"
    "  --catalog FILE       for a publisher whose store does not record its plan\n"
    "                       (older stores): the catalog for names and targets\n"
    "                       (default: the Wuhan plan's). Otherwise the plan the\n"
    "                       publisher serves is used; a FILE that is not it is an error\n"
    "  --period P           the table's period (default: the latest with data)\n"
    "  --category C         only indicators of this category (e.g. elderly_care)\n"
    "  --indicator ID       only this indicator\n"
    "  --band B             only rows and alerts in this band: severe, lagging, on_track\n"
    "  --district ID        that reporter's own figures instead of the city's\n"
    "  --status             each reporter's connection, last sequence, spool lag and\n"
    "                       the elements it has not reported yet for the period\n"
    "  --since WHEN         first print the alerts since WHEN: 2018-07-01,\n"
    "                       2018-07-01T08:00:00Z, or an age: 90m, 12h, 7d\n"
    "  --exec CMD           run `sh -c CMD` for each alert that opens or resolves, with\n"
    "                       the alert as JSON on its stdin; never waits for it\n"
    "  --followup DIR       the bureau's follow-up (planwatch web's DATADIR/followup,\n"
    "                       read-only): each open alert of the table and each live\n"
    "                       alert line shows it, e.g. [acknowledged by wang\n"
    "                       2026-12-04 10:02; assigned to 养老服务处; 2 comments],\n"
    "                       [new, escalated], [silenced until 2026-12-31] (times\n"
    "                       UTC); --json alerts get a \"followup\" member. Default:\n"
    "                       $PLANWATCH_FOLLOWUP when set; a DIR without one is an error\n"
    "  --once               print once and exit\n"
    "  --json               JSON lines instead of text: one object per indicator\n"
    "                       series (or reporter with --status), then one per event\n"
    "  --timeout SEC        how long to wait for the publisher (default 10); a\n"
    "                       timeout says when handshakes failed (keys at fault)\n"
    "  --keys DIR           CURVE: authenticate as the desk key DIR/desks/DESK.secret\n"
    "                       to the publisher key DIR/publisher.pub\n"
    "  --desk NAME          the desk key to use (default bureau)\n"
    "  --insecure           allow tcp:// without CURVE (loopback experiments only)\n"
    "  -h, --help           this text\n";

#define PLAN_CHECK_MS 5000  /* how often a running monitor asks whether the plan was revised */

struct mon {
    const pw_catalog_t *cat;
    pw_catalog_t *revised; /* a revision of the plan read since the start; owned */
    pw_client_t *client;
    pw_view_t *view;
    pw_hook_t *hook;
    pw_followup_t *fu; /* the bureau's follow-up, read-only; NULL without --followup */
    uint64_t fu_seen;  /* its generation when the screen was last drawn */
    bool json, color, live_table, have_period;
    pw_period_t period;
    char alerts[8][1024]; /* the latest alert lines, under a redrawn table */
    size_t nalerts;
    bool dirty;
    pw_view_filter_t filter;
    char *buf;
    size_t buflen;
};

/*
 * Asks the publisher for its plan; when the store has recorded a revision
 * since this monitor started, reads the table with it from a new snapshot,
 * so bases and targets are never the old plan's.
 */
static int follow_plan(struct mon *m, int timeout_ms)
{
    pw_request_t req = {.type = PW_REQ_PLAN};
    pw_reply_t rep = {0}, snap = {0};
    pw_catalog_t *cat = NULL;
    pw_view_t *view = NULL;
    char err[512] = "";
    int rc = pw_client_request(m->client, &req, timeout_ms, &rep);
    if (rc != 0 || !rep.plan ||
        (rep.plan_len == m->cat->text_len && memcmp(rep.plan, m->cat->text, rep.plan_len) == 0))
        goto out;
    if ((rc = pw_catalog_parse("the publisher's plan", rep.plan, rep.plan_len, &cat, err,
                               sizeof(err))) != 0) {
        fprintf(stderr, "planwatch monitor: %s\n", err[0] ? err : pw_strerror(rc));
        goto out;
    }
    if ((rc = pw_view_new(cat, &view)) != 0 ||
        (rc = pw_client_snapshot(m->client, timeout_ms, &snap)) != 0 ||
        (rc = pw_view_load(view, &snap)) != 0)
        goto out;
    pw_view_set_filter(view, &m->filter);
    pw_view_set_followup(view, m->fu);
    fprintf(stderr, "planwatch monitor: the plan was revised: now \"%s\"\n", cat->name);
    pw_view_destroy(&m->view);
    m->view = view;
    view = NULL;
    pw_catalog_destroy(&m->revised);
    m->cat = m->revised = cat;
    cat = NULL;
    m->dirty = true;
out:
    pw_view_destroy(&view);
    pw_catalog_destroy(&cat);
    pw_reply_clear(&rep);
    pw_reply_clear(&snap);
    return rc;
}

/* An alert event as one JSON line, for the hook. */
static void fire_hook(struct mon *m, const pw_event_t *ev)
{
    FILE *f = open_memstream(&m->buf, &m->buflen);
    if (!f)
        return;
    pw_view_print_event_json(m->cat, ev, f);
    fclose(f);
    if (m->buflen > 0 && pw_hook_fire(m->hook, m->buf, m->buflen) != 0)
        fprintf(stderr, "planwatch monitor: --exec queue full: alert on %s dropped\n",
                ev->indicator);
    free(m->buf);
    m->buf = NULL;
}

/* An alert line, with its follow-up when there is one. */
static void print_alert(struct mon *m, const pw_event_t *ev, FILE *out)
{
    char note[PW_FU_TEXT_MAX + 256] = "";
    pw_view_fmt_followup(m->fu, ev, pw_now_ms(), note, sizeof(note));
    pw_view_print_alert_note(m->cat, ev, out, m->color, note);
}

/* Keeps the latest alert lines for the redrawn screen. */
static void remember_alert(struct mon *m, const pw_event_t *ev)
{
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f)
        return;
    print_alert(m, ev, f);
    fclose(f);
    size_t n = sizeof(m->alerts) / sizeof(m->alerts[0]);
    if (m->nalerts == n) {
        memmove(m->alerts, m->alerts + 1, (n - 1) * sizeof(m->alerts[0]));
        m->nalerts--;
    }
    snprintf(m->alerts[m->nalerts++], sizeof(m->alerts[0]), "%s", line);
    free(line);
}

static int on_event(void *ctx, const pw_event_t *ev)
{
    struct mon *m = ctx;
    pw_view_apply(m->view, ev);
    if (!pw_view_matches(m->view, ev))
        return 0;
    bool transition = ev->type == PW_EV_ALERT && ev->action != PW_ALERT_UPDATE;
    if (m->hook && transition)
        fire_hook(m, ev);
    if (m->json)
        pw_view_print_event_json_fu(m->cat, ev, stdout, m->fu);
    else if (m->live_table && ev->type == PW_EV_ALERT)
        remember_alert(m, ev);
    else if (ev->type == PW_EV_ALERT)
        print_alert(m, ev, stdout);
    m->dirty = true;
    fflush(stdout);
    return 0;
}

/* The screen of a refreshing monitor: table, then the latest alerts. */
static void redraw(struct mon *m)
{
    pw_period_t p = m->period;
    if (!m->have_period && !pw_view_latest_period(m->view, &p)) {
        fputs("\033[H\033[2Jno data yet\n", stdout);
        return;
    }
    fputs("\033[H\033[2J", stdout);
    pw_view_print_table(m->view, stdout, p, m->color);
    if (m->nalerts)
        fputs("\nLatest alerts:\n", stdout);
    for (size_t i = 0; i < m->nalerts; i++)
        fputs(m->alerts[i], stdout);
    char when[32];
    pw_format_time(pw_now_ms(), when);
    printf("\n%s  event %llu  (Ctrl-C to quit)\n", when,
           (unsigned long long)pw_client_seq(m->client));
    fflush(stdout);
    m->dirty = false;
}

/* "2018-07-01", "2018-07-01T08:00:00Z" or an age ("90m", "12h", "7d"): unix ms. */
static int parse_since(const char *text, int64_t *out)
{
    size_t n = strlen(text);
    char unit = n ? text[n - 1] : 0;
    if (n > 1 && strchr("smhd", unit)) {
        char *end;
        long v = strtol(text, &end, 10);
        if (end != text + n - 1 || v < 0)
            return -1;
        long mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
        *out = pw_now_ms() - (int64_t)v * mult * 1000;
        return 0;
    }
    return pw_parse_time(text, out);
}

static int print_since(struct mon *m, int64_t since, int timeout_ms)
{
    pw_request_t req = {.type = PW_REQ_ALERTS, .from = (uint64_t)since};
    pw_reply_t rep = {0};
    int rc = pw_client_request(m->client, &req, timeout_ms, &rep);
    if (rc != 0)
        return rc;
    char when[32];
    pw_format_time(since, when);
    if (!m->json)
        printf("Alerts since %s: %zu\n", when, rep.nevents);
    for (size_t i = 0; i < rep.nevents; i++) {
        if (!pw_view_matches(m->view, &rep.events[i]))
            continue;
        if (m->json)
            pw_view_print_event_json(m->cat, &rep.events[i], stdout);
        else {
            pw_format_time(rep.events[i].time_ms, when);
            printf("%s", when);
            pw_view_print_alert(m->cat, &rep.events[i], stdout, m->color);
        }
    }
    pw_reply_clear(&rep);
    return 0;
}

static int show_status(struct mon *m, int timeout_ms)
{
    pw_request_t req = {.type = PW_REQ_STATUS, .has_period = m->have_period,
                        .period = m->period};
    pw_reply_t rep = {0};
    int rc = pw_client_request(m->client, &req, timeout_ms, &rep);
    if (rc == 0)
        pw_view_print_status(m->cat, &rep, stdout, m->json, m->color);
    pw_reply_clear(&rep);
    fflush(stdout);
    return rc;
}

static int show_district(struct mon *m, const char *district, int timeout_ms)
{
    pw_request_t req = {.type = PW_REQ_DISTRICT, .has_period = m->have_period,
                        .period = m->period};
    snprintf(req.district, sizeof(req.district), "%s", district);
    pw_reply_t rep = {0};
    pw_view_t *dv = NULL;
    int rc = pw_client_request(m->client, &req, timeout_ms, &rep);
    if (rc == 0 && (rc = pw_view_new(m->cat, &dv)) == 0 && (rc = pw_view_load(dv, &rep)) == 0) {
        int d = pw_catalog_district(m->cat, district, strlen(district));
        char title[256];
        snprintf(title, sizeof(title), "Own figures of %s (%s)", m->cat->districts[d].name_zh,
                 district);
        pw_view_set_title(dv, title);
        pw_view_set_filter(dv, &m->filter);
        if (m->json)
            pw_view_print_json(dv, stdout, rep.period);
        else
            pw_view_print_table(dv, stdout, rep.period, m->color);
    }
    pw_view_destroy(&dv);
    pw_reply_clear(&rep);
    fflush(stdout);
    return rc;
}

static void print_table(struct mon *m)
{
    pw_period_t p = m->period;
    bool any = m->have_period || pw_view_latest_period(m->view, &p);
    if (!any)
        fprintf(m->json ? stderr : stdout, "no data yet\n");
    else if (m->json)
        pw_view_print_json(m->view, stdout, p);
    else
        pw_view_print_table(m->view, stdout, p, m->color);
    fflush(stdout);
}

/* The command's options. */
struct mon_cmd {
    const char *connect, *snap, *catalog_path, *district, *exec_cmd, *since_text, *followup;
    char why[192];
    pw_client_auth_t auth;
    bool once, status, json, have_period, followup_from_env;
    pw_period_t period;
    pw_view_filter_t filter;
    int64_t since;
    int timeout_ms;
};

static int take_option(void *p, int c, const char *arg)
{
    struct mon_cmd *o = p;
    switch (c) {
    case 'p':
        if (pw_period_parse(arg, strlen(arg), &o->period) != 0) {
            fprintf(stderr, "planwatch monitor: bad --period '%s'\n", arg);
            return 2;
        }
        o->have_period = true;
        return 0;
    case 't':
        o->timeout_ms = atoi(arg) * 1000;
        if (o->timeout_ms <= 0) {
            fprintf(stderr, "planwatch monitor: --timeout wants a positive number\n");
            return 2;
        }
        return 0;
    case 'b':
        if ((o->filter.band = pw_band_parse(arg)) == PW_BAND_NONE) {
            fprintf(stderr, "planwatch monitor: --band is severe, lagging or on_track\n");
            return 2;
        }
        return 0;
    default:
        return PW_CLI_USAGE;
    }
}

static int finish(void *p, int nargs, char **args)
{
    struct mon_cmd *o = p;
    (void)args;
    if (o->since_text && parse_since(o->since_text, &o->since) != 0) {
        fprintf(stderr, "planwatch monitor: bad --since '%s' (2018-07-01, "
                        "2018-07-01T08:00:00Z, 90m, 12h, 7d)\n",
                o->since_text);
        return 2;
    }
    return nargs != 0 ? PW_CLI_USAGE : 0;
}

/* --district and --indicator must be the plan's: 0, or 2 when one is not. */
static int check_names(const struct mon_cmd *o, const pw_catalog_t *cat)
{
    if (o->district && pw_catalog_district(cat, o->district, strlen(o->district)) < 0) {
        fprintf(stderr, "planwatch monitor: unknown district '%s'\n", o->district);
        return 2;
    }
    if (o->filter.indicator &&
        pw_catalog_indicator(cat, o->filter.indicator, strlen(o->filter.indicator)) < 0) {
        fprintf(stderr, "planwatch monitor: unknown indicator '%s'\n", o->filter.indicator);
        return 2;
    }
    return 0;
}

/* The view, the hook and the client, from a first snapshot; then the first screen. */
static int open_view(struct mon *m, const struct mon_cmd *o)
{
    pw_reply_t snapshot = {0};
    int rc = pw_view_new(m->cat, &m->view);
    if (rc == 0) {
        m->filter = o->filter;
        pw_view_set_filter(m->view, &o->filter);
        pw_view_set_followup(m->view, m->fu);
        if (o->exec_cmd)
            rc = pw_hook_new(o->exec_cmd, 8, &m->hook);
    }
    if (rc == 0 && (rc = pw_client_new(o->connect, o->snap, &o->auth, &m->client)) != 0)
        fprintf(stderr, "planwatch monitor: cannot connect to %s: %s\n", o->connect,
                pw_strerror(rc));
    if (rc == 0 && (rc = pw_client_snapshot(m->client, o->timeout_ms, &snapshot)) != 0)
        fprintf(stderr, "planwatch monitor: no snapshot from the publisher at %s: %s%s%s\n",
                o->connect, pw_strerror(rc), o->why[0] ? ": " : "", o->why);
    if (rc == 0)
        rc = pw_view_load(m->view, &snapshot);
    pw_reply_clear(&snapshot);
    if (rc == 0 && o->since_text)
        rc = print_since(m, o->since, o->timeout_ms);
    if (rc == 0 && o->status)
        rc = show_status(m, o->timeout_ms);
    else if (rc == 0 && o->district)
        rc = show_district(m, o->district, o->timeout_ms);
    else if (rc == 0 && m->live_table)
        redraw(m);
    else if (rc == 0 && !o->since_text)
        print_table(m);
    return rc;
}

/* Follows the stream until stopped (or at once with --once). */
static int follow(struct mon *m, const struct mon_cmd *o)
{
    int rc = 0;
    int64_t next_refresh = pw_mono_ms() + 2000, next_plan = pw_mono_ms() + PLAN_CHECK_MS;
    while (rc == 0 && !o->once && !pw_cli_stop) {
        rc = pw_client_poll(m->client, 200, on_event, m);
        if (rc == 0 && pw_mono_ms() >= next_plan) {
            rc = follow_plan(m, o->timeout_ms);
            next_plan = pw_mono_ms() + PLAN_CHECK_MS;
        }
        if (m->hook)
            pw_hook_poll(m->hook);
        /* Status and a district's figures are answers, not a stream: ask again. */
        if (rc == 0 && (o->status || o->district) && pw_mono_ms() >= next_refresh) {
            if (m->color)
                fputs("\033[H\033[2J", stdout);
            rc = o->status ? show_status(m, o->timeout_ms)
                           : show_district(m, o->district, o->timeout_ms);
            next_refresh = pw_mono_ms() + 2000;
        }
        /* What the bureau did shows without waiting for the next event. */
        if (m->fu && pw_followup_generation(m->fu) != m->fu_seen) {
            m->fu_seen = pw_followup_generation(m->fu);
            m->dirty = true;
        }
        if (rc == 0 && m->live_table && m->dirty)
            redraw(m);
    }
    return rc;
}

/* Says what --exec's commands did, when some failed or were dropped. */
static void hook_summary(struct mon *m)
{
    size_t started, failed, dropped;
    pw_hook_poll(m->hook);
    pw_hook_counts(m->hook, &started, &failed, &dropped);
    if (failed || dropped)
        fprintf(stderr, "planwatch monitor: --exec ran %zu times, %zu failed, %zu dropped\n",
                started, failed, dropped);
}

/* The monitor once its options are read: the exit status. */
static int monitor(const struct mon_cmd *o)
{
    pw_log_init("monitor", PW_LOG_WARN);
    pw_cli_signals();
    /* Opened before the publisher is asked anything: a wrong DIR is a usage error, said at once. */
    pw_followup_t *fu = NULL;
    int frc = o->followup ? pw_followup_open(o->followup, false, &fu) : 0;
    if (frc != 0) {
        fprintf(stderr, "planwatch monitor: cannot read the follow-up %s%s: %s%s\n", o->followup,
                o->followup_from_env ? " ($PLANWATCH_FOLLOWUP)" : "", pw_strerror(frc),
                frc == -ENOENT ? " (planwatch web creates it)" : "");
        return 2;
    }
    pw_catalog_t *cat = NULL;
    if (pw_client_catalog("monitor", o->connect, o->snap, &o->auth, o->catalog_path,
                          o->timeout_ms, &cat) != 0) {
        pw_followup_destroy(&fu);
        return 1;
    }
    int status = check_names(o, cat);
    if (status != 0) {
        pw_followup_destroy(&fu);
        pw_catalog_destroy(&cat);
        return status;
    }
    struct mon m;
    memset(&m, 0, sizeof(m));
    m.cat = cat;
    m.fu = fu;
    m.fu_seen = fu ? pw_followup_generation(fu) : 0;
    m.json = o->json;
    m.have_period = o->have_period;
    m.period = o->period;
    m.color = !m.json && isatty(STDOUT_FILENO);
    /* A terminal gets a table that redraws itself; a pipe gets lines. */
    m.live_table = m.color && !o->once && !o->status && !o->district && !o->since_text;
    int rc = open_view(&m, o);
    if (rc == 0)
        rc = follow(&m, o);
    if (m.hook)
        hook_summary(&m);
    pw_hook_destroy(&m.hook);
    pw_client_destroy(&m.client);
    pw_view_destroy(&m.view);
    pw_catalog_destroy(&m.revised);
    pw_catalog_destroy(&cat);
    pw_followup_destroy(&m.fu);
    return rc == 0 ? 0 : 1;
}

int pw_cmd_monitor(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"connect", required_argument, 0, 'c'},  {"snapshot", required_argument, 0, 's'},
        {"catalog", required_argument, 0, 'C'},  {"period", required_argument, 0, 'p'},
        {"once", no_argument, 0, 'o'},           {"json", no_argument, 0, 'j'},
        {"timeout", required_argument, 0, 't'},  {"category", required_argument, 0, 'g'},
        {"indicator", required_argument, 0, 'i'}, {"band", required_argument, 0, 'b'},
        {"district", required_argument, 0, 'd'}, {"status", no_argument, 0, 'S'},
        {"since", required_argument, 0, 'w'},    {"exec", required_argument, 0, 'x'},
        {"keys", required_argument, 0, 'k'},     {"desk", required_argument, 0, 'D'},
        {"insecure", no_argument, 0, 'I'},       {"followup", required_argument, 0, 'F'},
        {"help", no_argument, 0, PW_CLI_HELP},   {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'c', offsetof(struct mon_cmd, connect)},
        {'F', offsetof(struct mon_cmd, followup)},
        {'s', offsetof(struct mon_cmd, snap)},
        {'k', offsetof(struct mon_cmd, auth.keys_dir)},
        {'D', offsetof(struct mon_cmd, auth.desk)},
        {'I', offsetof(struct mon_cmd, auth.insecure)},
        {'C', offsetof(struct mon_cmd, catalog_path)},
        {'o', offsetof(struct mon_cmd, once)},
        {'j', offsetof(struct mon_cmd, json)},
        {'g', offsetof(struct mon_cmd, filter.category)},
        {'i', offsetof(struct mon_cmd, filter.indicator)},
        {'d', offsetof(struct mon_cmd, district)},
        {'S', offsetof(struct mon_cmd, status)},
        {'w', offsetof(struct mon_cmd, since_text)},
        {'x', offsetof(struct mon_cmd, exec_cmd)},
        {0, 0}};
    static const pw_cli_command_t command = {"monitor", usage_text, longopts, take_option,
                                             finish, fields};
    struct mon_cmd o = {.connect = "tcp://127.0.0.1:5560",
                        .filter = {NULL, NULL, PW_BAND_NONE},
                        .timeout_ms = 10000};
    o.auth = (pw_client_auth_t){.why = o.why, .why_len = sizeof(o.why)};
    /* A desk sets it once for all its monitors; --followup overrides it. */
    const char *env = getenv("PLANWATCH_FOLLOWUP");
    if (env && env[0]) {
        o.followup = env;
        o.followup_from_env = true;
    }
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    if (o.followup != env)
        o.followup_from_env = false;
    return monitor(&o);
}
