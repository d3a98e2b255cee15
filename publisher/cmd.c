/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "publisher.h"
#include "pw/endpoint.h"
#include "pw/error.h"
#include "pw/log.h"

/* The command's options and, once started, what it runs. */
struct pub_cmd {
    pw_publisher_opts_t opts;
    const char *catalog_path;
    pw_publisher_t *obj;
};

PW_CLI_STORE_DAEMON(struct pub_cmd, "publisher", false, pw_publisher_new, pw_publisher_run,
                    pw_publisher_destroy)

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
static int check(void *p)
{
    const struct pub_cmd *o = p;
    const pw_publisher_opts_t *opts = &o->opts;
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
    ok &= pw_config_check_outputs("publisher", opts->notify, opts->metrics_path);
    pw_catalog_t *cat = NULL;
    ok &= load(p, &cat) == 0;
    if (ok) {
        printf("store = %s\nbind = %s\nsnapshot-bind = %s\n", opts->store_dir, opts->bind, snap);
        pw_config_print_plan(o->catalog_path, cat, opts->keys_dir, opts->insecure);
        if (opts->metrics_path)
            printf("metrics = %s\n", opts->metrics_path);
        printf("planwatch publisher: configuration OK\n");
    }
    pw_catalog_destroy(&cat);
    return ok ? 0 : 1;
}

static int finish(void *p, int nargs, char **args)
{
    const struct pub_cmd *o = p;
    (void)args;
    return !o->opts.store_dir || nargs != 0 ? PW_CLI_USAGE : 0;
}

int pw_cmd_publisher(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},         {"bind", required_argument, 0, 'b'},
        {"snapshot-bind", required_argument, 0, 'S'}, {"notify", required_argument, 0, 'n'},
        {"log-level", required_argument, 0, PW_CLI_LOG_LEVEL},
        {"help", no_argument, 0, PW_CLI_HELP},
        {"catalog", required_argument, 0, 'c'},       {"keys", required_argument, 0, 'k'},
        {"insecure", no_argument, 0, 'I'},            {"metrics", required_argument, 0, 'M'},
        {"check-config", no_argument, 0, PW_CLI_CHECK_CONFIG}, {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'s', offsetof(struct pub_cmd, opts.store_dir)},
        {'b', offsetof(struct pub_cmd, opts.bind)},
        {'S', offsetof(struct pub_cmd, opts.snapshot_bind)},
        {'n', offsetof(struct pub_cmd, opts.notify)},
        {'c', offsetof(struct pub_cmd, catalog_path)},
        {'k', offsetof(struct pub_cmd, opts.keys_dir)},
        {'I', offsetof(struct pub_cmd, opts.insecure)},
        {'M', offsetof(struct pub_cmd, opts.metrics_path)},
        {0, 0}};
    static const pw_cli_daemon_t daemon = {
        {"publisher", usage_text, longopts, NULL, finish, fields},
        PW_LOG_INFO, check, load, start, run, stop};
    struct pub_cmd o = {.opts = {.bind = "tcp://127.0.0.1:5560", .reload = &pw_cli_reload}};
    return pw_cli_daemon_main(&daemon, argc, argv, &o);
}
