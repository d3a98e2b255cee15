/* SPDX-License-Identifier: MIT */
/*
 * The real aggregator and publisher, driven by a client that speaks the
 * intake protocol as a collector does (hello, numbered updates, acks), but
 * without a collector's data file and spool, so that it can pace updates
 * exactly and time each one.
 *
 * latency: update -> alert, from the moment the update is sent to the moment
 *   a subscriber of the publisher's stream receives the alert it causes, at
 *   1 000 and 10 000 updates/s. Every update flips an indicator between
 *   severe and on track, so each one causes exactly one alert (open or
 *   resolve), which the aggregator publishes only after its commit. The
 *   value carries a tag that says which update it was.
 * memory and disk: 64 districts x 40 indicators, updates (and revisions)
 *   sent as fast as the aggregator acknowledges them; the aggregator's
 *   anonymous memory (RssAnon, not the LMDB page cache) as the log grows,
 *   and bytes on disk per stored update.
 *
 * usage: pw_bench_pipeline PLANWATCH_BINARY [REPETITIONS] [intake N]
 * With "intake N", only the 64 x 40 intake runs, once, with N updates: the
 * mode to profile the aggregator (PLANWATCH_BINARY may be a script that runs
 * `planwatch aggregator` under callgrind).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bench_util.h"
#include "pw/error.h"
#include "pw/event.h"
#include "pw/msg.h"
#include "pw/util.h"

#define LAT_IND   1000 /* indicators the latency run flips, round robin */
#define LAT_TAGS  500  /* tags per indicator: value = base + tag */
#define LOW_BASE  100  /* 100..599: far below plan (severe) */
#define HIGH_BASE 1500 /* 1500..1999: ahead of plan (on track) */
#define MEM_DIST  64
#define MEM_ELEM  40
#define MEM_N     1200000 /* updates of the memory run, unless told otherwise */
#define WINDOW    4096

static const char *bin;
static char dir[64];
static bool insecure, pub_insecure; /* --insecure on tcp:// (127.0.0.1 only here) */
static long mem_n = MEM_N;

static void write_catalog(const char *path, int ndist, int nelem)
{
    FILE *f = fopen(path, "w");
    if (!f)
        exit(1);
    fputs("[plan]\nname = bench\nbase_year = 2015\ntarget_year = 2020\n", f);
    for (int d = 0; d < ndist; d++)
        fprintf(f, "[district d%02d]\nname_zh = 区\nname_en = D\nlevel = district\n", d);
    for (int e = 0; e < nelem; e++)
        fprintf(f,
                "[element e%04d]\nname_zh = 项\nname_en = E\nunit = u\nkind = amount\n"
                "level = district\n[indicator i%04d]\nname_zh = 指\nname_en = I\n"
                "category = c\nunit = u\nattribute = expected\nbase = 1000\ntarget = 2000\n"
                "target_kind = exact\nmethod = linear\nvalue = sum e%04d\n",
                e, e, e);
    fclose(f);
}

struct daemons {
    pid_t agg, pub;
    char intake[64], stream[64];
};

static void start(struct daemons *dm, const char *name, const char *catalog, bool publisher)
{
    char store[128], snap[64], log[160], cat[128];
    snprintf(cat, sizeof(cat), "%s", catalog);
    snprintf(store, sizeof(store), "%s/%s", dir, name);
    snprintf(dm->intake, sizeof(dm->intake), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(dm->stream, sizeof(dm->stream), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(snap, sizeof(snap), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(log, sizeof(log), "%s/%s-agg.log", dir, name);
    char *aargs[] = {"planwatch", "aggregator", "--store", store, "--bind", dm->intake,
                     "--catalog", cat, insecure ? "--insecure" : NULL, NULL};
    dm->agg = bench_spawn(bin, aargs, log);
    bench_wait_ready(log);
    dm->pub = -1;
    if (publisher) {
        snprintf(log, sizeof(log), "%s/%s-pub.log", dir, name);
        char *pargs[] = {"planwatch", "publisher", "--store", store, "--bind", dm->stream,
                         "--snapshot-bind", snap, "--catalog", cat,
                         pub_insecure ? "--insecure" : NULL, NULL};
        dm->pub = bench_spawn(bin, pargs, log);
        bench_wait_ready(log);
    }
}

static void stop(struct daemons *dm)
{
    if (dm->pub > 0)
        kill(dm->pub, SIGTERM);
    kill(dm->agg, SIGTERM);
    if (dm->pub > 0)
        waitpid(dm->pub, NULL, 0);
    waitpid(dm->agg, NULL, 0);
}

/* A collector stand-in: one DEALER, several districts (one epoch each). */
struct client {
    void *ctx, *sock;
    pw_buf_t buf;
    uint64_t seq[MEM_DIST], acked[MEM_DIST];
    uint64_t sent, done;
};

static void send_msg(struct client *c, const pw_msg_t *m)
{
    if (pw_msg_encode(m, &c->buf) != 0 || zmq_send(c->sock, c->buf.data, c->buf.len, 0) < 0) {
        fprintf(stderr, "bench: send failed\n");
        exit(1);
    }
}

/* Reads acks (and welcomes) waiting, or waits up to timeout_ms for one. */
static void drain(struct client *c, int timeout_ms)
{
    zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return;
    char frame[PW_MSG_MAXSIZE];
    int n;
    while ((n = zmq_recv(c->sock, frame, sizeof(frame), ZMQ_DONTWAIT)) >= 0) {
        pw_msg_t m;
        if (n > (int)sizeof(frame) || pw_msg_decode(frame, (size_t)n, &m) != 0)
            continue;
        if (m.type == PW_MSG_NACK) {
            fprintf(stderr, "bench: nack %s: %s\n", pw_err_name(m.reason), m.text);
            exit(1);
        }
        size_t d = (size_t)(m.epoch - 1000);
        if (d >= MEM_DIST)
            continue;
        if (m.type == PW_MSG_WELCOME) {
            c->acked[d] = c->seq[d] = m.seq;
            c->done++;
        } else if (m.type == PW_MSG_ACK && m.seq > c->acked[d]) {
            c->done += m.seq - c->acked[d];
            c->acked[d] = m.seq;
        }
    }
}

static void client_open(struct client *c, const char *intake, int ndist)
{
    memset(c, 0, sizeof(*c));
    c->ctx = zmq_ctx_new();
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    int hwm = 100000, zero = 0;
    zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_connect(c->sock, intake);
    pw_msg_t h;
    memset(&h, 0, sizeof(h));
    h.type = PW_MSG_HELLO;
    for (int d = 0; d < ndist; d++) {
        snprintf(h.district, sizeof(h.district), "d%02d", d);
        h.epoch = 1000 + (uint64_t)d;
        send_msg(c, &h);
    }
    int64_t t0 = pw_mono_ms();
    while (c->done < (uint64_t)ndist) {
        drain(c, 200);
        if (pw_mono_ms() - t0 > 20000) {
            fprintf(stderr, "bench: no welcome from the aggregator (see %s)\n", dir);
            exit(1);
        }
    }
    c->done = 0;
}

static void client_close(struct client *c)
{
    zmq_close(c->sock);
    zmq_ctx_term(c->ctx);
    pw_buf_free(&c->buf);
}

static void send_update(struct client *c, int d, int e, const char *period, double value)
{
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_UPDATE;
    snprintf(m.district, sizeof(m.district), "d%02d", d);
    snprintf(m.element, sizeof(m.element), "e%04d", e);
    pw_period_parse(period, strlen(period), &m.period);
    m.epoch = 1000 + (uint64_t)d;
    m.seq = ++c->seq[d];
    m.value = value;
    m.observed_ms = pw_now_ms();
    send_msg(c, &m);
    c->sent++;
}

static void wait_acked(struct client *c)
{
    int64_t t0 = pw_mono_ms();
    while (c->done < c->sent && pw_mono_ms() - t0 < 60000)
        drain(c, 100);
}

/* Latency. */
struct lat {
    void *ctx, *sub;
    _Atomic int64_t sent_us[LAT_IND][LAT_TAGS];
    int64_t *lat_us;
    size_t nlat, cap;
    atomic_int stop, counting;
    atomic_ulong alerts;
};

static void *subscriber(void *arg)
{
    struct lat *L = arg;
    zmq_pollitem_t it = {L->sub, 0, ZMQ_POLLIN, 0};
    char topic[64], body[8192];
    while (!atomic_load(&L->stop)) {
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        while (zmq_recv(L->sub, topic, sizeof(topic), ZMQ_DONTWAIT) >= 0) {
            int n = zmq_recv(L->sub, body, sizeof(body), 0);
            int64_t now = bench_now_us();
            pw_event_t ev;
            if (n < 0 || n > (int)sizeof(body) || pw_event_decode(body, (size_t)n, &ev) != 0 ||
                ev.type != PW_EV_ALERT)
                continue;
            atomic_fetch_add(&L->alerts, 1);
            int k = atoi(ev.indicator + 1);
            long v = (long)ev.value;
            long tag = v >= HIGH_BASE ? v - HIGH_BASE : v - LOW_BASE;
            if (!atomic_load(&L->counting) || k < 0 || k >= LAT_IND || tag < 0 || tag >= LAT_TAGS)
                continue;
            int64_t t = atomic_load_explicit(&L->sent_us[k][tag], memory_order_relaxed);
            if (t > 0 && L->nlat < L->cap)
                L->lat_us[L->nlat++] = now - t;
        }
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i];
}

/* One paced run: rate updates/s for secs; p50/p99/p99.9 in ms, and the share received. */
static void latency_run(const char *catalog, int r, int rate, int secs, double out[4])
{
    char name[32];
    snprintf(name, sizeof(name), "lat-%d-%d", rate, r);
    struct daemons dm;
    start(&dm, name, catalog, true);
    struct lat *L = calloc(1, sizeof(*L));
    L->cap = (size_t)rate * (size_t)secs;
    L->lat_us = malloc(L->cap * sizeof(int64_t));
    L->ctx = zmq_ctx_new();
    L->sub = zmq_socket(L->ctx, ZMQ_SUB);
    int hwm = 1000000, zero = 0;
    zmq_setsockopt(L->sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(L->sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(L->sub, ZMQ_SUBSCRIBE, "alert.", 6);
    zmq_connect(L->sub, dm.stream);
    pthread_t thr;
    pthread_create(&thr, NULL, subscriber, L);

    struct client c;
    client_open(&c, dm.intake, 1);
    /* Every indicator starts severe: one open alert each, not timed. */
    bool high[LAT_IND] = {false};
    int next_tag[LAT_IND] = {0};
    for (int k = 0; k < LAT_IND; k++)
        send_update(&c, 0, k, "2016", LOW_BASE + LAT_TAGS - 1);
    wait_acked(&c);
    for (int i = 0; i < 100 && atomic_load(&L->alerts) < LAT_IND; i++)
        usleep(50000);
    atomic_store(&L->counting, 1);

    long total = (long)rate * secs;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < total; i++) {
        long ns = (long)((double)i * 1e9 / rate);
        struct timespec at = {t0.tv_sec + (t0.tv_nsec + ns) / 1000000000,
                              (t0.tv_nsec + ns) % 1000000000};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        int k = (int)(i % LAT_IND), tag = next_tag[k]++ % LAT_TAGS;
        high[k] = !high[k];
        atomic_store_explicit(&L->sent_us[k][tag], bench_now_us(), memory_order_relaxed);
        send_update(&c, 0, k, "2016", (high[k] ? HIGH_BASE : LOW_BASE) + tag);
        drain(&c, 0);
    }
    wait_acked(&c);
    int64_t settle = pw_mono_ms();
    while (L->nlat < (size_t)total && pw_mono_ms() - settle < 3000)
        usleep(20000);
    atomic_store(&L->stop, 1);
    pthread_join(thr, NULL);
    qsort(L->lat_us, L->nlat, sizeof(int64_t), cmp_i64);
    out[0] = pct(L->lat_us, L->nlat, 0.50) / 1000.0;
    out[1] = pct(L->lat_us, L->nlat, 0.99) / 1000.0;
    out[2] = pct(L->lat_us, L->nlat, 0.999) / 1000.0;
    out[3] = (double)L->nlat / (double)total;
    client_close(&c);
    zmq_close(L->sub);
    zmq_ctx_term(L->ctx);
    free(L->lat_us);
    free(L);
    stop(&dm);
    char store[128];
    snprintf(store, sizeof(store), "%s/%s", dir, name);
    pw_rm_rf(store);
}

/* Memory and disk: RssAnon (kB) at each quarter of the log, bytes per update,
 * and the intake rate of this client. */
static void memory_run(const char *catalog, int r, double rss_kb[4], double *bytes_per,
                       double *rate)
{
    static const char *periods[] = {"2016",   "2017",   "2018",   "2019",   "2020",   "2016H1",
                                    "2016H2", "2017H1", "2017H2", "2018H1", "2018H2", "2019H1",
                                    "2019H2", "2020H1", "2020H2", "2018Q1", "2018Q2", "2018Q3",
                                    "2018Q4", "2019Q1", "2019Q2", "2019Q3", "2019Q4", "2020Q1"};
    const long nper = (long)(sizeof(periods) / sizeof(periods[0]));
    char name[32], store[128];
    snprintf(name, sizeof(name), "mem-%d", r);
    snprintf(store, sizeof(store), "%s/%s", dir, name);
    struct daemons dm;
    start(&dm, name, catalog, false);
    struct client c;
    client_open(&c, dm.intake, MEM_DIST);
    int64_t t0 = bench_now_us();
    for (long i = 0; i < mem_n; i++) {
        while (c.sent - c.done >= WINDOW)
            drain(&c, 100);
        int d = (int)(i % MEM_DIST), e = (int)((i / MEM_DIST) % MEM_ELEM);
        const char *p = periods[(i / (MEM_DIST * MEM_ELEM)) % nper];
        send_update(&c, d, e, p, (double)(100 + (i * 7919) % 1900));
        if ((i + 1) % (mem_n / 4) == 0 && (i + 1) / (mem_n / 4) <= 4) {
            wait_acked(&c);
            rss_kb[(i + 1) / (mem_n / 4) - 1] = (double)bench_rss_anon_kb(dm.agg);
        }
    }
    wait_acked(&c);
    *rate = (double)mem_n / ((double)(bench_now_us() - t0) / 1e6);
    client_close(&c);
    stop(&dm);
    *bytes_per = (double)bench_dir_bytes(store) / (double)mem_n;
    pw_rm_rf(store);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLANWATCH_BINARY [REPETITIONS]\n", argv[0]);
        return 2;
    }
    bin = argv[1];
    int reps = bench_setup(argc, argv, 2, dir);
    insecure = bench_needs_insecure(bin, "aggregator");
    pub_insecure = bench_needs_insecure(bin, "publisher");
    char lat_cat[96], mem_cat[96];
    snprintf(lat_cat, sizeof(lat_cat), "%s/latency.conf", dir);
    snprintf(mem_cat, sizeof(mem_cat), "%s/memory.conf", dir);
    write_catalog(lat_cat, 1, LAT_IND);
    write_catalog(mem_cat, MEM_DIST, MEM_ELEM);

    if (argc > 4 && strcmp(argv[3], "intake") == 0) {
        mem_n = atol(argv[4]) < 4 ? 4 : atol(argv[4]);
        double rk[4], b, rt;
        memory_run(mem_cat, 0, rk, &b, &rt);
        printf("intake, one protocol client, 64 districts: %ld updates, %.0f upd/s\n", mem_n, rt);
        pw_rm_rf(dir);
        return 0;
    }
    double l1[4][BENCH_REPS_MAX], l10[4][BENCH_REPS_MAX], rss[4][BENCH_REPS_MAX];
    double bytes[BENCH_REPS_MAX], rate[BENCH_REPS_MAX];
    printf("pipeline: real aggregator%s; a protocol client in place of collectors\n",
           insecure ? " (--insecure, 127.0.0.1 only)" : "");
    for (int r = 0; r < reps; r++) {
        double o[4], q[4];
        latency_run(lat_cat, r, 1000, 8, o);
        latency_run(lat_cat, r, 10000, 4, q);
        for (int i = 0; i < 4; i++) {
            l1[i][r] = o[i];
            l10[i][r] = q[i];
        }
        double rk[4];
        memory_run(mem_cat, r, rk, &bytes[r], &rate[r]);
        for (int i = 0; i < 4; i++)
            rss[i][r] = rk[i];
        printf("  repetition %d: 1k/s p50 %.2f p99 %.2f p99.9 %.2f ms (%.3f received); "
               "10k/s p50 %.2f p99 %.2f p99.9 %.2f ms (%.3f); RssAnon %.0f/%.0f/%.0f/%.0f kB; "
               "%.0f B/update; %.0f upd/s\n",
               r + 1, o[0], o[1], o[2], o[3], q[0], q[1], q[2], q[3], rk[0], rk[1], rk[2], rk[3],
               bytes[r], rate[r]);
        fflush(stdout);
    }
    printf("update->alert latency (median of %d runs, ms): p50 / p99 / p99.9, share received\n",
           reps);
    printf("  at  1 000 upd/s: %.2f / %.2f / %.2f   %.3f\n", bench_median(l1[0], reps),
           bench_median(l1[1], reps), bench_median(l1[2], reps), bench_median(l1[3], reps));
    printf("  at 10 000 upd/s: %.2f / %.2f / %.2f   %.3f\n", bench_median(l10[0], reps),
           bench_median(l10[1], reps), bench_median(l10[2], reps), bench_median(l10[3], reps));
    printf("aggregator RssAnon, 64 x 40, after 1/4, 1/2, 3/4, all of %d updates: "
           "%.1f / %.1f / %.1f / %.1f MB\n",
           MEM_N, bench_median(rss[0], reps) / 1024, bench_median(rss[1], reps) / 1024,
           bench_median(rss[2], reps) / 1024, bench_median(rss[3], reps) / 1024);
    bench_report("store bytes on disk per update", bytes, reps, "B");
    bench_report("intake, one protocol client, 64 districts", rate, reps, "upd/s");
    pw_rm_rf(dir);
    return 0;
}
