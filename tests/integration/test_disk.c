/* SPDX-License-Identifier: MIT */
/*
 * The store's directory, with real processes: a second aggregator on a store
 * that one already writes, and the other writers and readers beside it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "pw/error.h"
#include "pw/util.h"
#include "store.h"
#include "tmpdir.h"

#define NDIST 3
#define NELEM 40

static char dir[64];

static void setup(void)
{
    cr_assert_eq(pw_tmpdir_make(dir), 0);
}

static void teardown(void)
{
    pw_proc_kill_all();
    if (!getenv("PW_TEST_KEEP"))
        pw_tmpdir_remove(dir);
}

TestSuite(disk, .init = setup, .fini = teardown, .timeout = 300.0);

static void write_catalog(const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[plan]\nname = disk test\nbase_year = 2015\ntarget_year = 2020\n", f);
    for (int d = 0; d < NDIST; d++)
        fprintf(f, "[district d%d]\nname_zh = 区%d\nname_en = D%d\nlevel = district\n", d, d, d);
    for (int e = 0; e < NELEM; e++)
        fprintf(f, "[element e%02d]\nname_zh = 项%d\nname_en = E%d\nunit = u\nkind = amount\n"
                   "level = district\n", e, e, e);
    fputs("[indicator i00]\nname_zh = 指\nname_en = I\ncategory = c\nunit = u\n"
          "attribute = expected\nbase = 1000\ntarget = 2000\ntarget_kind = exact\n"
          "method = linear\nvalue = sum e00\n", f);
    fclose(f);
}

struct site {
    char base[128];
    char catalog[160], store[160], intake[160], data[NDIST][160], spool[NDIST][160];
    char id[NDIST][16];
    pw_proc_t agg;
    int starts;
};

static void site_init(struct site *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->base, sizeof(s->base), "%s/%s", dir, name);
    cr_assert_eq(pw_mkdir_p(s->base), 0);
    snprintf(s->catalog, sizeof(s->catalog), "%s/catalog.conf", s->base);
    snprintf(s->store, sizeof(s->store), "%s/store", s->base);
    snprintf(s->intake, sizeof(s->intake), "ipc://%s/intake.sock", s->base);
    write_catalog(s->catalog);
    char base[sizeof(s->base)]; /* a copy: gcc -O1 takes s->base for an overlap */
    memcpy(base, s->base, sizeof(base));
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
    snprintf(log, len, "%s/aggregator-%d.log", s->base, s->starts++);
    char *args[] = {"planwatch", "aggregator", "--store", store, "--bind", intake,
                    "--catalog", s->catalog, NULL};
    cr_assert_eq(pw_proc_spawn(p, PLANWATCH_BIN, args, log), 0);
}

static void agg_start(struct site *s)
{
    char log[200];
    agg_spawn(s, &s->agg, s->store, s->intake, log, sizeof(log));
    cr_assert_eq(pw_proc_wait_log(&s->agg, "INFO: ready", 20000), 0, "aggregator not ready: %s",
                 log);
}

static void collector_start(struct site *s, int d, pw_proc_t *p, bool follow)
{
    char log[200];
    snprintf(log, sizeof(log), "%s/collector-d%d-%lld.log", s->base, d, (long long)pw_mono_ms());
    char *args[] = {"planwatch", "collector", "--district", s->id[d], "--data", s->data[d],
                    "--connect", s->intake, "--spool", s->spool[d], "--timeout", "120",
                    "--log-level", "info", follow ? "--follow" : NULL, NULL};
    cr_assert_eq(pw_proc_spawn(p, PLANWATCH_BIN, args, log), 0);
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
    uint64_t head = log_head(s.store);
    cr_assert_gt(head, 0);

    /* A second aggregator on the same store, on an intake of its own. */
    char sock[200];
    struct stat before, after;
    snprintf(sock, sizeof(sock), "%s/notify.sock", s.store);
    cr_assert_eq(stat(sock, &before), 0);
    pw_proc_t second;
    char log[200], intake[200], want[300];
    snprintf(intake, sizeof(intake), "ipc://%s/second.sock", s.base);
    agg_spawn(&s, &second, s.store, intake, log, sizeof(log));
    int st = pw_proc_wait(&second, 20000);
    cr_assert_eq(st, 1, "the second aggregator exits 1 (got %d): see %s", st, log);
    snprintf(want, sizeof(want), "store %s in use by pid %d", s.store, (int)s.agg.pid);
    cr_assert(log_has(log, want), "'%s' in %s", want, log);
    cr_assert(stat(sock, &after) == 0 && after.st_ino == before.st_ino,
              "the notify socket stays the first aggregator's");

    /* Readers are not writers: they go on beside it. */
    char out[200], copy[200], mp[200];
    snprintf(out, sizeof(out), "%s/tool.out", s.base);
    snprintf(copy, sizeof(copy), "%s/copy", s.base);
    snprintf(mp, sizeof(mp), "%s/export.mp", s.base);
    char *replay[] = {"planwatch", "replay", "--store", s.store, "--quiet", NULL};
    cr_assert_eq(pw_proc_run(PLANWATCH_BIN, replay, out, 30000), 0, "replay: see %s", out);
    char *into[] = {"planwatch", "replay", "--store", s.store, "--into", copy, "--quiet", NULL};
    cr_assert_eq(pw_proc_run(PLANWATCH_BIN, into, out, 30000), 0, "replay --into: see %s", out);
    char *exp[] = {"planwatch", "export", "--store", s.store, "--out", mp, NULL};
    cr_assert_eq(pw_proc_run(PLANWATCH_BIN, exp, out, 30000), 0, "export: see %s", out);

    /* Every other writer is refused the same way. */
    char *back[] = {"planwatch", "replay", "--store", copy, "--into", s.store, "--quiet", NULL};
    refused(back, out, want);
    pw_proc_t other;
    char empty[200], intake2[200];
    snprintf(empty, sizeof(empty), "%s/empty", s.base);
    snprintf(intake2, sizeof(intake2), "ipc://%s/other.sock", s.base);
    agg_spawn(&s, &other, empty, intake2, log, sizeof(log));
    cr_assert_eq(pw_proc_wait_log(&other, "INFO: ready", 20000), 0, "%s", log);
    char *imp[] = {"planwatch", "import", "--in", mp, "--store", empty, NULL};
    snprintf(want, sizeof(want), "store %s in use by pid %d", empty, (int)other.pid);
    refused(imp, out, want);
    cr_assert_eq(pw_proc_stop(&other, 20000), 0, "an import refused removes nothing: %s", log);
    cr_assert_eq(pw_proc_poll(&s.agg), PW_PROC_RUNNING);
    cr_assert_eq(log_head(s.store), head, "the store is untouched");

    /* A killed writer's lock dies with it: a restart is never blocked. */
    pw_proc_kill(&s.agg);
    agg_start(&s);
    cr_assert_eq(pw_proc_stop(&s.agg, 20000), 0);
}
