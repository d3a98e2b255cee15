/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE /* mkdtemp, DT_REG */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sodium.h>
#include <unistd.h>

#include "cli.h"
#include "command.h"
#include "commands.h"
#include "client.h"
#include "pw/auth.h"
#include "pw/datafile.h"
#include "pw/error.h"
#include "pw/util.h"
#include "users.h"
#include "view.h"

#define REPORTERS_MAX 256
#define PERIODS_MAX   64

static const char usage_text[] =
    "usage: planwatch demo [options]\n"
    "\n"
    "Runs the whole pipeline on the Wuhan demo data: starts an aggregator and a\n"
    "publisher on a fresh store, runs one collector per reporter (the 13 district\n"
    "offices and the city office) concurrently over loopback, period after period\n"
    "(2015, 2016, 2017, 2018H1), prints each alert as it opens or resolves, then\n"
    "the evaluation table of the last period. Everything runs with CURVE on:\n"
    "fresh keys for the aggregator, the publisher, every reporter and the\n"
    "bureau's desk are made for the run (in its temporary directory).\n"
    "\n"
    "options:\n"
    "  --json          JSON lines: the alert events as they happen, then one object\n"
    "                  per indicator series of the last period\n"
    "  --store DIR     keep the store in DIR (default: a temporary one, removed)\n"
    "  --data DIR      a plan's data: DIR/catalog.conf and DIR/districts/<id>.csv\n"
    "                  (default: the Wuhan demo)\n"
    "  --report-dir DIR  where report.html and report.csv go (default: the --store\n"
    "                  directory, else the current one)\n"
    "  --web           also serve the dashboard (planwatch web) while the demo runs,\n"
    "                  print its address and a login, and keep it open once the\n"
    "                  demo is done, until interrupted (Ctrl-C)\n"
    "  --web-listen ADDR:PORT  where the dashboard listens (default 127.0.0.1:8080)\n"
    "  -h, --help      this text\n";

struct child {
    pid_t pid;
    char log[4096];
    char name[PW_ID_MAX + 16];
};

struct demo {
    pw_catalog_t *cat;
    char dir[4096];
    char store[4096];
    char keys[4096];
    bool json, keep, color;
    FILE *info; /* progress lines: stdout for people, stderr under --json */
    struct child agg, pub, web;
    const char *web_listen; /* NULL: no dashboard */
    char web_url[256];
    pw_client_t *client;
    pw_view_t *view;
    char intake[64], stream[64], snapshot[64];
    size_t nreporters;
    int reporters[REPORTERS_MAX];
    char files[REPORTERS_MAX][4096];
    pw_period_t periods[PERIODS_MAX];
    size_t nperiods;
    size_t updates[PERIODS_MAX];
    int nalerts;
};

/* snprintf for paths, reporting truncation instead of warning about it. */
__attribute__((format(printf, 3, 4))) static int fmt(char *buf, size_t len, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, len, f, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A free loopback port: bind to port 0 and read what the kernel chose. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* Starts `planwatch args...` with stdout and stderr into log. */
static int spawn(struct child *c, const char *log, char *const args[])
{
    snprintf(c->log, sizeof(c->log), "%s", log);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* If the demo dies, its servers and collectors stop with it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(pw_cli_self(), args);
        _exit(127);
    }
    c->pid = pid;
    return 0;
}

static void show_log(const struct child *c)
{
    FILE *f = fopen(c->log, "r");
    if (!f)
        return;
    fprintf(stderr, "--- %s (%s) ---\n", c->name, c->log);
    char line[1024];
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

/* Waits for the child's "ready" log line: it has bound its sockets. */
static int wait_ready(struct child *c, int timeout_ms)
{
    int64_t deadline = pw_mono_ms() + timeout_ms;
    while (pw_mono_ms() < deadline) {
        FILE *f = fopen(c->log, "r");
        if (f) {
            char line[1024];
            bool ready = false;
            while (!ready && fgets(line, sizeof(line), f))
                ready = strstr(line, " INFO: ready") != NULL;
            fclose(f);
            if (ready)
                return 0;
        }
        int status;
        if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
            c->pid = 0;
            fprintf(stderr, "planwatch demo: %s exited before it was ready\n", c->name);
            show_log(c);
            return PW_ETIMEOUT;
        }
        usleep(20000);
    }
    fprintf(stderr, "planwatch demo: %s not ready after %d ms\n", c->name, timeout_ms);
    show_log(c);
    return PW_ETIMEOUT;
}

/* SIGTERM, then waits; 0 when it exited cleanly with status 0. */
static int stop_child(struct child *c)
{
    if (c->pid <= 0)
        return 0;
    kill(c->pid, SIGTERM);
    int status = 0;
    int64_t deadline = pw_mono_ms() + 10000;
    while (waitpid(c->pid, &status, WNOHANG) == 0) {
        if (pw_mono_ms() > deadline) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            break;
        }
        usleep(10000);
    }
    c->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "planwatch demo: %s did not stop cleanly\n", c->name);
        show_log(c);
        return -1;
    }
    return 0;
}

static int on_event(void *ctx, const pw_event_t *ev)
{
    struct demo *d = ctx;
    pw_view_apply(d->view, ev);
    if (ev->type != PW_EV_ALERT)
        return 0;
    d->nalerts++;
    if (d->json)
        pw_view_print_event_json(d->cat, ev, stdout);
    else
        pw_view_print_alert(d->cat, ev, stdout, d->color);
    fflush(stdout);
    return 0;
}

/* Finds the reporters' data files and the periods they hold. */
static int load_plan(struct demo *d, const char *datadir)
{
    for (size_t r = 0; r < d->cat->ndistricts; r++) {
        char path[4096];
        fmt(path, sizeof(path), "%s/districts/%s.csv", datadir, d->cat->districts[r].id);
        if (access(path, R_OK) != 0)
            continue;
        char err[512] = "";
        pw_datafile_t *df = NULL;
        if (pw_datafile_load(path, d->cat, &df, err, sizeof(err)) != 0) {
            fprintf(stderr, "planwatch demo: %s\n", err);
            return PW_EDATA;
        }
        for (size_t i = 0; i < df->n; i++) {
            size_t k = 0;
            while (k < d->nperiods && !pw_period_eq(d->periods[k], df->obs[i].period))
                k++;
            if (k == d->nperiods && d->nperiods < PERIODS_MAX)
                d->periods[d->nperiods++] = df->obs[i].period;
            if (k < d->nperiods)
                d->updates[k]++;
        }
        pw_datafile_destroy(&df);
        d->reporters[d->nreporters] = (int)r;
        snprintf(d->files[d->nreporters], sizeof(d->files[0]), "%s", path);
        d->nreporters++;
    }
    if (d->nreporters == 0) {
        fprintf(stderr, "planwatch demo: no data files in %s/districts\n", datadir);
        return PW_EDATA;
    }
    /* Periods in order: the demo feeds them as they would have arrived. */
    for (size_t i = 1; i < d->nperiods; i++)
        for (size_t j = i; j > 0 && pw_period_cmp(d->periods[j], d->periods[j - 1]) < 0; j--) {
            pw_period_t t = d->periods[j];
            size_t u = d->updates[j];
            d->periods[j] = d->periods[j - 1];
            d->updates[j] = d->updates[j - 1];
            d->periods[j - 1] = t;
            d->updates[j - 1] = u;
        }
    return 0;
}

/* Fresh CURVE keys for this run, as 'planwatch keygen' makes them. */
static int make_keys(struct demo *d)
{
    int rc = fmt(d->keys, sizeof(d->keys), "%s/keys", d->dir);
    char sub[4096];
    if (rc == 0 && (rc = pw_key_generate(d->keys, "aggregator", "aggregator", false)) == 0)
        rc = pw_key_generate(d->keys, "publisher", "publisher", false);
    if (rc == 0 && (rc = fmt(sub, sizeof(sub), "%s/districts", d->keys)) == 0)
        for (size_t r = 0; r < d->nreporters && rc == 0; r++)
            rc = pw_key_generate(sub, d->cat->districts[d->reporters[r]].id, "district", false);
    if (rc == 0 && (rc = fmt(sub, sizeof(sub), "%s/desks", d->keys)) == 0)
        rc = pw_key_generate(sub, "bureau", "desk", false);
    if (rc == 0 && d->web_listen)
        rc = pw_key_generate(sub, "web", "desk", false);
    return rc;
}

static int start_servers(struct demo *d, char *catalog)
{
    int p1 = free_port(), p2 = free_port(), p3 = free_port();
    if (p1 < 0 || p2 < 0 || p3 < 0)
        return -EADDRNOTAVAIL;
    snprintf(d->intake, sizeof(d->intake), "tcp://127.0.0.1:%d", p1);
    snprintf(d->stream, sizeof(d->stream), "tcp://127.0.0.1:%d", p2);
    snprintf(d->snapshot, sizeof(d->snapshot), "tcp://127.0.0.1:%d", p3);
    char log[4096];
    snprintf(d->agg.name, sizeof(d->agg.name), "aggregator");
    fmt(log, sizeof(log), "%s/aggregator.log", d->dir);
    char *agg_args[] = {"planwatch", "aggregator", "--store", d->store, "--bind", d->intake,
                        "--catalog", catalog,     "--keys",  d->keys,  NULL};
    int rc = spawn(&d->agg, log, agg_args);
    if (rc == 0)
        rc = wait_ready(&d->agg, 10000);
    if (rc != 0)
        return rc;
    snprintf(d->pub.name, sizeof(d->pub.name), "publisher");
    fmt(log, sizeof(log), "%s/publisher.log", d->dir);
    char *pub_args[] = {"planwatch", "publisher", "--store",   d->store, "--bind",
                        d->stream,   "--snapshot-bind", d->snapshot, "--catalog", catalog,
                        "--keys",    d->keys,   NULL};
    rc = spawn(&d->pub, log, pub_args);
    if (rc == 0)
        rc = wait_ready(&d->pub, 10000);
    return rc;
}

/* Waits for the dashboard's "serving URL" line; its URL into d->web_url. */
static int wait_serving(struct demo *d, int timeout_ms)
{
    int64_t deadline = pw_mono_ms() + timeout_ms;
    while (pw_mono_ms() < deadline) {
        FILE *f = fopen(d->web.log, "r");
        if (f) {
            char line[1024];
            const char *mark = "planwatch web: serving ";
            while (fgets(line, sizeof(line), f)) {
                char *at = strstr(line, mark);
                if (at) {
                    at[strcspn(at, "\n")] = '\0';
                    snprintf(d->web_url, sizeof(d->web_url), "%s", at + strlen(mark));
                    fclose(f);
                    return 0;
                }
            }
            fclose(f);
        }
        int status;
        if (waitpid(d->web.pid, &status, WNOHANG) == d->web.pid) {
            d->web.pid = 0;
            fprintf(stderr, "planwatch demo: the dashboard exited before it served\n");
            show_log(&d->web);
            return PW_ETIMEOUT;
        }
        usleep(20000);
    }
    fprintf(stderr, "planwatch demo: the dashboard did not serve after %d ms\n", timeout_ms);
    show_log(&d->web);
    return PW_ETIMEOUT;
}

/*
 * Starts planwatch web on the demo's publisher, with one login (demo, an
 * admin) whose fresh password is printed: the dashboard has no anonymous
 * access, not even in a demo.
 */
static int start_web(struct demo *d)
{
    char users[4096], data[4096], log[4096], pass[32], err[256] = "";
    unsigned char raw[12];
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
    if (sodium_init() < 0)
        return -EIO;
    randombytes_buf(raw, sizeof(raw));
    for (size_t k = 0; k < sizeof(raw); k++)
        pass[k] = alphabet[raw[k] % 32];
    pass[sizeof(raw)] = '\0';
    int rc = fmt(users, sizeof(users), "%s/web.users", d->dir);
    if (rc == 0)
        rc = fmt(data, sizeof(data), "%s/web", d->dir);
    if (rc == 0)
        rc = fmt(log, sizeof(log), "%s/web.log", d->dir);
    if (rc == 0 && (rc = pw_users_set(users, "demo", PW_ROLE_ADMIN, pass, err, sizeof(err))) != 0)
        fprintf(stderr, "planwatch demo: cannot write %s: %s\n", users, err);
    if (rc != 0)
        return rc;
    snprintf(d->web.name, sizeof(d->web.name), "web");
    char listen[128];
    snprintf(listen, sizeof(listen), "%s", d->web_listen);
    char *args[] = {"planwatch", "web",      "--data",  data,        "--users",    users,
                    "--listen",  listen,     "--connect", d->stream, "--snapshot", d->snapshot,
                    "--keys",    d->keys,    "--desk",  "web",       NULL};
    if ((rc = spawn(&d->web, log, args)) == 0)
        rc = wait_serving(d, 10000);
    if (rc == 0) {
        fprintf(d->info, "dashboard: %s  (log in as demo, password %s)\n", d->web_url, pass);
        fflush(d->info);
    }
    return rc;
}

/* Runs one collector per reporter for period k, concurrently, and waits for all. */
static int feed_period(struct demo *d, size_t k)
{
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(d->periods[k], ptext);
    struct child kids[REPORTERS_MAX];
    memset(kids, 0, sizeof(kids));
    int rc = 0;
    for (size_t r = 0; r < d->nreporters && rc == 0; r++) {
        char id[PW_ID_MAX], log[4096], spool[4096];
        snprintf(id, sizeof(id), "%s", d->cat->districts[d->reporters[r]].id);
        fmt(spool, sizeof(spool), "%s/spool-%s", d->dir, id);
        snprintf(kids[r].name, sizeof(kids[r].name), "collector %s", id);
        fmt(log, sizeof(log), "%s/collector-%s-%s.log", d->dir, id, ptext);
        char *args[] = {"planwatch", "collector", "--district", id,          "--data",
                        d->files[r], "--connect", d->intake, "--period", ptext,
                        "--spool",   spool,       "--keys",   d->keys,   NULL};
        rc = spawn(&kids[r], log, args);
    }
    size_t running = d->nreporters, failed = 0;
    int64_t deadline = pw_mono_ms() + 120000;
    while (running > 0 && pw_mono_ms() < deadline && !pw_cli_stop) {
        for (size_t r = 0; r < d->nreporters; r++) {
            int status;
            if (kids[r].pid <= 0 || waitpid(kids[r].pid, &status, WNOHANG) != kids[r].pid)
                continue;
            kids[r].pid = 0;
            running--;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                failed++;
                fprintf(stderr, "planwatch demo: %s failed for %s\n", kids[r].name, ptext);
                show_log(&kids[r]);
            }
        }
        /* Alerts are printed while the collectors run, as they happen. */
        pw_client_poll(d->client, 20, on_event, d);
    }
    for (size_t r = 0; r < d->nreporters; r++) {
        if (kids[r].pid > 0) {
            kill(kids[r].pid, SIGKILL);
            waitpid(kids[r].pid, NULL, 0);
            failed++;
        }
    }
    if (failed)
        return PW_EREJECTED;
    /* Everything acknowledged is committed: catch up with the head of the
     * log, so this period's alerts are all out before the next one starts. */
    if ((rc = pw_client_catch_up(d->client, 10000, on_event, d)) != 0)
        return rc;
    fprintf(d->info, "%-7s %zu reporters sent %zu updates: all stored\n", ptext, d->nreporters,
            d->updates[k]);
    fflush(d->info);
    return 0;
}

static int run(struct demo *d, const char *datadir, char *catalog)
{
    int rc = load_plan(d, datadir);
    if (rc != 0)
        return rc;
    fprintf(d->info, "planwatch demo: %s\n", d->cat->name);
    fprintf(d->info, "%zu reporters, %zu indicators, periods", d->nreporters,
            d->cat->nindicators);
    for (size_t k = 0; k < d->nperiods; k++) {
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(d->periods[k], ptext);
        fprintf(d->info, " %s", ptext);
    }
    fprintf(d->info, "; store %s%s\n", d->store, d->keep ? "" : " (removed at exit)");
    if ((rc = make_keys(d)) != 0) {
        fprintf(stderr, "planwatch demo: cannot make keys in %s: %s\n", d->keys,
                pw_strerror(rc));
        return rc;
    }
    if ((rc = start_servers(d, catalog)) != 0)
        return rc;
    if (d->web_listen && (rc = start_web(d)) != 0)
        return rc;
    pw_client_auth_t auth = {.keys_dir = d->keys, .desk = "bureau"};
    if ((rc = pw_view_new(d->cat, &d->view)) != 0 ||
        (rc = pw_client_new(d->stream, d->snapshot, &auth, &d->client)) != 0)
        return rc;
    pw_reply_t snap = {0};
    if ((rc = pw_client_snapshot(d->client, 10000, &snap)) == 0)
        rc = pw_view_load(d->view, &snap);
    pw_reply_clear(&snap);
    for (size_t k = 0; k < d->nperiods && rc == 0; k++)
        rc = feed_period(d, k);
    if (rc != 0)
        return rc;
    if ((rc = pw_client_snapshot(d->client, 10000, &snap)) == 0)
        rc = pw_view_load(d->view, &snap);
    pw_reply_clear(&snap);
    if (rc != 0)
        return rc;
    pw_period_t last = d->periods[d->nperiods - 1];
    if (d->json) {
        pw_view_print_json(d->view, stdout, last);
    } else {
        fputc('\n', stdout);
        pw_view_print_table(d->view, stdout, last, d->color);
    }
    fflush(stdout);
    return 0;
}

/* The command's options. */
struct demo_cmd {
    bool json, web;
    const char *store, *datadir, *report_dir, *web_listen;
};

/* With --web: the dashboard stays open until the user stops the demo. */
static void keep_web_open(struct demo *d)
{
    fprintf(d->info, "\nThe dashboard stays open at %s (log in as demo); Ctrl-C to stop.\n",
            d->web_url);
    fflush(d->info);
    while (!pw_cli_stop) {
        int status;
        if (waitpid(d->web.pid, &status, WNOHANG) == d->web.pid) {
            d->web.pid = 0;
            fprintf(stderr, "planwatch demo: the dashboard exited\n");
            show_log(&d->web);
            break;
        }
        /* The stream is drained so the publisher never waits for this client. */
        pw_client_poll(d->client, 200, on_event, d);
    }
}

int pw_cmd_demo(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"store", required_argument, 0, 's'},
                                             {"data", required_argument, 0, 'd'},
                                             {"report-dir", required_argument, 0, 'r'},
                                             {"web", no_argument, 0, 'w'},
                                             {"web-listen", required_argument, 0, 'W'},
                                             {"help", no_argument, 0, PW_CLI_HELP},
                                             {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'j', offsetof(struct demo_cmd, json)},
        {'s', offsetof(struct demo_cmd, store)},
        {'d', offsetof(struct demo_cmd, datadir)},
        {'r', offsetof(struct demo_cmd, report_dir)},
        {'w', offsetof(struct demo_cmd, web)},
        {'W', offsetof(struct demo_cmd, web_listen)},
        {0, 0}};
    static const pw_cli_command_t command = {"demo", usage_text, longopts, NULL, NULL, fields};
    static struct demo d;
    struct demo_cmd o = {0};
    int status;
    if (!pw_cli_parse(&command, argc, argv, &o, &status))
        return status;
    const char *store = o.store, *datadir = o.datadir, *report_dir = o.report_dir;
    d.json = o.json;
    if (o.web || o.web_listen)
        d.web_listen = o.web_listen ? o.web_listen : "127.0.0.1:8080";
    char defdata[4096], catalog[4096];
    if (!datadir) {
        snprintf(defdata, sizeof(defdata), "%s/wuhan", pw_cli_datadir());
        datadir = defdata;
    }
    if (fmt(catalog, sizeof(catalog), "%s/catalog.conf", datadir) != 0) {
        fprintf(stderr, "planwatch demo: --data path too long\n");
        return 2;
    }
    pw_cli_signals();
    if (pw_cli_load_catalog(catalog, &d.cat) != 0)
        return 1;
    d.info = d.json ? stderr : stdout;
    d.color = !d.json && isatty(STDOUT_FILENO);
    snprintf(d.dir, sizeof(d.dir), "/tmp/planwatch-demo-XXXXXX");
    if (!mkdtemp(d.dir)) {
        fprintf(stderr, "planwatch demo: mkdtemp: %s\n", strerror(errno));
        pw_catalog_destroy(&d.cat);
        return 1;
    }
    d.keep = store != NULL;
    snprintf(d.store, sizeof(d.store), "%s", store ? store : d.dir);
    if (store && strlen(store) > 80) {
        /* ipc:// paths are limited to about 100 bytes by the kernel. */
        fprintf(stderr, "planwatch demo: --store path too long (80 bytes at most)\n");
        pw_rm_rf(d.dir);
        pw_catalog_destroy(&d.cat);
        return 2;
    }
    int rc = run(&d, datadir, catalog);
    if (rc == 0) /* the evaluation report of the last period, as HTML and CSV */
        rc = pw_report_files(d.cat, d.store, report_dir ? report_dir : store ? store : ".",
                                 d.info);
    if (rc == 0 && d.web.pid > 0)
        keep_web_open(&d);
    pw_client_destroy(&d.client);
    int s0 = stop_child(&d.web);
    int s1 = stop_child(&d.pub), s2 = stop_child(&d.agg);
    if (rc != 0)
        fprintf(stderr, "planwatch demo: failed: %s (logs in %s)\n", pw_strerror(rc), d.dir);
    else if (s0 == 0 && s1 == 0 && s2 == 0)
        pw_rm_rf(d.dir);
    pw_view_destroy(&d.view);
    pw_catalog_destroy(&d.cat);
    return rc == 0 && s0 == 0 && s1 == 0 && s2 == 0 ? 0 : 1;
}
