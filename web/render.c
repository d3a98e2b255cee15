/* SPDX-License-Identifier: MIT */
/*
 * What the notifier says: one text per receiver and decision, Chinese first
 * and English second, as WeCom markdown, a JSON document, or a whole mail.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_internal.h"
#include "pw/period.h"
#include "pw/rate.h"

#define WECOM_MAX 4000 /**< bytes of markdown content; WeCom's limit is 4096 */

void pw__sbuf_add(pw__sbuf_t *self, const char *s, size_t n)
{
    if (self->rc < 0)
        return;
    if (self->len + n + 1 > self->cap) {
        size_t cap = self->cap ? self->cap : 256;
        while (cap < self->len + n + 1)
            cap *= 2;
        char *p = realloc(self->p, cap);
        if (p == NULL) {
            self->rc = -ENOMEM;
            return;
        }
        self->p = p;
        self->cap = cap;
    }
    memcpy(self->p + self->len, s, n);
    self->len += n;
    self->p[self->len] = '\0';
}

void pw__sbuf_printf(pw__sbuf_t *self, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        self->rc = self->rc < 0 ? self->rc : -EINVAL;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        pw__sbuf_add(self, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        self->rc = -ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    pw__sbuf_add(self, big, (size_t)n);
    free(big);
}

void pw__sbuf_json_str(pw__sbuf_t *self, const char *s)
{
    pw__sbuf_add(self, "\"", 1);
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        pw__sbuf_add(self, run, (size_t)(p - run));
        run = p + 1;
        switch (c) {
        case '"':
            pw__sbuf_add(self, "\\\"", 2);
            break;
        case '\\':
            pw__sbuf_add(self, "\\\\", 2);
            break;
        case '\n':
            pw__sbuf_add(self, "\\n", 2);
            break;
        case '\r':
            pw__sbuf_add(self, "\\r", 2);
            break;
        case '\t':
            pw__sbuf_add(self, "\\t", 2);
            break;
        default:
            pw__sbuf_printf(self, "\\u%04x", c);
        }
    }
    pw__sbuf_add(self, run, strlen(run));
    pw__sbuf_add(self, "\"", 1);
}

void pw__sbuf_free(pw__sbuf_t *self)
{
    free(self->p);
    memset(self, 0, sizeof(*self));
}

static void add_str(pw__sbuf_t *b, const char *s)
{
    pw__sbuf_add(b, s, strlen(s));
}

/* "35.20": hundredths as a decimal, exact (no double rounding). */
static void add_rate(pw__sbuf_t *b, int64_t centi)
{
    uint64_t a = centi < 0 ? (uint64_t)0 - (uint64_t)centi : (uint64_t)centi;
    pw__sbuf_printf(b, "%s%" PRIu64 ".%02" PRIu64, centi < 0 ? "-" : "", a / 100, a % 100);
}

static void add_period_zh(pw__sbuf_t *b, pw_period_t p)
{
    int year = p.end / 12, month = p.end % 12 + 1;
    if (p.months == 6)
        pw__sbuf_printf(b, "%d年%s", year, month <= 6 ? "上半年" : "下半年");
    else if (p.months == 3)
        pw__sbuf_printf(b, "%d年第%d季度", year, (month + 2) / 3);
    else if (p.months == 1)
        pw__sbuf_printf(b, "%d年%d月", year, month);
    else
        pw__sbuf_printf(b, "%d年", year);
}

static uint32_t max_hours(const pw_notice_item_t *const *items, size_t n)
{
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i]->escalation && items[i]->unacked_hours > h)
            h = items[i]->unacked_hours;
    return h;
}

/* The headline: "2018年上半年 新增严重滞后预警 2 项 / 2 new severe alerts". */
static void add_headline(pw__sbuf_t *b, const pw_notice_item_t *const *items, size_t n)
{
    size_t cnt[4] = {0, 0, 0, 0}; /* open, resolve, update, escalate */
    pw_band_t open_band = PW_BAND_NONE;
    bool mixed = false;
    for (size_t i = 0; i < n; i++) {
        unsigned ev = pw__item_event(items[i]);
        size_t k = ev == PW__EV_OPEN ? 0 : ev == PW__EV_RESOLVE ? 1 : ev == PW__EV_UPDATE ? 2 : 3;
        cnt[k]++;
        if (k == 0) {
            mixed |= cnt[0] > 1 && items[i]->ev.band != open_band;
            open_band = items[i]->ev.band;
        }
    }
    add_str(b, "【planwatch】");
    add_period_zh(b, items[0]->ev.period);
    const char *band_zh = "", *band_en = "";
    if (!mixed && (open_band == PW_BAND_SEVERE || open_band == PW_BAND_LAGGING)) {
        band_zh = pw_band_name_zh(open_band);
        band_en = open_band == PW_BAND_SEVERE ? " severe" : " lagging";
    }
    uint32_t h = max_hours(items, n);
    char esc_zh[64], esc_en[64];
    if (h > 0) {
        snprintf(esc_zh, sizeof(esc_zh), "超过%" PRIu32 "小时未确认预警", h);
        snprintf(esc_en, sizeof(esc_en), "unacknowledged for over %" PRIu32 " h", h);
    } else {
        snprintf(esc_zh, sizeof(esc_zh), "长时间未确认预警");
        snprintf(esc_en, sizeof(esc_en), "unacknowledged");
    }
    const char *sep = " ";
    if (cnt[0]) {
        pw__sbuf_printf(b, "%s新增%s预警 %zu 项", sep, band_zh, cnt[0]);
        sep = "，";
    }
    if (cnt[1]) {
        pw__sbuf_printf(b, "%s解除预警 %zu 项", sep, cnt[1]);
        sep = "，";
    }
    if (cnt[2]) {
        pw__sbuf_printf(b, "%s更新预警 %zu 项", sep, cnt[2]);
        sep = "，";
    }
    if (cnt[3])
        pw__sbuf_printf(b, "%s%s %zu 项", sep, esc_zh, cnt[3]);
    sep = " / ";
    if (cnt[0]) {
        pw__sbuf_printf(b, "%s%zu new%s alert%s", sep, cnt[0], band_en, cnt[0] > 1 ? "s" : "");
        sep = ", ";
    }
    if (cnt[1]) {
        pw__sbuf_printf(b, "%s%zu resolved", sep, cnt[1]);
        sep = ", ";
    }
    if (cnt[2]) {
        pw__sbuf_printf(b, "%s%zu updated", sep, cnt[2]);
        sep = ", ";
    }
    if (cnt[3])
        pw__sbuf_printf(b, "%s%zu %s", sep, cnt[3], esc_en);
}

/* One line an alert: what, its figure, its band, the districts weighing most. */
static void add_item_line(pw__sbuf_t *b, const pw_notice_item_t *it)
{
    static const char *const zh[] = {"", "新增", "解除", "更新"};
    static const char *const en[] = {"", "new", "resolved", "updated"};
    unsigned a = (unsigned)it->ev.action < 4 ? (unsigned)it->ev.action : 0;
    add_str(b, "- ");
    if (it->escalation) {
        if (it->unacked_hours > 0)
            pw__sbuf_printf(b, "超过%" PRIu32 "小时未确认 / unacknowledged over %" PRIu32 " h",
                            it->unacked_hours, it->unacked_hours);
        else
            add_str(b, "未确认 / unacknowledged");
    } else {
        pw__sbuf_printf(b, "%s / %s", zh[a], en[a]);
    }
    add_str(b, "：");
    add_str(b, it->name_zh[0] ? it->name_zh : it->ev.indicator);
    if (it->name_zh[0])
        pw__sbuf_printf(b, " (%s)", it->ev.indicator);
    if (it->ev.series[0])
        pw__sbuf_printf(b, " [%s]", it->ev.series);
    if (it->ev.has_rate) {
        add_str(b, " 完成率 / rate ");
        add_rate(b, it->ev.centi);
        add_str(b, "%");
    }
    if (it->ev.band != PW_BAND_NONE)
        pw__sbuf_printf(b, " %s / %s", pw_band_name_zh(it->ev.band), pw_band_name(it->ev.band));
    uint32_t nt = it->ev.ntop < PW_TOP_MAX ? it->ev.ntop : PW_TOP_MAX;
    for (uint32_t i = 0; i < nt; i++)
        pw__sbuf_printf(b, "%s%s", i ? ", " : "；主要地区 / districts: ", it->ev.top[i].district);
    add_str(b, "\n");
}

static void add_text_body(pw__sbuf_t *b, const pw_notice_t *notice,
                          const pw_notice_item_t *const *items, size_t n, const char *dashboard)
{
    for (size_t i = 0; i < n; i++)
        add_item_line(b, items[i]);
    if (dashboard && dashboard[0])
        pw__sbuf_printf(b, "看板 / dashboard: %s\n", dashboard);
    pw__sbuf_printf(b, "决定 / decision: %s\n", notice->id);
}

static void b64(pw__sbuf_t *out, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        pw__sbuf_add(out, q, 4);
    }
}

void pw__render_rfc2047(pw__sbuf_t *out, const char *text)
{
    /* 39 bytes make 52 base64 characters: an encoded word that, after
     * "Subject: ", still fits a 78-column line. Cut between UTF-8 characters
     * only, since each word must decode on its own (RFC 2047 5). */
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), at = 0;
    while (at < n) {
        size_t take = n - at < 39 ? n - at : 39;
        while (take < n - at && take > 0 && (s[at + take] & 0xc0) == 0x80)
            take--;
        if (at > 0)
            add_str(out, "\n ");
        add_str(out, "=?UTF-8?B?");
        b64(out, s + at, take);
        add_str(out, "?=");
        at += take;
    }
}

static void render_json(pw__sbuf_t *b, const pw_notice_t *notice,
                        const pw_notice_item_t *const *items, size_t n, const char *dashboard)
{
    static const char *const actions[] = {"", "open", "resolve", "update"};
    add_str(b, "{\"decision\":");
    pw__sbuf_json_str(b, notice->id);
    pw__sbuf_printf(b, ",\"time_ms\":%" PRId64 ",\"dashboard\":", notice->time_ms);
    if (dashboard && dashboard[0])
        pw__sbuf_json_str(b, dashboard);
    else
        add_str(b, "null");
    add_str(b, ",\"alerts\":[");
    for (size_t i = 0; i < n; i++) {
        const pw_notice_item_t *it = items[i];
        char period[PW_PERIOD_STRMAX];
        pw_period_format(it->ev.period, period);
        unsigned a = (unsigned)it->ev.action < 4 ? (unsigned)it->ev.action : 0;
        add_str(b, i ? ",{\"key\":" : "{\"key\":");
        pw__sbuf_json_str(b, it->key);
        add_str(b, ",\"indicator\":");
        pw__sbuf_json_str(b, it->ev.indicator);
        add_str(b, ",\"series\":");
        pw__sbuf_json_str(b, it->ev.series);
        add_str(b, ",\"category\":");
        pw__sbuf_json_str(b, it->category);
        add_str(b, ",\"name\":");
        pw__sbuf_json_str(b, it->name_zh[0] ? it->name_zh : it->ev.indicator);
        add_str(b, ",\"action\":");
        pw__sbuf_json_str(b, actions[a]);
        add_str(b, ",\"period\":");
        pw__sbuf_json_str(b, period);
        add_str(b, ",\"rate\":");
        if (it->ev.has_rate)
            add_rate(b, it->ev.centi);
        else
            add_str(b, "null");
        add_str(b, ",\"band\":");
        pw__sbuf_json_str(b, pw_band_name(it->ev.band));
        pw__sbuf_printf(b, ",\"escalation\":%s", it->escalation ? "true" : "false");
        if (it->escalation)
            pw__sbuf_printf(b, ",\"unacked_hours\":%" PRIu32, it->unacked_hours);
        add_str(b, ",\"districts\":[");
        uint32_t nt = it->ev.ntop < PW_TOP_MAX ? it->ev.ntop : PW_TOP_MAX;
        for (uint32_t k = 0; k < nt; k++) {
            if (k)
                add_str(b, ",");
            pw__sbuf_json_str(b, it->ev.top[k].district);
        }
        add_str(b, "]}");
    }
    add_str(b, "]}");
}

/*
 * A WeCom robot refuses markdown over 4096 bytes (errcode 40058), which would
 * be retried for ever: a long decision is cut at a line, pointing to the
 * dashboard for the rest.
 */
static void cut_wecom(pw__sbuf_t *text, const char *dashboard)
{
    if (text->rc < 0 || text->len <= WECOM_MAX)
        return;
    size_t at = WECOM_MAX - 512;
    while (at > 0 && text->p[at - 1] != '\n')
        at--;
    text->len = at;
    text->p[at] = '\0';
    add_str(text, "……（其余见看板 / more on the dashboard）\n");
    if (dashboard && dashboard[0])
        pw__sbuf_printf(text, "看板 / dashboard: %s\n", dashboard);
}

int pw__render(const pw__routes_t *routes, const pw__receiver_t *rcv, const pw_notice_t *notice,
               const pw_notice_item_t *const *items, size_t n, const char *dashboard_url,
               pw__sbuf_t *body_out, pw__sbuf_t *ctype_out)
{
    pw__sbuf_t text = {0};
    if (rcv->type == PW__RCV_JSON) {
        render_json(body_out, notice, items, n, dashboard_url);
        add_str(ctype_out, "application/json");
    } else if (rcv->type == PW__RCV_WECOM) {
        add_headline(&text, items, n);
        add_str(&text, "\n");
        add_text_body(&text, notice, items, n, dashboard_url);
        cut_wecom(&text, dashboard_url);
        add_str(body_out, "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":");
        pw__sbuf_json_str(body_out, text.p ? text.p : "");
        add_str(body_out, "}}");
        add_str(ctype_out, "application/json");
    } else {
        add_headline(&text, items, n);
        pw__sbuf_printf(body_out, "From: %s\nTo: %s\nSubject: ", routes->from, rcv->target);
        pw__render_rfc2047(body_out, text.p ? text.p : "");
        add_str(body_out, "\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
                          "Content-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\n\n");
        pw__sbuf_add(body_out, text.p ? text.p : "", text.len);
        add_str(body_out, "\n\n");
        add_text_body(body_out, notice, items, n, dashboard_url);
        add_str(ctype_out, "message/rfc822");
    }
    int rc = text.rc < 0 ? text.rc : body_out->rc < 0 ? body_out->rc : ctype_out->rc;
    pw__sbuf_free(&text);
    return rc;
}
