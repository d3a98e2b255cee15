/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include "bench_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "pw/msg.h"
#include "pw/util.h"
#include "store.h"

/* The processes bench_spawn() started and nobody reaped yet: an early exit
 * (a failed wait, a signal) must not leave servers behind on a shared machine. */
#define SPAWNED_MAX 256
static volatile pid_t spawned[SPAWNED_MAX];

static void forget(pid_t pid)
{
    for (size_t i = 0; i < SPAWNED_MAX; i++)
        if (spawned[i] == pid)
            spawned[i] = 0;
}

void bench_reaped(pid_t pid)
{
    forget(pid);
}

static void stop_all(void)
{
    for (size_t i = 0; i < SPAWNED_MAX; i++)
        if (spawned[i] > 0)
            kill(spawned[i], SIGTERM);
    for (size_t i = 0; i < SPAWNED_MAX; i++)
        if (spawned[i] > 0)
            bench_stop(spawned[i]);
}

/* Only async-signal-safe calls: no time for a graceful stop here. */
static void on_signal(int sig)
{
    for (size_t i = 0; i < SPAWNED_MAX; i++)
        if (spawned[i] > 0)
            kill(spawned[i], SIGKILL);
    _exit(128 + sig);
}

int bench_setup(int argc, char **argv, int i, char dir[64])
{
    atexit(stop_all);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    int reps = argc > i ? atoi(argv[i]) : 3;
    if (reps < 1 || reps > BENCH_REPS_MAX)
        reps = 3;
    snprintf(dir, 64, "/tmp/pw-bench-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("bench: mkdtemp");
        exit(1);
    }
    return reps;
}

size_t bench_sample_update(char *out, size_t cap)
{
    pw_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = PW_MSG_UPDATE;
    strcpy(m.district, "d07");
    strcpy(m.element, "e23");
    pw_period_parse("2018Q3", 6, &m.period);
    m.epoch = 1764390000123;
    m.seq = 123456;
    m.value = 1234.5;
    m.observed_ms = 1764390000456;
    pw_buf_t buf = {0};
    if (pw_msg_encode(&m, &buf) != 0 || buf.len > cap) {
        fprintf(stderr, "bench: cannot encode the sample update\n");
        exit(1);
    }
    memcpy(out, buf.data, buf.len);
    size_t len = buf.len;
    pw_buf_free(&buf);
    return len;
}

int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_report(const char *name, double *v, int n, const char *unit)
{
    double med = bench_median(v, n);
    printf("%-50s %12.0f %-6s min %11.0f  max %11.0f  spread %4.0f %%\n", name, med, unit, v[0],
           v[n - 1], med > 0 ? 100.0 * (v[n - 1] - v[0]) / med : 0.0);
    fflush(stdout);
    return med;
}

/* One free port, as the kernel picks it for a wildcard bind. */
static int pick_port(void)
{
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

int bench_free_port(void)
{
    /* The kernel may hand out the same free port twice in a row (nothing is
     * bound to it until the server starts): never repeat a recent one. */
    static int recent[64];
    static size_t next;
    for (int tries = 0; tries < 100; tries++) {
        int port = pick_port();
        bool seen = false;
        for (size_t i = 0; i < 64 && !seen; i++)
            seen = port > 0 && recent[i] == port;
        if (port > 0 && !seen) {
            recent[next++ % 64] = port;
            return port;
        }
    }
    return -1;
}

pid_t bench_spawn(const char *bin, char *const args[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(bin, args);
        _exit(127);
    }
    for (size_t i = 0; pid > 0 && i < SPAWNED_MAX; i++)
        if (spawned[i] == 0) {
            spawned[i] = pid;
            break;
        }
    return pid;
}

int bench_stop(pid_t pid)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 500 && got == 0; i++) {
        got = waitpid(pid, &status, WNOHANG);
        if (got == 0)
            usleep(10000);
    }
    bool killed = got == 0;
    if (killed) {
        kill(pid, SIGKILL);
        got = waitpid(pid, &status, 0);
    }
    forget(pid);
    if (got != pid || killed)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool bench_wait_line(const char *log, const char *text, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        FILE *f = fopen(log, "r");
        char line[512];
        bool found = false;
        while (f && fgets(line, sizeof(line), f))
            found = found || strstr(line, text);
        if (f)
            fclose(f);
        if (found)
            return true;
        usleep(20000);
    }
    return false;
}

void bench_wait_ready(const char *log)
{
    if (bench_wait_line(log, "INFO: ready", 10000))
        return;
    fprintf(stderr, "bench: %s never got ready\n", log);
    exit(1);
}

bool bench_needs_insecure(const char *bin, const char *subcommand)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s' %s --help 2>&1", bin, subcommand);
    FILE *p = popen(cmd, "r");
    char line[512];
    bool found = false;
    while (p && fgets(line, sizeof(line), p))
        found = found || strstr(line, "--insecure");
    if (p)
        pclose(p);
    return found;
}

long bench_rss_anon_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "RssAnon:", 8) == 0)
            kb = strtol(line + 8, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

uint64_t bench_dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t total = 0;
    while (d && (e = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_blocks * 512u; /* allocated, not apparent */
    }
    if (d)
        closedir(d);
    return total;
}

static double stat_cpu_secs(const char *path)
{
    char buf[1024];
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

double bench_cpu_secs(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    return stat_cpu_secs(path);
}

double bench_thread_cpu_secs(pid_t pid, pid_t tid)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    return stat_cpu_secs(path);
}

size_t bench_updates_per_version(const bench_shape_t *sh)
{
    return (size_t)BENCH_NDIST * (size_t)sh->nelem * sh->nperiods;
}

void bench_make_data(bench_shape_t *sh, const char *dir)
{
    sh->nperiods = 0;
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
    if (!f) {
        perror("bench: catalog");
        exit(1);
    }
    fprintf(f, "[plan]\nname = bench\nbase_year = %d\ntarget_year = %d\n", sh->y0, sh->y1);
    for (int d = 0; d < BENCH_NDIST; d++)
        fprintf(f, "[district d%02d]\nname_zh = 区\nname_en = D\nlevel = district\n", d);
    for (int e = 0; e < sh->nelem; e++)
        fprintf(f, "[element e%02d]\nname_zh = 项\nname_en = E\nunit = u\nkind = amount\n"
                   "level = district\n[indicator i%02d]\nname_zh = 指\nname_en = I\n"
                   "category = c\nunit = u\nattribute = expected\nbase = 1000\ntarget = 2000\n"
                   "target_kind = exact\nmethod = linear\nvalue = sum e%02d\n",
                e, e, e);
    fclose(f);
    for (int v = 1; v <= sh->nversions; v++)
        for (int d = 0; d < BENCH_NDIST; d++) {
            snprintf(path, sizeof(path), "%s/%s-d%02d-v%d.csv", dir, sh->name, d, v);
            f = fopen(path, "w");
            if (!f) {
                perror("bench: data file");
                exit(1);
            }
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

bench_insecure_t bench_insecure_of(const char *bin)
{
    bench_insecure_t ins = {
        .agg = bench_needs_insecure(bin, "aggregator"),
        .pub = bench_needs_insecure(bin, "publisher"),
        .col = bench_needs_insecure(bin, "collector"),
    };
    return ins;
}

void bench_servers_start(bench_servers_t *sv, const char *bin, const char *dir,
                         const bench_shape_t *sh, int run_no, const bench_insecure_t *ins)
{
    char log[128], catalog[96];
    snprintf(sv->store, sizeof(sv->store), "%s/store-%d", dir, run_no);
    snprintf(catalog, sizeof(catalog), "%s/%s.conf", dir, sh->name);
    snprintf(sv->intake, sizeof(sv->intake), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(sv->stream, sizeof(sv->stream), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(sv->snap, sizeof(sv->snap), "tcp://127.0.0.1:%d", bench_free_port());
    snprintf(log, sizeof(log), "%s/agg-%d.log", dir, run_no);
    char *aargs[] = {"planwatch", "aggregator", "--store", sv->store, "--bind", sv->intake,
                     "--catalog", catalog, ins->agg ? "--insecure" : NULL, NULL};
    sv->agg = bench_spawn(bin, aargs, log);
    bench_wait_ready(log);
    snprintf(log, sizeof(log), "%s/pub-%d.log", dir, run_no);
    char *pargs[] = {"planwatch", "publisher", "--store", sv->store, "--bind", sv->stream,
                     "--snapshot-bind", sv->snap, "--catalog", catalog,
                     ins->pub ? "--insecure" : NULL, NULL};
    sv->pub = bench_spawn(bin, pargs, log);
    bench_wait_ready(log);
}

void bench_servers_stop(bench_servers_t *sv)
{
    kill(sv->pub, SIGTERM);
    kill(sv->agg, SIGTERM);
    bench_stop(sv->pub);
    bench_stop(sv->agg);
    pw_rm_rf(sv->store);
}

double bench_run_collectors(const char *bin, const char *dir, const bench_shape_t *sh, int run_no,
                            const char *intake, const bench_insecure_t *ins)
{
    int64_t t0 = pw_mono_ms();
    bool ok = true;
    for (int v = 1; v <= sh->nversions && ok; v++) {
        pid_t kids[BENCH_NDIST];
        for (int d = 0; d < BENCH_NDIST; d++) {
            char id[16], data[128], spool[128], clog[128], ep[128];
            snprintf(id, sizeof(id), "d%02d", d);
            snprintf(ep, sizeof(ep), "%s", intake);
            snprintf(data, sizeof(data), "%s/%s-d%02d-v%d.csv", dir, sh->name, d, v);
            snprintf(spool, sizeof(spool), "%s/spool-%d-%02d", dir, run_no, d);
            snprintf(clog, sizeof(clog), "%s/col-%d-%02d.log", dir, run_no, d);
            char *cargs[] = {"planwatch", "collector", "--district", id,   "--data", data,
                             "--connect", ep,          "--spool",    spool, "--quiet",
                             ins->col ? "--insecure" : NULL, NULL};
            kids[d] = bench_spawn(bin, cargs, clog);
        }
        /* A stuck collector must not hang the benchmark: a wave gets 300 s. */
        int64_t deadline = pw_mono_ms() + 300000;
        for (int d = 0; d < BENCH_NDIST; d++) {
            int status = 0;
            pid_t got = 0;
            while (ok && (got = waitpid(kids[d], &status, WNOHANG)) == 0) {
                if (pw_mono_ms() > deadline)
                    ok = false;
                else
                    usleep(1000);
            }
            if (got == kids[d]) {
                forget(kids[d]);
                ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
            } else {
                bench_stop(kids[d]);
                ok = false;
            }
        }
    }
    if (!ok) {
        fprintf(stderr, "bench: a collector failed or hung (see %s)\n", dir);
        return -1;
    }
    return (double)(pw_mono_ms() - t0) / 1000.0;
}

void bench_followers_start(bench_followers_t *fl, const char *bin, const char *dir, int run_no,
                           const char *intake, const bench_insecure_t *ins)
{
    for (int d = 0; d < BENCH_NDIST; d++) {
        char id[16], ep[128], spool[128], clog[128];
        snprintf(id, sizeof(id), "d%02d", d);
        snprintf(ep, sizeof(ep), "%s", intake);
        snprintf(fl->data[d], sizeof(fl->data[d]), "%s/follow-%d-d%02d.csv", dir, run_no, d);
        snprintf(spool, sizeof(spool), "%s/spool-%d-%02d", dir, run_no, d);
        snprintf(clog, sizeof(clog), "%s/col-%d-%02d.log", dir, run_no, d);
        char *cargs[] = {"planwatch", "collector", "--district", id,    "--data", fl->data[d],
                         "--connect", ep,          "--spool",    spool, "--quiet", "--follow",
                         ins->col ? "--insecure" : NULL, NULL};
        fl->kids[d] = bench_spawn(bin, cargs, clog);
    }
    usleep(500000); /* started and connected: the services are up */
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
static bool wait_committed(pw_store_t *st, uint64_t want)
{
    int64_t deadline = pw_mono_ms() + 120000;
    for (;;) {
        struct committed c = {want, 0};
        pw_txn_t *txn = NULL;
        if (pw_store_begin(st, false, &txn) == 0) {
            pw_store_status_foreach(txn, count_done, &c);
            pw_store_abort(&txn);
        }
        if (c.done == BENCH_NDIST)
            return true;
        if (pw_mono_ms() > deadline)
            return false;
        usleep(1000);
    }
}

double bench_followers_feed(bench_followers_t *fl, const char *dir, const bench_shape_t *sh,
                            const char *store_dir)
{
    pw_store_t *st = NULL;
    pw_store_opts_t o = {.readonly = true};
    if (pw_store_open(&st, store_dir, &o) != 0) {
        fprintf(stderr, "bench: cannot open %s\n", store_dir);
        return -1;
    }
    double secs = -1;
    int64_t t0 = pw_mono_ms();
    for (int v = 1; v <= sh->nversions; v++) {
        for (int d = 0; d < BENCH_NDIST; d++) {
            char src[128], tmp[160];
            snprintf(src, sizeof(src), "%s/%s-d%02d-v%d.csv", dir, sh->name, d, v);
            snprintf(tmp, sizeof(tmp), "%s.new", fl->data[d]);
            /* Into place whole, as an office's export job would. */
            if (link(src, tmp) != 0 || rename(tmp, fl->data[d]) != 0) {
                perror("bench: link or rename");
                goto out;
            }
        }
        uint64_t want = (uint64_t)(bench_updates_per_version(sh) / BENCH_NDIST) * (uint64_t)v;
        if (!wait_committed(st, want)) {
            fprintf(stderr, "bench: collectors stuck at version %d (see %s)\n", v, dir);
            goto out;
        }
    }
    secs = (double)(pw_mono_ms() - t0) / 1000.0;
out:
    pw_store_destroy(&st);
    return secs;
}

double bench_followers_cpu(const bench_followers_t *fl)
{
    double cpu = 0;
    for (int d = 0; d < BENCH_NDIST; d++)
        cpu += bench_cpu_secs(fl->kids[d]);
    return cpu;
}

void bench_followers_stop(bench_followers_t *fl)
{
    for (int d = 0; d < BENCH_NDIST; d++)
        kill(fl->kids[d], SIGTERM);
    for (int d = 0; d < BENCH_NDIST; d++)
        bench_stop(fl->kids[d]);
}
