/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE /* realpath */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "command.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"
#include "rebuild.h"
#include "replay.h"
#include "sender.h"
#include "store.h"
#include "view.h"
#include "session.h"
#include "whatif.h"

static const char usage_text[] =
    "usage: planwatch replay --store DIR [options]\n"
    "\n"
    "Replays a store's update log, record by record in commit order, through the\n"
    "same model the aggregator uses: the rates, bands and alerts come out as they\n"
    "came out then, stamped with their original times. By default it prints the\n"
    "alert timeline as it unfolds.\n"
    "\n"
    "what to replay:\n"
    "  --store DIR          the store to read (opened read-only; required)\n"
    "  --from X, --to X     a log sequence number (1500), a time (2018-07-01,\n"
    "                       2018-07-01T08:00:00Z) or a period (2017, 2018H1)\n"
    "  --district ID        only this reporter's records\n"
    "  --indicator ID       only records of the elements this indicator uses\n"
    "  --speed S            original (the pace of the stored commit times), xN\n"
    "                       (N times faster), or max (default)\n"
    "where to:\n"
    "  --into DIR           rebuild into a new store DIR (identical state and history);\n"
    "                       a store that another process writes is refused\n"
    "  --connect ENDPOINT   send into a running aggregator, as collectors do (new\n"
    "                       collector instances: what it already holds changes nothing)\n"
    "  --keys DIR           with --connect: CURVE, each district as\n"
    "                       DIR/districts/ID.secret (see 'planwatch keygen')\n"
    "  --insecure           with --connect: allow tcp:// without CURVE; when no\n"
    "                       answer comes, it says whether handshakes failed\n"
    "  --json               print the rate and alert events produced, as JSON lines\n"
    "  --as-of X            print the evaluation table and open alerts as they stood\n"
    "                       at time X, after log sequence X, or with the data up to\n"
    "                       period X in (--period for the table's period)\n"
    "  --period P           the table's period with --as-of (default: the latest)\n"
    "  --catalog FILE       for a store that does not record its plan (written before\n"
    "                       stores did): the catalog it was written with (default:\n"
    "                       the Wuhan plan's). A store that records its plan is\n"
    "                       replayed under it, each record under the version of the\n"
    "                       plan it was stored under; a FILE that is not that plan\n"
    "                       is an error\n"
    "what if:\n"
    "  --what-if-catalog FILE\n"
    "                       replay under this catalog instead of the store's plan\n"
    "  --threshold N        alert below N instead of the plan's alert_below\n"
    "                       (with --what-if-catalog or --threshold, print how the\n"
    "                       alert timeline differs from the stored one)\n"
    "  --quiet              no progress bar or summary\n"
    "  -h, --help           this text\n";

/* A log sequence number, a time, or a period: which one it is goes by its form. */
static int parse_point(const char *text, bool allow_period, uint64_t *seq, int64_t *ms,
                       pw_period_t *period, int *kind)
{
    size_t n = strlen(text);
    bool digits = n > 0;
    for (size_t i = 0; i < n; i++)
        digits = digits && isdigit((unsigned char)text[i]);
    if (digits && n != 4) { /* "2017" is a period, not record 2017 */
        *seq = strtoull(text, NULL, 10);
        *kind = 1;
        return 0;
    }
    if (allow_period && pw_period_parse(text, n, period) == 0) {
        *kind = 3;
        return 0;
    }
    if (pw_parse_time(text, ms) != 0)
        return -1;
    *kind = 2;
    return 0;
}

/* The command's options. */
struct replay_cmd {
    const char *store_dir, *into, *catalog_path, *connect, *keys_dir, *whatif_path;
    bool insecure, json, quiet, as_of, have_period, threshold_set;
    double speed, threshold;
    pw_period_t period;
    pw_replay_filter_t filter;
};

/* --from, --to and --as-of: a log sequence number, a time or a period. */
static int take_point(struct replay_cmd *o, int c, const char *arg)
{
    uint64_t seq = 0;
    int64_t ms = 0;
    pw_period_t p = {0, 0};
    int kind = 0;
    if (parse_point(arg, true, &seq, &ms, &p, &kind) != 0) {
        fprintf(stderr, "planwatch replay: bad --%s '%s' (a log sequence number, "
                        "2018-07-01, 2018-07-01T08:00:00Z, or a period like 2018H1)\n",
                c == 'f' ? "from" : c == 't' ? "to" : "as-of", arg);
        return 2;
    }
    if (c == 'a') {
        o->as_of = true;
        if (kind == 3 && !o->have_period) { /* as the bureau saw it with that period in */
            o->period = p;
            o->have_period = true;
        }
    }
    pw_replay_filter_t *f = &o->filter;
    if (c == 'f') {
        f->from_seq = kind == 1 ? seq : 0;
        f->from_ms = kind == 2 ? ms : 0;
        f->has_from_period = kind == 3;
        f->from_period = p;
    } else {
        f->to_seq = kind == 1 ? seq : 0;
        f->to_ms = kind == 2 ? ms : 0;
        f->has_to_period = kind == 3;
        f->to_period = p;
    }
    return 0;
}

/* --speed: original, max or xN. */
static int take_speed(struct replay_cmd *o, const char *arg)
{
    if (strcmp(arg, "max") == 0)
        o->speed = 0;
    else if (strcmp(arg, "original") == 0)
        o->speed = 1;
    else if (arg[0] == 'x' && (o->speed = atof(arg + 1)) > 0)
        ;
    else {
        fprintf(stderr, "planwatch replay: --speed is original, max or xN (x10)\n");
        return 2;
    }
    return 0;
}

static int take_threshold(struct replay_cmd *o, const char *arg)
{
    char *end;
    o->threshold = strtod(arg, &end);
    if (*end || !isfinite(o->threshold) || o->threshold < 0) {
        fprintf(stderr, "planwatch replay: --threshold wants a rate, e.g. 50\n");
        return 2;
    }
    o->threshold_set = true;
    return 0;
}

static int take_option(void *p, int c, const char *arg)
{
    struct replay_cmd *o = p;
    switch (c) {
    case 'f':
    case 't':
    case 'a':
        return take_point(o, c, arg);
    case 'S':
        return take_speed(o, arg);
    case 'p':
        if (pw_period_parse(arg, strlen(arg), &o->period) != 0) {
            fprintf(stderr, "planwatch replay: bad --period '%s'\n", arg);
            return 2;
        }
        o->have_period = true;
        return 0;
    case 'T':
        return take_threshold(o, arg);
    default:
        return PW_CLI_USAGE;
    }
}

/* The options that go together; 2 when some do not. */
static int finish(void *p, int nargs, char **args)
{
    const struct replay_cmd *o = p;
    (void)args;
    if (!o->store_dir || nargs != 0)
        return PW_CLI_USAGE;
    bool whatif = o->whatif_path || o->threshold_set;
    if (o->whatif_path && o->catalog_path) {
        fprintf(stderr, "planwatch replay: --catalog names the plan the store was written with; "
                        "--what-if-catalog replays under another one: not both\n");
        return 2;
    }
    if (o->connect && (o->into || o->as_of || whatif || o->json)) {
        fprintf(stderr, "planwatch replay: --connect sends records to an aggregator; it takes "
                        "no --into, --as-of, --json or what-if\n");
        return 2;
    }
    if (whatif && (o->into || o->as_of)) {
        fprintf(stderr, "planwatch replay: a what-if replay compares timelines; it takes no "
                        "--into or --as-of\n");
        return 2;
    }
    /* Opening one LMDB environment twice in a process breaks its locks. */
    char a[4096], b[4096];
    if (o->into && realpath(o->store_dir, a) && realpath(o->into, b) && strcmp(a, b) == 0) {
        fprintf(stderr, "planwatch replay: --into must be another directory than --store\n");
        return 2;
    }
    return 0;
}

/* The store to read, and where its records go: a new store, an aggregator or memory. */
static int prepare(pw_session_t *r, const struct replay_cmd *o, pw_store_t **store_out)
{
    const pw_catalog_t *cat = r->cat;
    pw_store_opts_t so = {.readonly = true};
    int rc = pw_store_open(store_out, o->store_dir, &so);
    if (rc != 0) {
        fprintf(stderr, "planwatch replay: cannot open store %s: %s\n", o->store_dir,
                pw_strerror(rc));
        return rc;
    }
    if (o->as_of && (rc = pw_view_new(cat, &r->view)) != 0)
        return rc;
    if (o->connect)
        pw_log_init("replay", PW_LOG_WARN);
    if (o->connect &&
        (rc = pw_sender_new(o->connect, o->keys_dir, o->insecure, 30000, &r->sender)) != 0) {
        fprintf(stderr, "planwatch replay: cannot connect to %s: %s\n", o->connect,
                pw_strerror(rc));
        return rc;
    }
    r->timeline_out = r->timeline_out && !o->connect;
    if ((rc = pw_rebuild_new(cat, o->into, pw_session_on_event, r, &r->rb)) != 0) {
        char busy[4200] = "";
        if (rc == -EBUSY && o->into)
            pw_store_busy_text(o->into, busy, sizeof(busy));
        fprintf(stderr, "planwatch replay: cannot rebuild into %s: %s\n", o->into ? o->into : "-",
                busy[0]              ? busy
                : rc == PW_EINCOMPAT ? "it already holds a store with data"
                                     : pw_strerror(rc));
        return rc;
    }
    if (r->plans[0].time_ms >= 0 && (rc = pw_rebuild_plan(r->rb, cat, r->plans[0].time_ms)) != 0)
        return rc;
    r->next_plan = 1;
    return 0;
}

/* Reads the store's log through the rebuild (or to the aggregator). */
static int play(pw_session_t *r, const struct replay_cmd *o, pw_store_t *store)
{
    pw_replay_count(store, &r->total);
    if (o->filter.to_seq && o->filter.to_seq < r->total)
        r->total = o->filter.to_seq;
    r->started = pw_mono_ms();
    int rc = pw_replay_read_raw(store, &o->filter, r->cat, pw_session_on_record, r);
    if (rc == PW_ENOTFOUND)
        fprintf(stderr, "planwatch replay: unknown indicator '%s'\n", o->filter.indicator);
    if (rc == 0)
        rc = r->sender ? pw_sender_finish(r->sender) : pw_rebuild_finish(r->rb);
    pw_session_progress(r, true);
    if (r->sender && !r->quiet) {
        uint64_t ok, rejected;
        pw_sender_counts(r->sender, &ok, &rejected);
        fprintf(stderr, "sent %llu updates to %s: %llu stored, %llu rejected%s\n",
                (unsigned long long)r->done, o->connect, (unsigned long long)ok,
                (unsigned long long)rejected, rc == 0 ? "" : " (incomplete)");
    }
    char why[192] = "";
    if (rc == PW_ETIMEOUT && r->sender)
        fprintf(stderr, "planwatch replay: no answer from the aggregator at %s%s%s\n", o->connect,
                pw_sender_hint(r->sender, why, sizeof(why)) ? ": " : "", why);
    return rc;
}

/* What a finished replay prints: the as-of table or the what-if difference, then a summary. */
static int conclude(pw_session_t *r, const struct replay_cmd *o, pw_store_t *store, bool whatif_json)
{
    bool whatif = r->collect;
    int rc = 0;
    if (o->as_of) {
        pw_period_t p = o->period;
        if (o->have_period || pw_view_latest_period(r->view, &p))
            pw_view_print_table(r->view, stdout, p, r->color);
        else
            printf("nothing stored at that point\n");
    }
    if (whatif) {
        pw_whatif_timeline_t stored = {0};
        if ((rc = pw_whatif_stored(&stored, store)) == 0)
            rc = pw_whatif_diff(&stored, &r->got, whatif_json, r->plans[0].cat);
        pw_whatif_clear(&stored);
    }
    if (rc == 0 && !r->sender)
        rc = pw_session_check_skipped(r, whatif);
    if (rc == 0 && !r->quiet && !r->json) {
        uint64_t applied, skipped;
        pw_rebuild_counts(r->rb, &applied, &skipped);
        double secs = (double)(pw_mono_ms() - r->started) / 1000.0;
        if (r->sender)
            applied = r->done;
        fprintf(stderr, "replayed %llu records (%llu skipped) into %s: %llu events, %.2f s, "
                        "%.0f records/s\n",
                (unsigned long long)applied, (unsigned long long)skipped,
                o->into ? o->into : o->connect ? o->connect : "memory",
                (unsigned long long)r->events, secs, secs > 0 ? (double)applied / secs : 0.0);
    }
    return rc;
}

/* The replay once its options are read: the exit status. */
static int replay(const struct replay_cmd *o)
{
    pw_session_t r;
    memset(&r, 0, sizeof(r));
    r.json = o->json;
    r.quiet = o->quiet;
    r.speed = o->speed;
    bool whatif = o->whatif_path || o->threshold_set;
    pw_cli_signals();
    if (pw_session_load_plans(&r, o->store_dir, o->catalog_path, o->whatif_path) != 0)
        return 1;
    for (size_t i = 0; o->threshold_set && i < r.nplans; i++)
        r.plans[i].cat->alert_below = o->threshold;
    r.cat = r.plans[0].cat;
    r.color = isatty(STDOUT_FILENO) && !r.json;
    r.progress = !r.quiet && isatty(STDERR_FILENO);
    r.collect = whatif;
    r.timeline_out = !r.json && !o->as_of && !whatif;
    bool whatif_json = whatif && r.json;
    if (whatif || o->as_of)
        r.json = false; /* these print their own result, not the event stream */
    pw_store_t *store = NULL;
    int rc = prepare(&r, o, &store);
    if (rc == 0) {
        rc = play(&r, o, store);
        if (rc == 0)
            rc = conclude(&r, o, store, whatif_json);
        if (rc != 0 && rc != PW_ENOTFOUND && rc != PW_EINCOMPAT)
            fprintf(stderr, "planwatch replay: %s\n", pw_strerror(rc));
    }
    fflush(stdout);
    pw_session_clear(&r);
    pw_store_destroy(&store);
    return rc == 0 ? 0 : 1;
}

int pw_cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, 0, 's'},    {"into", required_argument, 0, 'i'},
        {"from", required_argument, 0, 'f'},     {"to", required_argument, 0, 't'},
        {"district", required_argument, 0, 'd'}, {"indicator", required_argument, 0, 'I'},
        {"speed", required_argument, 0, 'S'},    {"json", no_argument, 0, 'j'},
        {"as-of", required_argument, 0, 'a'},    {"period", required_argument, 0, 'p'},
        {"catalog", required_argument, 0, 'c'},  {"threshold", required_argument, 0, 'T'},
        {"what-if-catalog", required_argument, 0, 'W'},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, PW_CLI_HELP},
        {"connect", required_argument, 0, 'C'},  {"keys", required_argument, 0, 'k'},
        {"insecure", no_argument, 0, 'K'},       {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'s', offsetof(struct replay_cmd, store_dir)},
        {'i', offsetof(struct replay_cmd, into)},
        {'C', offsetof(struct replay_cmd, connect)},
        {'k', offsetof(struct replay_cmd, keys_dir)},
        {'K', offsetof(struct replay_cmd, insecure)},
        {'d', offsetof(struct replay_cmd, filter.district)},
        {'I', offsetof(struct replay_cmd, filter.indicator)},
        {'j', offsetof(struct replay_cmd, json)},
        {'c', offsetof(struct replay_cmd, catalog_path)},
        {'W', offsetof(struct replay_cmd, whatif_path)},
        {'q', offsetof(struct replay_cmd, quiet)},
        {0, 0}};
    static const pw_cli_command_t command = {"replay", usage_text, longopts,
                                             take_option, finish, fields};
    struct replay_cmd o;
    memset(&o, 0, sizeof(o));
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    return replay(&o);
}
