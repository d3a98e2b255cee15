/* SPDX-License-Identifier: MIT */
/*
 * Intake benchmark: updates per second durably committed, aggregated and
 * acknowledged by the real aggregator, from 13 concurrent collector processes
 * (real collector code), with the publisher running. Measured with no
 * subscriber, and with 100 subscribers of which one never reads, interleaved
 * and repeated; prints medians, spreads and the ratio. Also measured without
 * subscribers on a long history (22 800 updates per collector in one run),
 * where the collectors' start-up and exit weigh little. And the plan's shape
 * once more with 13 collector processes started once in --follow mode, as
 * district offices running planwatch as a service do: each data file is
 * replaced by its next version once the previous one is committed (the
 * store's status rows say so), timed from the first file to the last commit.
 *
 * usage: pw_bench_intake PLANWATCH_BINARY [REPETITIONS]
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "pw/period.h"
#include "pw/util.h"
#include "store.h"

#define NDIST    13
#define NSUBS    100

/* The data each collector sends: one file per version, every element of
 * every period (months, quarters, halves, years) of the plan's years. */
struct shape {
    const char *name; /* file prefix */
    int y0, y1;       /* base and target year */
    int nelem;
    int nversions;    /* each collector runs once per version, revising every value */
    pw_period_t periods[19 * 40];
    size_t nperiods;
};

/* The usual shape: a five-year plan's 25 indicators, sent three times (two
 * revisions), each time by 13 new collector processes. */
static struct shape plan = {"plan", 2015, 2020, 25, 3, {{0}}, 0};
/* Thirty years of history for 40 elements, once: each collector sends
 * 22 800 updates, as when a province's history is loaded, so that the
 * collectors' start and end weigh little. */
static struct shape history = {"history", 2001, 2030, 40, 1, {{0}}, 0};

static const char *bin;
static bool insecure, pub_insecure, col_insecure; /* --insecure on tcp:// (127.0.0.1 only here) */
static char dir[64];

static size_t updates_per_version(const struct shape *sh)
{
    return (size_t)NDIST * (size_t)sh->nelem * sh->nperiods;
}

static void make_data(struct shape *sh)
{
    for (int y = sh->y0; y <= sh->y1; y++) {
        char t[32];
        for (int m = 1; m <= 12; m++) {
            snprintf(t, sizeof(t), "%d-%02d", y, m);
            pw_period_parse(t, strlen(t), &sh->periods[sh->nperiods++]);
        }
        for (int q = 1; q <= 4; q++) {
            snprintf(t, sizeof(t), "%dQ%d", y, q);
            pw_period_parse(t, strlen(t), &sh->periods[sh->nperiods++]);
        }
        for (int h = 1; h <= 2; h++) {
            snprintf(t, sizeof(t), "%dH%d", y, h);
            pw_period_parse(t, strlen(t), &sh->periods[sh->nperiods++]);
        }
        snprintf(t, sizeof(t), "%d", y);
        pw_period_parse(t, strlen(t), &sh->periods[sh->nperiods++]);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.conf", dir, sh->name);
    FILE *f = fopen(path, "w");
    fprintf(f, "[plan]\nname = bench\nbase_year = %d\ntarget_year = %d\n", sh->y0, sh->y1);
    for (int d = 0; d < NDIST; d++)
        fprintf(f, "[district d%02d]\nname_zh = 区\nname_en = D\nlevel = district\n", d);
    for (int e = 0; e < sh->nelem; e++)
        fprintf(f, "[element e%02d]\nname_zh = 项\nname_en = E\nunit = u\nkind = amount\n"
                   "level = district\n[indicator i%02d]\nname_zh = 指\nname_en = I\n"
                   "category = c\nunit = u\nattribute = expected\nbase = 1000\ntarget = 2000\n"
                   "target_kind = exact\nmethod = linear\nvalue = sum e%02d\n",
                e, e, e);
    fclose(f);
    for (int v = 1; v <= sh->nversions; v++)
        for (int d = 0; d < NDIST; d++) {
            snprintf(path, sizeof(path), "%s/%s-d%02d-v%d.csv", dir, sh->name, d, v);
            f = fopen(path, "w");
            fputs("period,element,value\n", f);
            for (size_t k = 0; k < sh->nperiods; k++) {
                char p[PW_PERIOD_STRMAX];
                pw_period_format(sh->periods[k], p);
                for (int e = 0; e < sh->nelem; e++)
                    fprintf(f, "%s,e%02d,%d.%02d\n", p, e, 160 + d + e, v);
            }
            fclose(f);
        }
}

struct subs {
    void *ctx;
    void *socks[NSUBS];
    volatile int stop;
    unsigned long long received;
};

/* 99 subscribers read and discard as fast as they can; socks[0] never reads. */
static void *reader(void *arg)
{
    struct subs *s = arg;
    zmq_pollitem_t items[NSUBS - 1];
    for (int i = 1; i < NSUBS; i++)
        items[i - 1] = (zmq_pollitem_t){s->socks[i], 0, ZMQ_POLLIN, 0};
    while (!s->stop) {
        if (zmq_poll(items, NSUBS - 1, 50) <= 0)
            continue;
        for (int i = 0; i < NSUBS - 1; i++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, items[i].socket, ZMQ_DONTWAIT) >= 0)
                s->received++;
            zmq_msg_close(&m);
        }
    }
    return NULL;
}

/* The aggregator and the publisher of one run, on a fresh store. */
struct servers {
    char store[96], intake[64], stream[64];
    pid_t agg, pub;
};

static void servers_start(struct servers *sv, const struct shape *sh, int run_no)
{
    char snap[64], log[128], catalog[96];
    snprintf(sv->store, sizeof(sv->store), "%s/store-%d", dir, run_no);
    snprintf(catalog, sizeof(catalog), "%s/%s.conf", dir, sh->name);
    snprintf(sv->intake, sizeof(sv->intake), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(sv->stream, sizeof(sv->stream), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(snap, sizeof(snap), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(log, sizeof(log), "%s/agg-%d.log", dir, run_no);
    char *aargs[] = {"planwatch", "aggregator", "--store", sv->store, "--bind", sv->intake,
                     "--catalog", catalog, insecure ? "--insecure" : NULL, NULL};
    sv->agg = bench_spawn(bin, aargs, log);
    bench_wait_ready(log);
    snprintf(log, sizeof(log), "%s/pub-%d.log", dir, run_no);
    char *pargs[] = {"planwatch", "publisher", "--store", sv->store, "--bind", sv->stream,
                     "--snapshot-bind", snap, "--catalog", catalog,
                     pub_insecure ? "--insecure" : NULL, NULL};
    sv->pub = bench_spawn(bin, pargs, log);
    bench_wait_ready(log);
}

static void servers_stop(struct servers *sv)
{
    kill(sv->pub, SIGTERM);
    kill(sv->agg, SIGTERM);
    waitpid(sv->pub, NULL, 0);
    waitpid(sv->agg, NULL, 0);
    pw_rm_rf(sv->store);
}

/* One run: fresh store, servers, optional subscribers, 13 collectors x 3 versions.
 * topic: NULL = no subscriber, "" = every event, "alert." = alerts only. */
static double run(const struct shape *sh, int run_no, const char *topic, double *events_out)
{
    struct servers sv;
    servers_start(&sv, sh, run_no);
    char *intake = sv.intake, *stream = sv.stream;
    struct subs subs = {0};
    pthread_t thr;
    bool with_subs = topic != NULL;
    if (with_subs) {
        subs.ctx = zmq_ctx_new();
        for (int i = 0; i < NSUBS; i++) {
            subs.socks[i] = zmq_socket(subs.ctx, ZMQ_SUB);
            int hwm = i == 0 ? 100 : 100000, zero = 0;
            zmq_setsockopt(subs.socks[i], ZMQ_RCVHWM, &hwm, sizeof(hwm));
            zmq_setsockopt(subs.socks[i], ZMQ_LINGER, &zero, sizeof(zero));
            zmq_setsockopt(subs.socks[i], ZMQ_SUBSCRIBE, topic, strlen(topic));
            zmq_connect(subs.socks[i], stream);
        }
        pthread_create(&thr, NULL, reader, &subs);
        usleep(300000); /* let the 100 connections settle before timing */
    }
    int64_t t0 = pw_mono_ms();
    for (int v = 1; v <= sh->nversions; v++) {
        pid_t kids[NDIST];
        for (int d = 0; d < NDIST; d++) {
            char id[16], data[128], spool[128], clog[128];
            snprintf(id, sizeof(id), "d%02d", d);
            snprintf(data, sizeof(data), "%s/%s-d%02d-v%d.csv", dir, sh->name, d, v);
            snprintf(spool, sizeof(spool), "%s/spool-%d-%02d", dir, run_no, d);
            snprintf(clog, sizeof(clog), "%s/col-%d-%02d.log", dir, run_no, d);
            char *cargs[] = {"planwatch", "collector", "--district", id,   "--data", data,
                             "--connect", intake,      "--spool",    spool, "--quiet",
                             col_insecure ? "--insecure" : NULL, NULL};
            kids[d] = bench_spawn(bin, cargs, clog);
        }
        for (int d = 0; d < NDIST; d++) {
            int status;
            waitpid(kids[d], &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "bench: a collector failed (see %s)\n", dir);
                exit(1);
            }
        }
    }
    double secs = (double)(pw_mono_ms() - t0) / 1000.0;
    if (with_subs) {
        subs.stop = 1;
        pthread_join(thr, NULL);
        *events_out = (double)subs.received;
        for (int i = 0; i < NSUBS; i++)
            zmq_close(subs.socks[i]);
        zmq_ctx_term(subs.ctx);
    }
    servers_stop(&sv);
    return (double)updates_per_version(sh) * sh->nversions / secs;
}

struct committed {
    uint64_t want; /* last sequence of every district */
    size_t done;   /* districts at it */
};

static int count_done(void *ctx, const pw_district_status_t *st)
{
    struct committed *c = ctx;
    if (st->last_seq >= c->want)
        c->done++;
    return 0;
}

/* Waits until every district's last committed sequence reaches want. */
static void wait_committed(const char *store_dir, uint64_t want)
{
    pw_store_t *st = NULL;
    pw_store_opts_t o = {.readonly = true};
    if (pw_store_open(&st, store_dir, &o) != 0) {
        fprintf(stderr, "bench: cannot open %s\n", store_dir);
        exit(1);
    }
    int64_t deadline = pw_mono_ms() + 120000;
    for (;;) {
        struct committed c = {want, 0};
        pw_txn_t *txn = NULL;
        if (pw_store_begin(st, false, &txn) == 0) {
            pw_store_status_foreach(txn, count_done, &c);
            pw_store_abort(&txn);
        }
        if (c.done == NDIST)
            break;
        if (pw_mono_ms() > deadline) {
            fprintf(stderr, "bench: collectors stuck (see %s)\n", dir);
            exit(1);
        }
        usleep(1000);
    }
    pw_store_destroy(&st);
}

/* CPU seconds (user + system) a process has used so far; 0 if unreadable. */
static double cpu_secs(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields 14 and 15, counted after the command name's closing parenthesis. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                     &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Where the CPU went in the last running-collector run. */
static double follow_cpu[3];

/* The plan's shape from 13 collectors that keep running (--follow): each
 * data file is renamed into place, version after version. */
static double run_follow(const struct shape *sh, int run_no)
{
    struct servers sv;
    servers_start(&sv, sh, run_no);
    pid_t kids[NDIST];
    char data[NDIST][128];
    for (int d = 0; d < NDIST; d++) {
        char id[16], spool[128], clog[128];
        snprintf(id, sizeof(id), "d%02d", d);
        snprintf(data[d], sizeof(data[d]), "%s/follow-%d-d%02d.csv", dir, run_no, d);
        snprintf(spool, sizeof(spool), "%s/spool-%d-%02d", dir, run_no, d);
        snprintf(clog, sizeof(clog), "%s/col-%d-%02d.log", dir, run_no, d);
        char *cargs[] = {"planwatch", "collector", "--district", id,    "--data", data[d],
                         "--connect", sv.intake,   "--spool",    spool, "--quiet", "--follow",
                         col_insecure ? "--insecure" : NULL, NULL};
        kids[d] = bench_spawn(bin, cargs, clog);
    }
    usleep(500000); /* started and connected: the services are up */
    double cpu0[3] = {cpu_secs(sv.agg), cpu_secs(sv.pub), 0};
    for (int d = 0; d < NDIST; d++)
        cpu0[2] += cpu_secs(kids[d]);
    int64_t t0 = pw_mono_ms();
    for (int v = 1; v <= sh->nversions; v++) {
        for (int d = 0; d < NDIST; d++) {
            char src[128], tmp[160];
            snprintf(src, sizeof(src), "%s/%s-d%02d-v%d.csv", dir, sh->name, d, v);
            snprintf(tmp, sizeof(tmp), "%s.new", data[d]);
            /* Into place whole, as an office's export job would. */
            if (link(src, tmp) != 0 || rename(tmp, data[d]) != 0) {
                perror("bench: link or rename");
                exit(1);
            }
        }
        wait_committed(sv.store, (uint64_t)(updates_per_version(sh) / NDIST) * (uint64_t)v);
    }
    double secs = (double)(pw_mono_ms() - t0) / 1000.0;
    follow_cpu[0] = cpu_secs(sv.agg) - cpu0[0];
    follow_cpu[1] = cpu_secs(sv.pub) - cpu0[1];
    follow_cpu[2] = -cpu0[2];
    for (int d = 0; d < NDIST; d++)
        follow_cpu[2] += cpu_secs(kids[d]);
    for (int d = 0; d < NDIST; d++) {
        kill(kids[d], SIGTERM);
        waitpid(kids[d], NULL, 0);
    }
    servers_stop(&sv);
    return (double)updates_per_version(sh) * sh->nversions / secs;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLANWATCH_BINARY [REPETITIONS]\n", argv[0]);
        return 2;
    }
    bin = argv[1];
    insecure = bench_needs_insecure(bin, "aggregator");
    pub_insecure = bench_needs_insecure(bin, "publisher");
    col_insecure = bench_needs_insecure(bin, "collector");
    int reps = bench_setup(argc, argv, 2, dir);
    make_data(&plan);
    make_data(&history);
    double none[BENCH_REPS_MAX], many[BENCH_REPS_MAX], alerts[BENCH_REPS_MAX],
        hist[BENCH_REPS_MAX], follow[BENCH_REPS_MAX];
    double events = 0, alert_events = 0;
    printf("intake: %d collectors x %zu updates x %d versions, durable commits, publisher on; "
           "long history: %d collectors x %zu updates\n",
           NDIST, updates_per_version(&plan) / NDIST, plan.nversions, NDIST,
           updates_per_version(&history) / NDIST);
    for (int r = 0; r < reps; r++) {
        none[r] = run(&plan, 5 * r, NULL, &events);
        many[r] = run(&plan, 5 * r + 1, "", &events);
        alerts[r] = run(&plan, 5 * r + 2, "alert.", &alert_events);
        hist[r] = run(&history, 5 * r + 3, NULL, &events);
        follow[r] = run_follow(&plan, 5 * r + 4);
        printf("  repetition %d: %.0f upd/s alone; %.0f with %d subscribers to everything "
               "(%.0f messages to the 99 that read); %.0f with %d to alerts only; "
               "%.0f for the long history; %.0f from 13 running collectors\n",
               r + 1, none[r], many[r], NSUBS, events, alerts[r], NSUBS, hist[r], follow[r]);
        printf("    running collectors, CPU seconds: aggregator %.2f, publisher %.2f, "
               "13 collectors %.2f, in %.2f s of wall clock on %ld cores\n",
               follow_cpu[0], follow_cpu[1], follow_cpu[2],
               (double)updates_per_version(&plan) * plan.nversions / follow[r],
               sysconf(_SC_NPROCESSORS_ONLN));
    }
    double m0 = bench_report("intake, 13 collectors, no subscriber", none, reps, "upd/s");
    double m1 = bench_report("intake, 100 subscribers to all (one stuck)", many, reps, "upd/s");
    double m2 =
        bench_report("intake, 100 subscribers to alerts (one stuck)", alerts, reps, "upd/s");
    bench_report("intake, 13 collectors, long history", hist, reps, "upd/s");
    bench_report("intake, 13 running collectors (--follow)", follow, reps, "upd/s");
    printf("ratio, 100 subscribers to all events / none:    %.2f (goal >= 0.90)\n", m1 / m0);
    printf("ratio, 100 subscribers to alerts only / none:   %.2f (goal >= 0.90)\n", m2 / m0);
    pw_rm_rf(dir);
    return 0;
}
