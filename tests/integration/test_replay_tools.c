/* SPDX-License-Identifier: MIT */
/*
 * planwatch verify, export and import with the real binary: a demo store
 * compared with itself, exported and imported in both formats and compared
 * again, two demo runs told apart, a tampered export found out, and bad
 * exports and occupied targets refused without leaving a store behind. A
 * store of a plan of its own, revised once, goes through export and import
 * with its plan versions; version 1 exports still import.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"

static pw_fixture_t fx;
static char store[96]; /* the demo's store: short, the demo takes 80 bytes at most */

static void setup(void)
{
    cr_assert_eq(pw_fixture_open(&fx), 0);
    pw_fixture_path(&fx, store, sizeof(store), "a");
    /* The aggregator's store is the small plan's. */
    pw_fixture_path(&fx, fx.store, sizeof(fx.store), "small");
}

static void teardown(void)
{
    pw_fixture_close(&fx);
}

TestSuite(replay_tools, .init = setup, .fini = teardown, .timeout = 400.0);

/* Runs planwatch with args; its stdout and stderr come back in *out and *err (caller frees). */
static int run(char *const args[], char **out, char **err)
{
    int rc = pw_fixture_run(&fx, args + 1, 120000, out, err);
    cr_assert(*out && *err);
    /* An expected exit 1 must not hide a sanitizer's. */
    cr_assert(!strstr(*err, "Sanitizer") && !strstr(*err, "runtime error:"), "%s", *err);
    return rc;
}

static void demo(char *into)
{
    char *args[] = {"demo", "--store", into, NULL}, *text, *etext;
    int rc = pw_fixture_run(&fx, args, 180000, &text, &etext);
    if (rc != 0)
        cr_assert_fail("demo --store %s: exit %d\n%s\n%s", into, rc, text ? text : "",
                       etext ? etext : "");
    free(text);
    free(etext);
}

/* planwatch verify a b: its exit status, with its output in *out (caller frees). */
static int verify(char *a, char *b, bool json, char **out)
{
    char *err;
    char *args[] = {"planwatch", "verify", a, b, json ? "--json" : NULL, NULL};
    int rc = run(args, out, &err);
    free(err);
    return rc;
}

static void export_to(char *file, char *format)
{
    char *out, *err;
    char *args[] = {
        "planwatch", "export", "--store", store, "--out", file, format ? "--format" : NULL,
        format,      NULL};
    cr_assert_eq(run(args, &out, &err), 0, "export: %s", err);
    cr_assert(strstr(out, "exported 1501 records"), "%s", out);
    free(out);
    free(err);
}

/* planwatch import; its exit status, with stderr in *err (caller frees). */
static int import_from(char *file, char *into, char **err)
{
    char *out;
    char *args[] = {"planwatch", "import", "--in", file, "--store", into, NULL};
    int rc = run(args, &out, err);
    free(out);
    return rc;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

Test(replay_tools, help_and_usage_errors)
{
    char *cmds[] = {"verify", "export", "import"};
    for (size_t i = 0; i < 3; i++) {
        char *out, *err;
        char *args[] = {"planwatch", cmds[i], "--help", NULL};
        cr_assert_eq(run(args, &out, &err), 0, "%s --help", cmds[i]);
        cr_assert(strstr(out, "usage: planwatch"), "%s", out);
        free(out);
        free(err);
        char *bad[] = {"planwatch", cmds[i], "--bogus", NULL};
        cr_assert_eq(run(bad, &out, &err), 2, "%s --bogus", cmds[i]);
        cr_assert(strstr(err, "usage: planwatch"), "%s", err);
        free(out);
        free(err);
    }
    char *out, *err;
    char *one[] = {"planwatch", "verify", fx.dir, NULL};
    cr_assert_eq(run(one, &out, &err), 2);
    free(out);
    free(err);
    char *fmt[] = {"planwatch", "export", "--store", fx.dir, "--out", "x", "--format", "xml", NULL};
    cr_assert_eq(run(fmt, &out, &err), 2);
    cr_assert(strstr(err, "msgpack or csv"), "%s", err);
    free(out);
    free(err);
    /* A store that is not there: trouble, told apart from a difference. */
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/missing", fx.dir);
    cr_assert_eq(verify(fx.dir, missing, false, &out), 2);
    free(out);
}

Test(replay_tools, store_is_identical_to_itself_and_to_its_imports)
{
    demo(store);
    char *out;
    cr_assert_eq(verify(store, store, false, &out), 0, "%s", out);
    cr_assert_str_eq(out, "identical\n");
    free(out);

    char *files[] = {"export.mp", "export.csv"};
    for (size_t i = 0; i < 2; i++) {
        char file[128], into[128];
        snprintf(file, sizeof(file), "%s/%s", fx.dir, files[i]);
        snprintf(into, sizeof(into), "%s/imported%zu", fx.dir, i);
        export_to(file, NULL); /* the format from the suffix */
        char tmp[160];
        snprintf(tmp, sizeof(tmp), "%s.tmp", file);
        cr_assert(!exists(tmp), "%s left behind", tmp);
        char *err;
        cr_assert_eq(import_from(file, into, &err), 0, "import %s: %s", files[i], err);
        free(err);
        /* CSV carries no plan: the import records the one it checked the file with,
         * the same text from the same record. */
        cr_assert_eq(verify(store, into, false, &out), 0, "%s vs %s: %s", store, into, out);
        cr_assert_str_eq(out, "identical\n");
        free(out);
        cr_assert_eq(verify(store, into, true, &out), 0);
        cr_assert_str_eq(out, "{\"differences\":0}\n");
        free(out);
    }
    /* The CSV is what it says: the header, then one line per record. */
    char file[128];
    snprintf(file, sizeof(file), "%s/export.csv", fx.dir);
    char *csv = pw_read_file(file);
    const char *head = "seq,district,epoch,record_seq,element,period,value,observed_ms,"
                       "received_ms,kind\n1,";
    cr_assert(strncmp(csv, head, strlen(head)) == 0, "%.200s", csv);
    size_t lines = 0;
    for (char *p = csv; (p = strchr(p, '\n')); p++)
        lines++;
    cr_assert_eq(lines, 1502);
    free(csv);
    /* An import into a store with data is refused, and leaves it as it was. */
    char *err, copy[128];
    snprintf(file, sizeof(file), "%s/export.mp", fx.dir);
    cr_assert_eq(import_from(file, store, &err), 1);
    cr_assert(strstr(err, "already holds a store with 1501 records"), "%s", err);
    free(err);
    snprintf(copy, sizeof(copy), "%s/imported0", fx.dir);
    cr_assert_eq(import_from(file, copy, &err), 1);
    cr_assert(strstr(err, "already holds a store"), "%s", err);
    free(err);
    cr_assert_eq(verify(store, copy, false, &out), 0, "%s", out);
    free(out);
    /* An explicit format wins over the suffix. */
    snprintf(file, sizeof(file), "%s/export-csv.mp", fx.dir);
    export_to(file, "csv");
    csv = pw_read_file(file);
    cr_assert(strncmp(csv, "seq,", 4) == 0);
    free(csv);
}

Test(replay_tools, two_demo_runs_differ)
{
    char other[96];
    snprintf(other, sizeof(other), "%s/b", fx.dir);
    demo(store);
    demo(other);
    char *out;
    /* Same data, so the same values, rates and alerts; but the log's epochs and times
     * differ (when the plan took effect is a stamp, and not compared). */
    cr_assert_eq(verify(store, other, false, &out), 1, "%s", out);
    cr_assert(strncmp(out, "log #1: ", 8) == 0, "%s", out);
    cr_assert(strstr(out, "log #1: "), "%s", out);
    cr_assert(strstr(out, " vs "), "%s", out);
    cr_assert(strstr(out, "more log differences\n"), "at most 100 lines per part: %s", out);
    cr_assert(strstr(out, "1501 differences\n"), "%s", out);
    size_t lines = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    cr_assert_eq(lines, 102, "100 log differences, the count of the rest, the total: %s", out);
    free(out);
    cr_assert_eq(verify(store, other, true, &out), 1);
    cr_assert(strstr(out, "{\"part\":\"log\",\"key\":\"#1\",\"a\":\""), "%s", out);
    cr_assert(strstr(out, "{\"differences\":1501}\n"), "%s", out);
    free(out);
}

Test(replay_tools, tampered_value_shows_in_values_rates_alerts_and_log)
{
    demo(store);
    char file[128], tampered[128], into[128];
    snprintf(file, sizeof(file), "%s/export.csv", fx.dir);
    snprintf(tampered, sizeof(tampered), "%s/tampered.csv", fx.dir);
    snprintf(into, sizeof(into), "%s/t", fx.dir);
    export_to(file, NULL);
    /* hongshan's care beds for 2018H1, 5 000 more: beds per 1 000 elderly is no longer severe. */
    char *csv = pw_read_file(file);
    cr_assert_not_null(csv);
    char *v = NULL;
    for (char *line = csv; line && *line && !v; line = strchr(line, '\n') + 1) {
        char buf[256];
        size_t n = strcspn(line, "\n");
        snprintf(buf, sizeof(buf), "%.*s", (int)n, line);
        char *at = strstr(buf, ",care_beds,2018H1,");
        if (strstr(buf, ",hongshan,") && at)
            v = line + (at - buf) + strlen(",care_beds,2018H1,");
    }
    cr_assert_not_null(v);
    long beds = strtol(v, NULL, 10);
    char *after = strchr(v, ',');
    FILE *f = fopen(tampered, "w");
    cr_assert_not_null(f);
    fprintf(f, "%.*s%ld%s", (int)(v - csv), csv, beds + 5000, after);
    fclose(f);
    free(csv);
    char *err;
    cr_assert_eq(import_from(tampered, into, &err), 0, "%s", err);
    free(err);
    char *out;
    cr_assert_eq(verify(store, into, false, &out), 1, "%s", out);
    cr_assert(strstr(out, "current hongshan/care_beds/2018H1: "), "%s", out);
    cr_assert(strstr(out, "rate beds_per_1000_elderly/2018H1: 38.7 rate 26.15 severe 13/13 vs "),
              "%s", out);
    cr_assert(strstr(out, "only in A: open beds_per_1000_elderly: "), "%s", out);
    cr_assert(strstr(out, "only in B: alert beds_per_1000_elderly #2: resolve 2018H1"), "%s", out);
    cr_assert(strstr(out, "log #"), "%s", out);
    cr_assert(!strstr(out, "log: "), "same number of records: %s", out);
    free(out);
}

Test(replay_tools, bad_exports_are_refused_and_leave_no_store)
{
    demo(store);
    char mp[128], csvf[128], bad[128], into[128], empty_dir[128], path[160];
    snprintf(mp, sizeof(mp), "%s/export.mp", fx.dir);
    snprintf(csvf, sizeof(csvf), "%s/export.csv", fx.dir);
    snprintf(bad, sizeof(bad), "%s/bad", fx.dir);
    snprintf(into, sizeof(into), "%s/new", fx.dir);
    snprintf(empty_dir, sizeof(empty_dir), "%s/empty", fx.dir);
    cr_assert_eq(mkdir(empty_dir, 0700), 0);
    export_to(mp, NULL);
    export_to(csvf, NULL);
    size_t len, clen;
    char *data = read_bytes(mp, &len);
    char *csv = read_bytes(csvf, &clen);
    /* The record maps start "\x8b\xa2pv"; one from the middle on is where a cut is clean. */
    char *mid = NULL;
    for (size_t i = len / 2; !mid && i + 4 <= len; i++)
        if (memcmp(data + i, "\x8b\xa2pv", 4) == 0)
            mid = data + i;
    cr_assert_not_null(mid);
    char *garbage = malloc(len);
    cr_assert_not_null(garbage);
    memcpy(garbage, data, len);
    memcpy(garbage + (mid - data), "\xdd\xff\xff\xff\xff", 5); /* an array of 2^32-1 */
    char *nl = memchr(csv + clen / 2, '\n', clen / 2);
    struct {
        const char *what;
        const void *bytes;
        size_t len;
        const char *want;
    } cases[] = {
        {"msgpack cut inside a record", data, (size_t)(mid - data) + 10, "truncated"},
        {"msgpack cut between records", data, (size_t)(mid - data), "header announces 1501"},
        {"msgpack with a huge array in it", garbage, len, "not an export map"},
        {"msgpack header alone, cut", data, 20, "truncated"},
        {"random bytes", "\x00\x01garbage", 9, "not a planwatch export"},
        {"empty", "", 0, "empty"},
        {"csv cut inside a line", csv, nl ? (size_t)(nl - csv) - 3 : 0, "no newline"},
        {"csv with a bad value",
         "seq,district,epoch,record_seq,element,period,value,observed_ms,"
         "received_ms,kind\n1,jiangan,7,1,care_beds,2016,abc,5,6,new\n",
         (size_t)-1, ":2: value 'abc'"},
        {"csv with a bad header", "seq,district\n", (size_t)-1, ":1: the header line"},
        {"csv with an unknown district",
         "seq,district,epoch,record_seq,element,period,value,observed_ms,"
         "received_ms,kind\n1,atlantis,7,1,care_beds,2016,1,5,6,new\n",
         (size_t)-1, "unknown district"},
    };
    cr_assert_not_null(nl);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].len == (size_t)-1 ? strlen(cases[i].bytes) : cases[i].len;
        write_file(bad, cases[i].bytes, n);
        char *targets[] = {into, empty_dir};
        for (size_t t = 0; t < 2; t++) {
            char *err;
            cr_assert_eq(import_from(bad, targets[t], &err), 1, "%s: %s", cases[i].what, err);
            cr_assert(strstr(err, cases[i].want), "%s: %s", cases[i].what, err);
            cr_assert(strstr(err, "planwatch import: "), "%s", err);
            free(err);
            cr_assert(!exists(into), "%s: %s created", cases[i].what, into);
            snprintf(path, sizeof(path), "%s/data.mdb", empty_dir);
            cr_assert(!exists(path), "%s: a store left in %s", cases[i].what, empty_dir);
        }
    }
    free(garbage);
    free(data);
    free(csv);
}

Test(replay_tools, a_record_past_the_value_bound_that_was_stored_is_still_imported)
{
    /* Before the bound on intake (2^53 - 1, or an element's max), a 20-digit
     * typo could be stored. Its export must still import, as it was: what
     * was accepted is never lost. */
    char file[128], into[128];
    snprintf(file, sizeof(file), "%s/old.csv", fx.dir);
    snprintf(into, sizeof(into), "%s/imported", fx.dir);
    static const char text[] =
        "seq,district,epoch,record_seq,element,period,value,observed_ms,received_ms,kind\n"
        "1,jiangan,7,1,care_beds,2016,100000000000000000000,1500000000000,1500000000001,new\n";
    write_file(file, text, sizeof(text) - 1);
    char *err;
    cr_assert_eq(import_from(file, into, &err), 0, "%s", err);
    free(err);
    char *csv = pw_export_csv(PLANWATCH_BIN, into, fx.dir);
    cr_assert(csv && strstr(csv, ",care_beds,2016,1e+20,"), "%s", csv);
    free(csv);
}

/*
 * A plan of its own (6 districts, 2 indicators, target year 2025), revised
 * once: the aggregator writes with plan A, then is restarted with plan B,
 * the same with another target, and more data comes in.
 */
static void write_plan(const char *path, int target)
{
    pw_fixture_plan_t plan = pw_fixture_plan("small plan", 6, 2);
    plan.base_year = 2020;
    plan.target_year = 2025;
    plan.target = target;
    cr_assert_eq(pw_fixture_write_plan(path, &plan), 0);
}

/* Runs the aggregator on the small store with catalog, and one collector per district given. */
static void send_data(char *catalog, const int *districts, size_t n, int version)
{
    char *args[] = {"--catalog", catalog, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, args), 0, "aggregator not ready: %s", fx.agg_log);
    for (size_t i = 0; i < n; i++) {
        char data[128], spool[128], id[8];
        snprintf(id, sizeof(id), "d%d", districts[i]);
        snprintf(data, sizeof(data), "%s/%s.csv", fx.dir, id);
        snprintf(spool, sizeof(spool), "%s/spool-%s", fx.dir, id);
        FILE *f = fopen(data, "w");
        cr_assert_not_null(f);
        fputs("period,element,value\n", f);
        for (int y = 2020; y <= 2022; y++)
            for (int e = 0; e < 2; e++)
                fprintf(f, "%d,e%d,%d\n", y, e,
                        150 + 40 * (y - 2020) + 7 * e + districts[i] + 5 * version);
        fclose(f);
        char *timeout[] = {"--timeout", "60", NULL}, *out, *err;
        cr_assert_eq(pw_fixture_collect(&fx, id, data, spool, timeout, &out, &err), 0,
                     "collector: %s", err);
        free(out);
        free(err);
    }
    cr_assert_eq(pw_proc_stop(&fx.agg, 20000), 0, "aggregator: %s", fx.agg_log);
}

/* The first n bytes of needle in data[0..len), or NULL. */
static char *find(char *data, size_t len, const char *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(data + i, needle, n) == 0)
            return data + i;
    return NULL;
}

/* planwatch import with --catalog (NULL: none); its exit status, stdout and stderr. */
static int import_with(char *file, char *into, char *catalog, char **out, char **err)
{
    char *args[] = {
        "planwatch", "import", "--in", file, "--store", into, catalog ? "--catalog" : NULL,
        catalog,     NULL};
    return run(args, out, err);
}

/* Expects an import to fail with want in its message, leaving no store behind. */
static void import_fails(char *file, char *catalog, const char *want)
{
    char into[128], *out, *err;
    snprintf(into, sizeof(into), "%s/refused", fx.dir);
    cr_assert_eq(import_with(file, into, catalog, &out, &err), 1, "%s: %s", want, err);
    cr_assert(strstr(err, "planwatch import: "), "%s", err);
    cr_assert(strstr(err, want), "want \"%s\": %s", want, err);
    cr_assert(!exists(into), "%s: %s created", want, into);
    free(out);
    free(err);
}

Test(replay_tools, plan_revision_goes_through_export_and_import)
{
    char a[128], b[128], small[128], first[128], file[128], into[128];
    snprintf(a, sizeof(a), "%s/plan-a.conf", fx.dir);
    snprintf(b, sizeof(b), "%s/plan-b.conf", fx.dir);
    snprintf(small, sizeof(small), "%s/small", fx.dir);
    snprintf(first, sizeof(first), "%s/first.mp", fx.dir);
    snprintf(file, sizeof(file), "%s/small.mp", fx.dir);
    write_plan(a, 2000);
    write_plan(b, 3000);
    const int before[] = {0, 1}, after[] = {0, 2};
    send_data(a, before, 2, 1);
    char *out, *err;
    char *ex1[] = {"planwatch", "export", "--store", small, "--out", first, NULL};
    cr_assert_eq(run(ex1, &out, &err), 0, "export: %s", err);
    cr_assert(strstr(out, "exported 12 records from "), "%s", out);
    cr_assert(strstr(out, "(msgpack, 1 plan version)"), "%s", out);
    free(out);
    free(err);
    send_data(b, after, 2, 2);

    /* Export needs no --catalog: the store's plan goes with the records. */
    char *ex2[] = {"planwatch", "export", "--store", small, "--out", file, NULL};
    cr_assert_eq(run(ex2, &out, &err), 0, "export: %s", err);
    cr_assert(strstr(out, "exported 24 records from "), "%s", out);
    cr_assert(strstr(out, "(msgpack, 2 plan versions)"), "%s", out);
    free(out);
    free(err);

    /* Imported with its own plan versions, without --catalog: the same store. */
    snprintf(into, sizeof(into), "%s/moved", fx.dir);
    cr_assert_eq(import_with(file, into, NULL, &out, &err), 0, "import: %s", err);
    cr_assert(strstr(out, "imported 24 records from "), "%s", out);
    cr_assert(strstr(out, "(msgpack, 2 plan versions)"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(verify(small, into, false, &out), 0, "%s", out);
    cr_assert_str_eq(out, "identical\n");
    free(out);
    /* And the import reads as the source does: its plan is B. */
    char *rep[] = {"planwatch", "report", "--store", into, NULL};
    cr_assert_eq(run(rep, &out, &err), 0, "report: %s", err);
    free(out);
    free(err);

    /* --catalog is the export's latest plan, or the import is refused. */
    snprintf(into, sizeof(into), "%s/moved-b", fx.dir);
    cr_assert_eq(import_with(file, into, b, &out, &err), 0, "import --catalog B: %s", err);
    free(out);
    free(err);
    cr_assert_eq(verify(small, into, false, &out), 0, "%s", out);
    free(out);
    import_fails(file, a, "carries its plan, and --catalog is not it");

    /* A version 1 export: the same header with "planwatch_export": 1 and no "plans",
     * and no plan map. It imports with --catalog, checked against its digest. */
    size_t len;
    char *data = read_bytes(first, &len);
    char *plans = find(data, len, "\xa5plans\x01", 7);
    cr_assert_not_null(plans);
    size_t hlen = (size_t)(plans - data), plan_at = hlen + 7;
    char *rec = find(data + plan_at, len - plan_at, "\x8b\xa2pv", 4);
    cr_assert_not_null(rec);
    cr_assert_eq((unsigned char)data[0], 0x84);
    cr_assert_eq(memcmp(data + 1, "\xb0planwatch_export\x02", 18), 0);
    char *v1 = malloc(len);
    cr_assert_not_null(v1);
    memcpy(v1, data, hlen);
    v1[0] = (char)0x83;
    v1[18] = 1;
    size_t rest = len - (size_t)(rec - data);
    memcpy(v1 + hlen, rec, rest);
    char v1file[128];
    snprintf(v1file, sizeof(v1file), "%s/v1.mp", fx.dir);
    write_file(v1file, v1, hlen + rest);
    import_fails(v1file, NULL, "exported from a store written with catalog");
    snprintf(into, sizeof(into), "%s/from-v1", fx.dir);
    cr_assert_eq(import_with(v1file, into, a, &out, &err), 0, "import v1: %s", err);
    cr_assert(strstr(out, "imported 12 records from "), "%s", out);
    cr_assert(strstr(out, "(msgpack, 0 plan versions)"), "%s", out);
    free(out);
    free(err);
    char from_first[128];
    snprintf(from_first, sizeof(from_first), "%s/from-first", fx.dir);
    cr_assert_eq(import_with(first, from_first, NULL, &out, &err), 0, "import: %s", err);
    free(out);
    free(err);
    /* A version 1 export carries no plan: imported with the one it was written
     * with, the store records that one from record 1, as the other does. */
    cr_assert_eq(verify(from_first, into, false, &out), 0, "%s", out);
    cr_assert_str_eq(out, "identical\n");
    free(out);

    /* A plan map cut short, or not a plan, is refused with where it is. */
    char bad[128], want[96];
    snprintf(bad, sizeof(bad), "%s/bad.mp", fx.dir);
    snprintf(want, sizeof(want), ": byte %zu: plan version 1: truncated", plan_at);
    write_file(bad, data, plan_at + 100);
    import_fails(bad, NULL, want);
    char *time_key = find(data + plan_at, len - plan_at, "\xa4time", 5);
    cr_assert_not_null(time_key);
    time_key[2] = 'a'; /* "tame" */
    write_file(bad, data, len);
    snprintf(want, sizeof(want), ": byte %zu: plan version 1: unknown field \"tame\"", plan_at);
    import_fails(bad, NULL, want);
    time_key[2] = 'i';
    char *section = find(data + plan_at, len - plan_at, "[plan]", 6);
    cr_assert_not_null(section);
    section[3] = 'x'; /* "[plxn]" */
    write_file(bad, data, len);
    snprintf(want, sizeof(want), ": byte %zu: plan version 1: not a valid catalog: text:", plan_at);
    import_fails(bad, NULL, want);
    free(v1);
    free(data);
}
