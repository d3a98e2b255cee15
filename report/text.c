/* SPDX-License-Identifier: MIT */
#include "text.h"

#include <errno.h>
#include <string.h>

#include "followup_report.h"
#include "pw/rate.h"
#include "view.h"

void pw_report_base_target(const pw_indicator_t *ind, char *base, char *target, size_t len)
{
    if (ind->has_base)
        pw_view_fmt_num(base, len, ind->base, 6);
    else
        snprintf(base, len, "none");
    char lo[32], hi[32];
    pw_view_fmt_num(lo, sizeof(lo), ind->target, 6);
    pw_view_fmt_num(hi, sizeof(hi), ind->target_hi, 6);
    if (ind->target_kind == PW_TARGET_RANGE)
        snprintf(target, len, "%s-%s", lo, hi);
    else
        snprintf(target, len, "%s%s", ind->target_kind == PW_TARGET_AT_LEAST ? ">=" : "", lo);
}

static const char *band_color(pw_band_t b)
{
    return b == PW_BAND_SEVERE ? "\033[1;31m" : b == PW_BAND_LAGGING ? "\033[33m" : "\033[32m";
}

int pw_report_write_text(const pw_report_t *self, FILE *out, bool color)
{
    const pw_catalog_t *cat = self->cat;
    char ptext[PW_PERIOD_STRMAX];
    pw_period_format(self->period, ptext);
    fprintf(out, "Evaluation report at %s (plan %d-%d, %.0f%% of the plan period elapsed)\n", ptext,
            cat->base_year, cat->target_year, pw_report_elapsed_pct(self));
    size_t provisional = pw_report_provisional(self);
    if (provisional)
        fprintf(out,
                "PROVISIONAL (初步): %zu of %zu series not fully reported for %s (see "
                "\"reported\"); their figures may still change, and open or resolve no alert\n",
                provisional, self->nseries, ptext);
    fprintf(out, "%3s  %-32s ", "#", "indicator");
    pw_view_print_cell(out, "指标", 24);
    fprintf(out, " %-6s %7s %7s", "attr", "base", "target");
    for (size_t p = 0; p < self->nperiods; p++) {
        pw_period_format(self->periods[p], ptext);
        fprintf(out, " %8s", ptext);
    }
    fprintf(out, " %8s  %-20s %-8s %8d  %s\n", "rate", "band", "reported", cat->target_year,
            "forecast");
    for (size_t k = 0; k < self->nseries; k++) {
        const pw_report_series_t *r = &self->series[k];
        const pw_indicator_t *ind = &cat->indicators[r->ind];
        const pw_cell_t *now = pw_report_current(self, r);
        char name[160], base[32], target[32], num[32];
        if (ind->series[r->s].name[0])
            snprintf(name, sizeof(name), "%s/%s", ind->id, ind->series[r->s].name);
        else
            snprintf(name, sizeof(name), "%s", ind->id);
        pw_report_base_target(ind, base, target, sizeof(base));
        fprintf(out, "%3d  ", ind->row);
        pw_view_print_cell(out, name, 32);
        fputc(' ', out);
        pw_view_print_cell(out, ind->name_zh, 24);
        fprintf(out, " %-6s %7s %7s", ind->binding ? "bind" : "exp", base, target);
        for (size_t p = 0; p < self->nperiods; p++) {
            const pw_cell_t *c = &r->cells[p];
            if (c->has_value)
                pw_view_fmt_num(num, sizeof(num), c->value, ind->decimals);
            else
                snprintf(num, sizeof(num), "-");
            fprintf(out, " %8s", num);
        }
        char band[64] = "-";
        if (now->rate.has_rate) {
            snprintf(num, sizeof(num), "%.2f", (double)now->rate.centi / 100.0);
            snprintf(band, sizeof(band), "%s %s", pw_band_name(now->rate.band),
                     pw_band_name_zh(now->rate.band));
        } else {
            snprintf(num, sizeof(num), "-");
        }
        fprintf(out, " %8s  ", num);
        if (color && now->rate.has_rate)
            fputs(band_color(now->rate.band), out);
        pw_view_print_cell(out, band, 20);
        if (color && now->rate.has_rate)
            fputs("\033[0m", out);
        char reported[32];
        pw_view_fmt_reported(reported, sizeof(reported), now->have, now->want);
        fprintf(out, " %-8s", reported);
        if (r->forecast.has_value)
            pw_view_fmt_num(num, sizeof(num), r->forecast.value, ind->decimals);
        else
            snprintf(num, sizeof(num), "-");
        if (r->forecast.cls == PW_FORECAST_NONE)
            fprintf(out, " %8s  -", num);
        else
            fprintf(out, " %8s  %s %s", num, pw_forecast_name(r->forecast.cls),
                    pw_forecast_name_zh(r->forecast.cls));
        char note[96], note_zh[96];
        if (pw_report_note(self, r, note, note_zh, sizeof(note)))
            fprintf(out, "  note: %s (%s)", note, note_zh);
        fputc('\n', out);
    }
    int bands[4], classes[5], achieved;
    pw_report_count(self, bands, classes, &achieved);
    fprintf(out, "%zu indicators: %d on track (%d of them achieved), %d lagging, %d severe",
            cat->nindicators, bands[PW_BAND_ON_TRACK], achieved, bands[PW_BAND_LAGGING],
            bands[PW_BAND_SEVERE]);
    if (bands[PW_BAND_NONE])
        fprintf(out, ", %d without a rate", bands[PW_BAND_NONE]);
    fprintf(out,
            "\nForecast for %d: %d met early (提前完成), %d on time (可以完成), %d with extra "
            "effort (经努力可以完成), %d missed (难以完成)\n",
            cat->target_year, classes[PW_FORECAST_MET_EARLY], classes[PW_FORECAST_ON_TIME],
            classes[PW_FORECAST_EFFORT], classes[PW_FORECAST_MISSED]);
    if (self->followup) {
        int rc = pw_report_write_followup_text(cat, self->followup, out);
        if (rc != 0)
            return rc;
    }
    return ferror(out) ? -EIO : 0;
}
