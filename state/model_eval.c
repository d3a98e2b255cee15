/* SPDX-License-Identifier: MIT */
/* The model's evaluation: a row's value, rate and band from the current values. */
#include "model_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

void pw__model_eval_at(const pw_model_t *self, int i, int s, int pidx, pw_period_t p,
                       pw_cell_t *out)
{
    const pw_catalog_t *cat = self->cat;
    const pw_indicator_t *ind = &cat->indicators[i];
    const pw_series_t *sr = &ind->series[s];
    memset(out, 0, sizeof(*out));
    pw_level_t la = cat->elements[sr->a].level;
    pw_level_t lb = sr->b >= 0 ? cat->elements[sr->b].level : la;
    const double *vals = self->vals + (size_t)pidx * self->nd * self->ne;
    const unsigned char *have = self->have + (size_t)pidx * self->nd * self->ne;
    double sa = 0, sb = 0, sab = 0;
    size_t na = 0, nb = 0;
    for (size_t d = 0; d < self->nd; d++) {
        pw_level_t ld = cat->districts[d].level;
        bool need_a = ld == la, need_b = sr->b >= 0 && ld == lb;
        if (!need_a && !need_b)
            continue;
        out->want++;
        size_t base = d * self->ne;
        /* Only a reporter that sent every element it owes counts, so a
         * half-sent ratio never skews a provisional figure. */
        if ((need_a && !have[base + (size_t)sr->a]) || (need_b && !have[base + (size_t)sr->b]))
            continue;
        out->have++;
        double a = need_a ? vals[base + (size_t)sr->a] : 0.0;
        if (need_a) {
            sa += a;
            na++;
        }
        if (need_b) {
            double b = vals[base + (size_t)sr->b];
            sb += b;
            sab += a * b;
            nb++;
        }
    }
    double v;
    switch (sr->formula) {
    case PW_FORMULA_SUM:
        if (na == 0)
            return;
        v = sa * sr->scale;
        break;
    case PW_FORMULA_ANNUALISED:
        if (na == 0)
            return;
        v = sa * 12.0 / (double)p.months * sr->scale;
        break;
    case PW_FORMULA_RATIO:
    case PW_FORMULA_SHARE:
        if (na == 0 || nb == 0 || sb == 0.0)
            return;
        v = sa / sb * sr->scale;
        break;
    case PW_FORMULA_WMEAN:
    default:
        if (nb == 0 || sb == 0.0)
            return;
        v = sab / sb * sr->scale;
        break;
    }
    if (!isfinite(v))
        return;
    out->has_value = true;
    out->value = pw_round(v, ind->decimals);
    pw_rate_eval(cat, ind, p, out->value, &out->rate);
}

void pw_model_eval_reporter(const pw_model_t *self, int d, int i, int s, pw_period_t p,
                            pw_cell_t *out)
{
    const pw_catalog_t *cat = self->cat;
    const pw_indicator_t *ind = &cat->indicators[i];
    const pw_series_t *sr = &ind->series[s];
    memset(out, 0, sizeof(*out));
    out->want = 1;
    pw_level_t ld = cat->districts[d].level;
    if (cat->elements[sr->a].level != ld || (sr->b >= 0 && cat->elements[sr->b].level != ld))
        return;
    double a, b = 1.0;
    if (!pw_model_get(self, d, sr->a, p, &a) || (sr->b >= 0 && !pw_model_get(self, d, sr->b, p, &b)))
        return;
    out->have = 1;
    double v;
    bool rated = true;
    switch (sr->formula) {
    case PW_FORMULA_SUM:
        v = a * sr->scale;
        rated = false;
        break;
    case PW_FORMULA_ANNUALISED:
        v = a * 12.0 / (double)p.months * sr->scale;
        rated = false;
        break;
    case PW_FORMULA_WMEAN:
        v = a * sr->scale;
        break;
    default:
        if (b == 0.0)
            return;
        v = a / b * sr->scale;
        break;
    }
    if (!isfinite(v))
        return;
    out->has_value = true;
    out->value = pw_round(v, ind->decimals);
    if (rated)
        pw_rate_eval(cat, ind, p, out->value, &out->rate);
}

void pw_model_reporting(const pw_model_t *self, int d, pw_period_t p, uint32_t *reported,
                        uint32_t *expected, char *missing, size_t len)
{
    const pw_catalog_t *cat = self->cat;
    *reported = *expected = 0;
    size_t used = 0;
    if (len)
        missing[0] = '\0';
    for (size_t e = 0; e < self->ne; e++) {
        /* Owed: at the reporter's level, and used by some indicator. */
        if (cat->elements[e].level != cat->districts[d].level || self->el_off[e] == self->el_off[e + 1])
            continue;
        (*expected)++;
        double v;
        if (pw_model_get(self, d, (int)e, p, &v)) {
            (*reported)++;
            continue;
        }
        size_t need = strlen(cat->elements[e].id) + 1;
        if (used + need + 4 < len) {
            used += (size_t)snprintf(missing + used, len - used, "%s%s", used ? " " : "",
                                     cat->elements[e].id);
        } else if (len > used + 4 && !strstr(missing, "...")) {
            used += (size_t)snprintf(missing + used, len - used, " ...");
        }
    }
}

uint32_t pw_model_want(const pw_catalog_t *cat, int i, int s)
{
    const pw_series_t *sr = &cat->indicators[i].series[s];
    pw_level_t la = cat->elements[sr->a].level;
    pw_level_t lb = sr->b >= 0 ? cat->elements[sr->b].level : la;
    uint32_t want = 0;
    for (size_t d = 0; d < cat->ndistricts; d++)
        want += cat->districts[d].level == la || cat->districts[d].level == lb;
    return want;
}

void pw_model_eval(const pw_model_t *self, int i, int s, pw_period_t p, pw_cell_t *out)
{
    int pidx = pw__model_find_period(self, p);
    if (pidx < 0) {
        memset(out, 0, sizeof(*out));
        out->want = pw_model_want(self->cat, i, s);
        return;
    }
    pw__model_eval_at(self, i, s, pidx, p, out);
}
