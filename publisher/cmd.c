/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "config.h"
#include "publisher.h"
#include "pw/endpoint.h"
#include "pw/error.h"
#include "pw/log.h"

static const char usage_text[] =
    "usage: planwatch publisher --store DIR [options]\n"
    "\n"
    "Serves the central bureau from the aggregator's store (opened read-only):\n"
    "a live stream of numbered rate and alert events, and snapshots for monitors\n"
    "that join late or miss events.\n"
    "\n"
    "options:\n"
    "  --store DIR              the aggregator's store (required)\n"
    "  --bind ENDPOINT          event stream (PUB) endpoint (default tcp://127.0.0.1:5560)\n"
    "  --snapshot-bind ENDPOINT snapshot endpoint (default: the stream's port + 1,\n"
    "                           or its ipc path + \".snap\")\n"
    "  --notify ENDPOINT        the aggregator's notify endpoint (default ipc://DIR/notify.sock)\n"
    "  --catalog FILE           for a store that does not record its plan (older\n"
    "                           stores): the catalog it was written with, for status\n"
    "                           and district questions (default: the Wuhan plan's).\n"
    "                           A store that records its plan is served with it,\n"
    "                           revisions included; a FILE that is not it is an error\n"
    "  --keys DIR               CURVE keys made by 'planwatch keygen': serve with\n"
    "                           DIR/publisher.secret to the desk keys DIR/desks/*.pub;\n"
    "                           SIGHUP re-reads DIR/desks (revoke, rotate, add).\n"
    "                           A refused handshake is logged with the peer's\n"
    "                           address and why, a line per address and reason\n"
    "                           every 10 s\n"
    "  --insecure               allow tcp:// without CURVE (loopback experiments only;\n"
    "                           warns at every start). ipc:// needs neither\n"
    "  --metrics FILE           keep FILE up to date with the counters, in the Prometheus\n"
    "                           text format (every 5 s and at exit; for node_exporter's\n"
    "                           textfile collector, name it *.prom)\n"
    "  --log-level LEVEL        error, warn, info or debug (default info)\n"
    "  --config FILE            read options from FILE first: \"key = value\" lines, key\n"
    "                           a long option's name; the command line wins\n"
    "  --check-config           check the options, catalog, keys and endpoints, print\n"
    "                           them, and exit: 0 when all is well, 1 otherwise\n"
    "  -h, --help               this text\n";

/* --check-config: everything the publisher would open, without opening it. */
static int check(const pw_publisher_opts_t *opts, const char *catalog_path)
{
    char snap[512];
    bool ok = pw_config_check_endpoint("publisher", "--bind", opts->bind);
    if (opts->snapshot_bind) {
        ok &= pw_config_check_endpoint("publisher", "--snapshot-bind", opts->snapshot_bind);
        snprintf(snap, sizeof(snap), "%s", opts->snapshot_bind);
    } else if (pw_snapshot_endpoint(opts->bind, snap, sizeof(snap)) != 0) {
        fprintf(stderr, "planwatch publisher: cannot derive a snapshot endpoint from %s: "
                        "give --snapshot-bind\n", opts->bind);
        ok = false;
    }
    const char *eps[] = {opts->bind, snap};
    if (ok)
        ok &= pw_config_check_keys("publisher", opts->keys_dir, "publisher", "desks", eps, 2,
                                   opts->insecure);
    if (opts->notify)
        ok &= pw_config_check_endpoint("publisher", "--notify", opts->notify);
    if (opts->metrics_path)
        ok &= pw_config_check_file_dir("publisher", "--metrics", opts->metrics_path);
    pw_catalog_t *cat = NULL;
    ok &= pw_cli_store_catalog("publisher", opts->store_dir, catalog_path, false, &cat) == 0;
    if (!ok) {
        pw_catalog_destroy(&cat);
        return 1;
    }
    printf("store = %s\nbind = %s\nsnapshot-bind = %s\n", opts->store_dir, opts->bind, snap);
    printf("catalog = %s (\"%s\": %zu indicators, %zu districts)\n",
           catalog_path ? catalog_path : "(the store's plan; the default for a new store)",
           cat->name, cat->nindicators, cat->ndistricts);
    printf("keys = %s\n", opts->keys_dir ? opts->keys_dir : opts->insecure ? "(insecure)" : "(none)");
    if (opts->metrics_path)
        printf("metrics = %s\n", opts->metrics_path);
    printf("planwatch publisher: configuration OK\n");
    pw_catalog_destroy(&cat);
    return 0;
}

int pw_cmd_publisher(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},         {"bind", required_argument, 0, 'b'},
        {"snapshot-bind", required_argument, 0, 'S'}, {"notify", required_argument, 0, 'n'},
        {"log-level", required_argument, 0, 'l'},     {"help", no_argument, 0, 'h'},
        {"catalog", required_argument, 0, 'c'},       {"keys", required_argument, 0, 'k'},
        {"insecure", no_argument, 0, 'I'},            {"metrics", required_argument, 0, 'M'},
        {"check-config", no_argument, 0, 'K'},        {0, 0, 0, 0}};
    int crc = pw_config_expand("publisher", longopts, &argc, &argv);
    if (crc != 0)
        return crc;
    pw_publisher_opts_t opts = {.bind = "tcp://127.0.0.1:5560"};
    const char *catalog_path = NULL;
    pw_log_level_t level = PW_LOG_INFO;
    bool check_only = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            opts.store_dir = optarg;
            break;
        case 'b':
            opts.bind = optarg;
            break;
        case 'S':
            opts.snapshot_bind = optarg;
            break;
        case 'n':
            opts.notify = optarg;
            break;
        case 'c':
            catalog_path = optarg;
            break;
        case 'k':
            opts.keys_dir = optarg;
            break;
        case 'I':
            opts.insecure = true;
            break;
        case 'M':
            opts.metrics_path = optarg;
            break;
        case 'K':
            check_only = true;
            break;
        case 'l':
            if (pw_log_level_parse(optarg, &level) != 0) {
                fprintf(stderr, "planwatch publisher: %sunknown log level '%s'\n",
                        pw_config_where(), optarg);
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
    if (!opts.store_dir || optind != argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (check_only)
        return check(&opts, catalog_path);
    pw_log_init("publisher", level);
    pw_cli_signals();
    pw_catalog_t *cat = NULL;
    if (pw_cli_store_catalog("publisher", opts.store_dir, catalog_path, false, &cat) != 0)
        return 1;
    opts.catalog = cat;
    opts.reload = &pw_cli_reload;
    pw_publisher_t *pub = NULL;
    int rc = pw_publisher_new(&opts, &pub);
    if (rc == 0)
        rc = pw_publisher_run(pub, &pw_cli_stop);
    else
        PW_ERROR("cannot start: %s", pw_strerror(rc));
    pw_publisher_destroy(&pub);
    pw_catalog_destroy(&cat);
    return rc == 0 ? 0 : 1;
}
