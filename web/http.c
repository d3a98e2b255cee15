/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's HTTP server: responses, logins checked, pages served,
 * routing, start and stop. Forms are in http_forms.c, the live stream in
 * http_stream.c; pages are written by pages.c under the live lock.
 */
#include "http.h"
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pages.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

static void csrf_of(const pw_http_t *self, const char *token, char out[CSRF_HEX + 1])
{
    unsigned char h[CSRF_HEX / 2];
    crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), self->csrf_key,
                       sizeof(self->csrf_key));
    sodium_bin2hex(out, CSRF_HEX + 1, h, sizeof(h));
}

static void release(void *p)
{
    free(p);
}

/* Queues a response of body (taken) with the headers every page gets. */
enum MHD_Result pw__http_send(pw_http_t *self, struct MHD_Connection *c, unsigned status,
                                 const char *type, char *body, size_t len,
                                 const char *const *headers)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, body, release);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "same-origin");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; style-src 'unsafe-inline'; "
                            "script-src 'unsafe-inline'; img-src 'self' data:; "
                            "frame-ancestors 'none'; form-action 'self'");
    if (self->tls)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    for (size_t k = 0; headers && headers[k]; k += 2)
        MHD_add_response_header(r, headers[k], headers[k + 1]);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A page written by fn(out, arg) into memory, sent with status. */
typedef void (*write_fn)(FILE *out, const void *arg);

static enum MHD_Result send_written(pw_http_t *self, struct MHD_Connection *c, unsigned status,
                                    write_fn fn, const void *arg, const char *const *headers)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    fn(out, arg);
    if (fclose(out) != 0) {
        free(buf);
        return MHD_NO;
    }
    return pw__http_send(self, c, status, "text/html; charset=utf-8", buf, len, headers);
}

struct msg_arg {
    const char *title, *msg;
};

static void write_msg(FILE *out, const void *arg)
{
    const struct msg_arg *m = arg;
    pw_page_message(out, m->title, m->msg);
}

enum MHD_Result pw__http_msg(pw_http_t *self, struct MHD_Connection *c, unsigned status,
                                const char *title, const char *msg)
{
    struct msg_arg m = {title, msg};
    return send_written(self, c, status, write_msg, &m, NULL);
}

struct login_arg {
    const char *msg, *next;
};

static void write_login(FILE *out, const void *arg)
{
    const struct login_arg *l = arg;
    pw_page_login(out, l->msg, l->next);
}

/* 401 with the login form: a browser shows it; a script reads the status. */
enum MHD_Result pw__http_login_page(pw_http_t *self, struct MHD_Connection *c, unsigned status,
                                  const char *msg, const char *next)
{
    static const char *const hdr[] = {
        "WWW-Authenticate",
        "Cookie realm=\"planwatch\" form-action=\"/login\" cookie-name=\"" COOKIE "\"", NULL};
    struct login_arg l = {msg, next};
    return send_written(self, c, status, write_login, &l, status == 401 ? hdr : NULL);
}

enum MHD_Result pw__http_redirect(pw_http_t *self, struct MHD_Connection *c, const char *to,
                                const char *cookie)
{
    const char *hdr[] = {"Location", to, cookie ? "Set-Cookie" : NULL, cookie, NULL};
    return pw__http_send(self, c, 303, "text/plain; charset=utf-8", strdup(""), 0, hdr);
}

/* Who the request comes from: a live session's cookie, or HTTP Basic. */
static bool authenticate(pw_http_t *self, struct MHD_Connection *c, who_t *w)
{
    memset(w, 0, sizeof(*w));
    const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    if (tok && strlen(tok) == 64) {
        w->role = pw_sessions_find(self->cfg.sessions, tok, pw_mono_ms(), w->name);
        if (w->role != PW_ROLE_NONE) {
            snprintf(w->token, sizeof(w->token), "%s", tok);
            csrf_of(self, tok, w->csrf);
            return true;
        }
    }
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    if (user && pass) {
        pthread_rwlock_rdlock(&self->users_lock);
        w->role = pw_users_check(self->users, user, pass);
        pthread_rwlock_unlock(&self->users_lock);
        snprintf(w->name, sizeof(w->name), "%s", user);
        if (w->role == PW_ROLE_NONE) {
            /* As a form login: each wrong guess costs a second and is said. */
            PW_WARN("failed HTTP Basic login as \"%s\"",
                    pw_user_name_ok(user) ? user : "(not a name)");
            sleep(1);
        }
    }
    if (pass) {
        sodium_memzero(pass, strlen(pass));
        MHD_free(pass);
    }
    if (user)
        MHD_free(user);
    return w->role != PW_ROLE_NONE;
}

/*
 * A form of a session must carry its token. HTTP Basic is for scripts: a
 * browser re-sends cached Basic credentials with a hostile site's form, so
 * a Basic POST that a browser made (it says where from) is refused.
 */
static bool csrf_ok(struct MHD_Connection *c, const who_t *w, const req_t *rq)
{
    if (!w->token[0])
        return !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin") &&
               !MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    char got[CSRF_HEX + 1];
    return rq->body && pw__http_form_get(rq->body, rq->len, "csrf", got, sizeof(got)) &&
           strlen(got) == CSRF_HEX && sodium_memcmp(got, w->csrf, CSRF_HEX) == 0;
}

static bool can_follow_up(const who_t *w)
{
    return w->role == PW_ROLE_STAFF || w->role == PW_ROLE_ADMIN;
}

/* ------------------------------------------------------------------ pages */

typedef enum frag { F_OVERVIEW, F_INDICATOR, F_STATUS, F_ALERTS, F_ALERT } frag_t;

/* Writes a page's live part (false: nothing by that id/key). Live lock held. */
static bool write_live(FILE *out, pw_live_t *live, frag_t f, const char *arg, bool all,
                       const pw_page_user_t *u)
{
    switch (f) {
    case F_OVERVIEW:
        pw_page_overview(out, live);
        return true;
    case F_INDICATOR:
        return pw_page_indicator(out, live, arg);
    case F_STATUS:
        pw_page_status(out, live);
        return true;
    case F_ALERTS:
        pw_page_alerts(out, live, all, u);
        return true;
    case F_ALERT:
        return pw_page_alert(out, live, arg);
    }
    return false;
}

/*
 * The live part of the overview or the status grid at the current version
 * (live lock held): the cached one, or a new rendering kept for the next
 * browser. A copy into *out (caller frees); false when out of memory.
 */
static bool cached_live(pw_http_t *self, frag_t f, uint64_t version, char **out, size_t *len)
{
    pw_http_cached_t *c = &self->cache[f == F_OVERVIEW ? 0 : 1];
    if (!c->buf || c->version != version) {
        char *buf = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&buf, &n);
        if (!mem)
            return false;
        write_live(mem, self->cfg.live, f, NULL, false, NULL);
        if (fclose(mem) != 0) {
            free(buf);
            return false;
        }
        free(c->buf);
        c->buf = buf;
        c->len = n;
        c->version = version;
    }
    *out = malloc(c->len + 1);
    if (!*out)
        return false;
    memcpy(*out, c->buf, c->len);
    *len = c->len;
    return true;
}

static enum MHD_Result serve_page(pw_http_t *self, struct MHD_Connection *c, const who_t *w,
                                  frag_t f, const char *arg)
{
    const char *fragment = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "fragment");
    bool all = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "all") != NULL;
    static const pw_page_id_t ids[] = {PW_PAGE_OVERVIEW, PW_PAGE_INDICATOR, PW_PAGE_STATUS,
                                       PW_PAGE_ALERTS, PW_PAGE_ALERT};
    static const char *const titles[] = {"评估总览 Overview", "指标 Indicator",
                                         "报送状态 Reporting", "预警跟进 Alerts", "预警 Alert"};
    char *buf = NULL;
    size_t len = 0;
    pw_page_user_t u = {.name = w->name, .role = w->role, .csrf = w->csrf};
    char v[32];
    const char *hdr[] = {"X-Version", v, NULL};
    if (fragment && (f == F_OVERVIEW || f == F_STATUS)) {
        pw_live_lock(self->cfg.live);
        uint64_t version = pw_live_version(self->cfg.live);
        bool ok = cached_live(self, f, version, &buf, &len);
        pw_live_unlock(self->cfg.live);
        if (!ok)
            return MHD_NO;
        snprintf(v, sizeof(v), "%llu", (unsigned long long)version);
        return pw__http_send(self, c, 200, "text/html; charset=utf-8", buf, len, hdr);
    }
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    pw_live_lock(self->cfg.live);
    uint64_t version = pw_live_version(self->cfg.live);
    if (!fragment)
        pw_page_begin(out, self->cfg.live, &u, ids[f], titles[f]);
    bool found = write_live(out, self->cfg.live, f, arg, all, &u);
    if (!fragment) {
        char *forms = NULL;
        size_t flen = 0;
        FILE *fo = f == F_ALERT && found ? open_memstream(&forms, &flen) : NULL;
        if (fo) {
            pw_page_alert_forms(fo, self->cfg.live, arg, &u);
            fclose(fo);
        }
        pw_page_end(out, forms);
        free(forms);
    }
    pw_live_unlock(self->cfg.live);
    if (fclose(out) != 0) {
        free(buf);
        return MHD_NO;
    }
    if (!found) {
        free(buf);
        return pw__http_msg(self, c, 404, "未找到 Not found",
                        f == F_ALERT ? "没有这条预警 · No such alert." : "没有这个指标 · No such indicator.");
    }
    snprintf(v, sizeof(v), "%llu", (unsigned long long)version);
    return pw__http_send(self, c, 200, "text/html; charset=utf-8", buf, len, hdr);
}

struct users_arg {
    pw_http_t *self;
    const who_t *w;
};

static void write_users(FILE *out, const void *arg)
{
    const struct users_arg *a = arg;
    pw_page_user_t u = {.name = a->w->name, .role = a->w->role, .csrf = a->w->csrf};
    pw_live_lock(a->self->cfg.live);
    pw_page_begin(out, a->self->cfg.live, &u, PW_PAGE_USERS, "用户 Users");
    pw_live_unlock(a->self->cfg.live);
    size_t sessions = pw_sessions_count(a->self->cfg.sessions, pw_mono_ms());
    pthread_rwlock_rdlock(&a->self->users_lock);
    pw_page_users(out, a->self->users, (int)sessions);
    pthread_rwlock_unlock(&a->self->users_lock);
    pw_page_end(out, NULL);
}

/* ------------------------------------------------------------------ routing */

static enum MHD_Result route(pw_http_t *self, struct MHD_Connection *c, const char *url,
                             const char *method, req_t *rq)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (!get && !post)
        return pw__http_msg(self, c, 405, "不支持 Not allowed", "GET and POST only");
    if (rq->too_big)
        return pw__http_msg(self, c, 413, "太大 Too large", "a form is at most 64 KiB");
    if (strcmp(url, "/login") == 0)
        return post ? pw__http_login(self, c, rq) : pw__http_login_page(self, c, 200, NULL, "/");
    if (strcmp(url, "/favicon.ico") == 0)
        return pw__http_send(self, c, 204, "text/plain", strdup(""), 0, NULL);
    who_t w;
    if (!authenticate(self, c, &w)) {
        if (strcmp(url, "/events") == 0 || post)
            return pw__http_send(self, c, 401, "text/plain; charset=utf-8",
                             strdup("login required\n"), strlen("login required\n"), NULL);
        /* After the login, the page asked for: an alert's link keeps its key. */
        char next[512], prefix[300];
        const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
        snprintf(prefix, sizeof(prefix), "%s%s", url, key ? "?key=" : "");
        if (!pw_page_url_cat(next, sizeof(next), prefix, key ? key : ""))
            snprintf(next, sizeof(next), "/");
        return pw__http_login_page(self, c, 401, NULL, next);
    }
    if (post) {
        if (!csrf_ok(c, &w, rq))
            return pw__http_msg(self, c, 403, "拒绝 Forbidden",
                            "表单已过期, 请刷新页面 · The form is stale or not ours: reload the "
                            "page.");
        if (strcmp(url, "/logout") == 0) {
            if (w.token[0])
                pw_sessions_end(self->cfg.sessions, w.token);
            return pw__http_redirect(self, c, "/login",
                            COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
        }
        if (!can_follow_up(&w))
            return pw__http_msg(self, c, 403, "拒绝 Forbidden",
                            "领导账号只读 · A director's login reads only.");
        if (!rq->body)
            return pw__http_msg(self, c, 400, "无法执行 Refused", "empty form");
        if (strcmp(url, "/act") == 0)
            return pw__http_act(self, c, &w, rq);
        if (strcmp(url, "/silence") == 0)
            return pw__http_silence(self, c, &w, rq, false);
        if (strcmp(url, "/unsilence") == 0)
            return pw__http_silence(self, c, &w, rq, true);
        return pw__http_msg(self, c, 404, "未找到 Not found", url);
    }
    if (strcmp(url, "/") == 0)
        return serve_page(self, c, &w, F_OVERVIEW, NULL);
    if (strncmp(url, "/indicator/", 11) == 0)
        return serve_page(self, c, &w, F_INDICATOR, url + 11);
    if (strcmp(url, "/status") == 0)
        return serve_page(self, c, &w, F_STATUS, NULL);
    if (strcmp(url, "/alerts") == 0)
        return serve_page(self, c, &w, F_ALERTS, NULL);
    if (strcmp(url, "/alert") == 0) {
        const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
        return serve_page(self, c, &w, F_ALERT, key ? key : "");
    }
    if (strcmp(url, "/events") == 0)
        return pw__http_stream(self, c, &w);
    if (strcmp(url, "/users") == 0) {
        if (w.role != PW_ROLE_ADMIN)
            return pw__http_msg(self, c, 403, "拒绝 Forbidden", "admins only");
        struct users_arg a = {self, &w};
        return send_written(self, c, 200, write_users, &a, NULL);
    }
    return pw__http_msg(self, c, 404, "未找到 Not found", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_len, void **con_cls)
{
    (void)version;
    pw_http_t *self = cls;
    req_t *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_len) {
        if (!rq->too_big && rq->len + *upload_len <= BODY_MAX) {
            char *p = realloc(rq->body, rq->len + *upload_len + 1);
            if (!p)
                return MHD_NO;
            memcpy(p + rq->len, upload, *upload_len);
            rq->len += *upload_len;
            p[rq->len] = '\0';
            rq->body = p;
        } else {
            rq->too_big = true;
        }
        *upload_len = 0;
        return MHD_YES;
    }
    return route(self, c, url, method, rq);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    req_t *rq = *con_cls;
    if (rq) {
        if (rq->body) /* a login's password */
            sodium_memzero(rq->body, rq->len);
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    PW_WARN("http: %s", line);
}

int pw_http_start(const pw_http_config_t *cfg, pw_users_t *users, pw_http_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot start");
        pw_users_destroy(&users);
        return -EIO;
    }
    pw_http_t *self = calloc(1, sizeof(*self));
    if (!self) {
        pw_users_destroy(&users);
        return -ENOMEM;
    }
    self->cfg = *cfg;
    self->users = users;
    self->tls = cfg->tls_cert != NULL;
    pthread_rwlock_init(&self->users_lock, NULL);
    randombytes_buf(self->csrf_key, sizeof(self->csrf_key));

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(cfg->port);
    } else if (inet_pton(AF_INET6, cfg->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "%s is not a numeric IPv4 or IPv6 address", cfg->host);
        pw_http_stop(&self);
        return -EINVAL;
    }
    if (self->tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)cfg->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)cfg->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};
    self->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, self, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, self, MHD_OPTION_ARRAY, self->tls ? tls_opts : no_opts, MHD_OPTION_END);
    if (!self->mhd) {
        snprintf(err, errlen, "cannot serve on %s port %u (%s)", cfg->host, (unsigned)cfg->port,
                 self->tls ? "in use, or the TLS certificate or key is not valid PEM"
                           : "in use, or not an address of this machine");
        pw_http_stop(&self);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(self->mhd, MHD_DAEMON_INFO_BIND_PORT);
    self->port = di ? di->port : cfg->port;
    *out = self;
    return 0;
}

void pw_http_set_users(pw_http_t *self, pw_users_t *users)
{
    pthread_rwlock_wrlock(&self->users_lock);
    pw_users_t *old = self->users;
    /* A user removed, or whose role or password changed, must log in again. */
    for (size_t k = 0; old && k < pw_users_count(old); k++) {
        const char *name;
        pw_role_t role, now = PW_ROLE_NONE;
        pw_users_at(old, k, &name, &role);
        for (size_t j = 0; users && j < pw_users_count(users); j++) {
            const char *n2;
            pw_role_t r2;
            pw_users_at(users, j, &n2, &r2);
            if (strcmp(n2, name) == 0)
                now = r2;
        }
        const char *h1 = pw_users_hash(old, name), *h2 = pw_users_hash(users, name);
        if (now != role || !h1 || !h2 || strcmp(h1, h2) != 0)
            pw_sessions_end_user(self->cfg.sessions, name);
    }
    self->users = users;
    pthread_rwlock_unlock(&self->users_lock);
    pw_users_destroy(&old);
}

uint16_t pw_http_port(const pw_http_t *self)
{
    return self->port;
}

void pw_http_stop(pw_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_http_t *self = *self_p;
    if (self->mhd)
        MHD_stop_daemon(self->mhd);
    pw_users_destroy(&self->users);
    for (size_t k = 0; k < sizeof(self->cache) / sizeof(self->cache[0]); k++)
        free(self->cache[k].buf);
    pthread_rwlock_destroy(&self->users_lock);
    free(self);
    *self_p = NULL;
}

