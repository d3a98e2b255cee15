/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's HTTP server: routing, logins, forms and the Server-Sent
 * Events stream. Pages are written by pages.c under the live lock.
 */
#include "http.h"

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

#define BODY_MAX      (64 * 1024) /* a form is small; more is refused */
#define STREAM_EVERY  250         /* ms between two notices on one stream: 4 a second at most */
#define KEEPALIVE_MS  15000       /* a comment line keeps proxies from closing an idle stream */
#define COOKIE        "pw_session"
#define CSRF_HEX      32

struct pw_http {
    struct MHD_Daemon *mhd;
    pw_http_config_t cfg;
    pthread_mutex_t users_mu;
    pw_users_t *users;
    unsigned char csrf_key[crypto_generichash_KEYBYTES];
    uint16_t port;
    bool tls;
};

/* What one request carries between the calls libmicrohttpd makes for it. */
typedef struct req {
    char *body;
    size_t len;
    bool too_big;
} req_t;

/* Who a request comes from. */
typedef struct who {
    char name[PW_USER_MAX];
    pw_role_t role;
    char token[65];          /* "" for HTTP Basic */
    char csrf[CSRF_HEX + 1]; /* "" for HTTP Basic */
} who_t;

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
static enum MHD_Result send_body(pw_http_t *self, struct MHD_Connection *c, unsigned status,
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
    return send_body(self, c, status, "text/html; charset=utf-8", buf, len, headers);
}

struct msg_arg {
    const char *title, *msg;
};

static void write_msg(FILE *out, const void *arg)
{
    const struct msg_arg *m = arg;
    pw_page_message(out, m->title, m->msg);
}

static enum MHD_Result send_msg(pw_http_t *self, struct MHD_Connection *c, unsigned status,
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
static enum MHD_Result send_login(pw_http_t *self, struct MHD_Connection *c, unsigned status,
                                  const char *msg, const char *next)
{
    static const char *const hdr[] = {
        "WWW-Authenticate",
        "Cookie realm=\"planwatch\" form-action=\"/login\" cookie-name=\"" COOKIE "\"", NULL};
    struct login_arg l = {msg, next};
    return send_written(self, c, status, write_login, &l, status == 401 ? hdr : NULL);
}

static enum MHD_Result redirect(pw_http_t *self, struct MHD_Connection *c, const char *to,
                                const char *cookie)
{
    const char *hdr[] = {"Location", to, cookie ? "Set-Cookie" : NULL, cookie, NULL};
    return send_body(self, c, 303, "text/plain; charset=utf-8", strdup(""), 0, hdr);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * The value of field name in an application/x-www-form-urlencoded body,
 * decoded into out (NUL-terminated); false when absent or too long.
 */
static bool form_get(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t o = 0;
            for (const char *q = p + nlen + 1; q < stop; q++) {
                int ch = (unsigned char)*q;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && stop - q >= 3 && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
                    ch = hexval(q[1]) * 16 + hexval(q[2]);
                    q += 2;
                }
                if (o + 1 >= outlen)
                    return false;
                out[o++] = (char)ch;
            }
            out[o] = '\0';
            return true;
        }
        p = stop + 1;
    }
    return false;
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
        pthread_mutex_lock(&self->users_mu);
        w->role = pw_users_check(self->users, user, pass);
        pthread_mutex_unlock(&self->users_mu);
        snprintf(w->name, sizeof(w->name), "%s", user);
    }
    if (pass) {
        sodium_memzero(pass, strlen(pass));
        MHD_free(pass);
    }
    if (user)
        MHD_free(user);
    return w->role != PW_ROLE_NONE;
}

/* A form of a session must carry its token; a script with Basic needs none. */
static bool csrf_ok(const who_t *w, const req_t *rq)
{
    if (!w->token[0])
        return true;
    char got[CSRF_HEX + 1];
    return rq->body && form_get(rq->body, rq->len, "csrf", got, sizeof(got)) &&
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
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return MHD_NO;
    pw_page_user_t u = {.name = w->name, .role = w->role, .csrf = w->csrf};
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
        return send_msg(self, c, 404, "未找到 Not found",
                        f == F_ALERT ? "没有这条预警 · No such alert." : "没有这个指标 · No such indicator.");
    }
    char v[32];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)version);
    const char *hdr[] = {"X-Version", v, NULL};
    return send_body(self, c, 200, "text/html; charset=utf-8", buf, len, hdr);
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
    int streams = pw_live_watchers(a->self->cfg.live);
    pw_live_unlock(a->self->cfg.live);
    pthread_mutex_lock(&a->self->users_mu);
    pw_page_users(out, a->self->users, streams);
    pthread_mutex_unlock(&a->self->users_mu);
    pw_page_end(out, NULL);
}

/* ------------------------------------------------------------------ SSE */

typedef struct stream {
    pw_http_t *self;
    char token[65];
    uint64_t seen;
    bool started;
    int64_t last_ms;
} stream_t;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *s = cls;
    pw_live_t *live = s->self->cfg.live;
    if (!s->started) {
        s->started = true;
        pw_live_lock(live);
        s->seen = pw_live_version(live);
        pw_live_unlock(live);
        s->last_ms = pw_mono_ms();
        return snprintf(buf, max, "retry: 2000\n\nevent: v\ndata: %llu\n\n",
                        (unsigned long long)s->seen);
    }
    /* Changes closer together than STREAM_EVERY go out as one. */
    int64_t wait = s->last_ms + STREAM_EVERY - pw_mono_ms();
    if (wait > 0) {
        struct timespec ts = {0, (long)wait * 1000000L};
        nanosleep(&ts, NULL);
    }
    uint64_t now = 0;
    if (!pw_live_wait(live, s->seen, KEEPALIVE_MS, &now))
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* A logout (or a removed user) ends the stream too. */
    char name[PW_USER_MAX];
    if (s->token[0] &&
        pw_sessions_find(s->self->cfg.sessions, s->token, pw_mono_ms(), name) == PW_ROLE_NONE)
        return MHD_CONTENT_READER_END_OF_STREAM;
    s->last_ms = pw_mono_ms();
    if (now == s->seen)
        return snprintf(buf, max, ": keepalive\n\n");
    s->seen = now;
    return snprintf(buf, max, "event: v\ndata: %llu\n\n", (unsigned long long)now);
}

static void stream_free(void *cls)
{
    stream_t *s = cls;
    pw_live_watchers_add(s->self->cfg.live, -1);
    free(s);
}

static enum MHD_Result serve_stream(pw_http_t *self, struct MHD_Connection *c, const who_t *w)
{
    pw_live_lock(self->cfg.live);
    int open = pw_live_watchers(self->cfg.live);
    pw_live_unlock(self->cfg.live);
    if (self->cfg.max_streams > 0 && open >= self->cfg.max_streams)
        return send_body(self, c, 503, "text/plain; charset=utf-8",
                         strdup("too many live streams open; try again later\n"),
                         strlen("too many live streams open; try again later\n"), NULL);
    stream_t *s = calloc(1, sizeof(*s));
    if (!s)
        return MHD_NO;
    s->self = self;
    snprintf(s->token, sizeof(s->token), "%s", w->token);
    pw_live_watchers_add(self->cfg.live, 1);
    /* stream_free() runs when the response is destroyed: after the stream ends. */
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ------------------------------------------------------------------ forms */

static enum MHD_Result do_login(pw_http_t *self, struct MHD_Connection *c, const req_t *rq)
{
    char user[PW_USER_MAX] = "", pass[1025] = "", next[512] = "/";
    if (!rq->body || !form_get(rq->body, rq->len, "user", user, sizeof(user)) ||
        !form_get(rq->body, rq->len, "password", pass, sizeof(pass)))
        return send_login(self, c, 400, "请填写用户名和密码 · Give a user and a password.", "/");
    form_get(rq->body, rq->len, "next", next, sizeof(next));
    /* Only a path of this site: never a redirect elsewhere. */
    if (next[0] != '/' || next[1] == '/' || strchr(next, '\\'))
        snprintf(next, sizeof(next), "/");
    pthread_mutex_lock(&self->users_mu);
    pw_role_t role = pw_users_check(self->users, user, pass);
    pthread_mutex_unlock(&self->users_mu);
    sodium_memzero(pass, sizeof(pass));
    if (role == PW_ROLE_NONE) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char addr[INET6_ADDRSTRLEN] = "?";
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, addr,
                      sizeof(addr));
        PW_WARN("failed login as \"%s\" from %s", user, addr);
        /* Each wrong guess costs a second, on top of argon2id's own cost. */
        sleep(1);
        return send_login(self, c, 401, "用户名或密码错误 · Wrong user or password.", next);
    }
    char token[65];
    if (pw_sessions_start(self->cfg.sessions, user, role, pw_mono_ms(), token) != 0)
        return send_msg(self, c, 503, "登录失败 Login failed", "out of memory");
    PW_INFO("%s logged in (%s)", user, pw_role_name(role));
    char cookie[160];
    snprintf(cookie, sizeof(cookie), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", token,
             self->tls ? "; Secure" : "");
    return redirect(self, c, next, cookie);
}

static int64_t end_of_day_ms(const char *date)
{
    int y, m, d;
    char extra;
    if (sscanf(date, "%d-%d-%d%c", &y, &m, &d, &extra) != 3 || m < 1 || m > 12 || d < 1 ||
        d > 31 || y < 1970 || y > 9999)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + 1, .tm_isdst = -1};
    time_t t = mktime(&tm); /* the next day's midnight, server time */
    return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
}

static enum MHD_Result after_act(pw_http_t *self, struct MHD_Connection *c, int rc,
                                 const char *key)
{
    if (rc == 0) {
        char to[512], *p = to;
        p += snprintf(to, sizeof(to), "/alert?key=");
        for (const unsigned char *k = (const unsigned char *)key;
             *k && p < to + sizeof(to) - 4; k++) {
            if ((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
                strchr("-._~", *k))
                *p++ = (char)*k;
            else
                p += snprintf(p, 4, "%%%02X", *k);
        }
        *p = '\0';
        return redirect(self, c, to, NULL);
    }
    if (rc == PW_ENOTFOUND)
        return send_msg(self, c, 404, "未找到 Not found", "没有这条预警 · No such alert.");
    if (rc == -EALREADY)
        return send_msg(self, c, 409, "无法执行 Refused",
                        "预警当前状态不允许此操作 · The alert's state does not allow this "
                        "(acknowledged or closed already?).");
    if (rc == -EINVAL)
        return send_msg(self, c, 400, "无法执行 Refused",
                        "内容无效 · The text is missing, too long or not UTF-8; a silence must "
                        "end in the future.");
    char msg[256];
    snprintf(msg, sizeof(msg), "跟进记录写入失败 · The follow-up could not be written: %s",
             pw_strerror(rc));
    return send_msg(self, c, 503, "写入失败 Not saved", msg);
}

static enum MHD_Result do_act(pw_http_t *self, struct MHD_Connection *c, const who_t *w,
                              const req_t *rq)
{
    char key[PW_FU_KEY_MAX] = "", action[16] = "", text[PW_FU_TEXT_MAX] = "";
    if (!form_get(rq->body, rq->len, "key", key, sizeof(key)) ||
        !form_get(rq->body, rq->len, "action", action, sizeof(action)))
        return send_msg(self, c, 400, "无法执行 Refused", "key and action are required");
    if (!form_get(rq->body, rq->len, "text", text, sizeof(text)))
        text[0] = '\0';
    pw_fu_kind_t kind = pw_fu_kind_parse(action);
    if (kind == 0 || kind == PW_FU_ESCALATE)
        return send_msg(self, c, 400, "无法执行 Refused", "unknown action");
    pw_live_lock(self->cfg.live);
    int rc = pw_followup_act(pw_live_followup(self->cfg.live), key, kind, w->name, text,
                             pw_now_ms());
    if (rc == 0)
        pw_live_touch(self->cfg.live);
    pw_live_unlock(self->cfg.live);
    if (rc == 0)
        PW_INFO("%s: %s %s", w->name, pw_fu_kind_name(kind), key);
    return after_act(self, c, rc, key);
}

static enum MHD_Result do_silence(pw_http_t *self, struct MHD_Connection *c, const who_t *w,
                                  const req_t *rq, bool lift)
{
    char key[PW_FU_KEY_MAX] = "", what[PW_ID_MAX + 16] = "", until[32] = "";
    pw_fu_silence_t s;
    memset(&s, 0, sizeof(s));
    if (!form_get(rq->body, rq->len, "what", what, sizeof(what)) ||
        (!lift && !form_get(rq->body, rq->len, "until", until, sizeof(until))))
        return send_msg(self, c, 400, "无法执行 Refused", "what and until are required");
    form_get(rq->body, rq->len, "key", key, sizeof(key));
    if (!form_get(rq->body, rq->len, "note", s.note, sizeof(s.note)))
        s.note[0] = '\0';
    const char *colon = strchr(what, ':');
    if (!colon || !colon[1] || strlen(colon + 1) >= sizeof(s.id))
        return send_msg(self, c, 400, "无法执行 Refused", "what is indicator:ID or district:ID");
    s.district = strncmp(what, "district:", 9) == 0;
    if (!s.district && strncmp(what, "indicator:", 10) != 0)
        return send_msg(self, c, 400, "无法执行 Refused", "what is indicator:ID or district:ID");
    snprintf(s.id, sizeof(s.id), "%s", colon + 1);
    int64_t now = pw_now_ms();
    int rc;
    pw_live_lock(self->cfg.live);
    if (lift) {
        rc = pw_followup_unsilence(pw_live_followup(self->cfg.live), s.district, s.id, w->name,
                                   now);
    } else {
        s.until_ms = end_of_day_ms(until);
        s.set_ms = now;
        snprintf(s.who, sizeof(s.who), "%s", w->name);
        rc = s.until_ms < 0 ? -EINVAL
                            : pw_followup_silence(pw_live_followup(self->cfg.live), &s, now);
    }
    if (rc == 0)
        pw_live_touch(self->cfg.live);
    pw_live_unlock(self->cfg.live);
    if (rc == 0)
        PW_INFO("%s: %s %s %s", w->name, lift ? "lifted the silence of" : "silenced", what,
                lift ? "" : until);
    if (rc == 0 && !key[0])
        return redirect(self, c, "/alerts", NULL);
    return after_act(self, c, rc, key);
}

/* ------------------------------------------------------------------ routing */

static enum MHD_Result route(pw_http_t *self, struct MHD_Connection *c, const char *url,
                             const char *method, req_t *rq)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (!get && !post)
        return send_msg(self, c, 405, "不支持 Not allowed", "GET and POST only");
    if (rq->too_big)
        return send_msg(self, c, 413, "太大 Too large", "a form is at most 64 KiB");
    if (strcmp(url, "/login") == 0)
        return post ? do_login(self, c, rq) : send_login(self, c, 200, NULL, "/");
    if (strcmp(url, "/favicon.ico") == 0)
        return send_body(self, c, 204, "text/plain", strdup(""), 0, NULL);
    who_t w;
    if (!authenticate(self, c, &w)) {
        if (strcmp(url, "/events") == 0 || post)
            return send_body(self, c, 401, "text/plain; charset=utf-8",
                             strdup("login required\n"), strlen("login required\n"), NULL);
        return send_login(self, c, 401, NULL, url);
    }
    if (post) {
        if (!csrf_ok(&w, rq))
            return send_msg(self, c, 403, "拒绝 Forbidden",
                            "表单已过期, 请刷新页面 · The form is stale or not ours: reload the "
                            "page.");
        if (strcmp(url, "/logout") == 0) {
            if (w.token[0])
                pw_sessions_end(self->cfg.sessions, w.token);
            return redirect(self, c, "/login",
                            COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
        }
        if (!can_follow_up(&w))
            return send_msg(self, c, 403, "拒绝 Forbidden",
                            "领导账号只读 · A director's login reads only.");
        if (!rq->body)
            return send_msg(self, c, 400, "无法执行 Refused", "empty form");
        if (strcmp(url, "/act") == 0)
            return do_act(self, c, &w, rq);
        if (strcmp(url, "/silence") == 0)
            return do_silence(self, c, &w, rq, false);
        if (strcmp(url, "/unsilence") == 0)
            return do_silence(self, c, &w, rq, true);
        return send_msg(self, c, 404, "未找到 Not found", url);
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
        return serve_stream(self, c, &w);
    if (strcmp(url, "/users") == 0) {
        if (w.role != PW_ROLE_ADMIN)
            return send_msg(self, c, 403, "拒绝 Forbidden", "admins only");
        struct users_arg a = {self, &w};
        return send_written(self, c, 200, write_users, &a, NULL);
    }
    return send_msg(self, c, 404, "未找到 Not found", url);
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
    pthread_mutex_init(&self->users_mu, NULL);
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
    pthread_mutex_lock(&self->users_mu);
    pw_users_t *old = self->users;
    /* A user removed, or whose role changed, must log in again. */
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
        if (now != role)
            pw_sessions_end_user(self->cfg.sessions, name);
    }
    self->users = users;
    pthread_mutex_unlock(&self->users_mu);
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
    pthread_mutex_destroy(&self->users_mu);
    free(self);
    *self_p = NULL;
}
