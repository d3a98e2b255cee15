/* SPDX-License-Identifier: MIT */
/*
 * The peer: Redis Streams storing the same update. Starts Debian's
 * redis-server on 127.0.0.1, a free port and a temporary directory, with
 * appendonly yes and appendfsync always, then everysec, and sends pipelined
 * XADD commands (at most 1024 unanswered) carrying the encoded update as one
 * field. A small hand-written RESP client: it writes commands and counts
 * replies, which is all this needs. Repeated, interleaved; medians and spreads.
 *
 * usage: pw_bench_redis REDIS_SERVER [REPETITIONS]
 */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "pw/msg.h"
#include "pw/util.h"

#define N_ALWAYS   200000
#define N_EVERYSEC 500000
#define PIPELINE   1024

static char dir[64];
static char cmd[512];
static size_t cmd_len;

/* One XADD as RESP: XADD pw * u <update bytes>. */
static void make_command(void)
{
    char upd[256];
    size_t len = bench_sample_update(upd, sizeof(upd));
    int n = snprintf(cmd, sizeof(cmd),
                     "*5\r\n$4\r\nXADD\r\n$2\r\npw\r\n$1\r\n*\r\n$1\r\nu\r\n$%zu\r\n",
                     len);
    memcpy(cmd + n, upd, len);
    memcpy(cmd + (size_t)n + len, "\r\n", 2);
    cmd_len = (size_t)n + len + 2;
}

static int connect_to(int port)
{
    for (int i = 0; i < 250; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            return fd;
        }
        close(fd);
        usleep(20000);
    }
    return -1;
}

/* Counts complete replies in buf[0..len): each XADD reply is one line (a bulk
 * string "$N\r\n<id>\r\n" is two). Keeps a partial line for the next read. */
static long count_replies(char *buf, size_t *len, int *pending_bulk)
{
    long n = 0;
    size_t start = 0;
    for (size_t i = 0; i + 1 < *len; i++) {
        if (buf[i] != '\r' || buf[i + 1] != '\n')
            continue;
        if (*pending_bulk) {
            *pending_bulk = 0;
            n++;
        } else if (buf[start] == '$') {
            *pending_bulk = 1;
        } else if (buf[start] == '-') {
            fprintf(stderr, "bench: redis error: %.*s\n", (int)(i - start), buf + start);
            exit(1);
        } else {
            n++;
        }
        start = i + 2;
        i++;
    }
    memmove(buf, buf + start, *len - start);
    *len -= start;
    return n;
}

/* XADDs per second: pipelined, at most PIPELINE unanswered. */
static double xadd(int fd, long total)
{
    static char out[PIPELINE * 160];
    char in[65536];
    size_t inlen = 0;
    int bulk = 0;
    long sent = 0, done = 0;
    int64_t t0 = bench_now_us();
    while (done < total) {
        size_t olen = 0;
        /* Refill in chunks of at least half the pipeline: with appendfsync always,
         * Redis fsyncs once per event-loop turn, so trickling commands in one at
         * a time would measure fsyncs, not XADDs. */
        while (sent < total && sent - done <= PIPELINE / 2 && olen + cmd_len <= sizeof(out)) {
            while (sent < total && sent - done < PIPELINE) {
                memcpy(out + olen, cmd, cmd_len);
                olen += cmd_len;
                sent++;
            }
        }
        for (size_t off = 0; off < olen;) {
            ssize_t w = write(fd, out + off, olen - off);
            if (w < 0 && errno != EINTR)
                exit(1);
            off += w > 0 ? (size_t)w : 0;
        }
        ssize_t r = read(fd, in + inlen, sizeof(in) - inlen);
        if (r <= 0)
            exit(1);
        inlen += (size_t)r;
        done += count_replies(in, &inlen, &bulk);
    }
    return (double)total / ((double)(bench_now_us() - t0) / 1e6);
}

static double run(const char *server, const char *fsync, long total, int r)
{
    char sub[96], port_s[16], log[128], mode[16];
    snprintf(mode, sizeof(mode), "%s", fsync);
    snprintf(sub, sizeof(sub), "%s/redis-%s-%d", dir, fsync, r);
    mkdir(sub, 0700);
    int port = bench_free_port();
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(log, sizeof(log), "%s.log", sub);
    char *args[] = {"redis-server", "--bind",        "127.0.0.1", "--port",  port_s,
                    "--dir",        sub,             "--appendonly", "yes",  "--appendfsync",
                    mode,  "--save",        "",          "--protected-mode", "yes",
                    NULL};
    pid_t pid = bench_spawn(server, args, log);
    int fd = connect_to(port);
    if (fd < 0) {
        fprintf(stderr, "bench: redis-server did not start (see %s)\n", log);
        exit(1);
    }
    double rate = xadd(fd, total);
    close(fd);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    pw_rm_rf(sub);
    return rate;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s REDIS_SERVER [REPETITIONS]\n", argv[0]);
        return 2;
    }
    int reps = bench_setup(argc, argv, 2, dir);
    make_command();
    printf("redis streams: XADD of the same update, pipeline %d, appendonly yes\n", PIPELINE);
    double always[BENCH_REPS_MAX], everysec[BENCH_REPS_MAX];
    for (int r = 0; r < reps; r++) {
        always[r] = run(argv[1], "always", N_ALWAYS, r);
        everysec[r] = run(argv[1], "everysec", N_EVERYSEC, r);
        printf("  repetition %d done\n", r + 1);
        fflush(stdout);
    }
    bench_report("redis XADD, appendfsync always", always, reps, "rec/s");
    bench_report("redis XADD, appendfsync everysec", everysec, reps, "rec/s");
    pw_rm_rf(dir);
    return 0;
}
