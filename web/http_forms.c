/* SPDX-License-Identifier: MIT */
/* The dashboard's forms: login, follow-up actions, silences (POST bodies, urlencoded). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"
#include "pages.h"
#include "pw/error.h"
#include "pw/log.h"
#include "pw/util.h"

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
bool pw__http_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen)
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

enum MHD_Result pw__http_login(pw_http_t *self, struct MHD_Connection *c, const req_t *rq)
{
    char user[PW_USER_MAX] = "", pass[1025] = "", next[512] = "/";
    if (!rq->body || !pw__http_form_get(rq->body, rq->len, "user", user, sizeof(user)) ||
        !pw__http_form_get(rq->body, rq->len, "password", pass, sizeof(pass)))
        return pw__http_login_page(self, c, 400, "请填写用户名和密码 · Give a user and a password.", "/");
    pw__http_form_get(rq->body, rq->len, "next", next, sizeof(next));
    /* Only a path of this site: never a redirect elsewhere. Browsers drop tabs
     * and newlines from a URL ("/\t/evil" is "//evil"), so only the bytes of
     * our own paths and queries pass. */
    bool ok = next[0] == '/' && next[1] != '/';
    for (const char *p = next; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             strchr("/_.~?=&%-", *p) != NULL;
    if (!ok)
        snprintf(next, sizeof(next), "/");
    pthread_rwlock_rdlock(&self->users_lock);
    pw_role_t role = pw_users_check(self->users, user, pass);
    pthread_rwlock_unlock(&self->users_lock);
    sodium_memzero(pass, sizeof(pass));
    if (role == PW_ROLE_NONE) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char addr[INET6_ADDRSTRLEN] = "?";
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, addr,
                      sizeof(addr));
        /* The name as typed could forge log lines: only a valid one is quoted. */
        PW_WARN("failed login as \"%s\" from %s", pw_user_name_ok(user) ? user : "(not a name)",
                addr);
        /* Each wrong guess costs a second, on top of argon2id's own cost. */
        sleep(1);
        return pw__http_login_page(self, c, 401, "用户名或密码错误 · Wrong user or password.", next);
    }
    char token[65];
    if (pw_sessions_start(self->cfg.sessions, user, role, pw_mono_ms(), token) != 0)
        return pw__http_msg(self, c, 503, "登录失败 Login failed", "out of memory");
    PW_INFO("%s logged in (%s)", user, pw_role_name(role));
    char cookie[160];
    snprintf(cookie, sizeof(cookie), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", token,
             self->tls ? "; Secure" : "");
    return pw__http_redirect(self, c, next, cookie);
}

/* A form's date (YYYY-MM-DD) to the end of that day, UTC as the pages show times; -1 if bad. */
static int64_t end_of_day_ms(const char *date)
{
    int64_t ms;
    if (strlen(date) != 10 || pw_parse_time(date, &ms) != 0)
        return -1;
    return ms + 86400000;
}

static enum MHD_Result after_act(pw_http_t *self, struct MHD_Connection *c, int rc,
                                 const char *key)
{
    if (rc == 0) {
        char to[512];
        return pw__http_redirect(self, c,
                                 pw_page_url_cat(to, sizeof(to), "/alert?key=", key) ? to
                                                                                     : "/alerts",
                                 NULL);
    }
    if (rc == PW_ENOTFOUND)
        return pw__http_msg(self, c, 404, "未找到 Not found", "没有这条预警 · No such alert.");
    if (rc == -EALREADY)
        return pw__http_msg(self, c, 409, "无法执行 Refused",
                        "预警当前状态不允许此操作 · The alert's state does not allow this "
                        "(acknowledged or closed already?).");
    if (rc == -EINVAL)
        return pw__http_msg(self, c, 400, "无法执行 Refused",
                        "内容无效 · The text is missing, too long or not UTF-8; a silence must "
                        "end in the future.");
    char msg[256];
    snprintf(msg, sizeof(msg), "跟进记录写入失败 · The follow-up could not be written: %s",
             pw_strerror(rc));
    return pw__http_msg(self, c, 503, "写入失败 Not saved", msg);
}

enum MHD_Result pw__http_act(pw_http_t *self, struct MHD_Connection *c, const who_t *w,
                              const req_t *rq)
{
    char key[PW_FU_KEY_MAX] = "", action[16] = "", text[PW_FU_TEXT_MAX] = "";
    if (!pw__http_form_get(rq->body, rq->len, "key", key, sizeof(key)) ||
        !pw__http_form_get(rq->body, rq->len, "action", action, sizeof(action)))
        return pw__http_msg(self, c, 400, "无法执行 Refused", "key and action are required");
    if (!pw__http_form_get(rq->body, rq->len, "text", text, sizeof(text)))
        text[0] = '\0';
    pw_fu_kind_t kind = pw_fu_kind_parse(action);
    if (kind == 0 || kind == PW_FU_ESCALATE)
        return pw__http_msg(self, c, 400, "无法执行 Refused", "unknown action");
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

enum MHD_Result pw__http_silence(pw_http_t *self, struct MHD_Connection *c, const who_t *w,
                                  const req_t *rq, bool lift)
{
    char key[PW_FU_KEY_MAX] = "", what[PW_ID_MAX + 16] = "", until[32] = "";
    pw_fu_silence_t s;
    memset(&s, 0, sizeof(s));
    if (!pw__http_form_get(rq->body, rq->len, "what", what, sizeof(what)) ||
        (!lift && !pw__http_form_get(rq->body, rq->len, "until", until, sizeof(until))))
        return pw__http_msg(self, c, 400, "无法执行 Refused", "what and until are required");
    pw__http_form_get(rq->body, rq->len, "key", key, sizeof(key));
    if (!pw__http_form_get(rq->body, rq->len, "note", s.note, sizeof(s.note)))
        s.note[0] = '\0';
    const char *colon = strchr(what, ':');
    if (!colon || !colon[1] || strlen(colon + 1) >= sizeof(s.id))
        return pw__http_msg(self, c, 400, "无法执行 Refused", "what is indicator:ID or district:ID");
    s.district = strncmp(what, "district:", 9) == 0;
    if (!s.district && strncmp(what, "indicator:", 10) != 0)
        return pw__http_msg(self, c, 400, "无法执行 Refused", "what is indicator:ID or district:ID");
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
        return pw__http_redirect(self, c, "/alerts", NULL);
    return after_act(self, c, rc, key);
}

