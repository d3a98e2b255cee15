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

#define NDIST    BENCH_NDIST
#define NSUBS    100

/* The usual shape: a five-year plan's 25 indicators, sent three times (two
 * revisions), each time by 13 new collector processes. */
static bench_shape_t plan = {"plan", 2015, 2020, 25, 3, {{0}}, 0};
/* Thirty years of history for 40 elements, once: each collector sends
 * 22 800 updates, as when a province's history is loaded, so that the
 * collectors' start and end weigh little. */
static bench_shape_t history = {"history", 2001, 2030, 40, 1, {{0}}, 0};

static const char *bin;
static bench_insecure_t ins; /* --insecure on tcp:// (127.0.0.1 only here) */
static char dir[64];

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

/* One run: fresh store, servers, optional subscribers, 13 collectors x 3 versions.
 * topic: NULL = no subscriber, "" = every event, "alert." = alerts only. */
static double run(const bench_shape_t *sh, int run_no, const char *topic, double *events_out)
{
    bench_servers_t sv;
    bench_servers_start(&sv, bin, dir, sh, run_no, &ins);
    char *stream = sv.stream;
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
    double secs = bench_run_collectors(bin, dir, sh, run_no, sv.intake, &ins);
    if (secs <= 0)
        exit(1);
    if (with_subs) {
        subs.stop = 1;
        pthread_join(thr, NULL);
        *events_out = (double)subs.received;
        for (int i = 0; i < NSUBS; i++)
            zmq_close(subs.socks[i]);
        zmq_ctx_term(subs.ctx);
    }
    bench_servers_stop(&sv);
    return (double)bench_updates_per_version(sh) * sh->nversions / secs;
}

/* Where the CPU went in the last running-collector run. */
static double follow_cpu[3];

/* The plan's shape from 13 collectors that keep running (--follow): each
 * data file is renamed into place, version after version. */
static double run_follow(const bench_shape_t *sh, int run_no)
{
    bench_servers_t sv;
    bench_servers_start(&sv, bin, dir, sh, run_no, &ins);
    bench_followers_t fl;
    bench_followers_start(&fl, bin, dir, run_no, sv.intake, &ins);
    double cpu0[3] = {bench_cpu_secs(sv.agg), bench_cpu_secs(sv.pub), bench_followers_cpu(&fl)};
    double secs = bench_followers_feed(&fl, dir, sh, sv.store);
    if (secs <= 0)
        exit(1);
    follow_cpu[0] = bench_cpu_secs(sv.agg) - cpu0[0];
    follow_cpu[1] = bench_cpu_secs(sv.pub) - cpu0[1];
    follow_cpu[2] = bench_followers_cpu(&fl) - cpu0[2];
    bench_followers_stop(&fl);
    bench_servers_stop(&sv);
    return (double)bench_updates_per_version(sh) * sh->nversions / secs;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLANWATCH_BINARY [REPETITIONS]\n", argv[0]);
        return 2;
    }
    bin = argv[1];
    ins = bench_insecure_of(bin);
    int reps = bench_setup(argc, argv, 2, dir);
    bench_make_data(&plan, dir);
    bench_make_data(&history, dir);
    double none[BENCH_REPS_MAX], many[BENCH_REPS_MAX], alerts[BENCH_REPS_MAX],
        hist[BENCH_REPS_MAX], follow[BENCH_REPS_MAX];
    double events = 0, alert_events = 0;
    printf("intake: %d collectors x %zu updates x %d versions, durable commits, publisher on; "
           "long history: %d collectors x %zu updates\n",
           NDIST, bench_updates_per_version(&plan) / NDIST, plan.nversions, NDIST,
           bench_updates_per_version(&history) / NDIST);
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
               (double)bench_updates_per_version(&plan) * plan.nversions / follow[r],
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
