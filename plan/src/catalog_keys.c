/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_parser.h"
#include "pw/catalog.h"
#include "pw/error.h"
#include "pw/text.h"

/* Each key's value: its syntax, its range, and where in the catalog it goes. */

const char *const pw__catalog_key_names[NKEYS] = {
    "name",   "base_year",   "target_year", "alert_below", "on_track_at", "name_zh",   "name_en",
    "unit",   "level",       "kind",        "row",         "category",    "attribute", "base",
    "target", "target_kind", "direction",   "method",      "decimals",    "value",     "max",
};

/* Enum spellings, in the order of the enums in catalog.h. */
const char *const pw__catalog_level_names[2] = {"district", "city"};
static const char *const kind_names[] = {"count", "flow", "amount"};
static const char *const attribute_names[] = {"binding", "expected"};
const char *const pw__catalog_target_kind_names[3] = {"exact", "at_least", "range"};
static const char *const direction_names[] = {"up", "down"};
static const char *const method_names[] = {"linear", "level", "growth"};

static const struct formula_spec {
    const char *name;
    pw_formula_t formula;
    const char *sep; /* the word between the two elements, or NULL for one element */
    bool scalable;   /* takes an optional "* K" */
    const char *usage;
} formulas[] = {
    {"sum", PW_FORMULA_SUM, NULL, true, "sum E [* K]"},
    {"annualised", PW_FORMULA_ANNUALISED, NULL, true, "annualised E [* K]"},
    {"ratio", PW_FORMULA_RATIO, "/", true, "ratio A / B [* K]"},
    {"share", PW_FORMULA_SHARE, "/", false, "share A / B"},
    {"wmean", PW_FORMULA_WMEAN, "by", false, "wmean A by W"},
};

/* "a, b or c" */
static void join_names(char *buf, size_t size, const char *const *names, size_t count)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == count ? " or " : ", ";
        int n = snprintf(buf + used, size - used, "%s%s", sep, names[i]);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

static int parse_enum(struct parser *p, enum key k, const char *v, size_t n,
                      const char *const *names, size_t count, int *out)
{
    for (size_t i = 0; i < count; i++) {
        if (pw__catalog_eqn(v, n, names[i])) {
            *out = (int)i;
            return 0;
        }
    }
    char list[128];
    join_names(list, sizeof list, names, count);
    return pw__catalog_sfail(p, p->line, "unknown %s '%.*s' (expected %s)",
                             pw__catalog_key_names[k], (int)n, v, list);
}

static pw_district_t *cur_district(struct parser *p)
{
    return &p->cat->districts[p->cat->ndistricts - 1];
}

static pw_element_t *cur_element(struct parser *p)
{
    return &p->cat->elements[p->cat->nelements - 1];
}

static pw_indicator_t *cur_indicator(struct parser *p)
{
    return &p->cat->indicators[p->cat->nindicators - 1];
}

static char **string_field(struct parser *p, enum key k)
{
    switch (p->sect) {
    case SECT_PLAN:
        return &p->cat->name;
    case SECT_DISTRICT:
        return k == K_NAME_ZH ? &cur_district(p)->name_zh : &cur_district(p)->name_en;
    case SECT_ELEMENT:
        return k == K_NAME_ZH   ? &cur_element(p)->name_zh
               : k == K_NAME_EN ? &cur_element(p)->name_en
                                : &cur_element(p)->unit;
    default:
        return k == K_NAME_ZH   ? &cur_indicator(p)->name_zh
               : k == K_NAME_EN ? &cur_indicator(p)->name_en
               : k == K_UNIT    ? &cur_indicator(p)->unit
                                : &cur_indicator(p)->category;
    }
}

static int set_string(struct parser *p, enum key k, const char *v, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return pw__catalog_oom(p);
    memcpy(s, v, n);
    s[n] = '\0';
    *string_field(p, k) = s;
    return 0;
}

static int bad_number(struct parser *p, enum key k, const char *v, size_t n)
{
    return pw__catalog_sfail(
        p, p->line, "bad number '%.*s' for '%s' (expected a plain decimal like 12 or 37.5)", (int)n,
        v, pw__catalog_key_names[k]);
}

static int add_ref(struct parser *p, size_t series, bool is_b, const char *v, size_t n)
{
    struct ref *r = pw__text_reserve(p->refs, p->nrefs, &p->refcap, sizeof *r);
    if (!r)
        return pw__catalog_oom(p);
    p->refs = r;
    r = &p->refs[p->nrefs++];
    r->ind = p->cat->nindicators - 1;
    r->series = series;
    r->is_b = is_b;
    r->line = p->line;
    memcpy(r->name, v, n);
    r->name[n] = '\0';
    return 0;
}

static int parse_formula(struct parser *p, pw_series_t *s, size_t series, const char *v, size_t n)
{
    const char *tok[8];
    size_t len[8], ntok = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && pw__text_is_space(v[i]))
            i++;
        if (i == n)
            break;
        if (ntok == COUNT(tok))
            return pw__catalog_sfail(p, p->line, "formula '%.*s' has too many words", (int)n, v);
        tok[ntok] = v + i;
        while (i < n && !pw__text_is_space(v[i]))
            i++;
        len[ntok] = (size_t)(v + i - tok[ntok]);
        ntok++;
    }
    const struct formula_spec *f = NULL;
    for (size_t k = 0; k < COUNT(formulas); k++)
        if (pw__catalog_eqn(tok[0], len[0], formulas[k].name))
            f = &formulas[k];
    if (!f)
        return pw__catalog_sfail(
            p, p->line, "unknown formula '%.*s' (expected sum, annualised, ratio, share or wmean)",
            (int)len[0], tok[0]);
    size_t nelem = f->sep ? 4 : 2; /* "f A sep B" or "f E" */
    bool shape = ntok == nelem || (f->scalable && ntok == nelem + 2);
    if (shape && f->sep)
        shape = pw__catalog_eqn(tok[2], len[2], f->sep);
    if (shape && ntok == nelem + 2)
        shape = pw__catalog_eqn(tok[nelem], len[nelem], "*");
    if (!shape)
        return pw__catalog_sfail(p, p->line,
                                 "formula '%.*s' should read '%s' (words separated by spaces)",
                                 (int)n, v, f->usage);
    for (size_t k = 1; k < nelem; k += 2) {
        if (!pw__id_valid(tok[k], len[k]))
            return pw__catalog_sfail(p, p->line, "'%.*s' in formula is not an element id",
                                     (int)len[k], tok[k]);
    }
    s->formula = f->formula;
    s->a = -1;
    s->b = -1;
    s->scale = f->formula == PW_FORMULA_SHARE ? 100.0 : 1.0;
    if (ntok == nelem + 2) {
        const char *k = tok[nelem + 1];
        size_t kn = len[nelem + 1];
        if (!pw__text_parse_number(k, kn, &s->scale) || !(s->scale > 0))
            return pw__catalog_sfail(p, p->line, "scale '%.*s' in formula is not a positive number",
                                     (int)kn, k);
    }
    int rc = add_ref(p, series, false, tok[1], len[1]);
    if (rc == 0 && f->sep)
        rc = add_ref(p, series, true, tok[3], len[3]);
    return rc;
}

int pw__catalog_set_value(struct parser *p, const char *key, size_t klen, const char *v, size_t n)
{
    pw_indicator_t *ind = cur_indicator(p);
    bool plain = klen == 5;
    const char *sname = key + 6;
    size_t slen = plain ? 0 : klen - 6;
    if (!plain && !pw__id_valid(sname, slen))
        return pw__catalog_sfail(
            p, p->line,
            "bad series name '%.*s' in '%.*s' (use a-z, 0-9 and _, up to %d characters)", (int)slen,
            sname, (int)klen, key, PW_ID_MAX - 1);
    if (plain && p->value_plain)
        return pw__catalog_fail(p, p->line, "duplicate key 'value' (first at line %d)",
                                p->series_line[0]);
    if (plain ? ind->nseries > 0 : p->value_plain)
        return pw__catalog_sfail(p, p->line,
                                 "both 'value' and 'value.NAME' given (use one form or the other)");
    for (size_t i = 0; i < ind->nseries; i++) {
        if (pw__catalog_eqn(sname, slen, ind->series[i].name))
            return pw__catalog_fail(p, p->line, "duplicate key '%.*s' (first at line %d)",
                                    (int)klen, key, p->series_line[i]);
    }
    if (ind->nseries == PW_SERIES_MAX)
        return pw__catalog_sfail(p, p->line, "too many series (at most %d value.NAME keys)",
                                 PW_SERIES_MAX);
    size_t idx = ind->nseries;
    pw_series_t *s = &ind->series[idx];
    memcpy(s->name, sname, slen);
    s->name[slen] = '\0';
    int rc = parse_formula(p, s, idx, v, n);
    if (rc != 0)
        return rc;
    p->series_line[idx] = p->line;
    p->value_plain = plain;
    ind->nseries++;
    return 0;
}

static int set_target(struct parser *p, pw_indicator_t *ind, const char *v, size_t n)
{
    if (pw__text_parse_number(v, n, &ind->target)) {
        ind->target_hi = ind->target;
        p->target_range = false;
        return 0;
    }
    /* "lo-hi": the dash after the first character (lo itself may be negative). */
    for (size_t i = 1; i + 1 < n; i++) {
        const char *l = v, *h = v + i + 1;
        size_t ln = i, hn = n - i - 1;
        double lo, hi;
        if (v[i] != '-')
            continue;
        pw__text_trim(&l, &ln);
        pw__text_trim(&h, &hn);
        if (!pw__text_parse_number(l, ln, &lo) || !pw__text_parse_number(h, hn, &hi))
            continue;
        if (!(lo < hi))
            return pw__catalog_sfail(p, p->line,
                                     "range target '%.*s': the low end must be below the high end",
                                     (int)n, v);
        ind->target = lo;
        ind->target_hi = hi;
        p->target_range = true;
        return 0;
    }
    return pw__catalog_sfail(
        p, p->line, "bad target '%.*s' (expected a plain decimal, or LO-HI like 30-40)", (int)n, v);
}

/* The keys of an [indicator] section, but value.NAME. */
static int set_indicator_key(struct parser *p, enum key k, const char *v, size_t n)
{
    pw_indicator_t *ind = cur_indicator(p);
    int e = 0, rc;
    long i;
    switch (k) {
    case K_ROW:
        if (!pw__text_parse_int(v, n, &i) || i < 0 || i > 1000000)
            return pw__catalog_sfail(
                p, p->line, "row must be a whole number 0 or above, not '%.*s'", (int)n, v);
        ind->row = (int)i;
        return 0;
    case K_ATTRIBUTE:
        if ((rc = parse_enum(p, k, v, n, attribute_names, COUNT(attribute_names), &e)) != 0)
            return rc;
        ind->binding = e == 0;
        return 0;
    case K_BASE:
        if (pw__catalog_eqn(v, n, "none")) {
            ind->has_base = false;
            ind->base = 0;
            return 0;
        }
        if (!pw__text_parse_number(v, n, &ind->base))
            return pw__catalog_sfail(
                p, p->line, "bad base '%.*s' (expected a plain decimal like 37.5, or none)", (int)n,
                v);
        ind->has_base = true;
        return 0;
    case K_TARGET:
        return set_target(p, ind, v, n);
    case K_TARGET_KIND:
        if ((rc = parse_enum(p, k, v, n, pw__catalog_target_kind_names,
                             COUNT(pw__catalog_target_kind_names), &e)) != 0)
            return rc;
        ind->target_kind = (pw_target_kind_t)e;
        return 0;
    case K_DIRECTION:
        if ((rc = parse_enum(p, k, v, n, direction_names, COUNT(direction_names), &e)) != 0)
            return rc;
        ind->direction = e == 0 ? 1 : -1;
        return 0;
    case K_METHOD:
        if ((rc = parse_enum(p, k, v, n, method_names, COUNT(method_names), &e)) != 0)
            return rc;
        ind->method = (pw_method_t)e;
        return 0;
    case K_DECIMALS:
        if (!pw__text_parse_int(v, n, &i) || i < 0 || i > 6)
            return pw__catalog_sfail(
                p, p->line, "decimals must be a whole number from 0 to 6, not '%.*s'", (int)n, v);
        ind->decimals = (int)i;
        return 0;
    default:
        assert(false); /* K_VALUE is handled by set_value() */
        return PW_ECATALOG;
    }
}

int pw__catalog_set_key(struct parser *p, enum key k, const char *v, size_t n)
{
    int e = 0, rc;
    long i;
    switch (k) {
    case K_NAME:
    case K_NAME_ZH:
    case K_NAME_EN:
    case K_UNIT:
        return set_string(p, k, v, n);
    case K_CATEGORY:
        if (!pw__id_valid(v, n))
            return pw__catalog_sfail(p, p->line,
                                     "bad category '%.*s' (use a-z, 0-9 and _, like elderly_care)",
                                     (int)n, v);
        return set_string(p, k, v, n);
    case K_BASE_YEAR:
    case K_TARGET_YEAR:
        if (!pw__text_parse_int(v, n, &i) || i < 1000 || i > 9999)
            return pw__catalog_sfail(p, p->line, "%s must be a year from 1000 to 9999, not '%.*s'",
                                     pw__catalog_key_names[k], (int)n, v);
        *(k == K_BASE_YEAR ? &p->cat->base_year : &p->cat->target_year) = (int)i;
        return 0;
    case K_ALERT_BELOW:
    case K_ON_TRACK_AT:
        if (!pw__text_parse_number(
                v, n, k == K_ALERT_BELOW ? &p->cat->alert_below : &p->cat->on_track_at))
            return bad_number(p, k, v, n);
        return 0;
    case K_LEVEL:
        if ((rc = parse_enum(p, k, v, n, pw__catalog_level_names, COUNT(pw__catalog_level_names),
                             &e)) != 0)
            return rc;
        if (p->sect == SECT_DISTRICT)
            cur_district(p)->level = (pw_level_t)e;
        else
            cur_element(p)->level = (pw_level_t)e;
        return 0;
    case K_KIND:
        if ((rc = parse_enum(p, k, v, n, kind_names, COUNT(kind_names), &e)) != 0)
            return rc;
        cur_element(p)->integer = e != 2;
        cur_element(p)->flow = e == 1;
        return 0;
    case K_MAX: {
        double *max = &cur_element(p)->max;
        if (!pw__text_parse_number(v, n, max) || !(*max > 0) || *max > PW_VALUE_MAX)
            return pw__catalog_sfail(
                p, p->line,
                "max must be above 0 and at most %.0f (2^53 - 1, past which a number "
                "is not held exactly), not '%.*s'",
                PW_VALUE_MAX, (int)n, v);
        cur_element(p)->has_max = true;
        return 0;
    }
    default:
        return set_indicator_key(p, k, v, n);
    }
}
