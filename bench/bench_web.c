/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's cost to the intake: updates per second durably committed
 * by the real aggregator from 13 real collector processes x 3 versions (as
 * pw_bench_intake's "no subscriber" run), with the publisher running, alone
 * and with `planwatch web` following the publisher while 100 simulated
 * browsers stay on its live page, interleaved and repeated. That intake
 * lasts a third of a second, so a browser sees one or two notices; the
 * "long" runs measure the steady state: 13 collectors started once with
 * --follow (as pw_bench_intake's running collectors) fed 128 versions of
 * the plan in a row, about 7 s of intake, alone and with the dashboard.
 *
 * A browser does what the page's script does (web/pages.c): it logs in once
 * (POST /login, the pw_session cookie of the 303), keeps one Server-Sent
 * Events stream open (GET /events) and, for each "v" notice with a new
 * version, fetches the page's live part (GET /?fragment=1) and reads it
 * whole; one fetch in flight at a time, a notice arriving meanwhile fetched
 * after. The 100 browsers live in one thread, poll() over plain sockets.
 *
 * usage: pw_bench_web PLANWATCH_BINARY [REPETITIONS [BROWSERS]]
 * (BROWSERS, default 100, for finding where the cost lies: 0 runs the
 * dashboard with no browser.)
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "pw/util.h"
#include "users.h"

#define NBROWSERS 100
#define USER      "bench"
#define PASSWORD  "bench-password"
#define SSE_BUF   4096
#define LOGIN_MS  30000 /* one login (argon2id on a loaded machine) at most */
#define SETTLE_MS 500   /* streams open and first fetches done before timing */
#define RUN_SECS  600   /* a whole repetition's bound, with margin */
#define STEADY_N  128   /* versions in a row in the long runs */

/* The plan's shape as pw_bench_intake sends it: 13 new collector processes
 * per version, three versions. Its intake lasts a third of a second, so a
 * browser sees one or two notices. */
static bench_shape_t plan = {"plan", 2015, 2020, 25, 3, {{0}}, 0};
/* The steady state: the same plan, 128 versions in a row from 13 collectors
 * started once with --follow (as pw_bench_intake's running collectors), about
 * 6 to 9 s of intake, so that each browser gets its 4 notices a second for long. */
static bench_shape_t steady = {"steady", 2015, 2020, 25, STEADY_N, {{0}}, 0};
static const char *bin;
static bench_insecure_t ins;
static bool web_insecure;
static char dir[64], users_path[96];
static int nbrowsers = NBROWSERS; /* at most NBROWSERS */

/* One simulated browser: its stream, and the fetch in flight if any. */
struct browser {
    char cookie[80]; /* "pw_session=<64 hex>" */
    int sse;         /* the stream's socket, -1 when closed */
    char buf[SSE_BUF];
    size_t len;
    uint64_t known; /* the version the page shows, as live.dataset.v */
    bool shown;     /* known is set */
    int get;        /* the fragment fetch's socket, -1 when none in flight */
    bool again;     /* a notice came during the fetch: fetch once more after */
    bool header;    /* the fetch's response header was parsed */
    char head[1024];
    size_t hlen;
};

struct crowd {
    struct browser b[NBROWSERS];
    int port;
    volatile int stop;
    /* Written by the crowd's thread, read once it is joined or between runs. */
    volatile unsigned long long notices, fetches, fetch_bytes, errors;
};

/* A connected blocking or non-blocking TCP socket to 127.0.0.1:port, or -1. */
static int dial(int port, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends all of s on fd; a request is small enough for the socket's buffer
 * even when fd is non-blocking and just connected on loopback. */
static bool send_all(int fd, const char *s, size_t n)
{
    int64_t deadline = pw_mono_ms() + 5000;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOTCONN) &&
                   pw_mono_ms() < deadline) {
            struct pollfd p = {fd, POLLOUT, 0};
            poll(&p, 1, 100);
        } else {
            return false;
        }
    }
    return true;
}

/* Logs in as the page's form does: the session cookie into cookie, or false. */
static bool login(int port, char cookie[80])
{
    char body[128], req[512], resp[4096];
    int blen = snprintf(body, sizeof(body), "user=%s&password=%s&next=%%2F", USER, PASSWORD);
    int rlen = snprintf(req, sizeof(req),
                        "POST /login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        port, blen, body);
    int fd = dial(port, false);
    if (fd < 0)
        return false;
    struct timeval tv = {LOGIN_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t len = 0;
    bool ok = send_all(fd, req, (size_t)rlen);
    while (ok && len < sizeof(resp) - 1) {
        ssize_t r = recv(fd, resp + len, sizeof(resp) - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    resp[len] = '\0';
    const char *c = strstr(resp, "pw_session=");
    if (!ok || strncmp(resp, "HTTP/1.1 303", 12) != 0 || !c)
        return false;
    size_t n = strspn(c + 11, "0123456789abcdef");
    if (n != 64)
        return false;
    snprintf(cookie, 80, "%.*s", (int)(11 + n), c);
    return true;
}

static bool open_stream(struct crowd *cr, struct browser *b)
{
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "GET /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n"
                     "Cookie: %s\r\n\r\n",
                     cr->port, b->cookie);
    b->sse = dial(cr->port, true);
    b->len = 0;
    return b->sse >= 0 && send_all(b->sse, req, (size_t)n);
}

static void fetch(struct crowd *cr, struct browser *b)
{
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "GET /?fragment=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                     "Cookie: %s\r\n\r\n",
                     cr->port, b->cookie);
    b->get = dial(cr->port, true);
    b->header = false;
    b->hlen = 0;
    if (b->get < 0 || !send_all(b->get, req, (size_t)n)) {
        if (b->get >= 0)
            close(b->get);
        b->get = -1;
        cr->errors++;
    }
}

/* A "v" notice: as the script, a new version fetches, or waits for the fetch in flight. */
static void notice(struct crowd *cr, struct browser *b, uint64_t v)
{
    cr->notices++;
    if (b->shown && v == b->known)
        return;
    b->known = v;
    b->shown = true;
    if (b->get >= 0)
        b->again = true;
    else
        fetch(cr, b);
}

/* Reads what the stream has; each complete "data: N" line is a notice. The
 * chunked encoding's size lines are lines of their own and never split an
 * event (one event per chunk), so scanning lines is enough. */
static void read_stream(struct crowd *cr, struct browser *b)
{
    ssize_t r = recv(b->sse, b->buf + b->len, sizeof(b->buf) - 1 - b->len, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        close(b->sse);
        b->sse = -1;
        cr->errors++;
        return;
    }
    if (r < 0)
        return;
    b->len += (size_t)r;
    b->buf[b->len] = '\0';
    char *line = b->buf, *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
        if (strncmp(line, "data: ", 6) == 0)
            notice(cr, b, strtoull(line + 6, NULL, 10));
        line = nl + 1;
    }
    b->len -= (size_t)(line - b->buf);
    memmove(b->buf, line, b->len);
    if (b->len == sizeof(b->buf) - 1) /* a line longer than the buffer: not ours */
        b->len = 0;
}

/* Reads the fetch's answer to its end (the server closes: Connection: close). */
static void read_fetch(struct crowd *cr, struct browser *b)
{
    char chunk[16384];
    ssize_t r = recv(b->get, chunk, sizeof(chunk), 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r > 0) {
        cr->fetch_bytes += (unsigned long long)r;
        if (!b->header && b->hlen < sizeof(b->head) - 1) {
            size_t n = (size_t)r < sizeof(b->head) - 1 - b->hlen ? (size_t)r
                                                                 : sizeof(b->head) - 1 - b->hlen;
            memcpy(b->head + b->hlen, chunk, n);
            b->hlen += n;
            b->head[b->hlen] = '\0';
            if (strstr(b->head, "\r\n\r\n") || b->hlen == sizeof(b->head) - 1) {
                b->header = true;
                if (strncmp(b->head, "HTTP/1.1 200", 12) != 0)
                    cr->errors++;
                /* The page takes the version it shows from the answer. */
                const char *v = strstr(b->head, "X-Version: ");
                if (v) {
                    b->known = strtoull(v + 11, NULL, 10);
                    b->shown = true;
                }
            }
        }
        return;
    }
    close(b->get);
    b->get = -1;
    if (r == 0)
        cr->fetches++;
    else
        cr->errors++;
    if (b->again) {
        b->again = false;
        fetch(cr, b);
    }
}

static void *crowd_loop(void *arg)
{
    struct crowd *cr = arg;
    struct pollfd p[2 * NBROWSERS];
    struct browser *who[2 * NBROWSERS];
    while (!cr->stop) {
        nfds_t n = 0;
        for (int i = 0; i < NBROWSERS; i++) {
            struct browser *b = &cr->b[i];
            if (b->sse >= 0) {
                p[n] = (struct pollfd){b->sse, POLLIN, 0};
                who[n++] = b;
            }
            if (b->get >= 0) {
                p[n] = (struct pollfd){b->get, POLLIN, 0};
                who[n++] = b;
            }
        }
        if (poll(p, n, 50) <= 0)
            continue;
        for (nfds_t k = 0; k < n; k++) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (p[k].fd == who[k]->sse)
                read_stream(cr, who[k]);
            else if (p[k].fd == who[k]->get)
                read_fetch(cr, who[k]);
        }
    }
    return NULL;
}

static void crowd_close(struct crowd *cr)
{
    for (int i = 0; i < NBROWSERS; i++) {
        if (cr->b[i].sse >= 0)
            close(cr->b[i].sse);
        if (cr->b[i].get >= 0)
            close(cr->b[i].get);
        cr->b[i].sse = cr->b[i].get = -1;
    }
}

/* What run() tells about the dashboard's side of a run: notices, fetches,
 * bytes and web CPU seconds per second of intake; the rest in all. */
struct web_figures {
    double notices, fetches, fetch_bytes, cpu, cpu_main, crowd, errors, cpu_total, login_secs;
};

/* The servers' CPU seconds per second of intake, to see what the dashboard
 * costs them (the publisher answers its requests and streams to it). */
struct servers_cpu {
    double agg, pub;
};

/* One run of sh: fresh store, aggregator and publisher, and with_web: the
 * dashboard and its 100 browsers; then the intake, timed: a wave of 13 new
 * collector processes per version, or (follow) 13 collectors started before
 * and fed the versions one after another. Updates per second, or -1 when
 * something failed (said on stderr). */
static double run(const bench_shape_t *sh, bool follow, int run_no, bool with_web,
                  struct web_figures *wf, struct servers_cpu *sc)
{
    double rate = -1, cpu0 = 0, main0 = 0, agg0, pub0;
    bench_servers_t sv;
    bench_servers_start(&sv, bin, dir, sh, run_no, &ins);
    bench_followers_t fl;
    bool fl_on = false;
    if (follow) {
        bench_followers_start(&fl, bin, dir, run_no, sv.intake, &ins);
        fl_on = true;
    }
    pid_t web = -1;
    struct crowd *cr = calloc(1, sizeof(*cr));
    pthread_t thr;
    bool thr_on = false;
    if (!cr)
        goto out;
    for (int i = 0; i < NBROWSERS; i++)
        cr->b[i].sse = cr->b[i].get = -1;
    if (with_web) {
        char data[96], listen[64], log[128];
        cr->port = bench_free_port();
        snprintf(data, sizeof(data), "%s/web-%d", dir, run_no);
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", cr->port);
        snprintf(log, sizeof(log), "%s/web-%d.log", dir, run_no);
        char *wargs[] = {"planwatch", "web", "--data", data, "--users", users_path, "--listen",
                         listen, "--connect", sv.stream, "--snapshot", sv.snap,
                         web_insecure ? "--insecure" : NULL, NULL};
        web = bench_spawn(bin, wargs, log);
        if (web < 0 || !bench_wait_line(log, "planwatch web: serving", 10000)) {
            fprintf(stderr, "bench: planwatch web did not serve (see %s)\n", log);
            goto out;
        }
        /* Logins one after another, as desks arrive: 100 argon2id checks at
         * once would take 6.4 GB for nothing the intake measures. */
        int64_t l0 = pw_mono_ms();
        for (int i = 0; i < nbrowsers; i++)
            if (!login(cr->port, cr->b[i].cookie)) {
                fprintf(stderr, "bench: login %d failed (see %s)\n", i + 1, log);
                goto out;
            }
        wf->login_secs = (double)(pw_mono_ms() - l0) / 1000.0;
        for (int i = 0; i < nbrowsers; i++)
            if (!open_stream(cr, &cr->b[i])) {
                fprintf(stderr, "bench: stream %d did not open (see %s)\n", i + 1, log);
                goto out;
            }
        if (pthread_create(&thr, NULL, crowd_loop, cr) != 0)
            goto out;
        thr_on = true;
        usleep(SETTLE_MS * 1000);
        if (cr->errors > 0) {
            fprintf(stderr, "bench: %llu browser errors before the intake (see %s)\n", cr->errors,
                    log);
            goto out;
        }
        cpu0 = bench_cpu_secs(web);
        main0 = bench_thread_cpu_secs(web, web);
    }
    unsigned long long n0 = cr->notices, f0 = cr->fetches, b0 = cr->fetch_bytes;
    /* The browsers share the machine's cores with the intake, as the web
     * process does: their own CPU is part of what the run measures. */
    clockid_t crowd_clock;
    struct timespec c0 = {0, 0}, c1 = {0, 0};
    bool crowd_timed = thr_on && pthread_getcpuclockid(thr, &crowd_clock) == 0 &&
                       clock_gettime(crowd_clock, &c0) == 0;
    agg0 = bench_cpu_secs(sv.agg);
    pub0 = bench_cpu_secs(sv.pub);
    double secs = follow ? bench_followers_feed(&fl, dir, sh, sv.store)
                         : bench_run_collectors(bin, dir, sh, run_no, sv.intake, &ins);
    if (secs <= 0)
        goto out;
    rate = (double)bench_updates_per_version(sh) * sh->nversions / secs;
    sc->agg = (bench_cpu_secs(sv.agg) - agg0) / secs;
    sc->pub = (bench_cpu_secs(sv.pub) - pub0) / secs;
    if (crowd_timed && clock_gettime(crowd_clock, &c1) == 0)
        wf->crowd = ((double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9) /
                    secs;
    if (with_web) {
        double cpu1 = bench_cpu_secs(web);
        wf->cpu = (cpu1 - cpu0) / secs;
        /* Its main thread follows the publisher (web/cmd.c, pw_live_step); the
         * others serve HTTP, a thread per connection, and notify. */
        wf->cpu_main = (bench_thread_cpu_secs(web, web) - main0) / secs;
        wf->cpu_total = cpu1;
        wf->notices = (double)(cr->notices - n0);
        wf->fetches = (double)(cr->fetches - f0);
        wf->fetch_bytes = (double)(cr->fetch_bytes - b0);
        wf->errors = (double)cr->errors;
        wf->notices /= secs;
        wf->fetches /= secs;
        wf->fetch_bytes /= secs;
    }
out:
    if (thr_on) {
        cr->stop = 1;
        pthread_join(thr, NULL);
    }
    if (cr)
        crowd_close(cr);
    free(cr);
    if (web > 0 && bench_stop(web) != 0)
        fprintf(stderr, "bench: planwatch web did not stop cleanly (run %d)\n", run_no);
    if (fl_on)
        bench_followers_stop(&fl);
    bench_servers_stop(&sv);
    return rate;
}

/* The results of one shape over the repetitions. */
struct series {
    /* "" for the short intake, else ", long" */
    const char *label;
    /* Their report lines (the notices' followed by the number of browsers). */
    const char *notices_name, *fetches_name;
    const bench_shape_t *sh;
    bool follow;
    double none[BENCH_REPS_MAX], web[BENCH_REPS_MAX];
    double notices[BENCH_REPS_MAX], fetches[BENCH_REPS_MAX], cpu[BENCH_REPS_MAX];
};

/* Repetition r of se: the intake alone and with the dashboard, in an order
 * that alternates so that a drift of the machine's load favours neither.
 * False when a run failed. */
static bool measure(struct series *se, int r, int run_no)
{
    struct web_figures wf = {0};
    struct servers_cpu sa = {0}, sb = {0};
    double *none = &se->none[r], *web = &se->web[r];
    if (r % 2 == 0) {
        *none = run(se->sh, se->follow, run_no, false, &wf, &sa);
        *web = *none > 0 ? run(se->sh, se->follow, run_no + 1, true, &wf, &sb) : -1;
    } else {
        *web = run(se->sh, se->follow, run_no + 1, true, &wf, &sb);
        *none = *web > 0 ? run(se->sh, se->follow, run_no, false, &wf, &sa) : -1;
    }
    if (*none <= 0 || *web <= 0)
        return false;
    se->notices[r] = wf.notices;
    se->fetches[r] = wf.fetches;
    se->cpu[r] = wf.cpu;
    double secs = (double)bench_updates_per_version(se->sh) * se->sh->nversions / *web;
    printf("  repetition %d%s: %.0f upd/s alone; %.0f with the dashboard (%.2f s): "
           "%.0f notices and %.0f fragment fetches (%.0f kB) in all, "
           "%.1f and %.1f per second; web CPU %.2f s per second of intake, %.2f in the "
           "thread following the publisher "
           "(%.2f s since its start, %d logins in %.1f s); %.0f browser errors\n",
           r + 1, se->label, *none, *web, secs, wf.notices * secs, wf.fetches * secs,
           wf.fetch_bytes * secs / 1000, wf.notices, wf.fetches, wf.cpu, wf.cpu_main, wf.cpu_total,
           nbrowsers, wf.login_secs, wf.errors);
    printf("    CPU s per second of intake, alone / with the dashboard: aggregator %.2f / "
           "%.2f, publisher %.2f / %.2f; the %d simulated browsers %.2f\n",
           sa.agg, sb.agg, sa.pub, sb.pub, nbrowsers, wf.crowd);
    fflush(stdout);
    return true;
}

/* The medians of se, its figures per second of intake and its ratio. */
static void summary(struct series *se, int reps)
{
    char name[96];
    snprintf(name, sizeof(name), "intake%s, no dashboard", se->label);
    double m0 = bench_report(name, se->none, reps, "upd/s");
    snprintf(name, sizeof(name), "intake%s, %d dashboard browsers", se->label, nbrowsers);
    double m1 = bench_report(name, se->web, reps, "upd/s");
    snprintf(name, sizeof(name), "%s (%d browsers)", se->notices_name, nbrowsers);
    bench_report(name, se->notices, reps, "/s");
    bench_report(se->fetches_name, se->fetches, reps, "/s");
    double c = bench_median(se->cpu, reps);
    printf("web CPU per second of intake%s, median: %.2f s (min %.2f, max %.2f)\n", se->label, c,
           se->cpu[0], se->cpu[reps - 1]);
    snprintf(name, sizeof(name), "ratio%s, %d dashboard browsers / none:", se->label, nbrowsers);
    printf("%-44s %.2f (goal >= 0.90)\n", name, m1 / m0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLANWATCH_BINARY [REPETITIONS [BROWSERS]]\n", argv[0]);
        return 2;
    }
    bin = argv[1];
    ins = bench_insecure_of(bin);
    web_insecure = bench_needs_insecure(bin, "web");
    if (argc > 3 && (atoi(argv[3]) < 0 || atoi(argv[3]) > NBROWSERS)) {
        fprintf(stderr, "%s: BROWSERS is 0 to %d\n", argv[0], NBROWSERS);
        return 2;
    }
    nbrowsers = argc > 3 ? atoi(argv[3]) : NBROWSERS;
    int reps = bench_setup(argc, argv, 2, dir);
    /* Everything this program starts is stopped at exit; SIGALRM ends a hung run. */
    alarm((unsigned)(RUN_SECS * reps));
    bench_make_data(&plan, dir);
    bench_make_data(&steady, dir);
    char err[256] = "";
    snprintf(users_path, sizeof(users_path), "%s/web.users", dir);
    if (pw_users_set(users_path, USER, PW_ROLE_STAFF, PASSWORD, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: %s: %s\n", users_path, err);
        return 1;
    }
    /* Report names stay within bench_report()'s 50 columns, which bench/run reads. */
    static struct series brief = {.label = "",
                                  .notices_name = "dashboard SSE notices per second",
                                  .fetches_name = "dashboard fragment fetches per second",
                                  .sh = &plan,
                                  .follow = false},
                         lasting = {.label = ", long",
                                    .notices_name = "dashboard, long: SSE notices/s",
                                    .fetches_name = "dashboard, long: fragment fetches/s",
                                    .sh = &steady,
                                    .follow = true};
    printf("dashboard: %d collectors x %zu updates x %d versions, durable commits, publisher "
           "on; long: %d running collectors (--follow) x %zu updates x %d versions; each "
           "alone, and with planwatch web and %d browsers on its live page\n",
           BENCH_NDIST, bench_updates_per_version(&plan) / BENCH_NDIST, plan.nversions, BENCH_NDIST,
           bench_updates_per_version(&steady) / BENCH_NDIST, steady.nversions, nbrowsers);
    bool ok = true;
    for (int r = 0; r < reps && ok; r++)
        ok = measure(&brief, r, 4 * r) && measure(&lasting, r, 4 * r + 2);
    if (!ok) {
        fprintf(stderr, "bench: stopped; the logs are kept in %s\n", dir);
        return 1;
    }
    summary(&brief, reps);
    summary(&lasting, reps);
    pw_rm_rf(dir);
    return 0;
}
