/* SPDX-License-Identifier: MIT */
/*
 * Replay benchmark: records per second read back from a store's log (the raw
 * LMDB scan with msgpack decode), replayed to an event stream (the model,
 * no store), and replayed into a fresh store (what `planwatch replay --into`
 * and `import` do). The source store is built by the same rebuild engine
 * from synthetic records: 13 districts x 25 elements, revised over and over.
 *
 * usage: pw_bench_replay [RECORDS] [REPETITIONS] [fresh]
 * With "fresh", only the replay into a fresh store runs, once, after the
 * source is built: the mode to profile under callgrind
 * (--toggle-collect=pw_replay_read_raw --toggle-collect=pw_rebuild_finish).
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "pw/catalog.h"
#include "pw/util.h"
#include "rebuild.h"
#include "replay.h"
#include "store.h"

#define NDIST 13
#define NELEM 25
#define BATCH 1024 /* records per original batch (one commit time) */

static char dir[64];

static pw_catalog_t *make_catalog(void)
{
    char text[32768];
    size_t n = (size_t)snprintf(text, sizeof(text),
                                "[plan]\nname = bench\nbase_year = 2015\ntarget_year = 2020\n");
    for (int d = 0; d < NDIST; d++)
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "[district d%02d]\nname_zh = 区\nname_en = D\nlevel = district\n", d);
    for (int e = 0; e < NELEM; e++)
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "[element e%02d]\nname_zh = 项\nname_en = E\nunit = u\n"
                              "kind = amount\nlevel = district\n[indicator i%02d]\nname_zh = 指\n"
                              "name_en = I\ncategory = c\nunit = u\nattribute = expected\n"
                              "base = 1000\ntarget = 2000\ntarget_kind = exact\nmethod = linear\n"
                              "value = sum e%02d\n",
                              e, e, e);
    pw_catalog_t *cat = NULL;
    char err[256];
    if (pw_catalog_parse("bench", text, n, &cat, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    return cat;
}

static double since(int64_t t0)
{
    return (double)(pw_mono_ms() - t0) / 1000.0;
}

/* The source: `records` synthetic records through the rebuild engine. */
static double build_source(const pw_catalog_t *cat, const char *path, uint64_t records)
{
    pw_rebuild_t *rb = NULL;
    if (pw_rebuild_new(cat, path, NULL, NULL, &rb) != 0)
        exit(1);
    char periods[8][16] = {"2016", "2017", "2018H1", "2018H2", "2019", "2019Q1", "2020", "2018-07"};
    int64_t t0 = pw_mono_ms();
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_RECORD;
    uint64_t seqs[NDIST] = {0};
    for (uint64_t i = 0; i < records; i++) {
        int d = (int)(i % NDIST), e = (int)((i / NDIST) % NELEM);
        const char *p = periods[(i / (NDIST * NELEM)) % 8];
        snprintf(m.district, sizeof(m.district), "d%02d", d);
        snprintf(m.element, sizeof(m.element), "e%02d", e);
        pw_period_parse(p, strlen(p), &m.period);
        m.epoch = 42;
        m.seq = ++seqs[d];
        m.value = 100.0 + (double)(i % 97);
        m.observed_ms = 1700000000000 + (int64_t)(i / BATCH);
        m.received_ms = m.observed_ms + 1;
        if (pw_rebuild_add(rb, &m) != 0)
            exit(1);
    }
    if (pw_rebuild_finish(rb) != 0)
        exit(1);
    double secs = since(t0);
    pw_rebuild_destroy(&rb);
    return (double)records / secs;
}

static int count(void *ctx, uint64_t seq, const pw_msg_t *rec)
{
    (void)seq;
    (void)rec;
    (*(uint64_t *)ctx)++;
    return 0;
}

struct into {
    pw_rebuild_t *rb;
};

static int feed(void *ctx, uint64_t seq, const pw_msg_t *rec, const void *raw, size_t len)
{
    (void)seq;
    return pw_rebuild_add_raw(((struct into *)ctx)->rb, rec, raw, len);
}

static int count_event(void *ctx, pw_event_t *ev)
{
    (void)ev;
    (*(uint64_t *)ctx)++;
    return 0;
}

static double replay(const pw_catalog_t *cat, pw_store_t *src, const char *into, uint64_t records,
                     uint64_t *events)
{
    struct into in = {NULL};
    *events = 0;
    if (pw_rebuild_new(cat, into, count_event, events, &in.rb) != 0)
        exit(1);
    int64_t t0 = pw_mono_ms();
    if (pw_replay_read_raw(src, NULL, cat, feed, &in) != 0 || pw_rebuild_finish(in.rb) != 0)
        exit(1);
    double secs = since(t0);
    pw_rebuild_destroy(&in.rb);
    return (double)records / secs;
}

int main(int argc, char **argv)
{
    uint64_t records = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int reps = bench_setup(argc, argv, 2, dir);
    pw_catalog_t *cat = make_catalog();
    char src_path[96], dst_path[96];
    snprintf(src_path, sizeof(src_path), "%s/source", dir);
    double built = build_source(cat, src_path, records);
    pw_store_t *src = NULL;
    pw_store_opts_t ro = {.readonly = true};
    if (pw_store_open(&src, src_path, &ro) != 0)
        return 1;
    printf("replay: %llu records (13 districts x 25 elements, batches of %d), built at %.0f "
           "rec/s\n",
           (unsigned long long)records, BATCH, built);
    double scan[BENCH_REPS_MAX], stream[BENCH_REPS_MAX], fresh[BENCH_REPS_MAX];
    uint64_t events = 0;
    if (argc > 3 && strcmp(argv[3], "fresh") == 0) {
        snprintf(dst_path, sizeof(dst_path), "%s/fresh", dir);
        printf("replay into a fresh store: %.0f rec/s\n",
               replay(cat, src, dst_path, records, &events));
        pw_store_destroy(&src);
        pw_catalog_destroy(&cat);
        pw_rm_rf(dir);
        return 0;
    }
    for (int r = 0; r < reps; r++) {
        uint64_t n = 0;
        int64_t t0 = pw_mono_ms();
        pw_replay_read(src, NULL, cat, count, &n);
        scan[r] = (double)n / since(t0);
        stream[r] = replay(cat, src, NULL, records, &events);
        snprintf(dst_path, sizeof(dst_path), "%s/fresh-%d", dir, r);
        fresh[r] = replay(cat, src, dst_path, records, &events);
        pw_rm_rf(dst_path);
    }
    double s = bench_report("replay: store scan with planwatch decode", scan, reps, "rec/s");
    double e = bench_report("replay to an event stream (model, no store)", stream, reps, "rec/s");
    double f = bench_report("replay into a fresh store (durable at end)", fresh, reps, "rec/s");
    printf("events produced per replay: %llu\n", (unsigned long long)events);
    printf("ratio, event stream / store scan with planwatch decode: %.2f\n", e / s);
    printf("replay into a fresh store: %.2f million rec/s (goal >= 1.0)\n", f / 1e6);
    pw_store_destroy(&src);
    pw_catalog_destroy(&cat);
    pw_rm_rf(dir);
    return 0;
}
