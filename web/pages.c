/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's pages. The evaluation table and the charts are the
 * report's own writers (report/html.c), so the browser shows what the
 * printed report shows. Here: the layout, the overview, an indicator, the
 * status grid, users and login; the alert pages are in pages_alerts.c.
 */
#include "pages.h"
#include "pages_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "html.h"
#include "pw/error.h"
#include "pw/util.h"

static const char css_web[] =
    ".page{margin:0 auto;max-width:1280px;padding:12px 18px 28px;box-shadow:none;background:#fff}"
    "nav.top{display:flex;flex-wrap:wrap;align-items:center;gap:4px 14px;background:#1f4e79;"
    "color:#fff;padding:8px 18px;position:sticky;top:0;z-index:2}"
    "nav.top a{color:#fff;text-decoration:none;padding:4px 2px;font-size:14px}"
    "nav.top a.on{border-bottom:2px solid #fff;font-weight:600}"
    "nav.top small{display:inline;color:#c9d7e6;font-size:11px;margin-left:3px}"
    "nav.top .brand{font-weight:700;margin-right:10px}"
    "nav.top .who{margin-left:auto;font-size:12.5px;color:#dfe7f1}"
    "nav.top form{display:inline}nav.top button{background:none;border:1px solid #9fb6cf;"
    "color:#fff;border-radius:3px;padding:2px 8px;cursor:pointer}"
    ".live-dot{display:inline-block;width:8px;height:8px;border-radius:50%;background:#7bd88f;"
    "margin-right:4px}body.offline .live-dot{background:#f28b82}"
    ".down{background:var(--sevbg);border-left:4px solid var(--sev);padding:8px 12px;"
    "margin:10px 0}"
    ".wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}"
    "table.eval tr[data-row]{cursor:pointer}table.eval tr[data-row]:hover td{background:#f5f8fc}"
    "table.grid{border-collapse:collapse;width:100%;font-size:13px}"
    "table.grid th,table.grid td{border:1px solid var(--rule);padding:5px 7px;text-align:left;"
    "vertical-align:top}"
    "table.grid th{background:#f3f4f6;font-weight:600;white-space:nowrap}"
    "table.grid th small,table.grid td small{display:block;color:var(--muted);font-size:11px;"
    "font-weight:400}"
    "tr.is-down td{background:var(--sevbg)}tr.is-partial td.rp{background:var(--lagbg)}"
    "tr.is-done td.rp{background:var(--okbg)}"
    ".state{display:inline-block;border-radius:3px;padding:1px 6px;font-size:12px}"
    ".state.new{background:var(--sevbg);color:var(--sev);font-weight:700}"
    ".state.acknowledged{background:var(--lagbg);color:var(--lag)}"
    ".state.closed{background:#f1f3f5;color:var(--muted)}"
    ".tag{display:inline-block;border-radius:3px;padding:1px 6px;font-size:12px;"
    "background:#e8eef6;color:#1f4e79;margin-left:4px}.tag.esc{background:#b3261e;color:#fff}"
    "ol.log{padding-left:20px}ol.log li{margin:4px 0}ol.log .when{color:var(--muted);"
    "font-size:12px}"
    "form.act{margin:10px 0;padding:10px;border:1px solid var(--rule);border-radius:4px}"
    "form.act label{display:block;font-size:13px;margin-bottom:4px}"
    "form.act input[type=text],form.act textarea,form.act select,form.act input[type=date],"
    "form.act input[type=password]{width:100%;max-width:520px;padding:6px;font:inherit;"
    "border:1px solid var(--rule);border-radius:3px}"
    "form.act button{margin-top:6px;padding:6px 14px;font:inherit;border:0;border-radius:3px;"
    "background:#1f4e79;color:#fff;cursor:pointer}"
    ".forms{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:0 14px}"
    ".err{color:var(--sev);font-weight:600}"
    "@media (max-width:720px){.page{padding:8px}.cards{grid-template-columns:1fr}"
    "h1{font-size:20px}td.name{min-width:160px}nav.top{padding:6px 8px}"
    /* On a phone the wide table scrolls sideways instead of squeezing its
     * names into one word a line; the alert log drops its least needed columns. */
    "table.eval{min-width:860px}table.alerts th:nth-child(n+6),"
    "table.alerts td:nth-child(n+6){display:none}}";

/* Follows the live stream: refetches the live part when the data changed. */
static const char script[] =
    "(function(){var live=document.getElementById('live');if(!live)return;"
    "var busy=false,again=false;"
    "function url(){var q=location.search;return location.pathname+(q?q+'&':'?')+'fragment=1';}"
    "function refresh(){if(busy){again=true;return;}busy=true;"
    "fetch(url(),{credentials:'same-origin',cache:'no-store'}).then(function(r){"
    "if(r.status===401){location.reload();return null;}"
    "var v=r.headers.get('X-Version');if(v)live.dataset.v=v;return r.text();})"
    ".then(function(t){if(t!==null)live.innerHTML=t;busy=false;"
    "if(again){again=false;refresh();}}).catch(function(){busy=false;});}"
    "var es=new EventSource('/events');"
    "es.addEventListener('v',function(e){if(e.data!==live.dataset.v){live.dataset.v=e.data;"
    "refresh();}});"
    "es.onopen=function(){document.body.classList.remove('offline');};"
    "es.onerror=function(){document.body.classList.add('offline');"
    /* Closed for good (a restart forgot the session: 401): the login page. */
    "if(es.readyState===2)setTimeout(function(){location.reload();},3000);};"
    "document.addEventListener('click',function(e){var tr=e.target.closest&&"
    "e.target.closest('tr[data-row]');if(tr&&!e.target.closest('a'))"
    "location.href='/indicator/'+encodeURIComponent(tr.getAttribute('data-row'));});"
    "})();";

void pw_page_esc(FILE *out, const char *s)
{
    pw_report_html_esc(out, s ? s : "");
}

void pw_page_url_esc(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            fputc(*p, out);
        else
            fprintf(out, "%%%02X", *p);
    }
}

bool pw_page_url_cat(char *buf, size_t len, const char *prefix, const char *s)
{
    FILE *out = fmemopen(buf, len, "w");
    if (!out)
        return false;
    fputs(prefix, out);
    pw_page_url_esc(out, s);
    /* fmemopen writes the NUL while there is room: a full buffer was cut. */
    bool whole = ftell(out) < (long)len - 1;
    fclose(out);
    buf[len - 1] = '\0';
    return whole;
}

void pw__page_time(char buf[32], int64_t ms)
{
    if (ms <= 0) {
        snprintf(buf, 32, "-");
        return;
    }
    pw_format_time(ms, buf);
    /* "2026-12-04T10:02:03Z" reads as "2026-12-04 10:02:03Z" */
    if (strlen(buf) > 10 && buf[10] == 'T')
        buf[10] = ' ';
}

static void age_text(char *buf, size_t len, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    int64_t s = ms / 1000;
    if (s < 120)
        snprintf(buf, len, "%" PRId64 " 秒前 <small>%" PRId64 " s ago</small>", s, s);
    else if (s < 7200)
        snprintf(buf, len, "%" PRId64 " 分钟前 <small>%" PRId64 " min ago</small>", s / 60, s / 60);
    else if (s < 172800)
        snprintf(buf, len, "%" PRId64 " 小时前 <small>%" PRId64 " h ago</small>", s / 3600,
                 s / 3600);
    else
        snprintf(buf, len, "%" PRId64 " 天前 <small>%" PRId64 " days ago</small>", s / 86400,
                 s / 86400);
}

const pw_indicator_t *pw__page_ind(const pw_catalog_t *cat, const char *id)
{
    if (!cat)
        return NULL;
    int i = pw_catalog_indicator(cat, id, strlen(id));
    return i < 0 ? NULL : &cat->indicators[i];
}

const char *pw__page_district_zh(const pw_catalog_t *cat, const char *id)
{
    for (size_t d = 0; cat && d < cat->ndistricts; d++)
        if (strcmp(cat->districts[d].id, id) == 0)
            return cat->districts[d].name_zh ? cat->districts[d].name_zh : id;
    return id;
}

static void nav_item(FILE *out, const char *href, bool on, const char *zh, const char *en)
{
    fprintf(out, "<a href='%s'%s>%s<small>%s</small></a>", href, on ? " class='on'" : "", zh, en);
}

void pw_page_begin(FILE *out, pw_live_t *live, const pw_page_user_t *u, pw_page_id_t page,
                   const char *title)
{
    const pw_catalog_t *cat = pw_live_catalog(live);
    fputs("<!DOCTYPE html>\n<html lang='zh-CN'><head><meta charset='utf-8'>"
          "<meta name='viewport' content='width=device-width, initial-scale=1'><title>",
          out);
    pw_page_esc(out, title);
    fputs(" · planwatch</title><style>", out);
    fputs(pw_report_html_css(), out);
    fputs(css_web, out);
    fputs("</style></head><body><nav class='top'><span class='brand'><span class='live-dot'>"
          "</span>planwatch</span>",
          out);
    nav_item(out, "/", page == PW_PAGE_OVERVIEW || page == PW_PAGE_INDICATOR, "评估总览",
             "Overview");
    nav_item(out, "/status", page == PW_PAGE_STATUS, "报送状态", "Reporting");
    nav_item(out, "/alerts", page == PW_PAGE_ALERTS || page == PW_PAGE_ALERT, "预警跟进",
             "Alerts");
    if (u->role == PW_ROLE_ADMIN)
        nav_item(out, "/users", page == PW_PAGE_USERS, "用户", "Users");
    fputs("<span class='who'>", out);
    pw_page_esc(out, u->name);
    fprintf(out, " (%s) <form method='post' action='/logout'><input type='hidden' name='csrf' "
                 "value='%s'><button>退出 Log out</button></form></span></nav><div class='page'>",
            pw_role_name(u->role), u->csrf ? u->csrf : "");
    if (cat) {
        fputs("<div class='kicker'>", out);
        pw_page_esc(out, cat->name);
        fputs("</div>", out);
    }
    fprintf(out, "<main id='live' data-v='%" PRIu64 "'>", pw_live_version(live));
}

void pw_page_end(FILE *out, const char *after)
{
    fputs("</main>", out);
    if (after)
        fputs(after, out);
    fprintf(out, "<footer>planwatch web · 实时更新 live (Server-Sent Events)</footer></div>"
                 "<script>%s</script></body></html>\n",
            script);
}

/* Says so when the publisher is not answering: the figures are then as of
 * the last answer. */
void pw__page_connection(FILE *out, pw_live_t *live)
{
    const char *why = NULL;
    if (pw_live_connected(live, &why))
        return;
    fputs("<div class='down'><b>与发布服务断开 · Not connected</b>: ", out);
    pw_page_esc(out, why);
    fputs(". 以下为最后一次收到的数据 (the figures below are the last received).</div>", out);
}

void pw_page_overview(FILE *out, pw_live_t *live)
{
    pw__page_connection(out, live);
    const pw_report_t *rep = pw_live_report(live);
    const pw_catalog_t *cat = pw_live_catalog(live);
    if (!rep) {
        fputs("<h1>评估总览<span class='en'>Overview</span></h1><p class='meta'>", out);
        fputs(cat ? "暂无数据: 等待区报送。No figures yet: waiting for the districts."
                  : "等待发布服务 · Waiting for the publisher.",
              out);
        fputs("</p>", out);
        return;
    }
    char pt[PW_PERIOD_STRMAX], pz[64];
    pw_period_format(rep->period, pt);
    pw_report_period_zh(rep->period, pz, sizeof(pz));
    fprintf(out,
            "<h1>%s 主要指标进展情况<span class='en'>Evaluation at %s, %.0f%% of the plan "
            "period elapsed</span></h1>",
            pz, pt, pw_report_elapsed_pct(rep));
    pw_report_html_summary(out, rep);
    pw_report_html_banner(out, rep);
    fputs("<h2>当前预警<span class='en'>Open alerts</span></h2>", out);
    pw__page_alert_table(out, live, NULL, true);
    fputs("<h2>评估表<span class='en'>Evaluation table (a row opens its indicator)</span></h2>"
          "<div class='wrap'>",
          out);
    pw_report_html_table(out, rep);
    fputs("</div>", out);
}

/* Each district's own figure of series r at the report period. */
static void district_table(FILE *out, const pw_report_t *rep, const pw_report_series_t *r)
{
    const pw_catalog_t *cat = rep->cat;
    const pw_indicator_t *ind = &cat->indicators[r->ind];
    size_t p = rep->nperiods - 1;
    fputs("<div class='wrap'><table class='grid districts' data-series='", out);
    pw_page_esc(out, ind->series[r->s].name);
    fputs("'><thead><tr><th>区<small>District</small></th><th>数值<small>Value</small></th>"
          "<th>进展率<small>Rate %</small></th><th>评价<small>Band</small></th></tr></thead>"
          "<tbody>",
          out);
    for (size_t d = 0; d < cat->ndistricts; d++) {
        if (cat->districts[d].level != PW_LEVEL_DISTRICT)
            continue;
        const pw_cell_t *c = &r->districts[p * cat->ndistricts + d];
        char v[32] = "—", rt[32] = "—";
        if (c->has_value)
            pw_view_fmt_num(v, sizeof(v), c->value, ind->decimals);
        if (c->rate.has_rate)
            snprintf(rt, sizeof(rt), "%.2f", (double)c->rate.centi / 100.0);
        fprintf(out, "<tr class='%s' data-district='",
                c->rate.has_rate ? pw_band_name(c->rate.band) : "none");
        pw_page_esc(out, cat->districts[d].id);
        fputs("'><td>", out);
        pw_page_esc(out, cat->districts[d].name_zh);
        fputs("<small>", out);
        pw_page_esc(out, cat->districts[d].name_en);
        fprintf(out, "</small></td><td class='num'>%s</td><td class='num'>%s</td><td>%s<small>%s"
                     "</small></td></tr>",
                v, rt, c->rate.has_rate ? pw_band_name_zh(c->rate.band) : "—",
                c->rate.has_rate ? pw_band_name(c->rate.band) : "no rate");
    }
    fputs("</tbody></table></div>", out);
}

bool pw_page_indicator(FILE *out, pw_live_t *live, const char *id)
{
    const pw_catalog_t *cat = pw_live_catalog(live);
    const pw_indicator_t *ind = pw__page_ind(cat, id);
    if (!ind)
        return false;
    int i = (int)(ind - cat->indicators);
    pw__page_connection(out, live);
    fprintf(out, "<h1>%d. ", ind->row);
    pw_page_esc(out, ind->name_zh);
    fputs("<span class='en'>", out);
    pw_page_esc(out, ind->name_en);
    fputs(" (", out);
    pw_page_esc(out, ind->unit);
    fputs(")</span></h1>", out);
    const pw_report_t *rep = pw_live_report(live);
    if (!rep || !pw_report_html_card(out, rep, i)) {
        fputs("<p class='meta'>暂无数据 · No figures yet.</p>", out);
    } else {
        pw_report_chart_legend(out);
        size_t first = 0, ns = pw_report_series_of(rep, i, &first);
        bool any = false;
        for (size_t k = first; k < first + ns; k++) {
            const pw_report_series_t *r = &rep->series[k];
            if (!pw_report_has_districts(rep, r))
                continue;
            if (!any)
                fputs("<h2>各区数值<span class='en'>Each district's own figure</span></h2>", out);
            any = true;
            if (ind->series[r->s].name[0]) {
                fputs("<h3>", out);
                pw_page_esc(out, ind->series[r->s].name);
                fputs("</h3>", out);
            }
            district_table(out, rep, r);
        }
        if (!any)
            fputs("<p class='meta'>本指标为全市合计, 无分区进展率 · A city-wide total: the "
                  "districts have no rate of their own.</p>",
                  out);
    }
    fputs("<h2>预警<span class='en'>Alerts of this indicator</span></h2>", out);
    pw__page_alert_table(out, live, ind->id, false);
    return true;
}

void pw_page_status(FILE *out, pw_live_t *live)
{
    pw__page_connection(out, live);
    const pw_reply_t *st = pw_live_status(live);
    const pw_catalog_t *cat = pw_live_catalog(live);
    char pt[PW_PERIOD_STRMAX] = "-", pz[64] = "";
    if (st->has_period) {
        pw_period_format(st->period, pt);
        pw_report_period_zh(st->period, pz, sizeof(pz));
    }
    fprintf(out, "<h1>%s报送状态<span class='en'>Reporting status for %s</span></h1>", pz, pt);
    if (st->nstatus == 0) {
        fputs("<p class='meta'>暂无状态 · No status yet.</p>", out);
        return;
    }
    size_t down = 0, done = 0;
    for (size_t k = 0; k < st->nstatus; k++) {
        down += !st->status[k].connected;
        done += st->status[k].expected && st->status[k].reported >= st->status[k].expected;
    }
    fprintf(out,
            "<div class='summary'><span class='chip on_track'>已报齐 complete: %zu/%zu</span>"
            "<span class='chip %s'>离线 down: %zu</span></div>",
            done, st->nstatus, down ? "severe" : "none", down);
    fputs("<div class='wrap'><table class='grid status'><thead><tr><th>报送单位<small>Reporter"
          "</small></th><th>连接<small>Connection</small></th><th>最后联系<small>Last heard"
          "</small></th><th>待发<small>Spool lag</small></th><th>已报/应报<small>Reported"
          "</small></th><th>未报要素<small>Missing elements</small></th></tr></thead><tbody>",
          out);
    int64_t now = pw_now_ms();
    for (size_t k = 0; k < st->nstatus; k++) {
        const pw_district_status_t *s = &st->status[k];
        bool complete = s->expected && s->reported >= s->expected;
        char seen[96] = "从未 <small>never</small>";
        if (s->last_seen_ms)
            age_text(seen, sizeof(seen), now - s->last_seen_ms);
        /* What the publisher says is data from the network: escaped. */
        fprintf(out, "<tr class='%s %s' data-reporter='", s->connected ? "is-up" : "is-down",
                complete ? "is-done" : "is-partial");
        pw_page_esc(out, s->district);
        fputs("'><td>", out);
        pw_page_esc(out, pw__page_district_zh(cat, s->district));
        fputs("<small>", out);
        pw_page_esc(out, s->district);
        fprintf(out, "</small></td><td>%s</td><td>%s</td><td class='num'>%" PRIu64
                     "</td><td class='rp num'>%u/%u</td><td>",
                s->connected ? "在线 <small>up</small>" : "离线 <small>down</small>", seen, s->lag,
                s->reported, s->expected);
        pw_page_esc(out, s->missing[0] ? s->missing : "—");
        fputs("</td></tr>", out);
    }
    fputs("</tbody></table></div>", out);
}

void pw_page_users(FILE *out, const pw_users_t *users, int sessions)
{
    fprintf(out, "<h1>用户<span class='en'>Users (%d live sessions)</span></h1>", sessions);
    fputs("<p class='meta'>用 <code>planwatch web-user</code> 增删用户 · Users are added and "
          "removed with <code>planwatch web-user</code>; a change is read on SIGHUP.</p>"
          "<table class='grid'><thead><tr><th>用户<small>User</small></th><th>角色<small>Role"
          "</small></th></tr></thead><tbody>",
          out);
    for (size_t k = 0; users && k < pw_users_count(users); k++) {
        const char *name;
        pw_role_t role;
        pw_users_at(users, k, &name, &role);
        fputs("<tr><td>", out);
        pw_page_esc(out, name);
        fprintf(out, "</td><td>%s</td></tr>", pw_role_name(role));
    }
    fputs("</tbody></table>", out);
}

static void small_page_head(FILE *out, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang='zh-CN'><head><meta charset='utf-8'>"
          "<meta name='viewport' content='width=device-width, initial-scale=1'><title>",
          out);
    pw_page_esc(out, title);
    fprintf(out, " · planwatch</title><style>%s%s.page{max-width:460px;margin:60px auto;"
                 "padding:24px}</style></head><body><div class='page'>",
            pw_report_html_css(), css_web);
}

void pw_page_login(FILE *out, const char *msg, const char *next)
{
    small_page_head(out, "登录 Log in");
    fputs("<h1>planwatch 登录<span class='en'>Log in to the bureau's dashboard</span></h1>", out);
    if (msg) {
        fputs("<p class='err'>", out);
        pw_page_esc(out, msg);
        fputs("</p>", out);
    }
    fputs("<form class='act' method='post' action='/login'><input type='hidden' name='next' "
          "value='",
          out);
    pw_page_esc(out, next && next[0] == '/' ? next : "/");
    fputs("'><label>用户名 User</label><input type='text' name='user' id='user' "
          "autocomplete='username' required><label>密码 Password</label><input type='password' "
          "name='password' id='password' autocomplete='current-password' required>"
          "<button id='login'>登录 Log in</button></form></div></body></html>\n",
          out);
}

void pw_page_message(FILE *out, const char *title, const char *msg)
{
    small_page_head(out, title);
    fputs("<h1>", out);
    pw_page_esc(out, title);
    fputs("</h1><p>", out);
    pw_page_esc(out, msg);
    fputs("</p><p><a href='/'>返回 Back</a></p></div></body></html>\n", out);
}

