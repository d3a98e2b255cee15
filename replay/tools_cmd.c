/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "replay.h"
#include "cli.h"
#include "command.h"
#include "pw/error.h"
#include "store.h"
#include "verify.h"
#include "view.h"

#define ERRMAX 8192 /* an error message with up to two paths in it */

static const char verify_usage[] =
    "usage: planwatch verify [options] A B\n"
    "\n"
    "Compares two stores (directories of the aggregator's LMDB store, opened\n"
    "read-only) and lists every difference, one per line: the catalog digest,\n"
    "the current values, the rate rows, the open alerts, the alert history\n"
    "(series by series, in order) and the update log (record by record). The\n"
    "time and sequence stamps of rate rows and alerts are not compared; the\n"
    "log's records are compared with all their fields.\n"
    "\n"
    "Exit status, like cmp and diff: 0 when the stores are identical, 1 when\n"
    "they differ, 2 on bad usage or when a store cannot be read.\n"
    "\n"
    "options:\n"
    "  --json          one JSON object per difference, then {\"differences\": N}\n"
    "  --limit N       differences shown per part (default 100; 0 = all); the\n"
    "                  rest are counted (with --json: {\"part\": P, \"more\": N})\n"
    "  -h, --help      this text\n";

static const char export_usage[] =
    "usage: planwatch export --store DIR --out FILE [options]\n"
    "\n"
    "Writes a store's update log, every stored record in log order, to a\n"
    "portable file. msgpack: a header map {\"planwatch_export\": 2, \"records\": N,\n"
    "\"catalog\": digest, \"plans\": K}, then one map per record, as the intake\n"
    "protocol encodes a stored record, and among them the K versions of the\n"
    "plan the store records, each a map {\"plan\": catalog text, \"time\": ms} right\n"
    "before the first record it applies to: the export carries its plan, and\n"
    "needs no --catalog. CSV: the header line\n"
    "seq,district,epoch,record_seq,element,period,value,observed_ms,received_ms,kind\n"
    "and one line per record, without the plan. The store is opened read-only\n"
    "and read in short transactions, so an aggregator can keep writing; the\n"
    "export holds the log as it stood when the export started. The file is\n"
    "written as FILE.tmp and renamed to FILE once complete and synced.\n"
    "\n"
    "options:\n"
    "  --store DIR       the store to read (required)\n"
    "  --out FILE        the file to write (required)\n"
    "  --format F        msgpack or csv (default: csv when FILE ends in .csv,\n"
    "                    else msgpack)\n"
    "  --district ID     only this reporter's records\n"
    "  --from N, --to N  only log sequence numbers N to M\n"
    "                    (a filtered export imports as a store of those records only)\n"
    "  -h, --help        this text\n";

static const char import_usage[] =
    "usage: planwatch import --in FILE --store DIR [options]\n"
    "\n"
    "Loads an export (msgpack or CSV, told apart by their content) into a new\n"
    "store DIR, feeding its records in order through the aggregator's model, so\n"
    "the new store has the same log, current values, rates and alert history\n"
    "as the exported one (planwatch verify tells). An export that carries its\n"
    "plan (msgpack, version 2) is imported under it: each record is checked\n"
    "and rated under the plan version in force where it stands, and the new\n"
    "store records the same plan versions. The whole file is checked before\n"
    "anything is written. DIR must not hold a store with data, nor be written\n"
    "by a running aggregator (\"store DIR in use by pid N\"); a failed import\n"
    "leaves no store behind.\n"
    "\n"
    "options:\n"
    "  --in FILE         the export to read (required)\n"
    "  --store DIR       the new store (required)\n"
    "  --catalog FILE    for an export that carries no plan (CSV, version 1): the\n"
    "                    catalog its store was written with (default: the Wuhan\n"
    "                    plan's; a msgpack header's digest must match it). For\n"
    "                    one that carries its plan, FILE must be that plan (its\n"
    "                    latest version), or the import is refused\n"
    "  -h, --help        this text\n";

struct verify_out {
    const char *a, *b; /* the two stores */
    bool json;
    uint64_t limit; /* 0: all */
    uint64_t shown[PW_VERIFY_NPARTS], more[PW_VERIFY_NPARTS];
};

static int print_diff(void *ctx, const pw_verify_diff_t *d)
{
    struct verify_out *o = ctx;
    const char *part = pw_verify_part_name(d->part);
    if (o->limit && o->shown[d->part] >= o->limit) {
        o->more[d->part]++;
        return 0;
    }
    o->shown[d->part]++;
    if (o->json) {
        fprintf(stdout, "{\"part\":\"%s\",\"key\":", part);
        pw_view_json_str(stdout, d->key);
        fputs(",\"a\":", stdout);
        pw_view_json_str(stdout, d->a);
        fputs(",\"b\":", stdout);
        pw_view_json_str(stdout, d->b);
        fputs("}\n", stdout);
    } else if (d->a && d->b) {
        printf("%s%s%s: %s vs %s\n", part, d->key[0] ? " " : "", d->key, d->a, d->b);
    } else {
        printf("only in %s: %s %s: %s\n", d->a ? "A" : "B", part, d->key, d->a ? d->a : d->b);
    }
    return 0;
}

static int parse_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/* Opens a store read-only; the same store twice (by inode) is opened once. */
static int open_ro(const char *cmd, const char *dir, pw_store_t **out)
{
    pw_store_opts_t ro = {.readonly = true};
    int rc = pw_store_open(out, dir, &ro);
    if (rc == PW_EINCOMPAT)
        fprintf(stderr, "planwatch %s: %s: not a planwatch store of this format\n", cmd, dir);
    else if (rc != 0)
        fprintf(stderr, "planwatch %s: cannot open the store in %s: %s\n", cmd, dir,
                pw_strerror(rc));
    return rc;
}

static bool same_store(const char *a, const char *b)
{
    char pa[4200], pb[4200];
    struct stat sa, sb;
    snprintf(pa, sizeof(pa), "%s/data.mdb", a);
    snprintf(pb, sizeof(pb), "%s/data.mdb", b);
    return stat(pa, &sa) == 0 && stat(pb, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int verify_option(void *p, int c, const char *arg)
{
    struct verify_out *o = p;
    if (c != 'l')
        return PW_CLI_USAGE;
    if (parse_count(arg, &o->limit) != 0) {
        fprintf(stderr, "planwatch verify: --limit wants a number, not '%s'\n", arg);
        return 2;
    }
    return 0;
}

static int verify_finish(void *p, int nargs, char **args)
{
    struct verify_out *o = p;
    if (nargs != 2) {
        fprintf(stderr, "planwatch verify: two stores to compare, A and B\n");
        return PW_CLI_USAGE;
    }
    o->a = args[0];
    o->b = args[1];
    return 0;
}

int pw_cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"limit", required_argument, 0, 'l'},
                                             {"help", no_argument, 0, PW_CLI_HELP},
                                             {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'j', offsetof(struct verify_out, json)},
        {0, 0}};
    static const pw_cli_command_t command = {"verify", verify_usage, longopts,
                                             verify_option, verify_finish, fields};
    struct verify_out o = {.limit = 100};
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    const char *da = o.a, *db = o.b;
    pw_store_t *a = NULL, *b = NULL;
    if (open_ro("verify", da, &a) != 0)
        return 2;
    /* LMDB must not open one environment twice in a process. */
    bool same = same_store(da, db);
    if (!same && open_ro("verify", db, &b) != 0) {
        pw_store_destroy(&a);
        return 2;
    }
    uint64_t n = 0;
    int rc = pw_verify_stores(a, same ? a : b, print_diff, &o, &n);
    if (rc != 0)
        fprintf(stderr, "planwatch verify: cannot compare %s with %s: %s\n", da, db,
                pw_strerror(rc));
    pw_store_destroy(&b);
    pw_store_destroy(&a);
    if (rc != 0)
        return 2;
    for (int p = 0; p < PW_VERIFY_NPARTS; p++) {
        if (!o.more[p])
            continue;
        if (o.json)
            printf("{\"part\":\"%s\",\"more\":%" PRIu64 "}\n",
                   pw_verify_part_name((pw_verify_part_t)p), o.more[p]);
        else
            printf("... and %" PRIu64 " more %s difference%s\n", o.more[p],
                   pw_verify_part_name((pw_verify_part_t)p), o.more[p] == 1 ? "" : "s");
    }
    if (o.json)
        printf("{\"differences\":%" PRIu64 "}\n", n);
    else if (n == 0)
        printf("identical\n");
    else
        printf("%" PRIu64 " difference%s\n", n, n == 1 ? "" : "s");
    if (fflush(stdout) != 0) {
        fprintf(stderr, "planwatch verify: cannot write the result: %s\n", strerror(errno));
        return 2;
    }
    return n == 0 ? 0 : 1;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* export's options. */
struct export_cmd {
    const char *store_dir, *out, *format;
    pw_replay_filter_t filter;
};

static int export_option(void *p, int c, const char *arg)
{
    struct export_cmd *o = p;
    uint64_t v;
    switch (c) {
    case 'F':
    case 'T':
        if (parse_count(arg, &v) != 0 || v == 0) {
            fprintf(stderr,
                    "planwatch export: --%s wants a log sequence number (1 or more), not '%s'\n",
                    c == 'F' ? "from" : "to", arg);
            return 2;
        }
        *(c == 'F' ? &o->filter.from_seq : &o->filter.to_seq) = v;
        return 0;
    default:
        return PW_CLI_USAGE;
    }
}

static int export_finish(void *p, int nargs, char **args)
{
    const struct export_cmd *o = p;
    (void)args;
    if (o->store_dir && o->out && nargs == 0)
        return 0;
    fprintf(stderr, "planwatch export: %s\n",
            nargs != 0 ? "unexpected argument" : "--store and --out are required");
    return PW_CLI_USAGE;
}

int pw_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},  {"out", required_argument, 0, 'o'},
        {"format", required_argument, 0, 'f'}, {"district", required_argument, 0, 'd'},
        {"from", required_argument, 0, 'F'},   {"to", required_argument, 0, 'T'},
        {"help", no_argument, 0, PW_CLI_HELP}, {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'s', offsetof(struct export_cmd, store_dir)},
        {'o', offsetof(struct export_cmd, out)},
        {'f', offsetof(struct export_cmd, format)},
        {'d', offsetof(struct export_cmd, filter.district)},
        {0, 0}};
    static const pw_cli_command_t command = {"export", export_usage, longopts,
                                             export_option, export_finish, fields};
    struct export_cmd o;
    memset(&o, 0, sizeof(o));
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    const char *store_dir = o.store_dir, *out = o.out, *format = o.format;
    const pw_replay_filter_t filter = o.filter;
    pw_archive_format_t fmt = ends_with(out, ".csv") ? PW_ARCHIVE_CSV : PW_ARCHIVE_MSGPACK;
    if (format && strcmp(format, "msgpack") == 0) {
        fmt = PW_ARCHIVE_MSGPACK;
    } else if (format && strcmp(format, "csv") == 0) {
        fmt = PW_ARCHIVE_CSV;
    } else if (format) {
        fprintf(stderr, "planwatch export: --format is msgpack or csv, not '%s'\n", format);
        return 2;
    }
    if (filter.from_seq && filter.to_seq && filter.from_seq > filter.to_seq) {
        fprintf(stderr, "planwatch export: --from %" PRIu64 " is after --to %" PRIu64 "\n",
                filter.from_seq, filter.to_seq);
        return 2;
    }
    pw_cli_signals();
    pw_store_t *store = NULL;
    if (open_ro("export", store_dir, &store) != 0)
        return 1;
    char *err = calloc(1, ERRMAX);
    uint64_t n = 0;
    size_t plans = 0;
    int rc =
        err ? pw_archive_export(store, &filter, fmt, out, &pw_cli_stop, &n, &plans, err, ERRMAX)
            : -ENOMEM;
    pw_store_destroy(&store);
    if (rc != 0)
        fprintf(stderr, "planwatch export: %s\n", err && err[0] ? err : pw_strerror(rc));
    else
        printf("exported %" PRIu64 " record%s from %s to %s (%s, %zu plan version%s)\n", n,
               n == 1 ? "" : "s", store_dir, out, pw_archive_format_name(fmt), plans,
               plans == 1 ? "" : "s");
    free(err);
    return rc == 0 ? 0 : 1;
}

/* import's options. */
struct import_cmd {
    const char *in, *store_dir, *catalog_path;
};

static int import_finish(void *p, int nargs, char **args)
{
    const struct import_cmd *o = p;
    (void)args;
    if (o->in && o->store_dir && nargs == 0)
        return 0;
    fprintf(stderr, "planwatch import: %s\n",
            nargs != 0 ? "unexpected argument" : "--in and --store are required");
    return PW_CLI_USAGE;
}

int pw_cmd_import(int argc, char **argv)
{
    static const struct option longopts[] = {{"in", required_argument, 0, 'i'},
                                             {"store", required_argument, 0, 's'},
                                             {"catalog", required_argument, 0, 'c'},
                                             {"help", no_argument, 0, PW_CLI_HELP},
                                             {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'i', offsetof(struct import_cmd, in)},
        {'s', offsetof(struct import_cmd, store_dir)},
        {'c', offsetof(struct import_cmd, catalog_path)},
        {0, 0}};
    static const pw_cli_command_t command = {"import", import_usage, longopts, NULL,
                                             import_finish, fields};
    struct import_cmd o = {0};
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    const char *in = o.in, *store_dir = o.store_dir, *catalog_path = o.catalog_path;
    pw_cli_signals();
    pw_catalog_t *cat = NULL;
    if (pw_cli_load_catalog(catalog_path, &cat) != 0)
        return 1;
    char *err = calloc(1, ERRMAX);
    pw_archive_info_t info;
    memset(&info, 0, sizeof(info));
    int rc = err ? pw_archive_import(cat, catalog_path != NULL, in, store_dir, &pw_cli_stop, &info,
                                     err, ERRMAX)
                 : -ENOMEM;
    if (rc != 0)
        fprintf(stderr, "planwatch import: %s\n", err && err[0] ? err : pw_strerror(rc));
    else
        printf("imported %" PRIu64 " record%s from %s (%s, %zu plan version%s) into %s\n",
               info.records, info.records == 1 ? "" : "s", in, pw_archive_format_name(info.format),
               info.nplans, info.nplans == 1 ? "" : "s", store_dir);
    pw_archive_info_clear(&info);
    free(err);
    pw_catalog_destroy(&cat);
    return rc == 0 ? 0 : 1;
}
