/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "collector.h"
#include "config.h"
#include "daemon.h"
#include "pw/auth.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

static const char usage_text[] =
    "usage: planwatch collector --district ID --data FILE [options]\n"
    "\n"
    "Sends a district's observations to the aggregator. Each observation that is\n"
    "new or changed since this spool last sent it is first committed to the\n"
    "collector's spool, and leaves it only when the aggregator has answered:\n"
    "acknowledged (stored) or rejected (printed with the reason). A rejected line is\n"
    "printed again by every run while it holds the same value. A collector restarted\n"
    "after a crash resends what is unanswered. Without --follow it exits once\n"
    "everything is answered: 0 when all was stored, 1 otherwise (also when a line\n"
    "rejected before is unchanged). With --follow it keeps watching the file and\n"
    "sends every change, spooling through aggregator outages, until SIGINT or\n"
    "SIGTERM. With --catalog, a file whose title (its first comment lines) names\n"
    "another office than --district gets a warning with its file:line.\n"
    "\n"
    "options:\n"
    "  --district ID        the reporter's id in the catalog (required)\n"
    "  --data FILE          its data file: CSV with period,element,value (required);\n"
    "                       with --follow, replace it atomically (write, then rename).\n"
    "                       A value above 9007199254740991 (2^53 - 1) is refused\n"
    "                       with its line: past it a number is not held exactly\n"
    "  --connect ENDPOINT   the aggregator's intake (default tcp://127.0.0.1:5555)\n"
    "  --spool DIR          the spool (default $STATE_DIRECTORY/spool-ID, the first\n"
    "                       directory when it lists several, else\n"
    "                       ~/.local/state/planwatch/spool-ID); when its disk is\n"
    "                       full, the collector says so and tries again every\n"
    "                       second, losing nothing (without --follow it gives up\n"
    "                       after --timeout, exit 1); one cannot be created on a\n"
    "                       full file system (exit 1)\n"
    "  --follow             keep running: watch the file and send every change\n"
    "  --period P           send only this period's observations (repeatable)\n"
    "  --resend             send every observation of the file again, changed or\n"
    "                       not, as new revisions: the aggregator's values become\n"
    "                       the file's (after a wrong file was sent for ID, from\n"
    "                       this or another spool or machine). An aggregator that\n"
    "                       lost updates it had acknowledged (store replaced) is\n"
    "                       noticed on connecting: the whole file is sent again\n"
    "  --catalog FILE       check the file against this catalog before sending:\n"
    "                       known elements, periods in the plan, whole counts,\n"
    "                       no value above its element's max\n"
    "  --window N           updates in flight at most (default 4096)\n"
    "  --timeout SEC        without --follow: give up after SEC seconds without an\n"
    "                       answer, keeping the rest spooled (default 30); says\n"
    "                       when handshakes failed (keys or --insecure at fault)\n"
    "  --spool-max MIB      spool size bound (default 1024); when full, new\n"
    "                       observations wait in the file, with an error logged\n"
    "  --keys DIR           CURVE: speak as DIR/districts/ID.secret to the server\n"
    "                       key DIR/aggregator.pub (see 'planwatch keygen')\n"
    "  --insecure           allow tcp:// without CURVE (loopback experiments only)\n"
    "  --quiet              no summary line\n"
    "  --log-level LEVEL    error, warn, info or debug (default warn)\n"
    "  --config FILE        read options from FILE first: \"key = value\" lines, key\n"
    "                       a long option's name; the command line wins\n"
    "  --check-config       check the options, data file, catalog, keys and spool,\n"
    "                       print them, and exit: 0 when all is well, 1 otherwise\n"
    "  -h, --help           this text\n";

/* The command's options. */
struct coll_cmd {
    pw_collector_opts_t opts;
    const char *catalog_path;
    bool quiet;
    char spool[4096];
};

static void on_reject(void *ctx, const pw_msg_t *m, int line, int reason, const char *text,
                      bool before)
{
    const struct coll_cmd *o = ctx;
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(m->period, ptext);
    if (before)
        fprintf(stderr,
                "planwatch collector: %s:%d: %s %s = %g was rejected by the aggregator: %s (%s); "
                "fix the line (not sent again while it holds this value)\n",
                o->opts.data, line, m->element, ptext, m->value, pw_err_name(reason), text);
    else
        fprintf(stderr,
                "planwatch collector: %s:%d: %s %s = %g rejected by the aggregator: %s (%s)\n",
                o->opts.data, line, m->element, ptext, m->value, pw_err_name(reason), text);
}

/*
 * $STATE_DIRECTORY (systemd) or the XDG state directory. A unit with several
 * StateDirectory= entries gets them colon-separated, in their order: the
 * first is the service's own.
 */
static void default_spool(const char *district, char *buf, size_t len)
{
    const char *state = getenv("STATE_DIRECTORY"), *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (state && *state)
        snprintf(buf, len, "%.*s/spool-%s", (int)strcspn(state, ":"), state, district);
    else if (xdg && *xdg)
        snprintf(buf, len, "%s/planwatch/spool-%s", xdg, district);
    else
        snprintf(buf, len, "%s/.local/state/planwatch/spool-%s", home ? home : "/tmp", district);
}

/* --catalog, when given: the file is checked against it. */
static int load(void *p, pw_catalog_t **out)
{
    const struct coll_cmd *o = p;
    return o->catalog_path ? pw_cli_load_catalog(o->catalog_path, out) : 0;
}

/* --check-config: the data file must parse (against the catalog when given),
 * the keys load, the spool's place be writable, the endpoint well formed. */
static int check(void *p)
{
    const struct coll_cmd *o = p;
    const pw_collector_opts_t *opts = &o->opts;
    bool ok = pw_config_check_endpoint("collector", "--connect", opts->connect) &&
              pw_config_check_dir("collector", "--spool", opts->spool_dir);
    if (ok && opts->keys_dir) {
        char dir[4096], path[4200], err[512] = "";
        pw_key_t key;
        snprintf(dir, sizeof(dir), "%s/districts", opts->keys_dir);
        snprintf(path, sizeof(path), "%s/aggregator.pub", opts->keys_dir);
        int rc = pw_key_load_secret(dir, opts->district, &key, err, sizeof(err));
        if (rc == 0)
            rc = pw_key_load(path, &key, err, sizeof(err));
        pw_secure_zero(&key, sizeof(key));
        if (rc != 0) {
            fprintf(stderr, "planwatch collector: --keys %s: %s\n", opts->keys_dir, err);
            ok = false;
        }
    } else if (ok) {
        ok = pw_config_check_keys("collector", NULL, NULL, NULL, &opts->connect, 1,
                                  opts->insecure);
    }
    pw_catalog_t *cat = NULL;
    if (load(p, &cat) != 0)
        ok = false;
    size_t n = 0;
    if (ok) {
        char err[512] = "";
        pw_datafile_t *df = NULL;
        int rc = pw_datafile_load(opts->data, cat, &df, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "planwatch collector: %s\n", err[0] ? err : pw_strerror(rc));
            ok = false;
        } else {
            n = df->n;
        }
        pw_datafile_destroy(&df);
    }
    if (ok)
        printf("district = %s\ndata = %s (%zu observations)\nconnect = %s\nspool = %s\n"
               "keys = %s\nplanwatch collector: configuration OK\n",
               opts->district, opts->data, n, opts->connect, opts->spool_dir,
               pw_config_keys_text(opts->keys_dir, opts->insecure));
    pw_catalog_destroy(&cat);
    return ok ? 0 : 1;
}

/* --window, --timeout and --spool-max: a positive number up to a million. */
static int take_number(pw_collector_opts_t *opts, int c, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || v <= 0 || v > 1000000) {
        fprintf(stderr, "planwatch collector: %s--%s wants a positive number\n",
                pw_config_where(), c == 'w' ? "window" : c == 't' ? "timeout" : "spool-max");
        return 2;
    }
    if (c == 'w')
        opts->window = (size_t)v;
    else if (c == 't')
        opts->timeout_ms = (int)v * 1000;
    else
        opts->spool_max = (size_t)v << 20;
    return 0;
}

static int take_period(pw_collector_opts_t *opts, const char *arg)
{
    if (opts->nperiods == PW_COLLECTOR_PERIODS_MAX ||
        pw_period_parse(arg, strlen(arg), &opts->periods[opts->nperiods]) != 0) {
        fprintf(stderr, "planwatch collector: %sbad --period '%s' (2016, 2018H1, "
                        "2018Q3, 2018-07)\n", pw_config_where(), arg);
        return 2;
    }
    opts->nperiods++;
    return 0;
}

static int take_option(void *p, int c, const char *arg)
{
    struct coll_cmd *o = p;
    switch (c) {
    case 'p':
        return take_period(&o->opts, arg);
    case 'w':
    case 't':
    case 'M':
        return take_number(&o->opts, c, arg);
    default:
        return PW_CLI_USAGE;
    }
}

static int finish(void *p, int nargs, char **args)
{
    struct coll_cmd *o = p;
    (void)args;
    if (!o->opts.district || !o->opts.data || nargs != 0)
        return PW_CLI_USAGE;
    if (!o->opts.spool_dir) {
        default_spool(o->opts.district, o->spool, sizeof(o->spool));
        o->opts.spool_dir = o->spool;
    }
    return 0;
}

static int start(void *p, const pw_catalog_t *cat)
{
    struct coll_cmd *o = p;
    o->opts.catalog = cat;
    return 0;
}

/* What a run that did not finish left: said on stderr. */
static void say_failure(const struct coll_cmd *o, int rc, const pw_collector_result_t *res)
{
    const pw_collector_opts_t *opts = &o->opts;
    if (rc == PW_ETIMEOUT)
        fprintf(stderr,
                "planwatch collector: %s: no answer from the aggregator at %s%s%s: %llu updates "
                "kept in the spool %s, sent on the next run\n",
                opts->district, opts->connect, res->handshake[0] ? ": " : "", res->handshake,
                (unsigned long long)res->pending, opts->spool_dir);
    else if (rc == PW_ESTOREFULL)
        fprintf(stderr,
                "planwatch collector: %s: the aggregator's store or our spool is full: %llu "
                "updates kept in the spool %s, sent on the next run\n",
                opts->district, (unsigned long long)res->pending, opts->spool_dir);
    else if (rc == PW_EDATA)
        ; /* the parser's message is out already */
    else if (rc != 0)
        fprintf(stderr, "planwatch collector: %s: %s\n", opts->district, pw_strerror(rc));
}

static int run(void *p, volatile sig_atomic_t *stop_p)
{
    const struct coll_cmd *o = p;
    pw_collector_result_t res;
    int rc = pw_collector_run(&o->opts, on_reject, p, &res, stop_p);
    say_failure(o, rc, &res);
    if (rc == 0 && !o->quiet && res.still_rejected)
        printf("%s: %zu updates sent, %zu stored, %zu rejected, %zu rejected before and "
               "unchanged%s\n",
               o->opts.district, res.answered, res.stored, res.rejected, res.still_rejected,
               *stop_p ? " (stopped)" : "");
    else if (rc == 0 && !o->quiet)
        printf("%s: %zu updates sent, %zu stored, %zu rejected%s\n", o->opts.district,
               res.answered, res.stored, res.rejected, *stop_p ? " (stopped)" : "");
    return rc == 0 && res.rejected == 0 && res.still_rejected == 0 ? 0 : 1;
}

int pw_cmd_collector(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"district", required_argument, 0, 'd'},  {"data", required_argument, 0, 'f'},
        {"connect", required_argument, 0, 'c'},   {"period", required_argument, 0, 'p'},
        {"catalog", required_argument, 0, 'C'},   {"window", required_argument, 0, 'w'},
        {"timeout", required_argument, 0, 't'},   {"quiet", no_argument, 0, 'q'},
        {"spool", required_argument, 0, 's'},     {"follow", no_argument, 0, 'F'},
        {"spool-max", required_argument, 0, 'M'},
        {"log-level", required_argument, 0, PW_CLI_LOG_LEVEL},
        {"keys", required_argument, 0, 'k'},      {"insecure", no_argument, 0, 'I'},
        {"help", no_argument, 0, PW_CLI_HELP},
        {"check-config", no_argument, 0, PW_CLI_CHECK_CONFIG},
        {"resend", no_argument, 0, 'R'},          {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'d', offsetof(struct coll_cmd, opts.district)},
        {'f', offsetof(struct coll_cmd, opts.data)},
        {'c', offsetof(struct coll_cmd, opts.connect)},
        {'s', offsetof(struct coll_cmd, opts.spool_dir)},
        {'F', offsetof(struct coll_cmd, opts.follow)},
        {'R', offsetof(struct coll_cmd, opts.resend)},
        {'k', offsetof(struct coll_cmd, opts.keys_dir)},
        {'I', offsetof(struct coll_cmd, opts.insecure)},
        {'C', offsetof(struct coll_cmd, catalog_path)},
        {'q', offsetof(struct coll_cmd, quiet)},
        {0, 0}};
    static const pw_cli_daemon_t daemon = {
        {"collector", usage_text, longopts, take_option, finish, fields},
        PW_LOG_WARN, check, load, start, run, NULL};
    struct coll_cmd o = {.opts = {.connect = "tcp://127.0.0.1:5555"}};
    return pw_cli_daemon_main(&daemon, argc, argv, &o);
}
