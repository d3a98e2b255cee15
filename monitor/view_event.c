/* SPDX-License-Identifier: MIT */
/* The monitor's single-event printers: an event as JSON, the ALERT line, the status. */
#include "view.h"
#include "view_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "followup_view.h"
#include "pw/util.h"

bool pw_view_provisional(uint32_t have, uint32_t want)
{
    return have < want;
}

void pw_view_fmt_reported(char *buf, size_t len, uint32_t have, uint32_t want)
{
    snprintf(buf, len, "%u/%u", have, want);
}

static void json_common(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out)
{
    char ptext[PW_PERIOD_STRMAX], num[48];
    pw_period_format(ev->period, ptext);
    fputs("\"indicator\":", out);
    pw_view_json_str(out, ev->indicator);
    fputs(",\"series\":", out);
    if (ev->series[0])
        pw_view_json_str(out, ev->series);
    else
        fputs("null", out);
    fprintf(out, ",\"period\":\"%s\",\"value\":", ptext);
    if (ev->has_value) {
        pw_view_fmt_num(num, sizeof(num), ev->value, pw__view_decimals_of(cat, ev->indicator));
        fputs(num, out);
    } else {
        fputs("null", out);
    }
    if (ev->has_rate)
        fprintf(out, ",\"rate\":%.2f", (double)ev->centi / 100.0);
    else
        fputs(",\"rate\":null", out);
    fprintf(out, ",\"band\":%s%s%s", ev->has_rate ? "\"" : "",
            ev->has_rate ? pw_band_name(ev->band) : "null", ev->has_rate ? "\"" : "");
}

static const char *district_name(const pw_catalog_t *cat, const char *id)
{
    int d = cat ? pw_catalog_district(cat, id, strlen(id)) : -1;
    return d < 0 ? id : cat->districts[d].name_zh;
}

/* planned, target, needed_per_period (a year of the plan) and top_districts. */
static void json_detail(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out)
{
    int dec = pw__view_decimals_of(cat, ev->indicator);
    char num[48];
    pw_view_fmt_num(num, sizeof(num), ev->planned, dec + 2);
    fprintf(out, ",\"planned\":%s", num);
    pw_view_fmt_num(num, sizeof(num), ev->target, dec + 2);
    fprintf(out, ",\"target\":%s", num);
    pw_view_fmt_num(num, sizeof(num), ev->needed_per_year, dec + 2);
    fprintf(out, ",\"needed_per_period\":%s,\"top_districts\":[", num);
    for (uint32_t i = 0; i < ev->ntop; i++) {
        const pw_event_district_t *d = &ev->top[i];
        fprintf(out, "%s{\"district\":", i ? "," : "");
        pw_view_json_str(out, d->district);
        fputs(",\"name_zh\":", out);
        pw_view_json_str(out, district_name(cat, d->district));
        pw_view_fmt_num(num, sizeof(num), d->value, dec + 1);
        fprintf(out, ",\"value\":%s", num);
        pw_view_fmt_num(num, sizeof(num), d->weight, 4);
        fprintf(out, ",\"weight\":%s", num);
        pw_view_fmt_num(num, sizeof(num), d->shortfall, dec + 2);
        fprintf(out, ",\"shortfall\":%s}", num);
    }
    fputc(']', out);
}

void pw_view_print_event_json(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out)
{
    pw_view_print_event_json_fu(cat, ev, out, NULL);
}

void pw_view_print_event_json_fu(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out,
                                 pw_followup_t *fu)
{
    char when[32];
    pw_format_time(ev->time_ms, when);
    if (ev->type == PW_EV_ALERT && ev->action == PW_ALERT_UPDATE)
        return; /* JSON alert events are transitions (open, resolve); the refreshed
                 * figures of an open alert come as its rows and in snapshots */
    if (ev->type == PW_EV_ALERT) {
        fprintf(out, "{\"alert\":\"%s\",", ev->action == PW_ALERT_OPEN ? "open" : "resolve");
        json_common(cat, ev, out);
        char reported[32];
        pw_view_fmt_reported(reported, sizeof(reported), ev->have, ev->want);
        fprintf(out, ",\"complete\":\"%s\",\"why\":", reported);
        pw_view_json_str(out, ev->why);
        if (ev->has_detail)
            json_detail(cat, ev, out);
        pw_view_json_followup(fu, ev, pw_now_ms(), out);
    } else {
        fputc('{', out);
        json_common(cat, ev, out);
        char reported[32];
        pw_view_fmt_reported(reported, sizeof(reported), ev->have, ev->want);
        fprintf(out, ",\"achieved\":%s,\"complete\":\"%s\",\"provisional\":%s",
                ev->achieved ? "true" : "false", reported,
                pw_view_provisional(ev->have, ev->want) ? "true" : "false");
        const pw_indicator_t *ind = pw__view_find_ind(cat, ev->indicator);
        if (ind) {
            fputs(",\"name_zh\":", out);
            pw_view_json_str(out, ind->name_zh);
            fputs(",\"name_en\":", out);
            pw_view_json_str(out, ind->name_en);
        }
    }
    fprintf(out, ",\"seq\":%llu,\"time\":\"%s\"}\n", (unsigned long long)ev->seq, when);
}

void pw_view_print_alert(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out, bool color)
{
    pw_view_print_alert_note(cat, ev, out, color, NULL);
}

void pw_view_print_alert_note(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out,
                              bool color, const char *note)
{
    char ptext[PW_PERIOD_STRMAX], value[32] = "-";
    pw_period_format(ev->period, ptext);
    const pw_indicator_t *ind = pw__view_find_ind(cat, ev->indicator);
    if (ev->has_value)
        pw_view_fmt_num(value, sizeof(value), ev->value, ind ? ind->decimals : 6);
    bool open = ev->action != PW_ALERT_RESOLVE;
    if (color)
        fputs(open ? "\033[1;31m" : "\033[32m", out);
    fprintf(out, "  ALERT %-7s ",
            ev->action == PW_ALERT_OPEN ? "OPEN" : open ? "UPDATE" : "RESOLVE");
    if (color)
        fputs("\033[0m", out);
    fprintf(out, "%s%s%s", ev->indicator, ev->series[0] ? "/" : "", ev->series);
    if (ind)
        fprintf(out, " %s", ind->name_zh);
    fprintf(out, " at %s: value %s, rate %.2f (%s %s)", ptext, value, (double)ev->centi / 100.0,
            pw_band_name(ev->band), pw_band_name_zh(ev->band));
    if (ev->why[0])
        fprintf(out, "; %s", ev->why);
    if (note)
        fputs(note, out);
    fputc('\n', out);
    if (!ev->has_detail || !open)
        return;
    int dec = ind ? ind->decimals : 6;
    char planned[32], target[32], need[32];
    pw_view_fmt_num(planned, sizeof(planned), ev->planned, dec + 1);
    pw_view_fmt_num(target, sizeof(target), ev->target, dec + 1);
    pw_view_fmt_num(need, sizeof(need), ev->needed_per_year, dec + 1);
    fprintf(out, "          planned by %s: %s; target %s by %d: needs %s%s a year from here\n",
            ptext, planned, target, cat ? cat->target_year : 0,
            ev->needed_per_year > 0 ? "+" : "", need);
    if (ev->ntop == 0)
        return;
    fprintf(out, "          weighing most on the shortfall:");
    for (uint32_t i = 0; i < ev->ntop; i++) {
        const pw_event_district_t *d = &ev->top[i];
        char v[32];
        pw_view_fmt_num(v, sizeof(v), d->value, dec + 1);
        fprintf(out, "%s %s %s (weight %.1f%%)", i ? "," : "", district_name(cat, d->district),
                v, d->weight * 100.0);
    }
    fputc('\n', out);
}

void pw_view_print_status(const pw_catalog_t *cat, const pw_reply_t *status, FILE *out, bool json,
                          bool color)
{
    char ptext[PW_PERIOD_STRMAX] = "-";
    if (status->has_period)
        pw_period_format(status->period, ptext);
    int64_t now = pw_now_ms();
    if (!json)
        fprintf(out, "Reporting status (completeness for %s)\n%-12s %-14s %-12s %10s %8s %9s  %s\n",
                ptext, "reporter", "名称", "connection", "last seq", "spool", "elements",
                "not reported yet");
    for (size_t i = 0; i < status->nstatus; i++) {
        const pw_district_status_t *st = &status->status[i];
        const char *name = district_name(cat, st->district);
        char seen[48] = "never";
        if (st->last_seen_ms > 0) {
            long long ago = (long long)((now - st->last_seen_ms) / 1000);
            snprintf(seen, sizeof(seen), "%s %llds", st->connected ? "up" : "down", ago < 0 ? 0 : ago);
        }
        if (json) {
            char when[32] = "";
            if (st->last_seen_ms > 0)
                pw_format_time(st->last_seen_ms, when);
            fputs("{\"district\":", out);
            pw_view_json_str(out, st->district);
            fputs(",\"name_zh\":", out);
            pw_view_json_str(out, name);
            fprintf(out, ",\"connected\":%s,\"last_seen\":", st->connected ? "true" : "false");
            if (when[0])
                fprintf(out, "\"%s\"", when);
            else
                fputs("null", out);
            fprintf(out, ",\"last_seq\":%llu,\"spool_lag\":%llu,\"period\":\"%s\","
                         "\"reported\":%u,\"expected\":%u,\"complete\":%s,\"missing\":[",
                    (unsigned long long)st->last_seq, (unsigned long long)st->lag, ptext,
                    st->reported, st->expected, st->reported == st->expected ? "true" : "false");
            char missing[PW_MISSING_MAX];
            snprintf(missing, sizeof(missing), "%s", st->missing);
            int k = 0;
            for (char *tok = strtok(missing, " "); tok; tok = strtok(NULL, " "))
                if (strcmp(tok, "...") != 0)
                    fprintf(out, "%s\"%s\"", k++ ? "," : "", tok);
            fputs("]}\n", out);
            continue;
        }
        fprintf(out, "%-12s ", st->district);
        pw_view_print_cell(out, name, 14);
        bool late = st->reported < st->expected;
        fprintf(out, " %-12s %10llu %8llu %4u/%-4u  ", seen, (unsigned long long)st->last_seq,
                (unsigned long long)st->lag, st->reported, st->expected);
        if (color && late)
            fputs("\033[33m", out);
        fputs(late ? st->missing : "-", out);
        if (color && late)
            fputs("\033[0m", out);
        fputc('\n', out);
    }
}
