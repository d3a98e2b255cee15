/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "pw/error.h"
#include "view.h"

static const char usage_text[] =
    "usage: planwatch monitor [options]\n"
    "\n"
    "Shows the central bureau the evaluation table (indicator, base, target,\n"
    "value, progress rate, band, reporters in) and the open alerts, then prints\n"
    "each alert as it opens or resolves, until interrupted.\n"
    "\n"
    "options:\n"
    "  --connect ENDPOINT   the publisher's event stream (default tcp://127.0.0.1:5560)\n"
    "  --snapshot ENDPOINT  its snapshot endpoint (default: the stream's port + 1)\n"
    "  --catalog FILE       catalog for names and targets (default: the Wuhan plan's)\n"
    "  --period P           the table's period (default: the latest with data)\n"
    "  --once               print the current table and exit\n"
    "  --json               JSON lines instead of text: one object per indicator\n"
    "                       series, then one per event\n"
    "  --timeout SEC        how long to wait for the publisher (default 10)\n"
    "  -h, --help           this text\n";

struct mon {
    const pw_catalog_t *cat;
    pw_view_t *view;
    bool json, color;
};

static int on_event(void *ctx, const pw_event_t *ev)
{
    struct mon *m = ctx;
    pw_view_apply(m->view, ev);
    if (m->json)
        pw_view_print_event_json(m->cat, ev, stdout);
    else if (ev->type == PW_EV_ALERT)
        pw_view_print_alert(m->cat, ev, stdout, m->color);
    fflush(stdout);
    return 0;
}

int pw_cmd_monitor(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"connect", required_argument, 0, 'c'}, {"snapshot", required_argument, 0, 's'},
        {"catalog", required_argument, 0, 'C'}, {"period", required_argument, 0, 'p'},
        {"once", no_argument, 0, 'o'},          {"json", no_argument, 0, 'j'},
        {"timeout", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *connect = "tcp://127.0.0.1:5560", *snap = NULL, *catalog_path = NULL;
    bool once = false, json = false, have_period = false;
    pw_period_t period;
    int timeout_ms = 10000, c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            connect = optarg;
            break;
        case 's':
            snap = optarg;
            break;
        case 'C':
            catalog_path = optarg;
            break;
        case 'p':
            if (pw_period_parse(optarg, strlen(optarg), &period) != 0) {
                fprintf(stderr, "planwatch monitor: bad --period '%s'\n", optarg);
                return 2;
            }
            have_period = true;
            break;
        case 'o':
            once = true;
            break;
        case 'j':
            json = true;
            break;
        case 't':
            timeout_ms = atoi(optarg) * 1000;
            if (timeout_ms <= 0) {
                fprintf(stderr, "planwatch monitor: --timeout wants a positive number\n");
                return 2;
            }
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    pw_cli_signals();
    pw_catalog_t *cat = NULL;
    if (pw_cli_load_catalog(catalog_path, &cat) != 0)
        return 1;
    struct mon m = {.cat = cat, .json = json, .color = !json && isatty(STDOUT_FILENO)};
    pw_client_t *client = NULL;
    pw_reply_t snapshot = {0};
    int rc = pw_view_new(cat, &m.view);
    if (rc == 0 && (rc = pw_client_new(connect, snap, &client)) != 0)
        fprintf(stderr, "planwatch monitor: cannot connect to %s: %s\n", connect,
                pw_strerror(rc));
    if (rc == 0 && (rc = pw_client_snapshot(client, timeout_ms, &snapshot)) != 0)
        fprintf(stderr, "planwatch monitor: no snapshot from the publisher at %s: %s\n", connect,
                pw_strerror(rc));
    if (rc == 0 && (rc = pw_view_load(m.view, &snapshot)) == 0) {
        pw_period_t p;
        bool any = have_period ? (p = period, true) : pw_view_latest_period(m.view, &p);
        if (!any)
            fprintf(json ? stderr : stdout, "no data yet\n");
        else if (json)
            pw_view_print_json(m.view, stdout, p);
        else
            pw_view_print_table(m.view, stdout, p, m.color);
        fflush(stdout);
    }
    while (rc == 0 && !once && !pw_cli_stop)
        rc = pw_client_poll(client, 200, on_event, &m);
    pw_reply_clear(&snapshot);
    pw_client_destroy(&client);
    pw_view_destroy(&m.view);
    pw_catalog_destroy(&cat);
    return rc == 0 ? 0 : 1;
}
