/* SPDX-License-Identifier: MIT */
/*
 * The pages of alerts: the alert log and its silences, one alert with its
 * follow-up log and forms, and the alert tables the overview and the
 * indicator pages show.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pages.h"
#include "pages_internal.h"
#include "pw/error.h"
#include "pw/util.h"

static const char *state_zh(pw_fu_state_t s)
{
    switch (s) {
    case PW_FU_NEW:
        return "待确认";
    case PW_FU_ACKED:
        return "已确认";
    case PW_FU_CLOSED:
        return "已关闭";
    }
    return "?";
}

static const char *kind_zh(pw_fu_kind_t k)
{
    switch (k) {
    case PW_FU_ACK:
        return "确认";
    case PW_FU_ASSIGN:
        return "指派";
    case PW_FU_COMMENT:
        return "情况说明";
    case PW_FU_CLOSE:
        return "关闭";
    case PW_FU_REOPEN:
        return "重新打开";
    case PW_FU_ESCALATE:
        return "升级";
    }
    return "?";
}

struct alert_list {
    FILE *out;
    const pw_catalog_t *cat;
    const char *indicator; /* only this one; NULL = all */
    bool open_only;
    size_t n;
    pw_followup_t *fu;
};

static void alert_row(FILE *out, const pw_catalog_t *cat, pw_followup_t *fu,
                      const pw_fu_alert_t *a)
{
    const pw_indicator_t *ind = pw__page_ind(cat, a->indicator);
    char pt[PW_PERIOD_STRMAX], opened[32], rate[32];
    pw_period_format(a->period, pt);
    pw__page_time(opened, a->opened_ms);
    if (a->has_rate)
        snprintf(rate, sizeof(rate), "%.2f", (double)a->centi / 100.0);
    else
        snprintf(rate, sizeof(rate), "-");
    fprintf(out, "<tr class='%s' data-alert-key='", a->has_rate ? pw_band_name(a->band) : "none");
    pw_page_esc(out, a->key);
    fprintf(out, "'><td><span class='state %s'>%s<small>%s</small></span>",
            pw_fu_state_name(a->state), state_zh(a->state), pw_fu_state_name(a->state));
    if (a->escalated_ms)
        fputs("<span class='tag esc'>已升级 escalated</span>", out);
    if (a->resolved_ms)
        fputs("<span class='tag'>已解除 resolved</span>", out);
    if (pw_followup_silenced(fu, a->indicator, NULL, 0, pw_now_ms()))
        fputs("<span class='tag'>静默 silenced</span>", out);
    fputs("</td><td><a href='/alert?key=", out);
    pw_page_url_esc(out, a->key);
    fputs("'>", out);
    pw_page_esc(out, ind ? ind->name_zh : a->indicator);
    if (a->series[0]) {
        fputs(" · ", out);
        pw_page_esc(out, a->series);
    }
    fputs("</a><small>", out);
    pw_page_esc(out, ind ? ind->name_en : a->key);
    fprintf(out, "</small></td><td>%s</td><td class='num'>%s</td><td>%s<small>%s</small></td>"
                 "<td>%s</td><td>",
            pt, rate, a->has_rate ? pw_band_name_zh(a->band) : "—",
            a->has_rate ? pw_band_name(a->band) : "", opened);
    pw_page_esc(out, a->assignee[0] ? a->assignee : "—");
    fputs("</td></tr>", out);
}

static int list_one(void *ctx, const pw_fu_alert_t *a)
{
    struct alert_list *l = ctx;
    if (l->indicator && strcmp(a->indicator, l->indicator) != 0)
        return 0;
    if (l->open_only && (a->resolved_ms || a->state == PW_FU_CLOSED))
        return 0;
    if (l->n++ == 0)
        fputs("<div class='wrap'><table class='grid alerts'><thead><tr>"
              "<th>跟进<small>Follow-up</small></th><th>指标<small>Indicator</small></th>"
              "<th>期<small>Period</small></th><th>进展率<small>Rate %</small></th>"
              "<th>评价<small>Band</small></th><th>发现于<small>Seen (UTC)</small></th>"
              "<th>责任单位<small>Assigned to</small></th></tr></thead><tbody>",
              l->out);
    alert_row(l->out, l->cat, l->fu, a);
    return 0;
}

void pw__page_alert_table(FILE *out, pw_live_t *live, const char *indicator, bool open_only)
{
    struct alert_list l = {.out = out, .cat = pw_live_catalog(live), .indicator = indicator,
                           .open_only = open_only, .fu = pw_live_followup(live)};
    int rc = pw_followup_each(l.fu, list_one, &l);
    if (l.n)
        fputs("</tbody></table></div>", out);
    else if (rc == 0)
        fprintf(out, "<p class='meta'>%s</p>",
                open_only ? "当前无预警 · No open alert." : "暂无预警记录 · No alert recorded.");
    if (rc != 0)
        fprintf(out, "<p class='err'>跟进记录读取失败 · The follow-up could not be read: %s</p>",
                pw_strerror(rc));
}

struct silence_list {
    FILE *out;
    const pw_catalog_t *cat;
    const pw_page_user_t *u;
    size_t n;
};

static int silence_one(void *ctx, const pw_fu_silence_t *s)
{
    struct silence_list *l = ctx;
    char until[32], set[32];
    pw__page_time(until, s->until_ms);
    pw__page_time(set, s->set_ms);
    if (l->n++ == 0)
        fputs("<div class='wrap'><table class='grid silences'><thead><tr><th>对象<small>What"
              "</small></th><th>截止<small>Until (UTC)</small></th><th>设置人<small>By</small>"
              "</th><th>说明<small>Note</small></th><th></th></tr></thead><tbody>",
              l->out);
    fprintf(l->out, "<tr data-silence='%s:", s->district ? "district" : "indicator");
    pw_page_esc(l->out, s->id);
    fprintf(l->out, "'><td>%s ", s->district ? "区 district" : "指标 indicator");
    pw_page_esc(l->out, s->district ? pw__page_district_zh(l->cat, s->id) : s->id);
    fprintf(l->out, "</td><td>%s</td><td>", until);
    pw_page_esc(l->out, s->who);
    fprintf(l->out, "<small>%s</small></td><td>", set);
    pw_page_esc(l->out, s->note);
    fputs("</td><td>", l->out);
    if (l->u->role == PW_ROLE_STAFF || l->u->role == PW_ROLE_ADMIN) {
        fprintf(l->out,
                "<form method='post' action='/unsilence'><input type='hidden' name='csrf' "
                "value='%s'><input type='hidden' name='what' value='%s:",
                l->u->csrf ? l->u->csrf : "", s->district ? "district" : "indicator");
        pw_page_esc(l->out, s->id);
        fputs("'><button data-do='unsilence'>解除 Lift</button></form>", l->out);
    }
    fputs("</td></tr>", l->out);
    return 0;
}

void pw_page_alerts(FILE *out, pw_live_t *live, bool all, const pw_page_user_t *u)
{
    pw__page_connection(out, live);
    fprintf(out,
            "<h1>预警跟进<span class='en'>Alert log and follow-up</span></h1>"
            "<p class='meta'>%s <a href='/alerts%s'>%s</a>",
            all ? "全部预警 · every alert recorded." : "未关闭的预警 · alerts not closed.",
            all ? "" : "?all=1", all ? "只看未关闭 · open only" : "查看全部 · show all");
    int64_t esc = pw_live_escalate_ms(live);
    if (esc > 0)
        fprintf(out, " · 未确认超过 %.4g 小时即升级 (unacknowledged for %.4g h escalates)",
                (double)esc / 3600000.0, (double)esc / 3600000.0);
    fputs("</p>", out);
    pw__page_alert_table(out, live, NULL, !all);
    fputs("<h2>静默<span class='en'>Silenced: no notification, no escalation</span></h2>", out);
    struct silence_list l = {.out = out, .cat = pw_live_catalog(live), .u = u};
    pw_followup_silences(pw_live_followup(live), pw_now_ms(), silence_one, &l);
    if (l.n)
        fputs("</tbody></table></div>", out);
    else
        fputs("<p class='meta'>无 · None.</p>", out);
}

/* What the pipeline's alert says: the plan to date, the target, the
 * districts weighing most on the shortfall. */
static void alert_detail(FILE *out, const pw_catalog_t *cat, const pw_indicator_t *ind,
                         const pw_event_t *ev)
{
    int dec = ind ? ind->decimals : 2;
    char v[32], pl[32], tg[32], np[32], pt[PW_PERIOD_STRMAX];
    pw_period_format(ev->period, pt);
    pw_view_fmt_num(v, sizeof(v), ev->value, dec);
    pw_view_fmt_num(pl, sizeof(pl), ev->planned, dec);
    pw_view_fmt_num(tg, sizeof(tg), ev->target, dec);
    pw_view_fmt_num(np, sizeof(np), ev->needed_per_year, dec);
    fprintf(out,
            "<p class='detail'>%s 实际 %s, 规划应达 %s; %d年目标 %s, 此后每年需增 %s。"
            "<small>At %s: %s against %s planned; target %s by %d needs %s a year from "
            "here.</small></p>",
            pt, v, pl, cat ? cat->target_year : 0, tg, np, pt, v, pl, tg,
            cat ? cat->target_year : 0, np);
    if (ev->ntop == 0)
        return;
    fputs("<div class='wrap'><table class='grid top'><thead><tr><th>拖后腿最多的区<small>"
          "Weighing most on the shortfall</small></th><th>本区数值<small>Its value</small></th>"
          "<th>权重<small>Weight</small></th></tr></thead><tbody>",
          out);
    for (uint32_t k = 0; k < ev->ntop && k < PW_TOP_MAX; k++) {
        pw_view_fmt_num(v, sizeof(v), ev->top[k].value, dec);
        fputs("<tr data-district='", out);
        pw_page_esc(out, ev->top[k].district);
        fputs("'><td>", out);
        pw_page_esc(out, pw__page_district_zh(cat, ev->top[k].district));
        fputs("<small>", out);
        pw_page_esc(out, ev->top[k].district);
        fprintf(out, "</small></td><td class='num'>%s</td><td class='num'>%.1f%%</td></tr>", v,
                ev->top[k].weight * 100.0);
    }
    fputs("</tbody></table></div>", out);
}

bool pw_page_alert(FILE *out, pw_live_t *live, const char *key)
{
    pw_fu_alert_t a;
    pw_fu_action_t *acts = NULL;
    if (pw_followup_get(pw_live_followup(live), key, &a, &acts) != 0)
        return false;
    const pw_catalog_t *cat = pw_live_catalog(live);
    const pw_indicator_t *ind = pw__page_ind(cat, a.indicator);
    pw__page_connection(out, live);
    fputs("<h1>", out);
    pw_page_esc(out, ind ? ind->name_zh : a.indicator);
    if (a.series[0]) {
        fputs(" · ", out);
        pw_page_esc(out, a.series);
    }
    fputs("<span class='en'>", out);
    pw_page_esc(out, ind ? ind->name_en : "");
    fputs(" — alert ", out);
    pw_page_esc(out, a.key);
    fputs("</span></h1>", out);
    fputs("<div class='wrap'><table class='grid alerts'><tbody>", out);
    alert_row(out, cat, pw_live_followup(live), &a);
    fputs("</tbody></table></div><p>", out);
    pw_page_esc(out, a.why);
    fputs("</p>", out);
    const pw_view_t *view = pw_live_view(live);
    const pw_event_t *ev =
        view && !a.resolved_ms ? pw_view_open_alert(view, a.indicator, a.series) : NULL;
    if (ev && ev->has_detail)
        alert_detail(out, cat, ind, ev);
    if (ind) {
        fputs("<p><a href='/indicator/", out);
        pw_page_url_esc(out, ind->id);
        fputs("'>指标走势与各区数值 · The indicator's charts and districts →</a></p>", out);
    }
    fputs("<h2>跟进记录<span class='en'>Follow-up log</span></h2><ol class='log'>", out);
    for (uint32_t k = 0; k < a.nactions && acts; k++) {
        char when[32];
        pw__page_time(when, acts[k].time_ms);
        fprintf(out, "<li data-action='%s'><span class='when'>%s</span> <b>", pw_fu_kind_name(acts[k].kind),
                when);
        pw_page_esc(out, acts[k].who);
        fprintf(out, "</b> %s <small>%s</small>", kind_zh(acts[k].kind),
                pw_fu_kind_name(acts[k].kind));
        if (acts[k].text[0]) {
            fputs(": <span class='text'>", out);
            pw_page_esc(out, acts[k].text);
            fputs("</span>", out);
        }
        fputs("</li>", out);
    }
    if (a.nactions == 0)
        fputs("<li class='meta'>尚无跟进 · Nothing done yet.</li>", out);
    fputs("</ol>", out);
    free(acts);
    return true;
}

static void form_open(FILE *out, const char *action, const char *key, const pw_page_user_t *u)
{
    fprintf(out, "<form class='act' method='post' action='%s'><input type='hidden' name='csrf' "
                 "value='%s'>",
            action, u->csrf ? u->csrf : "");
    if (key) {
        fputs("<input type='hidden' name='key' value='", out);
        pw_page_esc(out, key);
        fputs("'>", out);
    }
}

static void act_form(FILE *out, const char *key, const pw_page_user_t *u, const char *kind,
                     const char *label, const char *field)
{
    form_open(out, "/act", key, u);
    fprintf(out, "<input type='hidden' name='action' value='%s'><label>%s</label>", kind, label);
    if (field)
        fputs(field, out);
    fprintf(out, "<button name='go' data-do='%s'>%s</button></form>", kind, label);
}

void pw_page_alert_forms(FILE *out, pw_live_t *live, const char *key, const pw_page_user_t *u)
{
    if (u->role != PW_ROLE_STAFF && u->role != PW_ROLE_ADMIN) {
        fputs("<p class='meta'>领导账号只读 · A director's login reads only.</p>", out);
        return;
    }
    pw_fu_alert_t a;
    if (pw_followup_get(pw_live_followup(live), key, &a, NULL) != 0)
        return;
    fputs("<h2>跟进<span class='en'>Follow up</span></h2><div class='forms'>", out);
    if (a.state == PW_FU_NEW)
        act_form(out, key, u, "ack", "确认 Acknowledge", NULL);
    if (a.state != PW_FU_CLOSED) {
        act_form(out, key, u, "assign", "指派责任单位 Assign to",
                 "<input type='text' name='text' required maxlength='500' "
                 "placeholder='如: 养老服务处 / e.g. the elderly-care division'>");
        act_form(out, key, u, "comment", "情况说明 Comment",
                 "<textarea name='text' rows='4' required maxlength='2000'></textarea>");
        act_form(out, key, u, "close", "关闭 Close",
                 "<input type='text' name='text' maxlength='500' placeholder='说明 note "
                 "(optional)'>");
    } else {
        act_form(out, key, u, "reopen", "重新打开 Reopen", NULL);
    }
    form_open(out, "/silence", key, u);
    fputs("<label>静默至 Silence until</label><select name='what'><option value='indicator:", out);
    pw_page_esc(out, a.indicator);
    fputs("'>本指标 this indicator</option>", out);
    const pw_catalog_t *cat = pw_live_catalog(live);
    for (size_t d = 0; cat && d < cat->ndistricts; d++) {
        if (cat->districts[d].level != PW_LEVEL_DISTRICT)
            continue;
        fputs("<option value='district:", out);
        pw_page_esc(out, cat->districts[d].id);
        fputs("'>区 ", out);
        pw_page_esc(out, cat->districts[d].name_zh);
        fputs("</option>", out);
    }
    fputs("</select><input type='date' name='until' required><input type='text' name='note' "
          "maxlength='500' placeholder='原因 reason'><button data-do='silence'>静默 Silence"
          "</button></form></div>",
          out);
}

