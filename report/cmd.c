/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "command.h"
#include "csv.h"
#include "html.h"
#include "pw/error.h"
#include "pw/util.h"
#include "report.h"
#include "text.h"

static const char usage_text[] =
    "usage: planwatch report (--store DIR | --connect ENDPOINT) [options]\n"
    "\n"
    "Prints the plan's evaluation table (评估表) for a period: each indicator's\n"
    "base, target, observed values per period, progress rate, band, how many\n"
    "reporters it counts (reported, like 12/13) and its forecast for the plan's\n"
    "target year. A period not every reporter has reported yet is provisional:\n"
    "a banner says so. A value above a range target's upper bound carries a\n"
    "note. Writes it as an HTML page with charts or as CSV for spreadsheets on\n"
    "request.\n"
    "\n"
    "options:\n"
    "  --store DIR          read the aggregator's store (read-only; it may be running)\n"
    "  --connect ENDPOINT   ask a running publisher instead (its stream endpoint,\n"
    "                       e.g. tcp://127.0.0.1:5560)\n"
    "  --snapshot ENDPOINT  the publisher's snapshot endpoint (default: the stream's\n"
    "                       port + 1)\n"
    "  --period P           the period evaluated (default: the latest with data)\n"
    "  --html FILE          write the report as one self-contained HTML page\n"
    "  --csv FILE           write the table as CSV (UTF-8 with BOM, RFC 4180)\n"
    "  --catalog FILE       for a store that does not record its plan (older stores):\n"
    "                       the catalog it was written with (default: the Wuhan\n"
    "                       plan's). A store (or publisher) that records its plan\n"
    "                       is read with it; a FILE that is not it is an error\n"
    "  --timeout SEC        with --connect: give up after SEC seconds in all (default\n"
    "                       10), whatever the size of the answer, and exit 1; a\n"
    "                       timeout says when handshakes failed (keys at fault)\n"
    "  --keys DIR           with --connect: CURVE as the desk key DIR/desks/DESK.secret\n"
    "  --desk NAME          the desk key to use (default bureau)\n"
    "  --insecure           with --connect: allow tcp:// without CURVE\n"
    "  --followup DIR       add the section 跟进 Follow-up to the text and the HTML:\n"
    "                       the bureau's handling of the latest alerts from planwatch\n"
    "                       web's DATADIR/followup (read-only; web may be running):\n"
    "                       state, assignee, who acknowledged when, escalation and\n"
    "                       each action (time, who, kind, text). A DIR without one\n"
    "                       is an error\n"
    "  -h, --help           this text\n"
    "\n"
    "Without --html or --csv the table is printed on stdout.\n";

/* Writes a file through a temporary name, so a reader never sees half of it. */
static int write_file(const char *path, const pw_report_t *rep, const char *source, bool html)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    int rc = html ? pw_report_write_html(rep, f, source) : pw_report_write_csv(rep, f);
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        remove(tmp);
    return rc;
}

/* Writes whichever of html and csv is given, saying what failed on stderr. */
static int write_files(const pw_report_t *rep, const char *html, const char *csv,
                       const char *source)
{
    int rc = 0;
    if (html && (rc = write_file(html, rep, source, true)) != 0) {
        fprintf(stderr, "planwatch report: cannot write %s: %s\n", html, pw_strerror(rc));
        return rc;
    }
    if (csv && (rc = write_file(csv, rep, source, false)) != 0)
        fprintf(stderr, "planwatch report: cannot write %s: %s\n", csv, pw_strerror(rc));
    return rc;
}

int pw_report_files(const pw_catalog_t *cat, const char *store, const char *dir, FILE *info)
{
    char html[4096], csv[4096];
    if ((size_t)snprintf(html, sizeof(html), "%s/report.html", dir) >= sizeof(html) ||
        (size_t)snprintf(csv, sizeof(csv), "%s/report.csv", dir) >= sizeof(csv))
        return -ENAMETOOLONG;
    pw_report_t *rep = NULL;
    int rc = pw_mkdir_p(dir);
    if (rc != 0)
        fprintf(stderr, "planwatch report: cannot create %s: %s\n", dir, pw_strerror(rc));
    if (rc == 0 && (rc = pw_report_from_store(cat, store, NULL, &rep)) != 0)
        fprintf(stderr, "planwatch report: cannot read %s: %s\n", store, pw_strerror(rc));
    if (rc == 0 && (rc = write_files(rep, html, csv, store)) == 0)
        fprintf(info, "Report: %s\n        %s\n", html, csv);
    pw_report_destroy(&rep);
    return rc;
}

/* The command's options. */
struct report_cmd {
    const char *store, *connect, *snapshot, *html, *csv, *catalog_path, *followup;
    char why[192];
    pw_client_auth_t auth;
    bool have_period;
    pw_period_t period;
    int timeout_ms;
};

static int take_option(void *p, int c, const char *arg)
{
    struct report_cmd *o = p;
    switch (c) {
    case 'p':
        if (pw_period_parse(arg, strlen(arg), &o->period) != 0) {
            fprintf(stderr, "planwatch report: bad --period '%s' (2017, 2018H1, 2018Q3, 2018-07)\n",
                    arg);
            return 2;
        }
        o->have_period = true;
        return 0;
    case 't': {
        char *end;
        long v = strtol(arg, &end, 10);
        if (*end || v <= 0 || v > 3600) {
            fprintf(stderr, "planwatch report: --timeout wants seconds (1-3600)\n");
            return 2;
        }
        o->timeout_ms = (int)v * 1000;
        return 0;
    }
    default:
        return PW_CLI_USAGE;
    }
}

static int finish(void *p, int nargs, char **args)
{
    const struct report_cmd *o = p;
    (void)args;
    if (nargs == 0 && (o->store == NULL) != (o->connect == NULL))
        return 0;
    if (nargs == 0)
        fprintf(stderr, "planwatch report: give exactly one of --store and --connect\n");
    return PW_CLI_USAGE;
}

/* Why the report could not be read, on stderr. */
static void say_failure(const struct report_cmd *o, int rc)
{
    if (rc == PW_ENOTFOUND) {
        char pt[PW_PERIOD_STRMAX] = "";
        if (o->have_period)
            pw_period_format(o->period, pt);
        fprintf(stderr, "planwatch report: no data%s%s in %s\n", o->have_period ? " for " : "", pt,
                o->store ? o->store : o->connect);
    } else if (rc == PW_ETIMEOUT) {
        fprintf(stderr, "planwatch report: no complete answer from %s: timed out after %d s\n",
                o->connect, o->timeout_ms / 1000);
    } else if (rc != 0) {
        fprintf(stderr, "planwatch report: cannot read %s: %s%s%s\n",
                o->store ? o->store : o->connect, pw_strerror(rc), o->why[0] ? ": " : "", o->why);
    }
}

/* Reads the report from the store or the publisher and writes it out: the exit status. */
static int report(struct report_cmd *o)
{
    /* Opened first: a wrong DIR is a usage error, said before any reading. */
    pw_followup_t *fu = NULL;
    int frc = o->followup ? pw_followup_open(o->followup, false, &fu) : 0;
    if (frc != 0) {
        fprintf(stderr, "planwatch report: cannot read the follow-up %s: %s%s\n", o->followup,
                pw_strerror(frc), frc == -ENOENT ? " (planwatch web creates it)" : "");
        return 2;
    }
    pw_catalog_t *cat = NULL;
    if ((o->store ? pw_cli_store_catalog("report", o->store, o->catalog_path, false, &cat)
                  : pw_client_catalog("report", o->connect, o->snapshot, &o->auth,
                                      o->catalog_path, o->timeout_ms, &cat)) != 0) {
        pw_followup_destroy(&fu);
        return 1;
    }
    pw_report_t *rep = NULL;
    const pw_period_t *want = o->have_period ? &o->period : NULL;
    int rc = o->store ? pw_report_from_store(cat, o->store, want, &rep)
                      : pw_report_from_publisher(cat, o->connect, o->snapshot, &o->auth, want,
                                                 o->timeout_ms, &rep);
    say_failure(o, rc);
    if (rc == 0)
        rep->followup = fu;
    if (rc == 0)
        rc = write_files(rep, o->html, o->csv, o->store ? o->store : o->connect);
    if (rc == 0 && !o->html && !o->csv)
        rc = pw_report_write_text(rep, stdout, isatty(STDOUT_FILENO));
    if (rc != 0 && rep && !o->html && !o->csv)
        fprintf(stderr, "planwatch report: cannot print the report: %s\n", pw_strerror(rc));
    if (rc == 0 && (o->html || o->csv))
        fprintf(stderr, "planwatch report: wrote%s%s%s%s\n", o->html ? " " : "",
                o->html ? o->html : "", o->csv ? " " : "", o->csv ? o->csv : "");
    pw_report_destroy(&rep);
    pw_catalog_destroy(&cat);
    pw_followup_destroy(&fu);
    return rc == 0 ? 0 : 1;
}

int pw_cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},    {"connect", required_argument, 0, 'C'},
        {"snapshot", required_argument, 0, 'S'}, {"period", required_argument, 0, 'p'},
        {"html", required_argument, 0, 'H'},     {"csv", required_argument, 0, 'v'},
        {"catalog", required_argument, 0, 'c'},  {"timeout", required_argument, 0, 't'},
        {"keys", required_argument, 0, 'k'},     {"desk", required_argument, 0, 'D'},
        {"insecure", no_argument, 0, 'I'},       {"followup", required_argument, 0, 'F'},
        {"help", no_argument, 0, PW_CLI_HELP},   {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'s', offsetof(struct report_cmd, store)},
        {'C', offsetof(struct report_cmd, connect)},
        {'S', offsetof(struct report_cmd, snapshot)},
        {'k', offsetof(struct report_cmd, auth.keys_dir)},
        {'D', offsetof(struct report_cmd, auth.desk)},
        {'I', offsetof(struct report_cmd, auth.insecure)},
        {'H', offsetof(struct report_cmd, html)},
        {'v', offsetof(struct report_cmd, csv)},
        {'c', offsetof(struct report_cmd, catalog_path)},
        {'F', offsetof(struct report_cmd, followup)},
        {0, 0}};
    static const pw_cli_command_t command = {"report", usage_text, longopts,
                                             take_option, finish, fields};
    struct report_cmd o = {.timeout_ms = 10000};
    o.auth = (pw_client_auth_t){.why = o.why, .why_len = sizeof(o.why)};
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    return report(&o);
}
