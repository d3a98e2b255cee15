/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "pw/error.h"
#include "pw/log.h"

/* The command's options and, once started, what it runs. */
struct agg_cmd {
    pw_aggregator_opts_t opts;
    const char *catalog_path;
    pw_aggregator_t *obj;
};

PW_CLI_STORE_DAEMON(struct agg_cmd, "aggregator", true, pw_aggregator_new, pw_aggregator_run,
                    pw_aggregator_destroy)

static const char usage_text[] =
    "usage: planwatch aggregator --store DIR [options]\n"
    "\n"
    "Takes updates from district collectors, stores every one in an LMDB store,\n"
    "recomputes city-wide values, progress rates and bands, opens and resolves\n"
    "alerts, and acknowledges each update after its transaction commits. An\n"
    "update whose value is above its element's max in the catalog, or above\n"
    "9007199254740991 (2^53 - 1) for every element, is refused (nack EVALUE,\n"
    "with the value and the bound) and not stored.\n"
    "\n"
    "One process writes a store at a time: the aggregator holds DIR/writer.pid\n"
    "locked while it runs (the kernel lets go when it dies, even by SIGKILL). A\n"
    "second aggregator on DIR exits 1 with \"store DIR in use by pid N\" before\n"
    "it binds anything. Readers (publisher, replay, report, export) go on beside.\n"
    "\n"
    "A full disk under DIR does not stop it: nothing of a batch whose commit\n"
    "fails for want of space is acknowledged, updates are refused (ESTOREFULL,\n"
    "\"no space left on DIR's file system\") and kept by the collectors, and\n"
    "taken again once there is room; the same on a restart while the disk is\n"
    "full. A new store on a full file system is refused: exit 1.\n"
    "\n"
    "options:\n"
    "  --store DIR          LMDB store directory, created if missing (required)\n"
    "  --bind ENDPOINT      intake endpoint for collectors, repeatable\n"
    "                       (default tcp://127.0.0.1:5555)\n"
    "  --catalog FILE       indicator catalog. Default: the plan the store records,\n"
    "                       or the Wuhan plan's for a new store. Another plan than\n"
    "                       the store's is a revision: recorded in the store, it\n"
    "                       applies from the next update on, and every rate is\n"
    "                       recomputed\n"
    "  --notify ENDPOINT    where publishers hear of new events\n"
    "                       (default ipc://DIR/notify.sock)\n"
    "  --map-size MIB       LMDB map size to start with, in MiB (default 1024)\n"
    "  --map-max MIB        grow the map up to this when it fills (default 65536);\n"
    "                       at the cap, updates are refused (ESTOREFULL) and kept\n"
    "                       by the collectors\n"
    "  --batch N            updates per transaction at most (default 16384; the\n"
    "                       updates of one frame are never split, up to 64)\n"
    "  --keys DIR           CURVE keys made by 'planwatch keygen': serve with\n"
    "                       DIR/aggregator.secret, accept the district keys\n"
    "                       DIR/districts/*.pub, each only for its own district;\n"
    "                       SIGHUP re-reads DIR/districts (revoke, rotate, add).\n"
    "                       A refused handshake is logged with the peer's address\n"
    "                       and why, a line per address and reason every 10 s\n"
    "  --insecure           allow tcp:// without CURVE (loopback experiments only;\n"
    "                       warns at every start). ipc:// needs neither\n"
    "  --metrics FILE       keep FILE up to date with the counters, in the Prometheus\n"
    "                       text format (every 5 s and at exit; for node_exporter's\n"
    "                       textfile collector, name it *.prom)\n"
    "  --log-level LEVEL    error, warn, info or debug (default info)\n"
    "  --config FILE        read options from FILE first: \"key = value\" lines, key\n"
    "                       a long option's name; the command line wins\n"
    "  --check-config       check the options, catalog, keys and paths, print them,\n"
    "                       and exit: 0 when all is well, 1 otherwise\n"
    "  -h, --help           this text\n";

/* --check-config: everything the aggregator would open, without opening it. */
static int check(void *p)
{
    const struct agg_cmd *o = p;
    const pw_aggregator_opts_t *opts = &o->opts;
    bool ok = pw_config_check_dir("aggregator", "--store", opts->store_dir);
    for (size_t i = 0; i < opts->nbinds; i++)
        ok &= pw_config_check_endpoint("aggregator", "--bind", opts->binds[i]);
    ok &= pw_config_check_keys("aggregator", opts->keys_dir, "aggregator", "districts",
                               opts->binds, opts->nbinds, opts->insecure);
    ok &= pw_config_check_outputs("aggregator", opts->notify, opts->metrics_path);
    pw_catalog_t *cat = NULL;
    ok &= load(p, &cat) == 0;
    if (ok) {
        printf("store = %s\n", opts->store_dir);
        for (size_t i = 0; i < opts->nbinds; i++)
            printf("bind = %s\n", opts->binds[i]);
        pw_config_print_plan(o->catalog_path, cat, opts->keys_dir, opts->insecure);
        if (opts->notify)
            printf("notify = %s\n", opts->notify);
        if (opts->metrics_path)
            printf("metrics = %s\n", opts->metrics_path);
        printf("planwatch aggregator: configuration OK\n");
    }
    pw_catalog_destroy(&cat);
    return ok ? 0 : 1;
}

/* --map-size, --map-max and --batch: a positive number. */
static int take_number(pw_aggregator_opts_t *opts, int c, const char *arg)
{
    char *end;
    unsigned long v = strtoul(arg, &end, 10);
    if (*end || v == 0) {
        fprintf(stderr, "planwatch aggregator: %s--%s wants a positive number, not '%s'\n",
                pw_config_where(), c == 'm' ? "map-size" : c == 'X' ? "map-max" : "batch", arg);
        return 2;
    }
    if (c == 'm')
        opts->map_size = (size_t)v << 20;
    else if (c == 'X')
        opts->map_max = (size_t)v << 20;
    else
        opts->batch_max = v;
    return 0;
}

static int take_option(void *p, int c, const char *arg)
{
    struct agg_cmd *o = p;
    switch (c) {
    case 'b':
        if (o->opts.nbinds == PW_AGG_BINDS_MAX) {
            fprintf(stderr, "planwatch aggregator: %sat most %d --bind\n", pw_config_where(),
                    PW_AGG_BINDS_MAX);
            return 2;
        }
        o->opts.binds[o->opts.nbinds++] = arg;
        return 0;
    case 'm':
    case 'X':
    case 'B':
        return take_number(&o->opts, c, arg);
    default:
        return PW_CLI_USAGE;
    }
}

static int finish(void *p, int nargs, char **args)
{
    struct agg_cmd *o = p;
    (void)args;
    if (!o->opts.store_dir || nargs != 0)
        return PW_CLI_USAGE;
    if (o->opts.nbinds == 0)
        o->opts.binds[o->opts.nbinds++] = "tcp://127.0.0.1:5555";
    return 0;
}

int pw_cmd_aggregator(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},   {"bind", required_argument, 0, 'b'},
        {"catalog", required_argument, 0, 'c'}, {"notify", required_argument, 0, 'n'},
        {"map-size", required_argument, 0, 'm'}, {"batch", required_argument, 0, 'B'},
        {"map-max", required_argument, 0, 'X'},   {"keys", required_argument, 0, 'k'},
        {"insecure", no_argument, 0, 'I'},
        {"log-level", required_argument, 0, PW_CLI_LOG_LEVEL},
        {"help", no_argument, 0, PW_CLI_HELP},
        {"metrics", required_argument, 0, 'M'},
        {"check-config", no_argument, 0, PW_CLI_CHECK_CONFIG},
        {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'s', offsetof(struct agg_cmd, opts.store_dir)},
        {'c', offsetof(struct agg_cmd, catalog_path)},
        {'k', offsetof(struct agg_cmd, opts.keys_dir)},
        {'I', offsetof(struct agg_cmd, opts.insecure)},
        {'n', offsetof(struct agg_cmd, opts.notify)},
        {'M', offsetof(struct agg_cmd, opts.metrics_path)},
        {0, 0}};
    static const pw_cli_daemon_t daemon = {
        {"aggregator", usage_text, longopts, take_option, finish, fields},
        PW_LOG_INFO, check, load, start, run, stop};
    struct agg_cmd o = {.opts = {.reload = &pw_cli_reload}};
    return pw_cli_daemon_main(&daemon, argc, argv, &o);
}
