/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include "bench_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "pw/msg.h"

int bench_setup(int argc, char **argv, int i, char dir[64])
{
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
    return pid;
}

void bench_wait_ready(const char *log)
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
