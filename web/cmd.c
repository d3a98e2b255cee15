/* SPDX-License-Identifier: MIT */
/* planwatch web: its options, configuration and life (cli/daemon.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "command.h"
#include "config.h"
#include "daemon.h"
#include "followup.h"
#include "http.h"
#include "live.h"
#include "lmdb_util.h"
#include "notify.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"
#include "users.h"
#include "web.h"

static const char usage_text[] =
    "usage: planwatch web --data DIR [options]\n"
    "\n"
    "Serves the central bureau's dashboard: the evaluation table coloured by\n"
    "band, a page per indicator with its charts and each district's figure,\n"
    "the reporting-status grid and the alert log, all updated live (Server-Sent\n"
    "Events) from the publisher, as a monitor follows it. Staff acknowledge,\n"
    "assign, comment, silence and close alerts there; an alert left\n"
    "unacknowledged escalates; decisions are notified along the routes file.\n"
    "Nothing is served without a login (planwatch web-user).\n"
    "\n"
    "options:\n"
    "  --data DIR            the dashboard's own data, created if missing: the\n"
    "                        follow-up (DIR/followup) and the notification outbox\n"
    "                        (DIR/outbox) (required)\n"
    "  --listen ADDR:PORT    where to serve (default 127.0.0.1:8080; [::1]:8080 for\n"
    "                        IPv6; port 0 = any free one). An address other than\n"
    "                        loopback needs --tls-cert and --tls-key\n"
    "  --tls-cert FILE       HTTPS: the certificate chain (PEM)\n"
    "  --tls-key FILE        HTTPS: its private key (PEM)\n"
    "  --users FILE          the desk logins (default $PLANWATCH_WEB_USERS, else\n"
    "                        /etc/planwatch/web.users); read again on SIGHUP\n"
    "  --routes FILE         notification routes and receivers (default: none, no\n"
    "                        notification is sent)\n"
    "  --url URL             the dashboard's address as users reach it, linked\n"
    "                        from notifications (default: the --listen address)\n"
    "  --escalate-after DUR  an alert unacknowledged this long escalates: 90m,\n"
    "                        24h, 2d, 30s (default 24h; 0 = never)\n"
    "  --connect ENDPOINT    the publisher's event stream (default tcp://127.0.0.1:5560)\n"
    "  --snapshot ENDPOINT   its snapshot endpoint (default: the stream's port + 1)\n"
    "  --catalog FILE        for a publisher whose store does not record its plan:\n"
    "                        the catalog (default: the Wuhan plan's)\n"
    "  --timeout SEC         how long one request to the publisher may take (default 10)\n"
    "  --keys DIR            CURVE: authenticate as the desk key DIR/desks/DESK.secret\n"
    "                        to the publisher key DIR/publisher.pub\n"
    "  --desk NAME           the desk key to use (default web)\n"
    "  --insecure            allow tcp:// to the publisher without CURVE\n"
    "  --max-streams N       live pages open at once (default 1000)\n"
    "  --config FILE         read options from FILE (key = value lines)\n"
    "  --check-config        check the configuration and exit\n"
    "  --log-level LEVEL     error, warn, info or debug (default info)\n"
    "  -h, --help            this text\n"
    "\n"
    "Prints \"planwatch web: serving http://ADDR:PORT/\" once it serves.\n";

struct web_cmd {
    const char *data, *listen, *tls_cert, *tls_key, *users_path, *routes, *url;
    const char *escalate_text, *timeout_text, *max_streams_text;
    const char *connect, *snap, *catalog_path;
    char why[512];
    pw_client_auth_t auth;
    /* Made by start. */
    char host[64];
    unsigned port;
    int64_t escalate_ms;
    int timeout_ms, max_streams;
    char *cert, *key;
    pw_followup_t *fu;
    pw_notify_t *notify;
    pw_sessions_t *sessions;
    pw_live_t *live;
    pw_http_t *http;
};

/* "90m", "24h", "2d", "30s" or "0": ms; -1 when not one. */
static int64_t parse_duration(const char *text)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || v > 3650.0 * 86400)
        return -1;
    double unit = 0;
    if (strcmp(end, "s") == 0)
        unit = 1e3;
    else if (strcmp(end, "m") == 0)
        unit = 60e3;
    else if (strcmp(end, "h") == 0 || (*end == '\0' && v == 0))
        unit = 3600e3;
    else if (strcmp(end, "d") == 0)
        unit = 86400e3;
    else
        return -1;
    return (int64_t)(v * unit);
}

/* "127.0.0.1:8080", "[::1]:8080": host and port. */
static int parse_listen(const char *text, char *host, size_t hostlen, unsigned *port)
{
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return -1;
        snprintf(host, hostlen, "%.*s", (int)(close - text - 1), text + 1);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return -1;
        snprintf(host, hostlen, "%.*s", (int)(colon - text), text);
    }
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535 || !host[0])
        return -1;
    *port = (unsigned)p;
    return 0;
}

static bool loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

static const char *users_path(const struct web_cmd *o)
{
    if (o->users_path)
        return o->users_path;
    const char *env = getenv("PLANWATCH_WEB_USERS");
    return env && env[0] ? env : "/etc/planwatch/web.users";
}

static int take_option(void *p, int c, const char *arg)
{
    (void)p;
    (void)c;
    (void)arg;
    return PW_CLI_USAGE;
}

static int finish(void *p, int nargs, char **args)
{
    struct web_cmd *o = p;
    (void)args;
    if (!o->data || nargs != 0)
        return PW_CLI_USAGE;
    if (parse_listen(o->listen, o->host, sizeof(o->host), &o->port) != 0) {
        fprintf(stderr, "planwatch web: %s--listen %s: not ADDR:PORT (127.0.0.1:8080, "
                        "[::1]:8080)\n", pw_config_where(), o->listen);
        return 2;
    }
    if ((o->escalate_ms = parse_duration(o->escalate_text)) < 0) {
        fprintf(stderr, "planwatch web: --escalate-after %s: not a duration (90m, 24h, 2d, 0)\n",
                o->escalate_text);
        return 2;
    }
    o->timeout_ms = atoi(o->timeout_text) * 1000;
    o->max_streams = atoi(o->max_streams_text);
    if (o->timeout_ms <= 0 || o->max_streams <= 0) {
        fprintf(stderr, "planwatch web: --timeout and --max-streams want a positive number\n");
        return 2;
    }
    if (!o->tls_cert != !o->tls_key) {
        fprintf(stderr, "planwatch web: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (!o->tls_cert && !loopback(o->host)) {
        fprintf(stderr,
                "planwatch web: --listen %s is not a loopback address: serve it over HTTPS "
                "(--tls-cert, --tls-key), or listen on 127.0.0.1 behind a reverse proxy that "
                "does (README: the dashboard)\n",
                o->listen);
        return 2;
    }
    return 0;
}

/* Reads a whole (small) file: a PEM certificate or key. */
static int slurp(const char *path, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *p = cap > (1u << 20) ? NULL : realloc(buf, cap);
            if (!p) {
                rc = cap > (1u << 20) ? -EFBIG : -ENOMEM;
                break;
            }
            buf = p;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = -EIO;
    fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

static int load_users(const struct web_cmd *o, pw_users_t **out)
{
    char err[512] = "";
    int rc = pw_users_load(users_path(o), out, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "planwatch web: %s\n", err[0] ? err : pw_strerror(rc));
    else if (pw_users_count(*out) == 0)
        fprintf(stderr, "planwatch web: warning: %s has no user: nobody can log in (add one "
                        "with planwatch web-user add NAME --role staff)\n", users_path(o));
    return rc;
}

static int check(void *p)
{
    struct web_cmd *o = p;
    bool ok = pw_config_check_dir("web", "--data", o->data);
    pw_users_t *users = NULL;
    ok &= load_users(o, &users) == 0;
    pw_users_destroy(&users);
    char err[512] = "";
    if (o->routes && pw_notify_check(o->routes, err, sizeof(err)) != 0) {
        fprintf(stderr, "planwatch web: %s\n", err);
        ok = false;
    }
    char *pem = NULL;
    const char *files[] = {o->tls_cert, o->tls_key};
    for (size_t k = 0; k < 2; k++) {
        if (files[k] && slurp(files[k], &pem) != 0) {
            fprintf(stderr, "planwatch web: cannot read %s: %s\n", files[k], strerror(errno));
            ok = false;
        }
        free(pem);
        pem = NULL;
    }
    ok &= pw_config_check_endpoint("web", "--connect", o->connect);
    if (ok) {
        const char *eps[] = {o->connect};
        char desk[PW_ID_MAX + 8];
        snprintf(desk, sizeof(desk), "desks/%s", o->auth.desk ? o->auth.desk : "web");
        ok &= pw_config_check_keys("web", o->auth.keys_dir, desk, NULL, eps, 1,
                                   o->auth.insecure);
    }
    if (ok) {
        printf("data = %s\nlisten = %s\nusers = %s\nroutes = %s\nconnect = %s\n", o->data,
               o->listen, users_path(o), o->routes ? o->routes : "(none)", o->connect);
        printf("planwatch web: configuration OK\n");
    }
    return ok ? 0 : 1;
}

/* The plan is the publisher's, read once connected (live.c). */
static int no_catalog(void *p, pw_catalog_t **out)
{
    (void)p;
    *out = NULL;
    return 0;
}

static int start(void *p, const pw_catalog_t *unused)
{
    struct web_cmd *o = p;
    (void)unused;
    char path[4096], err[512] = "";
    pw_users_t *users = NULL;
    int rc = load_users(o, &users);
    if (rc != 0)
        return rc;
    if (mkdir(o->data, 0750) != 0 && errno != EEXIST) {
        rc = -errno;
        PW_ERROR("cannot create %s: %s", o->data, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/followup", o->data);
    if ((rc = pw_followup_open(path, true, &o->fu)) != 0) {
        if (rc == -EBUSY)
            PW_ERROR("%s in use by pid %ld: one planwatch web per data directory", path,
                     pw__writer_pid(path));
        else
            PW_ERROR("cannot open the follow-up in %s: %s", path, pw_strerror(rc));
        goto fail;
    }
    char url[512];
    if (o->url)
        snprintf(url, sizeof(url), "%s", o->url);
    else
        snprintf(url, sizeof(url), "%s://%s%s%s:%u/", o->tls_cert ? "https" : "http",
                 strchr(o->host, ':') ? "[" : "", o->host, strchr(o->host, ':') ? "]" : "",
                 o->port);
    snprintf(path, sizeof(path), "%s/outbox", o->data);
    if ((rc = pw_notify_new(o->routes, path, url, &o->notify, err, sizeof(err))) != 0) {
        PW_ERROR("notifications: %s", err[0] ? err : pw_strerror(rc));
        goto fail;
    }
    if ((rc = pw_sessions_new(12LL * 3600 * 1000, &o->sessions)) != 0)
        goto fail;
    pw_live_config_t lc = {.pub = o->connect, .snap = o->snap, .auth = o->auth,
                           .catalog_path = o->catalog_path, .timeout_ms = o->timeout_ms,
                           .escalate_ms = o->escalate_ms, .fu = o->fu, .notify = o->notify};
    if (!lc.auth.desk)
        lc.auth.desk = "web";
    if ((rc = pw_live_new(&lc, &o->live)) != 0)
        goto fail;
    if (o->tls_cert && ((rc = slurp(o->tls_cert, &o->cert)) != 0 ||
                        (rc = slurp(o->tls_key, &o->key)) != 0)) {
        PW_ERROR("cannot read the TLS certificate or key: %s", strerror(-rc));
        goto fail;
    }
    pw_http_config_t hc = {.host = o->host, .port = (uint16_t)o->port, .tls_cert = o->cert,
                           .tls_key = o->key, .live = o->live, .sessions = o->sessions,
                           .max_streams = o->max_streams};
    rc = pw_http_start(&hc, users, &o->http, err, sizeof(err));
    users = NULL;
    if (rc != 0) {
        PW_ERROR("%s", err);
        goto fail;
    }
    if (!o->url)
        snprintf(url, sizeof(url), "%s://%s%s%s:%u/", o->tls_cert ? "https" : "http",
                 strchr(o->host, ':') ? "[" : "", o->host, strchr(o->host, ':') ? "]" : "",
                 pw_http_port(o->http));
    printf("planwatch web: serving %s\n", url);
    fflush(stdout);
    return 0;
fail:
    pw_users_destroy(&users);
    return rc;
}

static int run(void *p, volatile sig_atomic_t *stop)
{
    struct web_cmd *o = p;
    int rc = 0;
    while (rc == 0 && !*stop) {
        rc = pw_live_step(o->live, 200);
        if (pw_cli_reload) {
            pw_cli_reload = 0;
            pw_users_t *users = NULL;
            if (load_users(o, &users) == 0) {
                pw_http_set_users(o->http, users);
                PW_INFO("reloaded the users from %s", users_path(o));
            }
        }
    }
    return rc == 0 ? 0 : 1;
}

static void stop(void *p)
{
    struct web_cmd *o = p;
    if (o->live) {
        pw_live_flush(o->live); /* a decision gathered in the last 300 ms */
        pw_live_stop(o->live);
    }
    pw_http_stop(&o->http);
    pw_live_destroy(&o->live);
    pw_sessions_destroy(&o->sessions);
    pw_notify_destroy(&o->notify);
    pw_followup_destroy(&o->fu);
    free(o->cert);
    free(o->key);
    o->cert = o->key = NULL;
}

int pw_cmd_web(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},      {"listen", required_argument, 0, 'L'},
        {"tls-cert", required_argument, 0, 'T'},  {"tls-key", required_argument, 0, 'Y'},
        {"users", required_argument, 0, 'u'},     {"routes", required_argument, 0, 'r'},
        {"url", required_argument, 0, 'U'},       {"escalate-after", required_argument, 0, 'e'},
        {"connect", required_argument, 0, 'c'},   {"snapshot", required_argument, 0, 's'},
        {"catalog", required_argument, 0, 'C'},   {"timeout", required_argument, 0, 't'},
        {"keys", required_argument, 0, 'k'},      {"desk", required_argument, 0, 'D'},
        {"insecure", no_argument, 0, 'I'},        {"max-streams", required_argument, 0, 'm'},
        {"log-level", required_argument, 0, PW_CLI_LOG_LEVEL},
        {"check-config", no_argument, 0, PW_CLI_CHECK_CONFIG},
        {"help", no_argument, 0, PW_CLI_HELP},    {0, 0, 0, 0}};
    static const pw_cli_field_t fields[] = {
        {'d', offsetof(struct web_cmd, data)},
        {'L', offsetof(struct web_cmd, listen)},
        {'T', offsetof(struct web_cmd, tls_cert)},
        {'Y', offsetof(struct web_cmd, tls_key)},
        {'u', offsetof(struct web_cmd, users_path)},
        {'r', offsetof(struct web_cmd, routes)},
        {'U', offsetof(struct web_cmd, url)},
        {'e', offsetof(struct web_cmd, escalate_text)},
        {'c', offsetof(struct web_cmd, connect)},
        {'s', offsetof(struct web_cmd, snap)},
        {'C', offsetof(struct web_cmd, catalog_path)},
        {'t', offsetof(struct web_cmd, timeout_text)},
        {'k', offsetof(struct web_cmd, auth.keys_dir)},
        {'D', offsetof(struct web_cmd, auth.desk)},
        {'I', offsetof(struct web_cmd, auth.insecure)},
        {'m', offsetof(struct web_cmd, max_streams_text)},
        {0, 0}};
    static const pw_cli_daemon_t daemon = {
        {"web", usage_text, longopts, take_option, finish, fields},
        PW_LOG_INFO, check, no_catalog, start, run, stop};
    struct web_cmd o = {.listen = "127.0.0.1:8080", .escalate_text = "24h",
                        .timeout_text = "10", .max_streams_text = "1000",
                        .connect = "tcp://127.0.0.1:5560"};
    o.auth = (pw_client_auth_t){.why = o.why, .why_len = sizeof(o.why)};
    return pw_cli_daemon_main(&daemon, argc, argv, &o);
}
