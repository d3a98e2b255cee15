/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS */
/*
 * The store's directory and the disks under it, with real processes: a
 * second aggregator on a store that one already writes, and full file
 * systems under the aggregator's store and the collector's spool, made with
 * a small tmpfs filled up by a file and emptied again by removing it.
 *
 * Mounting needs root (CI runs as root); without it those tests are skipped.
 * Each test runs in a mount namespace of its own when it can make one, so a
 * tmpfs it leaves mounted (a test killed at its timeout) goes with it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "pw/error.h"
#include "pw/period.h"
#include "pw/util.h"
#include "store.h"

#define NDIST    3
#define NELEM    40
#define NMONTHS  72 /* 2015-01 to 2020-12 */
#define PER_DIST (NELEM * NMONTHS)
#define WINDOW   4096 /* the collector's default --window */

static pw_fixture_t fx;
static char mounts[4][160];
static size_t nmounts;

static void setup(void)
{
    cr_assert_eq(pw_fixture_open(&fx), 0);
    nmounts = 0;
    /* Our mounts stay ours, and die with this process and its children. */
    if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0)
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static void teardown(void)
{
    pw_proc_kill_all();
    for (size_t i = nmounts; i > 0; i--)
        umount2(mounts[i - 1], MNT_DETACH);
    nmounts = 0;
    pw_fixture_close(&fx);
}

TestSuite(disk, .init = setup, .fini = teardown, .timeout = 300.0);

/* A tmpfs of size (mount's syntax: "4m") at path. */
static void fs_mount(const char *path, const char *size)
{
    if (geteuid() != 0)
        cr_skip("mounting a tmpfs needs root (CI runs as root): test skipped");
    cr_assert_eq(pw_mkdir_p(path), 0);
    char opts[32];
    snprintf(opts, sizeof(opts), "size=%s", size);
    cr_assert_eq(mount("tmpfs", path, "tmpfs", 0, opts), 0, "mount tmpfs %s: %s", path,
                 strerror(errno));
    snprintf(mounts[nmounts++], sizeof(mounts[0]), "%s", path);
}

/* Fills the file system at fs to the last block, leaving spare bytes free. */
static void fs_fill(const char *fs, size_t spare)
{
    char path[200], keep[200];
    snprintf(keep, sizeof(keep), "%s/spare", fs);
    snprintf(path, sizeof(path), "%s/fill", fs);
    static char block[65536];
    memset(block, 'x', sizeof(block));
    if (spare) {
        int k = open(keep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        cr_assert_geq(k, 0);
        cr_assert_eq(write(k, block, spare), (ssize_t)spare);
        close(k);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert_geq(fd, 0);
    for (size_t chunk = sizeof(block); chunk >= 4096; chunk /= 2)
        while (write(fd, block, chunk) == (ssize_t)chunk)
            ;
    close(fd);
    if (spare)
        cr_assert_eq(unlink(keep), 0);
}

/* Room again: the filling file goes. */
static void fs_empty(const char *fs)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/fill", fs);
    cr_assert_eq(unlink(path), 0);
}

/* One sum indicator, over the first element. */
static void write_catalog(const char *path)
{
    pw_fixture_plan_t plan = pw_fixture_plan("disk test", NDIST, NELEM);
    plan.nindicators = 1;
    plan.width = 2;
    cr_assert_eq(pw_fixture_write_plan(path, &plan), 0);
}

/* District d's data file in version v (each version changes every value),
 * replaced atomically as a collector following it wants. */
static void write_data(const char *path, int d, int v)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs("period,element,value\n", f);
    for (int m = 0; m < NMONTHS; m++)
        for (int e = 0; e < NELEM; e++)
            fprintf(f, "%d-%02d,e%02d,%d\n", 2015 + m / 12, m % 12 + 1, e,
                    1000 + d * 100 + m * 10 + e + v * 7);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
}

struct site {
    pw_fixture_t fx; /* its own dir, store, intake and aggregator */
    char catalog[160], data[NDIST][160], spool[NDIST][160];
    char id[NDIST][16];
};

static void site_init(struct site *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    cr_assert_eq(pw_fixture_open_in(&s->fx, &fx, name), 0);
    pw_fixture_path(&s->fx, s->catalog, sizeof(s->catalog), "catalog.conf");
    write_catalog(s->catalog);
    char base[sizeof(s->fx.dir)]; /* a copy: gcc -O1 takes s->fx.dir for an overlap */
    memcpy(base, s->fx.dir, sizeof(base));
    for (int d = 0; d < NDIST; d++) {
        snprintf(s->data[d], sizeof(s->data[d]), "%.120s/d%d.csv", base, d);
        snprintf(s->spool[d], sizeof(s->spool[d]), "%.120s/spool-d%d", base, d);
        snprintf(s->id[d], sizeof(s->id[d]), "d%d", d);
    }
}

/* Starts an aggregator on s->store serving intake; its log's path into log. */
static void agg_spawn(struct site *s, pw_proc_t *p, char *store, char *intake, char *log,
                      size_t len)
{
    char *args[] = {"aggregator", "--store",   store,      "--bind",
                    intake,       "--catalog", s->catalog, NULL};
    cr_assert_eq(pw_fixture_spawn(&s->fx, p, args), 0);
    snprintf(log, len, "%s", p->log);
}

/* A site with a tmpfs of size mounted at fs, its base's "fs". */
static void site_on_tmpfs(struct site *s, const char *name, const char *size, char fs[128])
{
    site_init(s, name);
    snprintf(fs, 128, "%.100s/fs", s->fx.dir);
    fs_mount(fs, size);
}

static void agg_start(struct site *s)
{
    char *args[] = {"--catalog", s->catalog, NULL};
    cr_assert_eq(pw_fixture_start_aggregator(&s->fx, args), 0, "aggregator not ready: %s",
                 s->fx.agg_log);
}

static void collector_start(struct site *s, int d, pw_proc_t *p, bool follow)
{
    char *args[] = {"collector",  "--district",
                    s->id[d],     "--data",
                    s->data[d],   "--connect",
                    s->fx.intake, "--spool",
                    s->spool[d],  "--timeout",
                    "120",        "--log-level",
                    "info",       follow ? "--follow" : NULL,
                    NULL};
    cr_assert_eq(pw_fixture_spawn(&s->fx, p, args), 0);
}

/* Runs one-shot collectors for districts 0 to n-1; each must deliver everything. */
static void deliver(struct site *s, int n)
{
    pw_proc_t kids[NDIST];
    for (int d = 0; d < n; d++)
        collector_start(s, d, &kids[d], false);
    for (int d = 0; d < n; d++)
        cr_assert_eq(pw_proc_wait(&kids[d], 120000), 0, "collector d%d: see %s", d,
                     kids[d].log);
}

/* The number of records in the store's log, read-only (a writer may run). */
static uint64_t log_head(const char *store)
{
    pw_store_t *st = NULL;
    pw_store_opts_t o = {.readonly = true};
    cr_assert_eq(pw_store_open(&st, store, &o), 0);
    pw_txn_t *t;
    uint64_t head = 0;
    cr_assert_eq(pw_store_begin(st, false, &t), 0);
    cr_assert_eq(pw_store_log_head(t, &head), 0);
    pw_store_abort(&t);
    pw_store_destroy(&st);
    return head;
}

struct census {
    uint64_t last_seq[NDIST], epoch[NDIST];
    size_t records, out_of_order, current, current_v;
    int version;
};

static int census_log(void *ctx, uint64_t seq, const pw_msg_t *rec)
{
    (void)seq;
    struct census *c = ctx;
    int d = rec->district[1] - '0';
    if (c->epoch[d] == 0)
        c->epoch[d] = rec->epoch;
    if (rec->epoch != c->epoch[d] || rec->seq != c->last_seq[d] + 1)
        c->out_of_order++;
    c->last_seq[d] = rec->seq;
    c->records++;
    return 0;
}

static int census_current(void *ctx, const char *district, const char *element, pw_period_t p,
                          double value)
{
    struct census *c = ctx;
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(p, ptext);
    int d = district[1] - '0', e = atoi(element + 1), y, m;
    cr_assert_eq(sscanf(ptext, "%d-%d", &y, &m), 2);
    int k = (y - 2015) * 12 + m - 1;
    c->current++;
    if (value == 1000 + d * 100 + k * 10 + e + c->version * 7)
        c->current_v++;
    return 0;
}

/* Every record once, each district's sequence without gap or repeat, and
 * every current value of the version. */
static void take_census(const char *store, int version, struct census *c)
{
    memset(c, 0, sizeof(*c));
    c->version = version;
    pw_store_t *st = NULL;
    pw_store_opts_t o = {.readonly = true};
    cr_assert_eq(pw_store_open(&st, store, &o), 0);
    pw_txn_t *t;
    cr_assert_eq(pw_store_begin(st, false, &t), 0);
    cr_assert_eq(pw_store_log_foreach(t, 1, UINT64_MAX, census_log, c), 0);
    cr_assert_eq(pw_store_current_foreach(t, census_current, c), 0);
    pw_store_abort(&t);
    pw_store_destroy(&st);
}

/* An aggregator's exit line: "N updates stored, D duplicates". */
static void exit_counts(const char *log, unsigned long long *stored, unsigned long long *dups)
{
    char *text = pw_read_file(log);
    cr_assert_not_null(text);
    const char *at = strstr(text, "stopping: ");
    cr_assert_not_null(at, "no exit line in %s", log);
    cr_assert_eq(sscanf(at, "stopping: %llu updates stored, %llu duplicates", stored, dups), 2);
    free(text);
}

/*
 * After a run that ended with version 2 of the data: the store holds records
 * updates, each once and in sequence, and version 2's values; the
 * aggregator's exit line (log) says it stored exactly `stored` of them.
 */
static void check_run(const char *store, const char *log, size_t records,
                      unsigned long long stored)
{
    struct census c;
    take_census(store, 2, &c);
    cr_assert_eq(c.records, records, "every version, each update once");
    cr_assert_eq(c.out_of_order, 0);
    cr_assert_eq(c.current_v, c.current, "the current values are version 2's");
    unsigned long long n, dups;
    exit_counts(log, &n, &dups);
    cr_assert_eq(n, stored, "the exit line counts what was committed");
    /* Refused, collectors pause before they send again: a window sent
     * over and over would come back as hundreds of thousands of these. A
     * few windows are resent after silences, or queued for an aggregator
     * that is not up yet. */
    cr_assert_lt(dups, 4 * WINDOW * NDIST, "%llu duplicates", dups);
}

static bool log_has(const char *log, const char *needle)
{
    char *text = pw_read_file(log);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

/* A writer refused: exit 1 and the holder's pid on stderr. */
static void refused(char *const args[], const char *out, const char *want)
{
    char *o = NULL, *e = NULL;
    int rc = pw_proc_capture(PLANWATCH_BIN, args, out, 30000, &o, &e);
    cr_assert_eq(rc, 1, "%s into a store in use exits 1, not %d: %s", args[1], rc, e);
    cr_assert(e && strstr(e, want), "%s says '%s': %s", args[1], want, e);
    free(o);
    free(e);
}

Test(disk, a_second_writer_is_refused_with_the_holders_pid_and_readers_go_on)
{
    /* The Wuhan catalog, which replay and import take by default. */
    struct site s;
    site_init(&s, "lock");
    snprintf(s.catalog, sizeof(s.catalog), "%s/data/wuhan/catalog.conf", PW_SOURCE_DIR);
    snprintf(s.data[0], sizeof(s.data[0]), "%s/data/wuhan/districts/jiangan.csv", PW_SOURCE_DIR);
    snprintf(s.id[0], sizeof(s.id[0]), "jiangan");
    agg_start(&s);
    deliver(&s, 1);
    uint64_t head = log_head(s.fx.store);
    cr_assert_gt(head, 0);

    /* A second aggregator on the same store, on an intake of its own. */
    char sock[200];
    struct stat before, after;
    snprintf(sock, sizeof(sock), "%s/notify.sock", s.fx.store);
    cr_assert_eq(stat(sock, &before), 0);
    pw_proc_t second;
    char log[256], intake[200], want[300];
    snprintf(intake, sizeof(intake), "ipc://%s/second.sock", s.fx.dir);
    agg_spawn(&s, &second, s.fx.store, intake, log, sizeof(log));
    int st = pw_proc_wait(&second, 20000);
    cr_assert_eq(st, 1, "the second aggregator exits 1 (got %d): see %s", st, log);
    snprintf(want, sizeof(want), "store %s in use by pid %d", s.fx.store, (int)s.fx.agg.pid);
    cr_assert(log_has(log, want), "'%s' in %s", want, log);
    cr_assert(stat(sock, &after) == 0 && after.st_ino == before.st_ino,
              "the notify socket stays the first aggregator's");

    /* Readers are not writers: they go on beside it. */
    char out[200], copy[200], mp[200];
    snprintf(out, sizeof(out), "%s/tool.out", s.fx.dir);
    snprintf(copy, sizeof(copy), "%s/copy", s.fx.dir);
    snprintf(mp, sizeof(mp), "%s/export.mp", s.fx.dir);
    char *replay[] = {"planwatch", "replay", "--store", s.fx.store, "--quiet", NULL};
    cr_assert_eq(pw_proc_run(PLANWATCH_BIN, replay, out, 30000), 0, "replay: see %s", out);
    char *into[] = {"planwatch", "replay", "--store", s.fx.store, "--into", copy, "--quiet", NULL};
    cr_assert_eq(pw_proc_run(PLANWATCH_BIN, into, out, 30000), 0, "replay --into: see %s", out);
    char *exp[] = {"planwatch", "export", "--store", s.fx.store, "--out", mp, NULL};
    cr_assert_eq(pw_proc_run(PLANWATCH_BIN, exp, out, 30000), 0, "export: see %s", out);

    /* Every other writer is refused the same way. */
    char *back[] = {"planwatch", "replay", "--store", copy, "--into", s.fx.store, "--quiet", NULL};
    refused(back, out, want);
    pw_proc_t other;
    char empty[200], intake2[200];
    snprintf(empty, sizeof(empty), "%s/empty", s.fx.dir);
    snprintf(intake2, sizeof(intake2), "ipc://%s/other.sock", s.fx.dir);
    agg_spawn(&s, &other, empty, intake2, log, sizeof(log));
    cr_assert_eq(pw_proc_wait_log(&other, "INFO: ready", 20000), 0, "%s", log);
    char *imp[] = {"planwatch", "import", "--in", mp, "--store", empty, NULL};
    snprintf(want, sizeof(want), "store %s in use by pid %d", empty, (int)other.pid);
    refused(imp, out, want);
    cr_assert_eq(pw_proc_stop(&other, 20000), 0, "an import refused removes nothing: %s", log);
    cr_assert_eq(pw_proc_poll(&s.fx.agg), PW_PROC_RUNNING);
    cr_assert_eq(log_head(s.fx.store), head, "the store is untouched");

    /* A killed writer's lock dies with it: a restart is never blocked. */
    pw_proc_kill(&s.fx.agg);
    agg_start(&s);
    cr_assert_eq(pw_proc_stop(&s.fx.agg, 20000), 0);
}

Test(disk, a_full_disk_is_refused_with_estorefull_and_taken_again_when_room_returns)
{
    struct site s;
    char fs[128];
    site_on_tmpfs(&s, "full", "16m", fs);
    snprintf(s.fx.store, sizeof(s.fx.store), "%.128s/store", fs);
    for (int d = 0; d < NDIST; d++)
        write_data(s.data[d], d, 1);
    agg_start(&s);
    char agglog[sizeof(s.fx.agg.log)];
    memcpy(agglog, s.fx.agg.log, sizeof(agglog));
    deliver(&s, NDIST);

    /* The disk fills up; then every district sends a new version. */
    fs_fill(fs, 0);
    pw_proc_t kids[NDIST];
    for (int d = 0; d < NDIST; d++) {
        write_data(s.data[d], d, 2);
        collector_start(&s, d, &kids[d], false);
    }
    char want[300];
    snprintf(want, sizeof(want), "no space left on %s's file system", s.fx.store);
    cr_assert_eq(pw_proc_wait_log(&s.fx.agg, want, 60000), 0, "the aggregator says '%s': %s", want,
                 agglog);
    cr_assert_eq(pw_proc_wait_log(&kids[0], want, 30000), 0,
                 "the collector hears why its updates wait: %s", kids[0].log);
    sleep(2);
    cr_assert_eq(pw_proc_poll(&s.fx.agg), PW_PROC_RUNNING, "the aggregator stays up: %s", agglog);
    for (int d = 0; d < NDIST; d++)
        cr_assert_eq(pw_proc_poll(&kids[d]), PW_PROC_RUNNING, "collector d%d keeps trying", d);

    /* Room again: the rest goes in by itself. */
    fs_empty(fs);
    for (int d = 0; d < NDIST; d++)
        cr_assert_eq(pw_proc_wait(&kids[d], 120000), 0, "collector d%d: see %s", d, kids[d].log);
    cr_assert(log_has(agglog, "room again on"), "%s", agglog);
    cr_assert_eq(pw_proc_stop(&s.fx.agg, 20000), 0);
    check_run(s.fx.store, agglog, 2 * NDIST * PER_DIST, 2 * NDIST * PER_DIST);
}

Test(disk, an_aggregator_restarted_on_a_full_disk_refuses_until_room_returns)
{
    struct site s;
    char fs[128];
    site_on_tmpfs(&s, "restart", "8m", fs);
    snprintf(s.fx.store, sizeof(s.fx.store), "%.128s/store", fs);
    write_data(s.data[0], 0, 1);
    agg_start(&s);
    deliver(&s, 1);
    cr_assert_eq(pw_proc_stop(&s.fx.agg, 20000), 0);

    fs_fill(fs, 0);
    agg_start(&s);
    char agglog[sizeof(s.fx.agg.log)];
    memcpy(agglog, s.fx.agg.log, sizeof(agglog));
    write_data(s.data[0], 0, 2);
    pw_proc_t kid;
    collector_start(&s, 0, &kid, false);
    char want[300];
    snprintf(want, sizeof(want), "no space left on %s's file system", s.fx.store);
    cr_assert_eq(pw_proc_wait_log(&kid, want, 60000), 0, "ESTOREFULL, naming the disk: %s",
                 kid.log);
    sleep(6); /* past a retry of a real commit */
    cr_assert_eq(pw_proc_poll(&s.fx.agg), PW_PROC_RUNNING, "no exit, no restart loop: %s", agglog);
    cr_assert_eq(pw_proc_poll(&kid), PW_PROC_RUNNING);

    fs_empty(fs);
    cr_assert_eq(pw_proc_wait(&kid, 120000), 0, "collector: see %s", kid.log);
    cr_assert_eq(pw_proc_stop(&s.fx.agg, 20000), 0);
    check_run(s.fx.store, agglog, 2 * PER_DIST, PER_DIST);
}

Test(disk, a_collector_whose_spool_disk_fills_waits_and_loses_nothing)
{
    struct site s;
    char fs[128];
    site_on_tmpfs(&s, "spool", "4m", fs);
    snprintf(s.spool[0], sizeof(s.spool[0]), "%.128s/spool-d0", fs);

    /* The aggregator is down: version 1 stays in the spool. */
    write_data(s.data[0], 0, 1);
    pw_proc_t kid;
    collector_start(&s, 0, &kid, true);
    cr_assert_eq(pw_proc_wait_log(&kid, "updates spooled from", 20000), 0, "%s", kid.log);
    fs_fill(fs, 0);
    write_data(s.data[0], 0, 2);
    char want[300];
    snprintf(want, sizeof(want), "no space left on spool %s's file system", s.spool[0]);
    cr_assert_eq(pw_proc_wait_log(&kid, want, 20000), 0, "the collector says '%s': %s", want,
                 kid.log);
    sleep(3);
    cr_assert_eq(pw_proc_poll(&kid), PW_PROC_RUNNING, "the collector waits: %s", kid.log);

    fs_empty(fs);
    cr_assert_eq(pw_proc_wait_log(&kid, "room again on spool", 20000), 0, "%s", kid.log);
    agg_start(&s);
    int64_t deadline = pw_mono_ms() + 60000;
    while (log_head(s.fx.store) < 2 * PER_DIST && pw_mono_ms() < deadline)
        usleep(200000);
    cr_assert_eq(pw_proc_stop(&kid, 20000), 0);
    cr_assert_eq(pw_proc_stop(&s.fx.agg, 20000), 0);
    check_run(s.fx.store, s.fx.agg.log, 2 * PER_DIST, 2 * PER_DIST);
}

/* Runs an aggregator (stopped once ready) or a one-shot collector (which)
 * with its store or spool at path; its exit code (-1: a signal). */
static int start_on(struct site *s, const char *which, char *path, char *log, size_t len)
{
    pw_proc_t p;
    char *agg[] = {"aggregator", "--store",   path,       "--bind",
                   s->fx.intake, "--catalog", s->catalog, NULL};
    char *col[] = {"collector",  "--district", s->id[0], "--data",    s->data[0], "--connect",
                   s->fx.intake, "--spool",    path,     "--timeout", "2",        NULL};
    cr_assert_eq(pw_fixture_spawn(&s->fx, &p, strcmp(which, "aggregator") == 0 ? agg : col), 0);
    snprintf(log, len, "%s", p.log);
    if (strcmp(which, "aggregator") == 0 && pw_proc_wait_log(&p, "INFO: ready", 10000) == 0)
        return pw_proc_stop(&p, 20000);
    return pw_proc_wait(&p, 20000);
}

Test(disk, a_store_or_spool_on_a_full_file_system_is_refused_without_a_crash)
{
    struct site s;
    char fs[128];
    site_on_tmpfs(&s, "create", "1m", fs);
    write_data(s.data[0], 0, 1);
    static const char *const which[] = {"aggregator", "collector"};
    static const char *const noun[] = {"store", "spool"};
    /* No room at all, then room for LMDB's lock file but not for the data
     * file's first pages. */
    static const size_t spare[] = {0, 16384};
    for (size_t k = 0; k < 2; k++) {
        fs_fill(fs, spare[k]);
        for (size_t w = 0; w < 2; w++) {
            char path[200], log[256], want[300];
            snprintf(path, sizeof(path), "%s/%s%zu", fs, noun[w], k);
            int rc = start_on(&s, which[w], path, log, sizeof(log));
            cr_assert_eq(rc, 1, "%s with no room exits 1 (not %d, -1 is a signal): %s",
                         which[w], rc, log);
            snprintf(want, sizeof(want), "cannot create %s in %s: no space left on device",
                     noun[w], path);
            cr_assert(log_has(log, want), "'%s' in %s", want, log);
        }
        /* With room, what a full disk cut short is created as if new. */
        fs_empty(fs);
        char path[200], log[256];
        snprintf(path, sizeof(path), "%s/store%zu", fs, k);
        cr_assert_eq(start_on(&s, "aggregator", path, log, sizeof(log)), 0, "%s", log);
    }
}
