/* SPDX-License-Identifier: MIT */
#include "csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pw/rate.h"
#include "text.h"
#include "view.h"

void pw_report_csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Writes fields separated by commas; the line ends with CRLF. */
static void line(FILE *out, const char *const *fields, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (k)
            fputc(',', out);
        pw_report_csv_field(out, fields[k]);
    }
    fputs("\r\n", out);
}

#define FIXED 13 /* fields before the periods' values */
#define TAIL  11 /* fields after them */

int pw_report_write_csv(const pw_report_t *self, FILE *out)
{
    const pw_catalog_t *cat = self->cat;
    size_t n = FIXED + self->nperiods + TAIL;
    const char **f = malloc(n * sizeof(*f));
    /* One text per period: its head first, then each line's value. */
    char(*texts)[32] = malloc((self->nperiods + 1) * sizeof(*texts));
    if (!f || !texts) {
        free(f);
        free(texts);
        return -ENOMEM;
    }
    char fhead[32];
    snprintf(fhead, sizeof(fhead), "forecast_%d", cat->target_year);
    fputs("\xEF\xBB\xBF", out);
    static const char *const head[FIXED] = {
        "row",  "category",  "category_zh",  "indicator", "series", "name_zh", "name_en",
        "unit", "attribute", "attribute_zh", "method",    "base",   "target"};
    static const char *const tail[TAIL] = {"rate",
                                           "band",
                                           "band_zh",
                                           "achieved",
                                           NULL,
                                           "forecast_class",
                                           "forecast_class_zh",
                                           "complete",
                                           "provisional",
                                           "note",
                                           "note_zh"};
    for (size_t k = 0; k < FIXED; k++)
        f[k] = head[k];
    for (size_t p = 0; p < self->nperiods; p++) {
        char ptext[PW_PERIOD_STRMAX];
        pw_period_format(self->periods[p], ptext);
        snprintf(texts[p], sizeof(texts[p]), "value_%s", ptext);
        f[FIXED + p] = texts[p];
    }
    for (size_t k = 0; k < TAIL; k++)
        f[FIXED + self->nperiods + k] = tail[k] ? tail[k] : fhead;
    line(out, f, n);
    for (size_t k = 0; k < self->nseries; k++) {
        const pw_report_series_t *r = &self->series[k];
        const pw_indicator_t *ind = &cat->indicators[r->ind];
        const pw_cell_t *now = pw_report_current(self, r);
        char row[16], base[32], target[32], rate[32] = "", fc[32] = "", complete[32] = "";
        static const char *const methods[] = {"linear", "level", "growth"};
        snprintf(row, sizeof(row), "%d", ind->row);
        pw_report_base_target(ind, base, target, sizeof(base));
        if (!ind->has_base)
            base[0] = '\0';
        const char *fixed[FIXED] = {row,
                                    ind->category,
                                    pw_report_category_zh(ind->category),
                                    ind->id,
                                    ind->series[r->s].name,
                                    ind->name_zh,
                                    ind->name_en,
                                    ind->unit,
                                    ind->binding ? "binding" : "expected",
                                    pw_report_attribute_zh(ind),
                                    methods[ind->method],
                                    base,
                                    target};
        for (size_t j = 0; j < FIXED; j++)
            f[j] = fixed[j];
        for (size_t p = 0; p < self->nperiods; p++) {
            texts[p][0] = '\0';
            if (r->cells[p].has_value)
                pw_view_fmt_num(texts[p], sizeof(texts[p]), r->cells[p].value, ind->decimals);
            f[FIXED + p] = texts[p];
        }
        if (now->rate.has_rate)
            snprintf(rate, sizeof(rate), "%.2f", (double)now->rate.centi / 100.0);
        if (r->forecast.has_value)
            pw_view_fmt_num(fc, sizeof(fc), r->forecast.value, ind->decimals);
        if (now->want)
            pw_view_fmt_reported(complete, sizeof(complete), now->have, now->want);
        char note[96], note_zh[96];
        pw_report_note(self, r, note, note_zh, sizeof(note));
        const char *t[TAIL] = {rate,
                               now->rate.has_rate ? pw_band_name(now->rate.band) : "",
                               pw_band_name_zh(now->rate.band),
                               now->rate.achieved ? "true" : "false",
                               fc,
                               r->forecast.cls ? pw_forecast_name(r->forecast.cls) : "",
                               pw_forecast_name_zh(r->forecast.cls),
                               complete,
                               pw_view_provisional(now->have, now->want) ? "true" : "false",
                               note,
                               note_zh};
        for (size_t j = 0; j < TAIL; j++)
            f[FIXED + self->nperiods + j] = t[j];
        line(out, f, n);
    }
    free(texts);
    free(f);
    return ferror(out) ? -EIO : 0;
}
