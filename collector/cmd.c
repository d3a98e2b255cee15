/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "collector.h"
#include "pw/error.h"
#include "pw/log.h"

#define PERIODS_MAX 16

static const char usage_text[] =
    "usage: planwatch collector --district ID --data FILE [options]\n"
    "\n"
    "Sends a district's observations to the aggregator, one update each, and\n"
    "waits until every one is acknowledged (stored) or rejected. Exits 0 only\n"
    "when all were stored; each rejected one is printed with the reason.\n"
    "\n"
    "options:\n"
    "  --district ID        the reporter's id in the catalog (required)\n"
    "  --data FILE          its data file: CSV with period,element,value (required)\n"
    "  --connect ENDPOINT   the aggregator's intake (default tcp://127.0.0.1:5555)\n"
    "  --period P           send only this period's observations (repeatable)\n"
    "  --catalog FILE       check the file against this catalog before sending\n"
    "  --window N           updates in flight at most (default 1024)\n"
    "  --timeout SEC        give up after SEC seconds without an answer (default 30)\n"
    "  --quiet              no summary line\n"
    "  --log-level LEVEL    error, warn, info or debug (default warn)\n"
    "  -h, --help           this text\n";

struct reject_ctx {
    const char *file;
};

static void on_reject(void *ctx, const pw_obs_t *obs, int reason, const char *text)
{
    const struct reject_ctx *rc = ctx;
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(obs->period, ptext);
    fprintf(stderr, "planwatch collector: %s:%d: %s %s = %g rejected by the aggregator: %s (%s)\n",
            rc->file, obs->line, obs->element, ptext, obs->value, pw_err_name(reason), text);
}

int pw_cmd_collector(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"district", required_argument, 0, 'd'}, {"data", required_argument, 0, 'f'},
        {"connect", required_argument, 0, 'c'},  {"period", required_argument, 0, 'p'},
        {"catalog", required_argument, 0, 'C'},  {"window", required_argument, 0, 'w'},
        {"timeout", required_argument, 0, 't'},  {"quiet", no_argument, 0, 'q'},
        {"log-level", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    pw_collector_opts_t opts = {.connect = "tcp://127.0.0.1:5555"};
    const char *data = NULL, *catalog_path = NULL;
    pw_period_t periods[PERIODS_MAX];
    size_t nperiods = 0;
    bool quiet = false;
    pw_log_level_t level = PW_LOG_WARN;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            opts.district = optarg;
            break;
        case 'f':
            data = optarg;
            break;
        case 'c':
            opts.connect = optarg;
            break;
        case 'p':
            if (nperiods == PERIODS_MAX ||
                pw_period_parse(optarg, strlen(optarg), &periods[nperiods]) != 0) {
                fprintf(stderr, "planwatch collector: bad --period '%s' (2016, 2018H1, 2018Q3, "
                                "2018-07)\n", optarg);
                return 2;
            }
            nperiods++;
            break;
        case 'C':
            catalog_path = optarg;
            break;
        case 'w':
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v <= 0 || v > 1000000) {
                fprintf(stderr, "planwatch collector: --%s wants a positive number\n",
                        c == 'w' ? "window" : "timeout");
                return 2;
            }
            if (c == 'w')
                opts.window = (size_t)v;
            else
                opts.timeout_ms = (int)v * 1000;
            break;
        }
        case 'q':
            quiet = true;
            break;
        case 'l':
            if (pw_log_level_parse(optarg, &level) != 0) {
                fprintf(stderr, "planwatch collector: unknown log level '%s'\n", optarg);
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
    if (!opts.district || !data || optind != argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    pw_log_init("collector", level);
    pw_cli_signals();
    pw_catalog_t *cat = NULL;
    if (catalog_path && pw_cli_load_catalog(catalog_path, &cat) != 0)
        return 1;
    char err[512] = "";
    pw_datafile_t *df = NULL;
    int rc = pw_datafile_load(data, cat, &df, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "planwatch collector: %s\n", err[0] ? err : pw_strerror(rc));
        pw_catalog_destroy(&cat);
        return 1;
    }
    /* Keep the selected periods' observations, in file order. */
    size_t n = 0;
    for (size_t i = 0; i < df->n; i++) {
        bool keep = nperiods == 0;
        for (size_t k = 0; k < nperiods && !keep; k++)
            keep = pw_period_eq(df->obs[i].period, periods[k]);
        if (keep)
            df->obs[n++] = df->obs[i];
    }
    pw_collector_result_t res;
    struct reject_ctx rctx = {data};
    rc = pw_collector_send(&opts, df->obs, n, on_reject, &rctx, &res);
    if (rc == PW_ETIMEOUT)
        fprintf(stderr, "planwatch collector: %s: no answer from the aggregator at %s: %s\n",
                opts.district, opts.connect, pw_strerror(rc));
    else if (rc != 0)
        fprintf(stderr, "planwatch collector: %s: %s\n", opts.district, pw_strerror(rc));
    if (rc == 0 && !quiet)
        printf("%s: %zu updates sent, %zu stored, %zu rejected\n", opts.district, res.sent,
               res.stored, res.rejected);
    pw_datafile_destroy(&df);
    pw_catalog_destroy(&cat);
    return rc == 0 && res.rejected == 0 ? 0 : 1;
}
