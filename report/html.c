/* SPDX-License-Identifier: MIT */
#include "html.h"

#include <errno.h>
#include <string.h>

#include "chart.h"
#include "followup_report.h"
#include "pw/rate.h"
#include "pw/util.h"
#include "text.h"
#include "view.h"

void pw_report_html_esc(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

/* Shorthand: escaped text. */
static void esc(FILE *out, const char *s)
{
    pw_report_html_esc(out, s);
}

static const char css[] =
    ":root{--ink:#1b1f24;--muted:#5b6470;--rule:#c9ced6;--red:#b3261e;--navy:#1f4e79;"
    "--ok:#2e7d32;--okbg:#edf6ee;--lag:#9a6700;--lagbg:#fff5d6;--sev:#b3261e;--sevbg:#fde7e4}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#eef0f3;color:var(--ink);font:14px/1.45 'Noto Sans CJK SC',"
    "'Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif}\n"
    ".page{max-width:1180px;margin:24px auto;background:#fff;padding:36px 44px 40px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.12)}\n"
    "header.doc{border-bottom:3px solid var(--red);padding-bottom:14px;margin-bottom:18px}\n"
    ".kicker{color:var(--red);font-size:12px;letter-spacing:.12em;text-transform:uppercase}\n"
    "h1{font-family:'Noto Serif CJK SC','Source Han Serif SC','SimSun',serif;font-size:26px;"
    "margin:6px 0 2px;font-weight:700}\n"
    "h1 .en,h2 .en{display:block;font-family:Georgia,serif;font-weight:400;font-size:15px;"
    "color:var(--muted)}\n"
    "h2{font-family:'Noto Serif CJK SC','Source Han Serif SC','SimSun',serif;font-size:19px;"
    "margin:26px 0 10px;border-left:4px solid var(--red);padding-left:10px}\n"
    ".meta{color:var(--muted);font-size:12.5px;margin:8px 0 0}\n"
    ".summary{display:flex;flex-wrap:wrap;gap:8px;margin-top:12px}\n"
    ".chip{display:inline-block;border-radius:3px;padding:2px 8px;font-size:12.5px;"
    "white-space:nowrap}\n"
    ".chip.on_track{background:var(--okbg);color:var(--ok)}"
    ".chip.lagging{background:var(--lagbg);color:var(--lag)}"
    ".chip.severe{background:var(--sevbg);color:var(--sev);font-weight:700}"
    ".chip.none{background:#f1f3f5;color:var(--muted)}\n"
    "table.eval{width:100%;border-collapse:collapse;font-size:12.5px}\n"
    "table.eval th,table.eval td{border:1px solid var(--rule);padding:4px "
    "6px;vertical-align:middle}\n"
    "table.eval thead th{background:#f3f4f6;font-weight:600;text-align:center;font-size:12px;"
    "white-space:nowrap}\n"
    "table.eval thead th small,td small{display:block;font-weight:400;color:var(--muted);"
    "font-size:10.5px;line-height:1.25}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.cat{text-align:center;background:#fafbfc;font-weight:600}\n"
    "td.attr{text-align:center;white-space:nowrap}\n"
    "td.name{min-width:230px}\n"
    "tr.on_track td.ev{background:var(--okbg)}tr.lagging td.ev{background:var(--lagbg)}"
    "tr.severe td.ev{background:var(--sevbg)}\n"
    "tr.severe td.band{color:var(--sev);font-weight:700}tr.lagging td.band{color:var(--lag)}"
    "tr.on_track td.band{color:var(--ok)}\n"
    "td.band,td.fc{text-align:center;white-space:nowrap}\n"
    "td.fc.effort{color:var(--lag);font-weight:600}td.fc.missed{color:var(--sev);font-weight:700}"
    "td.fc.met_early{color:var(--ok)}\n"
    "td.na{color:#9aa1ab;text-align:center}\n"
    "td.rep{text-align:center;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.rep.provisional{color:var(--lag);font-weight:600}\n"
    ".banner{margin-top:12px;padding:8px 12px;border-left:4px solid #d4a017;"
    "background:var(--lagbg);font-size:13px}\n"
    ".notes{font-size:12px;color:var(--muted);margin-top:8px}\n"
    ".legend{display:flex;flex-wrap:wrap;gap:16px;font-size:12px;color:var(--muted);"
    "margin-bottom:10px}\n"
    ".legend svg{vertical-align:middle;margin-right:4px}\n"
    ".cards{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:14px}\n"
    "figure.card{margin:0;border:1px solid var(--rule);border-top:3px solid var(--rule);"
    "padding:10px 12px 8px;break-inside:avoid;page-break-inside:avoid}\n"
    "figure.card.on_track{border-top-color:var(--ok)}figure.card.lagging{border-top-color:#d4a017}"
    "figure.card.severe{border-top-color:var(--sev)}\n"
    "figcaption{font-size:13px;margin-bottom:4px;display:flex;justify-content:space-between;"
    "gap:8px}\n"
    "figcaption b{font-weight:600}figcaption small{display:block;color:var(--muted);"
    "font-size:11px}\n"
    "figure svg{display:block;width:100%;height:auto}\n"
    "svg text{font-family:inherit;font-size:10px;fill:#5b6470}\n"
    "svg .sub{font-size:10.5px;fill:#1b1f24}\n"
    "footer{margin-top:22px;border-top:1px solid var(--rule);padding-top:8px;font-size:11.5px;"
    "color:var(--muted)}\n"
    ".fu{border-top:1px solid var(--rule);padding:8px 0}.fu h3{margin:0;font-size:15px}\n"
    ".fu-state{margin:4px 0}.fu-log{border-collapse:collapse;font-size:12.5px}\n"
    ".fu-log td,.fu-log th{border:1px solid var(--rule);padding:2px 6px;text-align:left}\n";

/* On paper: A4, smaller type, the charts from a new page, none split. */
static const char css_print[] =
    "@media print{@page{size:A4 portrait;margin:12mm 10mm}"
    "body{background:#fff;font-size:9pt;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    ".page{margin:0;padding:0;box-shadow:none;max-width:none}"
    "h1{font-size:17pt}h2{font-size:13pt;margin-top:10pt}"
    "table.eval{font-size:7.5pt}table.eval thead th{font-size:7pt;white-space:normal}"
    "table.eval th,table.eval td{padding:2px 3px}td.name{min-width:0}"
    "td.attr small,td.band small,td.cat small,td.na small{display:none}"
    "table.eval thead th small,td small{font-size:6.5pt}"
    "table.eval tr{break-inside:avoid;page-break-inside:avoid}"
    "thead{display:table-header-group}"
    "section.charts{break-before:page;page-break-before:always}"
    ".cards{gap:8pt}figure.card{padding:6pt 8pt}}\n";

static const char *band_class(const pw_rate_t *rate)
{
    return rate->has_rate ? pw_band_name(rate->band) : "none";
}

static void rate_text(char *buf, size_t len, const pw_rate_t *rate)
{
    if (rate->has_rate)
        snprintf(buf, len, "%.2f", (double)rate->centi / 100.0);
    else
        snprintf(buf, len, "-");
}

void pw_report_html_summary(FILE *out, const pw_report_t *self)
{
    int bands[4], classes[5], achieved;
    pw_report_count(self, bands, classes, &achieved);
    fprintf(out,
            "<div class='summary'>"
            "<span class='chip on_track'>进展良好 on track: %d (提前完成 achieved: %d)</span>"
            "<span class='chip lagging'>进展缓慢 lagging: %d</span>"
            "<span class='chip severe'>严重滞后 severe: %d</span>",
            bands[PW_BAND_ON_TRACK], achieved, bands[PW_BAND_LAGGING], bands[PW_BAND_SEVERE]);
    if (bands[PW_BAND_NONE])
        fprintf(out, "<span class='chip none'>无进展率 no rate: %d</span>", bands[PW_BAND_NONE]);
    fprintf(out,
            "<span class='chip none'>%d年预测 forecast: %d 提前完成, %d 可以完成, "
            "%d 经努力可以完成, %d 难以完成</span></div>",
            self->cat->target_year, classes[PW_FORECAST_MET_EARLY], classes[PW_FORECAST_ON_TIME],
            classes[PW_FORECAST_EFFORT], classes[PW_FORECAST_MISSED]);
}

/* Says so when the period is provisional: a half-reported period must not
 * read as final. */
void pw_report_html_banner(FILE *out, const pw_report_t *self)
{
    size_t provisional = pw_report_provisional(self);
    if (!provisional)
        return;
    char pt[PW_PERIOD_STRMAX], pz[64];
    pw_period_format(self->period, pt);
    pw_report_period_zh(self->period, pz, sizeof(pz));
    fprintf(out,
            "<div class='banner provisional' data-provisional='%zu'><b>初步数据 · "
            "Provisional</b>: %s尚有 %zu 个指标系列未报送齐全 (见“报送”栏)。%zu of %zu series "
            "are not fully reported for %s (see Reported): their figures may still change, "
            "and they open or resolve no alert.</div>",
            provisional, pz, provisional, provisional, self->nseries, pt);
}

/* The observed periods after the base: the table's 进展情况 columns. */
static bool shown(const pw_report_t *self, size_t p)
{
    return pw_elapsed(self->cat, self->periods[p]) > 0.0;
}

static void table_head(FILE *out, const pw_report_t *self)
{
    const pw_catalog_t *cat = self->cat;
    size_t nshown = 0;
    for (size_t p = 0; p < self->nperiods; p++)
        nshown += shown(self, p);
    fprintf(out, "<table class='eval'><thead><tr>"
                 "<th rowspan='2'>序号<small>No.</small></th>"
                 "<th rowspan='2'>指标类别<small>Category</small></th>"
                 "<th rowspan='2'>指标内容(单位)<small>Indicator (unit)</small></th>"
                 "<th rowspan='2'>指标属性<small>Attribute</small></th>"
                 "<th>基期<small>Base</small></th><th>规划目标<small>Target</small></th>");
    if (nshown)
        fprintf(out, "<th colspan='%zu'>进展情况<small>Observed</small></th>", nshown);
    char pz[64];
    pw_report_period_zh(self->period, pz, sizeof(pz));
    fprintf(out,
            "<th colspan='4'>评估 (%s)<small>Evaluation</small></th></tr><tr>"
            "<th>%d年</th><th>%d年</th>",
            pz, cat->base_year, cat->target_year);
    for (size_t p = 0; p < self->nperiods; p++) {
        if (!shown(self, p))
            continue;
        pw_report_period_zh(self->periods[p], pz, sizeof(pz));
        fprintf(out, "<th>%s</th>", pz);
    }
    fprintf(out,
            "<th>进展率(%%)<small>Progress rate</small></th>"
            "<th>评价<small>Band</small></th>"
            "<th>报送<small>Reported</small></th>"
            "<th>%d年情况预测<small>Forecast</small></th></tr></thead><tbody>",
            cat->target_year);
}

void pw_report_html_table(FILE *out, const pw_report_t *self)
{
    const pw_catalog_t *cat = self->cat;
    table_head(out, self);
    for (size_t k = 0; k < self->nseries; k++) {
        const pw_report_series_t *r = &self->series[k];
        const pw_indicator_t *ind = &cat->indicators[r->ind];
        const pw_cell_t *now = pw_report_current(self, r);
        fprintf(out, "<tr class='%s' data-row='", band_class(&now->rate));
        esc(out, ind->id);
        fprintf(out, "'><td class='num'>%d</td>", ind->row);
        /* One category cell over its consecutive rows, as the seed's table has. */
        bool first_of_cat =
            k == 0 || strcmp(cat->indicators[self->series[k - 1].ind].category, ind->category) != 0;
        if (first_of_cat) {
            size_t span = 1;
            while (k + span < self->nseries &&
                   strcmp(cat->indicators[self->series[k + span].ind].category, ind->category) == 0)
                span++;
            fprintf(out, "<td class='cat' rowspan='%zu'>", span);
            esc(out, pw_report_category_zh(ind->category));
            fputs("<small>", out);
            esc(out, ind->category);
            fputs("</small></td>", out);
        }
        fputs("<td class='name'>", out);
        esc(out, ind->name_zh);
        fputs("(", out);
        esc(out, ind->unit);
        fputs(")", out);
        if (ind->series[r->s].name[0]) {
            fputs(" · ", out);
            esc(out, ind->series[r->s].name);
        }
        fputs("<small>", out);
        esc(out, ind->name_en);
        fputs("</small></td>", out);
        fprintf(out, "<td class='attr'>%s<small>%s</small></td>", pw_report_attribute_zh(ind),
                ind->binding ? "binding" : "expected");
        char base[32], target[32], t[32];
        pw_report_base_target(ind, base, target, sizeof(base));
        if (ind->has_base)
            fprintf(out, "<td class='num'>%s</td>", base);
        else
            fputs("<td class='na'>未启动<small>not started</small></td>", out);
        fputs("<td class='num'>", out);
        esc(out, ind->target_kind == PW_TARGET_AT_LEAST ? "≥" : "");
        esc(out, ind->target_kind == PW_TARGET_AT_LEAST ? target + 2 : target);
        fputs("</td>", out);
        for (size_t p = 0; p < self->nperiods; p++) {
            if (!shown(self, p))
                continue;
            if (r->cells[p].has_value) {
                pw_view_fmt_num(t, sizeof(t), r->cells[p].value, ind->decimals);
                fprintf(out, "<td class='num'>%s</td>", t);
            } else {
                fputs("<td class='na'>—<small>no data</small></td>", out);
            }
        }
        rate_text(t, sizeof(t), &now->rate);
        fprintf(out, "<td class='num ev'>%s</td>", t);
        char note[96], note_zh[96];
        bool noted = pw_report_note(self, r, note, note_zh, sizeof(note));
        if (now->rate.has_rate)
            fprintf(out, "<td class='band ev'>%s%s%s%s<small>%s%s%s%s</small></td>",
                    pw_band_name_zh(now->rate.band), now->rate.achieved ? " · 提前完成" : "",
                    noted ? " · " : "", note_zh, pw_band_name(now->rate.band),
                    now->rate.achieved ? " · achieved" : "", noted ? " · " : "", note);
        else
            fputs("<td class='na ev'>—</td>", out);
        pw_view_fmt_reported(t, sizeof(t), now->have, now->want);
        if (pw_view_provisional(now->have, now->want))
            fprintf(out, "<td class='rep provisional'>%s<small>初步 provisional</small></td>", t);
        else
            fprintf(out, "<td class='rep'>%s</td>", t);
        if (r->forecast.has_value) {
            pw_view_fmt_num(t, sizeof(t), r->forecast.value, ind->decimals);
            fprintf(out, "<td class='fc %s'>%s<small>%s · %s</small></td>",
                    pw_forecast_name(r->forecast.cls), pw_forecast_name_zh(r->forecast.cls),
                    pw_forecast_name(r->forecast.cls), t);
        } else {
            fputs("<td class='na'>—</td>", out);
        }
        fputs("</tr>", out);
    }
    fputs("</tbody></table>", out);
}

bool pw_report_html_card(FILE *out, const pw_report_t *self, int i)
{
    const pw_catalog_t *cat = self->cat;
    const pw_indicator_t *ind = &cat->indicators[i];
    size_t first = 0, ns = pw_report_series_of(self, i, &first);
    if (ns == 0)
        return false;
    /* The card's band is its weakest series', like the indicator's rate. */
    const pw_rate_t *worst = NULL;
    for (size_t k = first; k < first + ns; k++) {
        const pw_rate_t *rate = &pw_report_current(self, &self->series[k])->rate;
        if (rate->has_rate && (!worst || rate->centi < worst->centi))
            worst = rate;
    }
    pw_rate_t none = {0};
    if (!worst)
        worst = &none;
    fprintf(out, "<figure class='card %s' data-indicator='", band_class(worst));
    esc(out, ind->id);
    fprintf(out, "'><figcaption><span><b>%d. ", ind->row);
    esc(out, ind->name_zh);
    fputs("</b><small>", out);
    esc(out, ind->name_en);
    fputs(" (", out);
    esc(out, ind->unit);
    char base[32], target[32], t[32];
    pw_report_base_target(ind, base, target, sizeof(base));
    fputs("); base ", out);
    esc(out, base);
    fputs(", target ", out);
    esc(out, target);
    rate_text(t, sizeof(t), worst);
    fprintf(out, "</small></span><span class='chip %s'>%s %s</span></figcaption>",
            band_class(worst), worst->has_rate ? pw_band_name_zh(worst->band) : "无", t);
    pw_report_trend_chart(out, self, i);
    for (size_t k = first; k < first + ns; k++)
        if (pw_report_has_districts(self, &self->series[k]))
            pw_report_district_chart(out, self, &self->series[k]);
    fputs("</figure>", out);
    return true;
}

static void cards(FILE *out, const pw_report_t *self)
{
    const pw_catalog_t *cat = self->cat;
    fputs("<section class='charts'><h2>指标走势<span class='en'>Indicator charts: observed "
          "values against the planned path</span></h2>",
          out);
    pw_report_chart_legend(out);
    fputs("<div class='cards'>", out);
    for (size_t i = 0; i < cat->nindicators; i++)
        pw_report_html_card(out, self, (int)i);
    fputs("</div></section>", out);
}

int pw_report_write_html(const pw_report_t *self, FILE *out, const char *source)
{
    const pw_catalog_t *cat = self->cat;
    char pt[PW_PERIOD_STRMAX], pz[64], now[32];
    pw_period_format(self->period, pt);
    pw_report_period_zh(self->period, pz, sizeof(pz));
    pw_format_time(pw_now_ms(), now);
    fputs("<!DOCTYPE html>\n<html lang='zh-CN'><head><meta charset='utf-8'>"
          "<meta name='viewport' content='width=device-width, initial-scale=1'><title>",
          out);
    esc(out, cat->name);
    fprintf(out, " · %s</title><style>%s%s</style></head><body><div class='page'>", pt, css,
            css_print);
    fputs("<header class='doc'><div class='kicker'>规划实施评估 · Plan evaluation report</div>"
          "<h1>",
          out);
    /* Catalog names read "中文 (English)": the Chinese is the title. */
    char title[512];
    snprintf(title, sizeof(title), "%s", cat->name);
    size_t tlen = strlen(title);
    char *paren = strstr(title, " (");
    const char *en = NULL;
    if (paren && tlen > 0 && title[tlen - 1] == ')') {
        title[tlen - 1] = '\0';
        *paren = '\0';
        en = paren + 2;
    }
    esc(out, title);
    fprintf(out, " 主要指标进展情况评估表<span class='en'>");
    if (en) {
        esc(out, en);
        fputs(": ", out);
    }
    fprintf(out,
            "evaluation of the main indicators at %s (%s), %.0f%% of the plan period "
            "%d–%d elapsed</span></h1>",
            pt, pz, pw_report_elapsed_pct(self), cat->base_year, cat->target_year);
    fputs("<p class='meta'>", out);
    fprintf(out, "%zu indicators, %zu series · generated %s", cat->nindicators, self->nseries, now);
    if (source) {
        fputs(" · source: ", out);
        esc(out, source);
    }
    fputs("</p>", out);
    pw_report_html_summary(out, self);
    pw_report_html_banner(out, self);
    fputs("</header><section class='table'>", out);
    pw_report_html_table(out, self);
    fprintf(out,
            "<p class='notes'>进展率 = 实际进度 / 规划进度 (progress rate: actual against "
            "planned progress, %d%% = on track). 评价: 进展良好 ≥ %.0f, 进展缓慢 %.0f–%.0f, "
            "严重滞后 &lt; %.0f. %d年预测: the trend from the base through the latest "
            "observation, extended to %d; 可以完成 when it earns a rate of at least %d, "
            "经努力可以完成 from %d, 难以完成 below.</p>",
            100, cat->on_track_at, cat->alert_below, cat->on_track_at, cat->alert_below,
            cat->target_year, cat->target_year, PW_FORECAST_ON_TIME_AT / 100,
            PW_FORECAST_EFFORT_AT / 100);
    fputs("</section>", out);
    cards(out, self);
    int rc = self->followup ? pw_report_write_followup_html(cat, self->followup, out) : 0;
    if (rc != 0)
        return rc;
    fputs("<footer>planwatch report · ", out);
    esc(out, cat->name);
    fputs("</footer></div></body></html>\n", out);
    return ferror(out) ? -EIO : 0;
}

const char *pw_report_html_css(void)
{
    return css;
}
