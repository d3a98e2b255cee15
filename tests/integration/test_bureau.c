/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE /* usleep */
/*
 * The bureau side with real processes: publisher and monitors (the Clone
 * pattern). A monitor gets a snapshot at some event sequence, then every later
 * event exactly once and in order, filling any gap from the publisher's stored
 * event log. Each monitor's output is checked against the aggregator's own
 * event log, read from the LMDB store:
 *
 *   - monitors that joined before any data, between two periods, and while a
 *     period was flowing end in the same state, each having printed exactly
 *     the events after its snapshot;
 *   - a publisher restarted twice while events are committed loses nothing
 *     and repeats nothing;
 *   - 100 subscribers, one of them stopped (SIGSTOP): the 99 others get every
 *     event, the intake and the publisher are not held up, and the stopped one
 *     catches up once it runs again.
 *
 * With --json a monitor prints every event except alert "update"s (an open
 * alert's refreshed figures; JSON alert lines are transitions), so "every
 * event" means every stored event but those.
 *
 * Monitors run with --json and no --period: with an empty store their
 * snapshot says "no data yet" (stderr, into the same file), which tells the
 * test that the snapshot was taken at sequence 0, before any data is fed.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "pw/error.h"
#include "pw/event.h"
#include "pw/period.h"
#include "pw/rate.h"
#include "pw/util.h"
#include "store.h"

#define NREPORTERS PW_FIXTURE_NREPORTERS

/* The alert history when the periods are fed one after the other (the demo's). */
#define DEMO_TIMELINE                                                                          \
    "open:elderly_care_beds:2016 open:beds_per_1000_elderly:2016 open:volunteer_share:2017 "   \
    "resolve:volunteer_share:2018H1 resolve:elderly_care_beds:2018H1"

/* 2018H1 has one row per indicator series: 23 indicators, row 3 with two. */
#define ROWS_2018H1 24

#define NO_DATA "no data yet" /* an empty snapshot, printed by a monitor without --period */

/* Its close SIGKILLs what is left, a stopped process too. */
PW_FIXTURE_SUITE(bureau, 240.0);

/* ---- servers and collectors ------------------------------------------- */

static void start_publisher(void)
{
    char *args[] = {"--insecure", "--snapshot-bind", fx.snap, NULL};
    cr_assert_eq(pw_fixture_start_publisher(&fx, args), 0, "publisher not ready: %s", fx.pub_log);
}

static void start_servers(void)
{
    cr_assert_eq(pw_fixture_use_tcp(&fx), 0);
    char *args[] = {"--insecure", NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&fx, args), 0, "aggregator not ready");
    start_publisher();
}

static void stop_servers(void)
{
    int rc = pw_proc_stop(&fx.pub, 20000);
    cr_assert_eq(rc, 0, "publisher exit status %d on SIGTERM", rc);
    rc = pw_proc_stop(&fx.agg, 20000);
    cr_assert_eq(rc, 0, "aggregator exit status %d on SIGTERM", rc);
}

/* One one-shot collector per reporter, each with its own spool; period NULL
 * sends every period of the file at full speed. */
static void collectors_start_some(const char *period, pw_proc_t kids[NREPORTERS], int from, int to)
{
    for (int i = from; i < to; i++) {
        char file[256], log[256], id[32], spool[256], per[32];
        snprintf(id, sizeof(id), "%s", pw_fixture_reporters[i]);
        snprintf(per, sizeof(per), "%s", period ? period : "all");
        pw_fixture_reporter_file(file, sizeof(file), i);
        snprintf(log, sizeof(log), "%s/collector-%s-%s.log", fx.dir, pw_fixture_reporters[i], per);
        snprintf(spool, sizeof(spool), "%s/spool-%s", fx.dir, pw_fixture_reporters[i]);
        char *args[16] = {"planwatch", "collector", "--insecure", "--district", id,   "--data",
                          file,        "--connect", fx.intake,    "--spool",    spool};
        int n = 11;
        if (period) {
            args[n++] = "--period";
            args[n++] = per;
        }
        args[n] = NULL;
        cr_assert_eq(pw_proc_spawn(&kids[i], PLANWATCH_BIN, args, log), 0);
    }
}

static void collectors_start(const char *period, pw_proc_t kids[NREPORTERS])
{
    collectors_start_some(period, kids, 0, NREPORTERS);
}

static void collectors_wait(pw_proc_t kids[NREPORTERS])
{
    for (int i = 0; i < NREPORTERS; i++) {
        int rc = pw_proc_wait(&kids[i], 120000);
        cr_assert_eq(rc, 0, "collector %s exit %d (%s)", pw_fixture_reporters[i], rc, kids[i].log);
    }
}

static void feed(const char *period)
{
    pw_proc_t kids[NREPORTERS];
    collectors_start(period, kids);
    collectors_wait(kids);
}

/* The aggregator's event head, read from its store (the truth to compare with). */
static uint64_t store_head(void)
{
    pw_store_t *st = NULL;
    pw_store_opts_t o = {.readonly = true};
    int rc = pw_store_open(&st, fx.store, &o);
    cr_assert_eq(rc, 0, "open %s: %s", fx.store, pw_strerror(rc));
    pw_txn_t *txn = NULL;
    uint64_t head = 0;
    if ((rc = pw_store_begin(st, false, &txn)) == 0) {
        rc = pw_store_event_head(txn, &head);
        pw_store_abort(&txn);
    }
    pw_store_destroy(&st);
    cr_assert_eq(rc, 0, "event head: %s", pw_strerror(rc));
    return head;
}

/* ---- the stored event log ---------------------------------------------- */

/* What identifies an event in a monitor's JSON line: kind, series, period, rate, band. */
static void describe(char *out, size_t len, const char *kind, const char *ind,
                     const char *series, const char *period, const char *rate, const char *band)
{
    snprintf(out, len, "%s %s/%s %s rate=%s band=%s", kind, ind, series, period, rate, band);
}

struct evlog {
    uint64_t head;
    char (*desc)[256]; /* desc[q] for q in 1..head */
};

static int evlog_add(void *ctx, const pw_event_t *ev)
{
    struct evlog *log = ctx;
    if (ev->seq == 0 || ev->seq > log->head)
        return -1;
    char period[PW_PERIOD_STRMAX], rate[32], band[32];
    pw_period_format(ev->period, period);
    snprintf(rate, sizeof(rate), "null");
    snprintf(band, sizeof(band), "null");
    if (ev->has_rate) {
        snprintf(rate, sizeof(rate), "%.2f", (double)ev->centi / 100.0);
        snprintf(band, sizeof(band), "%s", pw_band_name(ev->band));
    }
    const char *kind = ev->type != PW_EV_ALERT           ? "rate"
                       : ev->action == PW_ALERT_OPEN   ? "open"
                       : ev->action == PW_ALERT_UPDATE ? "update"
                                                       : "resolve";
    describe(log->desc[ev->seq], sizeof(log->desc[ev->seq]), kind, ev->indicator, ev->series,
             period, rate, band);
    return 0;
}

static void evlog_load(uint64_t head, struct evlog *log)
{
    log->head = head;
    log->desc = calloc(head + 1, sizeof(*log->desc));
    cr_assert_not_null(log->desc);
    pw_store_t *st = NULL;
    pw_store_opts_t o = {.readonly = true};
    int rc = pw_store_open(&st, fx.store, &o);
    cr_assert_eq(rc, 0, "open %s: %s", fx.store, pw_strerror(rc));
    pw_txn_t *txn = NULL;
    if ((rc = pw_store_begin(st, false, &txn)) == 0) {
        for (uint64_t from = 1; rc == 0 && from <= head; from += PW_RANGE_MAX)
            rc = pw_store_event_foreach(txn, from, head, PW_RANGE_MAX, evlog_add, log);
        pw_store_abort(&txn);
    }
    pw_store_destroy(&st);
    cr_assert_eq(rc, 0, "reading the event log: %s", pw_strerror(rc));
    for (uint64_t q = 1; q <= head; q++)
        cr_assert(log->desc[q][0], "event %llu missing from the stored log",
                  (unsigned long long)q);
}

/*
 * The first event from q on that a JSON monitor prints, or head + 1. An alert
 * "update" (an open alert's refreshed figures) is not printed: JSON alert
 * events are transitions, and the figures come as the rate rows.
 */
static uint64_t evlog_printed_from(const struct evlog *log, uint64_t q)
{
    while (q <= log->head && strncmp(log->desc[q], "update ", 7) == 0)
        q++;
    return q;
}

/* The last event a JSON monitor prints, or 0. */
static uint64_t evlog_last_printed(const struct evlog *log)
{
    uint64_t q = log->head;
    while (q > 0 && strncmp(log->desc[q], "update ", 7) == 0)
        q--;
    return q;
}

static void evlog_free(struct evlog *log)
{
    free(log->desc);
    log->desc = NULL;
}

/* ---- monitors ------------------------------------------------------------ */

struct monitor {
    pw_proc_t p;
    char out[256]; /* stdout and stderr */
};

static void monitor_start(struct monitor *m, const char *name)
{
    snprintf(m->out, sizeof(m->out), "%s/%s.json", fx.dir, name);
    char *args[] = {"planwatch", "monitor", "--insecure", "--connect", fx.stream, "--snapshot",
                    fx.snap,     "--json",  "--timeout",  "60",        NULL};
    cr_assert_eq(pw_proc_spawn(&m->p, PLANWATCH_BIN, args, m->out), 0);
}

/* Runs "monitor --once --json [--period P]" to completion, stdout into out. */
static void monitor_once(const char *period, const char *out)
{
    char per[32];
    snprintf(per, sizeof(per), "%s", period ? period : "");
    char *args[] = {"planwatch", "monitor",    "--insecure", "--connect",
                    fx.stream,   "--snapshot", fx.snap,      "--once",
                    "--json",    "--timeout",  "30",         period ? "--period" : NULL,
                    per,         NULL};
    int rc = pw_proc_run(PLANWATCH_BIN, args, out, 60000);
    cr_assert_eq(rc, 0, "monitor --once exit %d (%s.err)", rc, out);
}

/* How many complete JSON lines a file holds (0 while the child has not created it). */
static size_t complete_json_lines(const char *path)
{
    char *text = pw_read_file(path);
    size_t n = 0;
    for (const char *p = text, *nl; p && (nl = strchr(p, '\n')) != NULL; p = nl + 1)
        n += *p == '{';
    free(text);
    return n;
}

/* The seq of the last complete line a monitor printed, or 0. */
static uint64_t last_seq(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char buf[8193];
    long from = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        from = size > 8192 ? size - 8192 : 0;
    }
    size_t n = fseek(f, from, SEEK_SET) == 0 ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    fclose(f);
    buf[n] = '\0';
    uint64_t seq = 0;
    for (char *p = strstr(buf, "\"seq\":"); p; p = strstr(p + 1, "\"seq\":")) {
        if (strchr(p, '\n')) /* a complete line */
            seq = strtoull(p + 6, NULL, 10);
    }
    return seq;
}

/* Waits until the monitor has printed the event head. */
static void wait_caught_up(struct monitor *m, uint64_t head, int64_t deadline)
{
    uint64_t got;
    while ((got = last_seq(m->out)) < head) {
        cr_assert_eq(pw_proc_poll(&m->p), PW_PROC_RUNNING, "monitor %s exited early (%d)",
                     m->out, m->p.status);
        cr_assert(pw_mono_ms() < deadline, "%s: printed up to event %llu, head %llu", m->out,
                  (unsigned long long)got, (unsigned long long)head);
        usleep(20000);
    }
}

/* SIGTERM to all, then each must exit 0. */
static void monitors_stop(struct monitor *ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ms[i].p.pid > 0)
            kill(ms[i].p.pid, SIGTERM);
    for (size_t i = 0; i < n; i++) {
        int rc = pw_proc_wait(&ms[i].p, 20000);
        cr_assert_eq(rc, 0, "monitor %s exit %d on SIGTERM", ms[i].out, rc);
    }
}

/* The JSON lines of a file, in order (non-JSON lines such as "no data yet" dropped). */
struct lines {
    char *text;
    char **v;
    size_t n;
};

static void lines_read(const char *path, struct lines *l)
{
    l->text = pw_read_file(path);
    cr_assert_not_null(l->text, "cannot read %s", path);
    size_t cap = 64;
    l->n = 0;
    l->v = malloc(cap * sizeof(*l->v));
    cr_assert_not_null(l->v);
    char *save = NULL;
    for (char *line = strtok_r(l->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '{')
            continue;
        if (l->n == cap) {
            cap *= 2;
            char **nv = realloc(l->v, cap * sizeof(*l->v));
            cr_assert_not_null(nv);
            l->v = nv;
        }
        l->v[l->n++] = line;
    }
}

static void lines_free(struct lines *l)
{
    free(l->v);
    free(l->text);
    memset(l, 0, sizeof(*l));
}

static void describe_line(const char *line, char *out, size_t len)
{
    char kind[16] = "rate", ind[128] = "", series[64] = "", period[32] = "", rate[32] = "",
         band[32] = "";
    pw_json_get(line, "alert", kind, sizeof(kind));
    pw_json_get(line, "indicator", ind, sizeof(ind));
    pw_json_get(line, "series", series, sizeof(series));
    if (strcmp(series, "null") == 0)
        series[0] = '\0';
    pw_json_get(line, "period", period, sizeof(period));
    pw_json_get(line, "rate", rate, sizeof(rate));
    pw_json_get(line, "band", band, sizeof(band));
    describe(out, len, kind, ind, series, period, rate, band);
}

/*
 * The events a monitor printed after its nskip snapshot rows must be exactly
 * the printable events of first..log->head, each once, in order, and each the
 * stored event of that number. The alert events go into timeline
 * ("open:id:period ...").
 */
static void check_events(const char *path, size_t nskip, uint64_t first,
                         const struct evlog *log, char *timeline, size_t tlen)
{
    struct lines l;
    lines_read(path, &l);
    cr_assert_geq(l.n, nskip, "%s: %zu lines, %zu snapshot rows expected", path, l.n, nskip);
    uint64_t want = evlog_printed_from(log, first);
    timeline[0] = '\0';
    for (size_t k = nskip; k < l.n; k++) {
        char seqs[32], desc[512];
        cr_assert(pw_json_get(l.v[k], "seq", seqs, sizeof(seqs)), "%s: no seq: %s", path,
                  l.v[k]);
        uint64_t seq = strtoull(seqs, NULL, 10);
        cr_assert_eq(seq, want,
                     "%s: event %llu printed where %llu was due (%s)\n%s",
                     path, (unsigned long long)seq, (unsigned long long)want,
                     seq < want ? "repeated or out of order" : "gap", l.v[k]);
        cr_assert_leq(seq, log->head, "%s: event %llu beyond the head %llu", path,
                      (unsigned long long)seq, (unsigned long long)log->head);
        describe_line(l.v[k], desc, sizeof(desc));
        cr_assert_str_eq(desc, log->desc[seq], "%s: event %llu differs from the stored one",
                         path, (unsigned long long)seq);
        char kind[16], ind[128], period[32];
        if (pw_json_get(l.v[k], "alert", kind, sizeof(kind))) {
            pw_json_get(l.v[k], "indicator", ind, sizeof(ind));
            pw_json_get(l.v[k], "period", period, sizeof(period));
            size_t n = strlen(timeline);
            snprintf(timeline + n, tlen - n, "%s%s:%s:%s", n ? " " : "", kind, ind, period);
        }
        want = evlog_printed_from(log, want + 1);
    }
    cr_assert_gt(want, log->head, "%s: event %llu never printed (the store has %llu)", path,
                 (unsigned long long)want, (unsigned long long)log->head);
    lines_free(&l);
}

static uint64_t line_seq(const char *path, const char *line)
{
    char seqs[32];
    cr_assert(pw_json_get(line, "seq", seqs, sizeof(seqs)), "%s: no seq: %s", path, line);
    return strtoull(seqs, NULL, 10);
}

/*
 * For a monitor that joined while events were flowing, at a sequence the test
 * cannot know: its snapshot rows are the lines before the longest run of
 * events that goes without a gap to the last event. They must be rows of one
 * period, one per indicator series, and no sequence may appear twice in the
 * whole output (a live event the snapshot already held, printed again, would).
 * Then the events are checked as above. Returns the number of snapshot rows.
 */
static size_t check_events_unknown_join(const char *path, const struct evlog *log,
                                        char *timeline, size_t tlen)
{
    struct lines l;
    lines_read(path, &l);
    size_t k = l.n;
    uint64_t next = evlog_last_printed(log);
    while (k > 0 && next > 0 && line_seq(path, l.v[k - 1]) == next) {
        k--;
        do /* the printed event before next */
            next--;
        while (next > 0 && strncmp(log->desc[next], "update ", 7) == 0);
    }
    cr_assert_lt(k, l.n, "%s: does not end with the last event %llu", path,
                 (unsigned long long)evlog_last_printed(log));
    uint64_t first = line_seq(path, l.v[k]);
    char period0[32] = "";
    for (size_t i = 0; i < k; i++) {
        char kind[16], period[32], ki[256], kj[256], tmp[64];
        cr_assert(!pw_json_get(l.v[i], "alert", kind, sizeof(kind)),
                  "%s: alert line %zu before the gapless run of events from %llu", path, i,
                  (unsigned long long)first);
        pw_json_get(l.v[i], "period", period, sizeof(period));
        if (i == 0)
            snprintf(period0, sizeof(period0), "%s", period);
        cr_assert_str_eq(period, period0, "%s: snapshot rows of two periods", path);
        cr_assert_lt(line_seq(path, l.v[i]), first,
                     "%s: snapshot row %zu newer than the first event %llu", path, i,
                     (unsigned long long)first);
        pw_json_get(l.v[i], "indicator", ki, sizeof(ki));
        pw_json_get(l.v[i], "series", tmp, sizeof(tmp));
        snprintf(ki + strlen(ki), sizeof(ki) - strlen(ki), "/%s", tmp);
        for (size_t j = 0; j < i; j++) {
            pw_json_get(l.v[j], "indicator", kj, sizeof(kj));
            pw_json_get(l.v[j], "series", tmp, sizeof(tmp));
            snprintf(kj + strlen(kj), sizeof(kj) - strlen(kj), "/%s", tmp);
            cr_assert_str_neq(ki, kj, "%s: snapshot rows %zu and %zu for the same series",
                              path, j, i);
        }
    }
    for (size_t i = 0; i < l.n; i++)
        for (size_t j = i + 1; j < l.n; j++)
            cr_assert_neq(line_seq(path, l.v[i]), line_seq(path, l.v[j]),
                          "%s: event %llu printed twice (lines %zu and %zu)", path,
                          (unsigned long long)line_seq(path, l.v[i]), i, j);
    lines_free(&l);
    check_events(path, k, first, log, timeline, tlen);
    return k;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The final 2018H1 row of each indicator series a file shows (the last line
 * for it), as sorted text lines: series, value, rate, band, achieved,
 * completeness and the number of the event that set the row. Returns the
 * number of rows.
 */
static size_t rows_2018h1(const char *path, char *out, size_t len)
{
    enum { MAXROWS = 64 };
    static char keys[MAXROWS][192], rows[MAXROWS][512];
    size_t nrows = 0;
    struct lines l;
    lines_read(path, &l);
    for (size_t k = 0; k < l.n; k++) {
        char ind[128], series[48], period[32], value[48], rate[32], band[32], ach[16],
            complete[32], prov[16], seq[32], key[192];
        if (pw_json_get(l.v[k], "alert", ind, sizeof(ind)) ||
            !pw_json_get(l.v[k], "period", period, sizeof(period)) ||
            strcmp(period, "2018H1") != 0)
            continue;
        cr_assert(pw_json_get(l.v[k], "indicator", ind, sizeof(ind)) &&
                      pw_json_get(l.v[k], "series", series, sizeof(series)) &&
                      pw_json_get(l.v[k], "value", value, sizeof(value)) &&
                      pw_json_get(l.v[k], "rate", rate, sizeof(rate)) &&
                      pw_json_get(l.v[k], "band", band, sizeof(band)) &&
                      pw_json_get(l.v[k], "achieved", ach, sizeof(ach)) &&
                      pw_json_get(l.v[k], "complete", complete, sizeof(complete)) &&
                      pw_json_get(l.v[k], "provisional", prov, sizeof(prov)) &&
                      pw_json_get(l.v[k], "seq", seq, sizeof(seq)),
                  "%s: incomplete row: %s", path, l.v[k]);
        snprintf(key, sizeof(key), "%s/%s", ind, series);
        size_t i = 0;
        while (i < nrows && strcmp(keys[i], key) != 0)
            i++;
        if (i == nrows) {
            cr_assert_lt(nrows, (size_t)MAXROWS, "%s: too many 2018H1 series", path);
            snprintf(keys[nrows++], sizeof(keys[0]), "%s", key);
        }
        snprintf(rows[i], sizeof(rows[i]),
                 "%s value=%s rate=%s band=%s achieved=%s complete=%s provisional=%s seq=%s",
                 key, value, rate, band, ach, complete, prov, seq);
    }
    lines_free(&l);
    char *sorted[MAXROWS];
    for (size_t i = 0; i < nrows; i++)
        sorted[i] = rows[i];
    qsort(sorted, nrows, sizeof(sorted[0]), cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < nrows; i++) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s\n", sorted[i]);
    }
    return nrows;
}

/* The monitor's final 2018H1 rows equal those of a fresh "monitor --once". */
static void check_rows(const char *path, const char *want)
{
    static char got[32768];
    rows_2018h1(path, got, sizeof(got));
    cr_assert_str_eq(got, want, "%s: final 2018H1 rows differ from monitor --once", path);
}

/* No child wrote a sanitizer report into its log or output (ASan+UBSan build). */
static void check_no_sanitizer_reports(void)
{
    static const char *const marks[] = {"AddressSanitizer", "LeakSanitizer", "runtime error:"};
    char pattern[96];
    snprintf(pattern, sizeof(pattern), "%s/*", fx.dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* the store and the spools */
        char *text = pw_read_file(g.gl_pathv[i]);
        for (size_t k = 0; text && k < sizeof(marks) / sizeof(marks[0]); k++)
            cr_expect_null(strstr(text, marks[k]), "%s: %s", g.gl_pathv[i], marks[k]);
        free(text);
    }
    globfree(&g);
}

/* ---- the tests ------------------------------------------------------------ */

Test(bureau, late_joiner_ends_in_the_same_state_as_early_joiner)
{
    start_servers();
    struct monitor mon[3];
    struct monitor *a = &mon[0], *b = &mon[1], *c = &mon[2];
    monitor_start(a, "monitor-a");
    cr_assert_eq(pw_proc_wait_log(&a->p, NO_DATA, 20000), 0,
                 "monitor A: no empty snapshot before any data (%s)", a->out);

    feed("2015");
    feed("2016");
    feed("2017");

    /* B joins at a known sequence: nothing is committed between the 2017
     * feed (all acknowledged) and the 2018H1 feed. */
    uint64_t joined = store_head();
    cr_assert_gt(joined, 0);
    char once17[256];
    snprintf(once17, sizeof(once17), "%s/once-2017.json", fx.dir);
    monitor_once(NULL, once17);
    struct lines table;
    lines_read(once17, &table);
    cr_assert_gt(table.n, 0, "no table before 2018H1");
    monitor_start(b, "monitor-b");
    int64_t deadline = pw_mono_ms() + 20000;
    while (complete_json_lines(b->out) < table.n) {
        cr_assert_eq(pw_proc_poll(&b->p), PW_PROC_RUNNING, "monitor B exited (%s)", b->out);
        cr_assert_lt(pw_mono_ms(), deadline, "monitor B printed no snapshot (%s)", b->out);
        usleep(20000);
    }
    cr_assert_eq(store_head(), joined, "events were committed while B joined");

    /* C joins while 2018H1 flows: 13 reporters send, C takes its snapshot
     * (its table), then the held-back district completes the period, so the
     * alerts it decides come after C joined. */
    pw_proc_t kids[NREPORTERS];
    collectors_start_some("2018H1", kids, 1, NREPORTERS);
    deadline = pw_mono_ms() + 60000;
    while (store_head() <= joined) {
        cr_assert_lt(pw_mono_ms(), deadline, "no 2018H1 event committed");
        usleep(2000);
    }
    monitor_start(c, "monitor-c");
    while (complete_json_lines(c->out) == 0) {
        cr_assert_eq(pw_proc_poll(&c->p), PW_PROC_RUNNING, "monitor C exited (%s)", c->out);
        cr_assert_lt(pw_mono_ms(), deadline, "monitor C printed no snapshot (%s)", c->out);
        usleep(5000);
    }
    collectors_start_some("2018H1", kids, 0, 1);
    collectors_wait(kids);

    uint64_t head = store_head();
    cr_assert_gt(head, joined);
    struct evlog log;
    evlog_load(head, &log);
    deadline = pw_mono_ms() + 30000;
    for (int i = 0; i < 3; i++)
        wait_caught_up(&mon[i], evlog_last_printed(&log), deadline);
    char once[256];
    snprintf(once, sizeof(once), "%s/once-2018H1.json", fx.dir);
    monitor_once("2018H1", once);
    monitors_stop(mon, 3);

    static char want[32768], timeline[4096];
    size_t nrows = rows_2018h1(once, want, sizeof(want));
    cr_assert_eq(nrows, ROWS_2018H1, "monitor --once: %zu rows for 2018H1\n%s", nrows, want);

    /* A: its snapshot was empty, so it printed events 1..head, every one. */
    check_events(a->out, 0, 1, &log, timeline, sizeof(timeline));
    cr_assert_str_eq(timeline, DEMO_TIMELINE, "monitor A's alerts");
    check_rows(a->out, want);

    /* B: its snapshot is the table at the join, then exactly joined+1..head. */
    struct lines bl;
    lines_read(b->out, &bl);
    for (size_t k = 0; k < table.n; k++)
        cr_assert_str_eq(bl.v[k], table.v[k], "monitor B's snapshot row %zu", k);
    lines_free(&bl);
    check_events(b->out, table.n, joined + 1, &log, timeline, sizeof(timeline));
    cr_assert_str_eq(timeline,
                     "resolve:volunteer_share:2018H1 resolve:elderly_care_beds:2018H1",
                     "monitor B's alerts after it joined");
    check_rows(b->out, want);

    /* C: a snapshot at some point of the 2018H1 stream, then every later
     * event once; its alerts are the ones 2018H1 decided. */
    size_t nsnap = check_events_unknown_join(c->out, &log, timeline, sizeof(timeline));
    cr_log_info("monitor C: %zu snapshot rows, then the events after", nsnap);
    cr_assert_str_eq(timeline,
                     "resolve:volunteer_share:2018H1 resolve:elderly_care_beds:2018H1",
                     "monitor C's alerts after it joined");
    check_rows(c->out, want);

    lines_free(&table);
    evlog_free(&log);
    stop_servers();
    check_no_sanitizer_reports();
}

/* The publisher's last published event, from its "stopping at event N" line. */
static uint64_t publisher_stopped_at(const pw_proc_t *pub)
{
    char *text = pw_read_file(pub->log);
    cr_assert_not_null(text);
    const char *p = strstr(text, "stopping at event ");
    cr_assert_not_null(p, "no 'stopping at event' in %s", pub->log);
    uint64_t q = strtoull(p + strlen("stopping at event "), NULL, 10);
    free(text);
    return q;
}

Test(bureau, publisher_restart_mid_stream_loses_and_repeats_nothing)
{
    start_servers();
    struct monitor m;
    monitor_start(&m, "monitor");
    cr_assert_eq(pw_proc_wait_log(&m.p, NO_DATA, 20000), 0, "no empty snapshot (%s)", m.out);
    feed("2015");
    feed("2016");

    /* SIGTERM the publisher, start the 2017 collectors right away, and bring
     * the publisher back on the same endpoints once events have been
     * committed that it never published: the monitor must fetch those. */
    cr_assert_eq(kill(fx.pub.pid, SIGTERM), 0);
    pw_proc_t kids[NREPORTERS];
    collectors_start("2017", kids);
    int rc = pw_proc_wait(&fx.pub, 20000);
    cr_assert_eq(rc, 0, "publisher exit %d on SIGTERM", rc);
    uint64_t stopped = publisher_stopped_at(&fx.pub);
    int64_t deadline = pw_mono_ms() + 60000;
    while (store_head() <= stopped) {
        cr_assert_lt(pw_mono_ms(), deadline, "no 2017 event committed after event %llu",
                     (unsigned long long)stopped);
        usleep(5000);
    }
    start_publisher();
    collectors_wait(kids);

    /* Again during 2018H1, as soon as its first events are committed, and
     * straight back: events are committed while it stops and starts. */
    uint64_t before = store_head();
    collectors_start("2018H1", kids);
    deadline = pw_mono_ms() + 60000;
    while (store_head() <= before) {
        cr_assert_lt(pw_mono_ms(), deadline, "no 2018H1 event committed after event %llu",
                     (unsigned long long)before);
        usleep(2000);
    }
    rc = pw_proc_stop(&fx.pub, 20000);
    cr_assert_eq(rc, 0, "publisher exit %d on SIGTERM", rc);
    start_publisher();
    collectors_wait(kids);

    struct evlog log;
    evlog_load(store_head(), &log);
    wait_caught_up(&m, evlog_last_printed(&log), pw_mono_ms() + 30000);
    char once[256];
    snprintf(once, sizeof(once), "%s/once-2018H1.json", fx.dir);
    monitor_once("2018H1", once);
    monitors_stop(&m, 1);

    static char want[32768], timeline[4096];
    cr_assert_eq(rows_2018h1(once, want, sizeof(want)), ROWS_2018H1, "%s", want);
    check_events(m.out, 0, 1, &log, timeline, sizeof(timeline));
    cr_assert_str_eq(timeline, DEMO_TIMELINE, "the monitor's alerts");
    check_rows(m.out, want);
    evlog_free(&log);
    stop_servers();
    check_no_sanitizer_reports();
}

#define NMONITORS 100

Test(bureau, hundred_subscribers_one_stopped_all_others_get_everything, .timeout = 300.0)
{
    start_servers();
    static struct monitor ms[NMONITORS];
    char name[32];
    for (int i = 0; i < NMONITORS; i++) {
        snprintf(name, sizeof(name), "monitor-%03d", i);
        monitor_start(&ms[i], name);
    }
    /* Every snapshot is taken before any data; monitor 0 then stops reading. */
    int64_t deadline = pw_mono_ms() + 90000;
    for (int i = 0; i < NMONITORS; i++) {
        int left = (int)(deadline - pw_mono_ms());
        cr_assert_eq(pw_proc_wait_log(&ms[i].p, NO_DATA, left > 0 ? left : 1), 0,
                     "monitor %d: no empty snapshot (%s)", i, ms[i].out);
        if (i == 0)
            cr_assert_eq(kill(ms[0].p.pid, SIGSTOP), 0);
    }

    feed(NULL); /* all four periods, 14 collectors at once: each must exit 0 */
    struct evlog log;
    evlog_load(store_head(), &log);
    uint64_t last = evlog_last_printed(&log);
    deadline = pw_mono_ms() + 60000;
    for (int i = 1; i < NMONITORS; i++)
        wait_caught_up(&ms[i], last, deadline);
    char once[256];
    snprintf(once, sizeof(once), "%s/once-2018H1.json", fx.dir);
    monitor_once("2018H1", once);
    monitors_stop(ms + 1, NMONITORS - 1);

    /* The publisher stops cleanly with a subscriber that reads nothing. The
     * stopped one then resumes against a new publisher, catches up from the
     * stored log, and stops cleanly too. */
    int rc = pw_proc_stop(&fx.pub, 20000);
    cr_assert_eq(rc, 0, "publisher exit %d on SIGTERM with a stopped subscriber", rc);
    start_publisher();
    cr_assert_eq(kill(ms[0].p.pid, SIGCONT), 0);
    wait_caught_up(&ms[0], last, pw_mono_ms() + 30000);
    monitors_stop(ms, 1);
    stop_servers();

    static char want[32768], timeline[4096], first[4096];
    cr_assert_eq(rows_2018h1(once, want, sizeof(want)), ROWS_2018H1, "%s", want);
    for (int i = 0; i < NMONITORS; i++) {
        check_events(ms[i].out, 0, 1, &log, timeline, sizeof(timeline));
        if (i == 0)
            memcpy(first, timeline, sizeof(first));
        else
            cr_assert_str_eq(timeline, first, "monitor %d's alerts", i);
        check_rows(ms[i].out, want);
    }
    evlog_free(&log);
    check_no_sanitizer_reports();
}
