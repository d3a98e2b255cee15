/* SPDX-License-Identifier: MIT */
#include "followup_report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "followup_view.h"
#include "html.h"

struct section {
    const pw_catalog_t *cat;
    pw_followup_t *fu;
    FILE *out;
    bool html;
    size_t n;    /* alerts listed */
    size_t more; /* alerts past PW_REPORT_FU_MAX, counted only */
    int rc;      /* a read error met on the way */
};

static const char *indicator_name(const pw_catalog_t *cat, const char *id)
{
    int i = cat ? pw_catalog_indicator(cat, id, strlen(id)) : -1;
    return i < 0 ? "" : cat->indicators[i].name_zh;
}

/* Text, escaped for HTML when the section is. */
static void put(const struct section *s, const char *text)
{
    if (s->html)
        pw_report_html_esc(s->out, text);
    else
        fputs(text, s->out);
}

/* The alert's state line: "acknowledged by wang 2026-12-04 10:02; assigned to X; escalated ...". */
static void state_line(const struct section *s, const pw_fu_alert_t *a, const pw_fu_action_t *log)
{
    char when[32];
    put(s, pw_fu_state_name(a->state));
    if (a->acked_ms) {
        pw_view_fmt_minute(a->acked_ms, when);
        put(s, a->state == PW_FU_ACKED ? " by " : "; acknowledged by ");
        put(s, a->acked_by);
        put(s, " ");
        put(s, when);
    }
    for (uint32_t i = a->nactions; a->state == PW_FU_CLOSED && i-- > 0;)
        if (log[i].kind == PW_FU_CLOSE) {
            pw_view_fmt_minute(log[i].time_ms, when);
            put(s, "; closed by ");
            put(s, log[i].who);
            put(s, " ");
            put(s, when);
            break;
        }
    if (a->assignee[0]) {
        put(s, "; assigned to ");
        put(s, a->assignee);
    }
    if (a->escalated_ms) {
        pw_view_fmt_minute(a->escalated_ms, when);
        put(s, "; escalated ");
        put(s, when);
    }
}

static void pipeline_line(const struct section *s, const pw_fu_alert_t *a)
{
    char opened[32], resolved[32], ptext[PW_PERIOD_STRMAX];
    pw_view_fmt_minute(a->opened_ms, opened);
    pw_period_format(a->period, ptext);
    fprintf(s->out, "opened %s, ", opened);
    if (a->resolved_ms) {
        pw_view_fmt_minute(a->resolved_ms, resolved);
        fprintf(s->out, "resolved %s", resolved);
    } else {
        fputs("open", s->out);
    }
    fprintf(s->out, "; latest %s", ptext);
    if (a->has_rate)
        fprintf(s->out, ", rate %.2f (%s)", (double)a->centi / 100.0, pw_band_name(a->band));
}

static void text_alert(struct section *s, const pw_fu_alert_t *a, const pw_fu_action_t *log)
{
    fprintf(s->out, "%s %s\n    ", a->key, indicator_name(s->cat, a->indicator));
    pipeline_line(s, a);
    fputs("\n    ", s->out);
    state_line(s, a, log);
    fputc('\n', s->out);
    for (uint32_t i = 0; i < a->nactions; i++) {
        char when[32];
        pw_view_fmt_minute(log[i].time_ms, when);
        if (log[i].text[0])
            fprintf(s->out, "      %s  %-10s %-8s %s\n", when, log[i].who,
                    pw_fu_kind_name(log[i].kind), log[i].text);
        else
            fprintf(s->out, "      %s  %-10s %s\n", when, log[i].who, pw_fu_kind_name(log[i].kind));
    }
}

static void html_alert(struct section *s, const pw_fu_alert_t *a, const pw_fu_action_t *log)
{
    fprintf(s->out, "<div class='fu' data-followup='");
    put(s, a->key);
    fputs("'><h3>", s->out);
    put(s, a->key);
    fputs(" <span class='en'>", s->out);
    put(s, indicator_name(s->cat, a->indicator));
    fputs("</span></h3><p class='meta'>", s->out);
    pipeline_line(s, a); /* numbers, dates and ids only: nothing to escape */
    fputs("</p><p class='fu-state'>", s->out);
    state_line(s, a, log);
    fputs("</p>", s->out);
    if (a->nactions)
        fputs("<table class='fu-log'><tr><th>time (UTC)</th><th>who</th><th>action</th>"
              "<th>text</th></tr>",
              s->out);
    for (uint32_t i = 0; i < a->nactions; i++) {
        char when[32];
        pw_view_fmt_minute(log[i].time_ms, when);
        fprintf(s->out, "<tr><td>%s</td><td>", when);
        put(s, log[i].who);
        fprintf(s->out, "</td><td>%s</td><td>", pw_fu_kind_name(log[i].kind));
        put(s, log[i].text);
        fputs("</td></tr>", s->out);
    }
    if (a->nactions)
        fputs("</table>", s->out);
    fputs("</div>", s->out);
}

static int one(void *ctx, const pw_fu_alert_t *listed)
{
    struct section *s = ctx;
    if (s->n == PW_REPORT_FU_MAX) {
        s->more++;
        return 0;
    }
    pw_fu_alert_t *a = malloc(sizeof(*a));
    pw_fu_action_t *log = NULL;
    int rc = a ? pw_followup_get(s->fu, listed->key, a, &log) : -ENOMEM;
    if (rc == 0) {
        if (s->html)
            html_alert(s, a, log);
        else
            text_alert(s, a, log);
        s->n++;
    }
    free(log);
    free(a);
    s->rc = rc;
    return rc;
}

static int section(const pw_catalog_t *cat, pw_followup_t *fu, FILE *out, bool html)
{
    struct section s = {cat, fu, out, html, 0, 0, 0};
    if (html)
        fputs("<section class='followup'><h2>跟进<span class='en'>Follow-up: the bureau's "
              "handling of the latest alerts, newest first (times UTC)</span></h2>",
              out);
    else
        fputs("\n跟进 Follow-up (newest first, times UTC)\n", out);
    int rc = pw_followup_each(fu, one, &s);
    if (rc == 0 && s.n == 0)
        fputs(html ? "<p class='meta'>No alert followed up yet.</p>"
                   : "No alert followed up yet.\n",
              out);
    if (rc == 0 && s.more)
        fprintf(out,
                html ? "<p class='meta'>%zu older alerts not listed.</p>"
                     : "%zu older alerts not listed.\n",
                s.more);
    if (html)
        fputs("</section>", out);
    if (rc == 0)
        rc = s.rc;
    return rc != 0 ? rc : ferror(out) ? -EIO : 0;
}

int pw_report_write_followup_text(const pw_catalog_t *cat, pw_followup_t *fu, FILE *out)
{
    return section(cat, fu, out, false);
}

int pw_report_write_followup_html(const pw_catalog_t *cat, pw_followup_t *fu, FILE *out)
{
    return section(cat, fu, out, true);
}
