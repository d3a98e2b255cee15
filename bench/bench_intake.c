/* SPDX-License-Identifier: MIT */
/*
 * Intake benchmark: updates per second durably committed, aggregated and
 * acknowledged by the real aggregator, from 13 concurrent collector processes
 * (real collector code), with the publisher running. Measured with no
 * subscriber, and with 100 subscribers of which one never reads, interleaved
 * and repeated; prints medians, spreads and the ratio.
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

#include "pw/period.h"
#include "pw/util.h"

#define NDIST    13
#define NELEM    25
#define NVERSION 3
#define NSUBS    100

static const char *bin;
static char dir[64];
static pw_period_t periods[128];
static size_t nperiods;

static int free_port(void)
{
    /* Bind port 0 with a throwaway ZeroMQ socket and read what it got. */
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PULL);
    char ep[64];
    size_t len = sizeof(ep);
    int port = -1;
    if (zmq_bind(s, "tcp://127.0.0.1:*") == 0 &&
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) == 0)
        port = atoi(strrchr(ep, ':') + 1);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(s);
    zmq_ctx_term(ctx);
    return port;
}

static void make_data(void)
{
    for (int y = 2015; y <= 2020; y++) {
        char t[32];
        for (int m = 1; m <= 12; m++) {
            snprintf(t, sizeof(t), "%d-%02d", y, m);
            pw_period_parse(t, strlen(t), &periods[nperiods++]);
        }
        for (int q = 1; q <= 4; q++) {
            snprintf(t, sizeof(t), "%dQ%d", y, q);
            pw_period_parse(t, strlen(t), &periods[nperiods++]);
        }
        for (int h = 1; h <= 2; h++) {
            snprintf(t, sizeof(t), "%dH%d", y, h);
            pw_period_parse(t, strlen(t), &periods[nperiods++]);
        }
        snprintf(t, sizeof(t), "%d", y);
        pw_period_parse(t, strlen(t), &periods[nperiods++]);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/catalog.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("[plan]\nname = bench\nbase_year = 2015\ntarget_year = 2020\n", f);
    for (int d = 0; d < NDIST; d++)
        fprintf(f, "[district d%02d]\nname_zh = 区\nname_en = D\nlevel = district\n", d);
    for (int e = 0; e < NELEM; e++)
        fprintf(f, "[element e%02d]\nname_zh = 项\nname_en = E\nunit = u\nkind = amount\n"
                   "level = district\n[indicator i%02d]\nname_zh = 指\nname_en = I\n"
                   "category = c\nunit = u\nattribute = expected\nbase = 1000\ntarget = 2000\n"
                   "target_kind = exact\nmethod = linear\nvalue = sum e%02d\n",
                e, e, e);
    fclose(f);
    for (int v = 1; v <= NVERSION; v++)
        for (int d = 0; d < NDIST; d++) {
            snprintf(path, sizeof(path), "%s/d%02d-v%d.csv", dir, d, v);
            f = fopen(path, "w");
            fputs("period,element,value\n", f);
            for (size_t k = 0; k < nperiods; k++) {
                char p[PW_PERIOD_STRMAX];
                pw_period_format(periods[k], p);
                for (int e = 0; e < NELEM; e++)
                    fprintf(f, "%s,e%02d,%d.%02d\n", p, e, 160 + d + e, v);
            }
            fclose(f);
        }
}

static pid_t spawn(char *const args[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(bin, args);
        _exit(127);
    }
    return pid;
}

static void wait_ready(const char *log)
{
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(log, "r");
        char line[512];
        bool ready = false;
        while (f && fgets(line, sizeof(line), f))
            ready = ready || strstr(line, "INFO: ready");
        if (f)
            fclose(f);
        if (ready)
            return;
        usleep(20000);
    }
    fprintf(stderr, "bench: %s never got ready\n", log);
    exit(1);
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

/* One run: fresh store, servers, optional subscribers, 13 collectors x 3 versions.
 * topic: NULL = no subscriber, "" = every event, "alert." = alerts only. */
static double run(int run_no, const char *topic, double *events_out)
{
    char store[96], intake[64], stream[64], snap[64], log[128], catalog[96];
    snprintf(store, sizeof(store), "%s/store-%d", dir, run_no);
    snprintf(catalog, sizeof(catalog), "%s/catalog.conf", dir);
    snprintf(intake, sizeof(intake), "tcp://127.0.0.1:%d", free_port());
    snprintf(stream, sizeof(stream), "tcp://127.0.0.1:%d", free_port());
    snprintf(snap, sizeof(snap), "tcp://127.0.0.1:%d", free_port());
    snprintf(log, sizeof(log), "%s/agg-%d.log", dir, run_no);
    char *aargs[] = {"planwatch", "aggregator", "--insecure", "--store", store, "--bind", intake,
                     "--catalog", catalog, NULL};
    pid_t agg = spawn(aargs, log);
    wait_ready(log);
    snprintf(log, sizeof(log), "%s/pub-%d.log", dir, run_no);
    char *pargs[] = {"planwatch", "publisher", "--insecure", "--store", store, "--bind", stream,
                     "--snapshot-bind", snap, "--catalog", catalog, NULL};
    pid_t pub = spawn(pargs, log);
    wait_ready(log);
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
    for (int v = 1; v <= NVERSION; v++) {
        pid_t kids[NDIST];
        for (int d = 0; d < NDIST; d++) {
            char id[16], data[128], spool[128], clog[128];
            snprintf(id, sizeof(id), "d%02d", d);
            snprintf(data, sizeof(data), "%s/d%02d-v%d.csv", dir, d, v);
            snprintf(spool, sizeof(spool), "%s/spool-%d-%02d", dir, run_no, d);
            snprintf(clog, sizeof(clog), "%s/col-%d-%02d.log", dir, run_no, d);
            char *cargs[] = {"planwatch", "collector", "--insecure", "--district", id,   "--data", data,
                             "--connect", intake,      "--spool",    spool, "--quiet", NULL};
            kids[d] = spawn(cargs, clog);
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
    kill(pub, SIGTERM);
    kill(agg, SIGTERM);
    waitpid(pub, NULL, 0);
    waitpid(agg, NULL, 0);
    char rm[128];
    snprintf(rm, sizeof(rm), "%s/store-%d", dir, run_no);
    pw_rm_rf(rm);
    return (double)(NDIST * NELEM) * (double)nperiods * NVERSION / secs;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *name, double *v, int n, double *median_out)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    double med = v[n / 2];
    printf("%-44s %10.0f upd/s   min %9.0f  max %9.0f  spread %4.0f %%\n", name, med, v[0],
           v[n - 1], 100.0 * (v[n - 1] - v[0]) / med);
    *median_out = med;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLANWATCH_BINARY [REPETITIONS]\n", argv[0]);
        return 2;
    }
    bin = argv[1];
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    if (reps < 1 || reps > 20)
        reps = 3;
    snprintf(dir, sizeof(dir), "/tmp/pw-bench-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    make_data();
    double none[20], many[20], alerts[20], events = 0, alert_events = 0;
    printf("intake: %d collectors x %d updates x %d versions, durable commits, publisher on\n",
           NDIST, NELEM * (int)nperiods, NVERSION);
    for (int r = 0; r < reps; r++) {
        none[r] = run(3 * r, NULL, &events);
        many[r] = run(3 * r + 1, "", &events);
        alerts[r] = run(3 * r + 2, "alert.", &alert_events);
        printf("  repetition %d: %.0f upd/s alone; %.0f with %d subscribers to everything "
               "(%.0f messages to the 99 that read); %.0f with %d to alerts only\n",
               r + 1, none[r], many[r], NSUBS, events, alerts[r], NSUBS);
    }
    double m0, m1, m2;
    stats("intake, no subscriber", none, reps, &m0);
    stats("intake, 100 subscribers to all (one stuck)", many, reps, &m1);
    stats("intake, 100 subscribers to alerts (one stuck)", alerts, reps, &m2);
    printf("ratio, 100 subscribers to all events / none:    %.2f (goal >= 0.90)\n", m1 / m0);
    printf("ratio, 100 subscribers to alerts only / none:   %.2f (goal >= 0.90)\n", m2 / m0);
    pw_rm_rf(dir);
    return 0;
}
