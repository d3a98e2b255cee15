/* SPDX-License-Identifier: MIT */
#include "pw/catalog.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/text.h"
#include "pw/error.h"

enum sect { SECT_NONE = 0, SECT_PLAN, SECT_DISTRICT, SECT_ELEMENT, SECT_INDICATOR, NSECT };

static const char *const sect_names[NSECT] = {"", "plan", "district", "element", "indicator"};

/* Key order is also the order in which missing keys are reported. */
enum key {
    K_NAME = 0,
    K_BASE_YEAR,
    K_TARGET_YEAR,
    K_ALERT_BELOW,
    K_ON_TRACK_AT,
    K_NAME_ZH,
    K_NAME_EN,
    K_UNIT,
    K_LEVEL,
    K_KIND,
    K_ROW,
    K_CATEGORY,
    K_ATTRIBUTE,
    K_BASE,
    K_TARGET,
    K_TARGET_KIND,
    K_DIRECTION,
    K_METHOD,
    K_DECIMALS,
    K_VALUE,
    K_MAX,
    NKEYS
};

static const char *const key_names[NKEYS] = {
    "name",   "base_year",   "target_year", "alert_below", "on_track_at", "name_zh",   "name_en",
    "unit",   "level",       "kind",        "row",         "category",    "attribute", "base",
    "target", "target_kind", "direction",   "method",      "decimals",    "value",     "max",
};

#define BIT(k) (1u << (k))

static const uint32_t allowed_keys[NSECT] = {
    [SECT_PLAN] = BIT(K_NAME) | BIT(K_BASE_YEAR) | BIT(K_TARGET_YEAR) | BIT(K_ALERT_BELOW) |
                  BIT(K_ON_TRACK_AT),
    [SECT_DISTRICT] = BIT(K_NAME_ZH) | BIT(K_NAME_EN) | BIT(K_LEVEL),
    [SECT_ELEMENT] =
        BIT(K_NAME_ZH) | BIT(K_NAME_EN) | BIT(K_UNIT) | BIT(K_KIND) | BIT(K_LEVEL) | BIT(K_MAX),
    [SECT_INDICATOR] = BIT(K_ROW) | BIT(K_NAME_ZH) | BIT(K_NAME_EN) | BIT(K_CATEGORY) |
                       BIT(K_UNIT) | BIT(K_ATTRIBUTE) | BIT(K_BASE) | BIT(K_TARGET) |
                       BIT(K_TARGET_KIND) | BIT(K_DIRECTION) | BIT(K_METHOD) | BIT(K_DECIMALS) |
                       BIT(K_VALUE),
};

static const uint32_t required_keys[NSECT] = {
    [SECT_PLAN] = BIT(K_NAME) | BIT(K_BASE_YEAR) | BIT(K_TARGET_YEAR),
    [SECT_DISTRICT] = BIT(K_NAME_ZH) | BIT(K_NAME_EN) | BIT(K_LEVEL),
    [SECT_ELEMENT] = BIT(K_NAME_ZH) | BIT(K_NAME_EN) | BIT(K_UNIT) | BIT(K_KIND) | BIT(K_LEVEL),
    [SECT_INDICATOR] = BIT(K_NAME_ZH) | BIT(K_NAME_EN) | BIT(K_CATEGORY) | BIT(K_UNIT) |
                       BIT(K_ATTRIBUTE) | BIT(K_BASE) | BIT(K_TARGET) | BIT(K_TARGET_KIND) |
                       BIT(K_METHOD) | BIT(K_VALUE),
};

/* Enum spellings, in the order of the enums in catalog.h. */
static const char *const level_names[] = {"district", "city"};
static const char *const kind_names[] = {"count", "flow", "amount"};
static const char *const attribute_names[] = {"binding", "expected"};
static const char *const target_kind_names[] = {"exact", "at_least", "range"};
static const char *const direction_names[] = {"up", "down"};
static const char *const method_names[] = {"linear", "level", "growth"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

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

/* An element named by a formula, resolved once the whole file has been read. */
struct ref {
    size_t ind;
    size_t series;
    bool is_b;
    int line;
    char name[PW_ID_MAX];
};

struct parser {
    const char *name;
    char *err;
    size_t errlen;
    pw_catalog_t *cat;
    int line;
    /* Section header lines of each entry, for "first at line N" and missing keys. */
    int *dlines, *elines, *ilines;
    size_t dcap, ecap, icap, dlcap, elcap, ilcap;
    struct ref *refs;
    size_t nrefs, refcap;
    int plan_line;
    /* The section being read. */
    enum sect sect;
    int sect_line;
    uint32_t seen;
    int key_line[NKEYS];
    bool target_range;
    bool value_plain;
    int series_line[PW_SERIES_MAX];
};

__attribute__((format(printf, 4, 0))) static void vfail(struct parser *p, int line, bool ctx,
                                                        const char *fmt, va_list ap)
{
    if (p->errlen == 0)
        return;
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, line);
    if (n >= 0 && ctx && p->sect == SECT_PLAN)
        n += snprintf(p->err + n, (size_t)n < p->errlen ? p->errlen - (size_t)n : 0, "plan: ");
    else if (n >= 0 && ctx && p->sect != SECT_NONE) {
        const char *id = "";
        if (p->sect == SECT_DISTRICT)
            id = p->cat->districts[p->cat->ndistricts - 1].id;
        else if (p->sect == SECT_ELEMENT)
            id = p->cat->elements[p->cat->nelements - 1].id;
        else if (p->sect == SECT_INDICATOR)
            id = p->cat->indicators[p->cat->nindicators - 1].id;
        if ((size_t)n < p->errlen)
            n += snprintf(p->err + n, p->errlen - (size_t)n, "%s '%s': ", sect_names[p->sect], id);
    }
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
}

/* Reports an error at a line; returns PW_ECATALOG. */
__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, int line, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, line, false, fmt, ap);
    va_end(ap);
    return PW_ECATALOG;
}

/* Same, prefixed with the current section ("indicator 'beds': "). */
__attribute__((format(printf, 3, 4))) static int sfail(struct parser *p, int line, const char *fmt,
                                                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, line, true, fmt, ap);
    va_end(ap);
    return PW_ECATALOG;
}

static int oom(struct parser *p)
{
    return pw__text_sys_error(p->err, p->errlen, p->name, -ENOMEM);
}

static bool eqn(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* eqn() for the id lookups, which the aggregator makes several times per
 * update over every district: byte by byte, so most candidates are dismissed
 * at their first differing byte without a strlen() and a memcmp() call. */
static bool id_eq(const char *s, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++)
        if (word[i] == '\0' || word[i] != s[i])
            return false;
    return word[n] == '\0';
}

static int push_line(int **lines, size_t *cap, size_t n, int line)
{
    int *q = pw__text_reserve(*lines, n, cap, sizeof *q);
    if (!q)
        return -ENOMEM;
    *lines = q;
    q[n] = line;
    return 0;
}

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
        if (eqn(v, n, names[i])) {
            *out = (int)i;
            return 0;
        }
    }
    char list[128];
    join_names(list, sizeof list, names, count);
    return sfail(p, p->line, "unknown %s '%.*s' (expected %s)", key_names[k], (int)n, v, list);
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
        return oom(p);
    memcpy(s, v, n);
    s[n] = '\0';
    *string_field(p, k) = s;
    return 0;
}

static int bad_number(struct parser *p, enum key k, const char *v, size_t n)
{
    return sfail(p, p->line,
                 "bad number '%.*s' for '%s' (expected a plain decimal like 12 or 37.5)", (int)n, v,
                 key_names[k]);
}

static int add_ref(struct parser *p, size_t series, bool is_b, const char *v, size_t n)
{
    struct ref *r = pw__text_reserve(p->refs, p->nrefs, &p->refcap, sizeof *r);
    if (!r)
        return oom(p);
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
            return sfail(p, p->line, "formula '%.*s' has too many words", (int)n, v);
        tok[ntok] = v + i;
        while (i < n && !pw__text_is_space(v[i]))
            i++;
        len[ntok] = (size_t)(v + i - tok[ntok]);
        ntok++;
    }
    const struct formula_spec *f = NULL;
    for (size_t k = 0; k < COUNT(formulas); k++)
        if (eqn(tok[0], len[0], formulas[k].name))
            f = &formulas[k];
    if (!f)
        return sfail(p, p->line,
                     "unknown formula '%.*s' (expected sum, annualised, ratio, share or wmean)",
                     (int)len[0], tok[0]);
    size_t nelem = f->sep ? 4 : 2; /* "f A sep B" or "f E" */
    bool shape = ntok == nelem || (f->scalable && ntok == nelem + 2);
    if (shape && f->sep)
        shape = eqn(tok[2], len[2], f->sep);
    if (shape && ntok == nelem + 2)
        shape = eqn(tok[nelem], len[nelem], "*");
    if (!shape)
        return sfail(p, p->line, "formula '%.*s' should read '%s' (words separated by spaces)",
                     (int)n, v, f->usage);
    for (size_t k = 1; k < nelem; k += 2) {
        if (!pw__id_valid(tok[k], len[k]))
            return sfail(p, p->line, "'%.*s' in formula is not an element id", (int)len[k], tok[k]);
    }
    s->formula = f->formula;
    s->a = -1;
    s->b = -1;
    s->scale = f->formula == PW_FORMULA_SHARE ? 100.0 : 1.0;
    if (ntok == nelem + 2) {
        const char *k = tok[nelem + 1];
        size_t kn = len[nelem + 1];
        if (!pw__text_parse_number(k, kn, &s->scale) || !(s->scale > 0))
            return sfail(p, p->line, "scale '%.*s' in formula is not a positive number", (int)kn,
                         k);
    }
    int rc = add_ref(p, series, false, tok[1], len[1]);
    if (rc == 0 && f->sep)
        rc = add_ref(p, series, true, tok[3], len[3]);
    return rc;
}

static int set_value(struct parser *p, const char *key, size_t klen, const char *v, size_t n)
{
    pw_indicator_t *ind = cur_indicator(p);
    bool plain = klen == 5;
    const char *sname = key + 6;
    size_t slen = plain ? 0 : klen - 6;
    if (!plain && !pw__id_valid(sname, slen))
        return sfail(p, p->line,
                     "bad series name '%.*s' in '%.*s' (use a-z, 0-9 and _, up to %d characters)",
                     (int)slen, sname, (int)klen, key, PW_ID_MAX - 1);
    if (plain && p->value_plain)
        return fail(p, p->line, "duplicate key 'value' (first at line %d)", p->series_line[0]);
    if (plain ? ind->nseries > 0 : p->value_plain)
        return sfail(p, p->line, "both 'value' and 'value.NAME' given (use one form or the other)");
    for (size_t i = 0; i < ind->nseries; i++) {
        if (eqn(sname, slen, ind->series[i].name))
            return fail(p, p->line, "duplicate key '%.*s' (first at line %d)", (int)klen, key,
                        p->series_line[i]);
    }
    if (ind->nseries == PW_SERIES_MAX)
        return sfail(p, p->line, "too many series (at most %d value.NAME keys)", PW_SERIES_MAX);
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
            return sfail(p, p->line, "range target '%.*s': the low end must be below the high end",
                         (int)n, v);
        ind->target = lo;
        ind->target_hi = hi;
        p->target_range = true;
        return 0;
    }
    return sfail(p, p->line, "bad target '%.*s' (expected a plain decimal, or LO-HI like 30-40)",
                 (int)n, v);
}

static int set_key(struct parser *p, enum key k, const char *v, size_t n)
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
            return sfail(p, p->line, "bad category '%.*s' (use a-z, 0-9 and _, like elderly_care)",
                         (int)n, v);
        return set_string(p, k, v, n);
    case K_BASE_YEAR:
    case K_TARGET_YEAR:
        if (!pw__text_parse_int(v, n, &i) || i < 1000 || i > 9999)
            return sfail(p, p->line, "%s must be a year from 1000 to 9999, not '%.*s'",
                         key_names[k], (int)n, v);
        *(k == K_BASE_YEAR ? &p->cat->base_year : &p->cat->target_year) = (int)i;
        return 0;
    case K_ALERT_BELOW:
    case K_ON_TRACK_AT:
        if (!pw__text_parse_number(
                v, n, k == K_ALERT_BELOW ? &p->cat->alert_below : &p->cat->on_track_at))
            return bad_number(p, k, v, n);
        return 0;
    case K_LEVEL:
        if ((rc = parse_enum(p, k, v, n, level_names, COUNT(level_names), &e)) != 0)
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
            return sfail(p, p->line,
                         "max must be above 0 and at most %.0f (2^53 - 1, past which a number "
                         "is not held exactly), not '%.*s'",
                         PW_VALUE_MAX, (int)n, v);
        cur_element(p)->has_max = true;
        return 0;
    }
    case K_ROW:
        if (!pw__text_parse_int(v, n, &i) || i < 0 || i > 1000000)
            return sfail(p, p->line, "row must be a whole number 0 or above, not '%.*s'", (int)n,
                         v);
        cur_indicator(p)->row = (int)i;
        return 0;
    case K_ATTRIBUTE:
        if ((rc = parse_enum(p, k, v, n, attribute_names, COUNT(attribute_names), &e)) != 0)
            return rc;
        cur_indicator(p)->binding = e == 0;
        return 0;
    case K_BASE:
        if (eqn(v, n, "none")) {
            cur_indicator(p)->has_base = false;
            cur_indicator(p)->base = 0;
            return 0;
        }
        if (!pw__text_parse_number(v, n, &cur_indicator(p)->base))
            return sfail(p, p->line,
                         "bad base '%.*s' (expected a plain decimal like 37.5, or none)", (int)n,
                         v);
        cur_indicator(p)->has_base = true;
        return 0;
    case K_TARGET:
        return set_target(p, cur_indicator(p), v, n);
    case K_TARGET_KIND:
        if ((rc = parse_enum(p, k, v, n, target_kind_names, COUNT(target_kind_names), &e)) != 0)
            return rc;
        cur_indicator(p)->target_kind = (pw_target_kind_t)e;
        return 0;
    case K_DIRECTION:
        if ((rc = parse_enum(p, k, v, n, direction_names, COUNT(direction_names), &e)) != 0)
            return rc;
        cur_indicator(p)->direction = e == 0 ? 1 : -1;
        return 0;
    case K_METHOD:
        if ((rc = parse_enum(p, k, v, n, method_names, COUNT(method_names), &e)) != 0)
            return rc;
        cur_indicator(p)->method = (pw_method_t)e;
        return 0;
    case K_DECIMALS:
        if (!pw__text_parse_int(v, n, &i) || i < 0 || i > 6)
            return sfail(p, p->line, "decimals must be a whole number from 0 to 6, not '%.*s'",
                         (int)n, v);
        cur_indicator(p)->decimals = (int)i;
        return 0;
    default:
        assert(false); /* K_VALUE is handled by set_value() */
        return PW_ECATALOG;
    }
}

static int do_key(struct parser *p, const char *key, size_t klen, const char *v, size_t n)
{
    if (klen == 0)
        return fail(p, p->line, "missing key before '='");
    if (p->sect == SECT_NONE)
        return fail(p, p->line, "key outside any section (start one with a [section] line)");
    enum key k = NKEYS;
    for (int i = 0; i < NKEYS; i++)
        if ((allowed_keys[p->sect] & BIT(i)) && eqn(key, klen, key_names[i]))
            k = (enum key)i;
    bool series = p->sect == SECT_INDICATOR && klen >= 6 && memcmp(key, "value.", 6) == 0;
    if (series)
        k = K_VALUE;
    if (k == NKEYS) {
        char list[256];
        size_t used = 0;
        list[0] = '\0';
        for (int i = 0; i < NKEYS; i++) {
            if (!(allowed_keys[p->sect] & BIT(i)))
                continue;
            int w =
                snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", key_names[i]);
            used += w > 0 ? (size_t)w : 0;
        }
        if (p->sect == SECT_INDICATOR)
            snprintf(list + used, sizeof list - used, ", value.NAME");
        return sfail(p, p->line, "unknown key '%.*s' (known keys: %s)", (int)klen, key, list);
    }
    if (k != K_VALUE && (p->seen & BIT(k)))
        return fail(p, p->line, "duplicate key '%.*s' (first at line %d)", (int)klen, key,
                    p->key_line[k]);
    if (n == 0)
        return sfail(p, p->line, "empty value for '%.*s'", (int)klen, key);
    int rc = k == K_VALUE ? set_value(p, key, klen, v, n) : set_key(p, k, v, n);
    if (rc != 0)
        return rc;
    p->seen |= BIT(k);
    if (k != K_VALUE || !p->key_line[k])
        p->key_line[k] = p->line;
    return 0;
}

/* Checks a finished section: required keys, then what depends on several keys. */
static int finish_section(struct parser *p)
{
    uint32_t missing = required_keys[p->sect] & ~p->seen;
    for (int k = 0; k < NKEYS; k++)
        if (missing & BIT(k))
            return sfail(p, p->sect_line, "missing '%s'", key_names[k]);
    const pw_catalog_t *cat = p->cat;
    if (p->sect == SECT_PLAN) {
        if (cat->target_year <= cat->base_year)
            return sfail(p, p->key_line[K_TARGET_YEAR], "target_year %d must be after base_year %d",
                         cat->target_year, cat->base_year);
        if (!(cat->on_track_at > cat->alert_below)) {
            int line = p->key_line[K_ON_TRACK_AT] > p->key_line[K_ALERT_BELOW]
                           ? p->key_line[K_ON_TRACK_AT]
                           : p->key_line[K_ALERT_BELOW];
            return sfail(p, line, "on_track_at (%g) must be above alert_below (%g)",
                         cat->on_track_at, cat->alert_below);
        }
    }
    if (p->sect != SECT_INDICATOR)
        return 0;
    const pw_indicator_t *ind = &cat->indicators[cat->nindicators - 1];
    if (ind->target_kind == PW_TARGET_RANGE && !p->target_range)
        return sfail(p, p->key_line[K_TARGET],
                     "target_kind range needs a target of the form LO-HI, like 30-40");
    if (ind->target_kind != PW_TARGET_RANGE && p->target_range)
        return sfail(p, p->key_line[K_TARGET],
                     "a LO-HI target needs target_kind = range (target_kind is %s)",
                     target_kind_names[ind->target_kind]);
    if (ind->target_kind == PW_TARGET_RANGE && ind->direction < 0)
        return sfail(p, p->key_line[K_DIRECTION],
                     "direction down is not supported with a range target");
    if (ind->method == PW_METHOD_GROWTH && !ind->has_base)
        return sfail(p, p->key_line[K_METHOD], "method growth needs a base (base is none)");
    if (ind->method == PW_METHOD_GROWTH && !(ind->base > 0 && ind->target > 0))
        return sfail(p, p->key_line[K_METHOD], "method growth needs a base and a target above 0");
    return 0;
}

static int start_entry(struct parser *p, enum sect s, const char *id, size_t n)
{
    pw_catalog_t *cat = p->cat;
    size_t count = s == SECT_DISTRICT  ? cat->ndistricts
                   : s == SECT_ELEMENT ? cat->nelements
                                       : cat->nindicators;
    int *lines = s == SECT_DISTRICT ? p->dlines : s == SECT_ELEMENT ? p->elines : p->ilines;
    for (size_t i = 0; i < count; i++) {
        const char *other = s == SECT_DISTRICT  ? cat->districts[i].id
                            : s == SECT_ELEMENT ? cat->elements[i].id
                                                : cat->indicators[i].id;
        if (eqn(id, n, other))
            return fail(p, p->line, "duplicate %s '%.*s' (first at line %d)", sect_names[s], (int)n,
                        id, lines[i]);
    }
    char *dst;
    if (s == SECT_DISTRICT) {
        pw_district_t *d = pw__text_reserve(cat->districts, count, &p->dcap, sizeof *d);
        if (!d)
            return oom(p);
        cat->districts = d;
        if (push_line(&p->dlines, &p->dlcap, count, p->line) != 0)
            return oom(p);
        memset(&d[count], 0, sizeof d[count]);
        dst = d[count].id;
        cat->ndistricts++;
    } else if (s == SECT_ELEMENT) {
        pw_element_t *e = pw__text_reserve(cat->elements, count, &p->ecap, sizeof *e);
        if (!e)
            return oom(p);
        cat->elements = e;
        if (push_line(&p->elines, &p->elcap, count, p->line) != 0)
            return oom(p);
        memset(&e[count], 0, sizeof e[count]);
        e[count].max = PW_VALUE_MAX;
        dst = e[count].id;
        cat->nelements++;
    } else {
        pw_indicator_t *ind = pw__text_reserve(cat->indicators, count, &p->icap, sizeof *ind);
        if (!ind)
            return oom(p);
        cat->indicators = ind;
        if (push_line(&p->ilines, &p->ilcap, count, p->line) != 0)
            return oom(p);
        memset(&ind[count], 0, sizeof ind[count]);
        ind[count].direction = 1;
        ind[count].decimals = 2;
        dst = ind[count].id;
        cat->nindicators++;
    }
    memcpy(dst, id, n);
    dst[n] = '\0';
    return 0;
}

static int do_header(struct parser *p, const char *s, size_t n)
{
    if (s[n - 1] != ']')
        return fail(p, p->line, "section header '%.*s' is missing its closing ']'", (int)n, s);
    int rc = p->sect != SECT_NONE ? finish_section(p) : 0;
    if (rc != 0)
        return rc;
    p->sect = SECT_NONE;
    const char *in = s + 1;
    size_t len = n - 2;
    pw__text_trim(&in, &len);
    if (len == 0)
        return fail(p, p->line, "empty section header '[]'");
    size_t klen = 0;
    while (klen < len && !pw__text_is_space(in[klen]))
        klen++;
    const char *id = in + klen;
    size_t idlen = len - klen;
    pw__text_trim(&id, &idlen);
    enum sect kind = SECT_NONE;
    for (int i = SECT_PLAN; i < NSECT; i++)
        if (eqn(in, klen, sect_names[i]))
            kind = (enum sect)i;
    if (kind == SECT_NONE)
        return fail(p, p->line,
                    "unknown section kind '%.*s' (expected plan, district, element or indicator)",
                    (int)klen, in);
    if (kind == SECT_PLAN && idlen > 0)
        return fail(p, p->line, "[plan] takes no id");
    if (kind == SECT_PLAN && p->plan_line)
        return fail(p, p->line, "duplicate [plan] section (first at line %d)", p->plan_line);
    if (kind != SECT_PLAN && idlen == 0)
        return fail(p, p->line, "[%s] needs an id, like [%s %s]", sect_names[kind],
                    sect_names[kind], kind == SECT_DISTRICT ? "jiangan" : "care_beds");
    if (kind != SECT_PLAN && !pw__id_valid(id, idlen))
        return fail(p, p->line, "bad %s id '%.*s' (use 1 to %d of a-z, 0-9 and _)",
                    sect_names[kind], (int)idlen, id, PW_ID_MAX - 1);
    if (kind == SECT_PLAN) {
        p->plan_line = p->line;
        p->cat->alert_below = 40;
        p->cat->on_track_at = 100;
    } else if ((rc = start_entry(p, kind, id, idlen)) != 0) {
        return rc;
    }
    p->sect = kind;
    p->sect_line = p->line;
    p->seen = 0;
    memset(p->key_line, 0, sizeof p->key_line);
    p->target_range = false;
    p->value_plain = false;
    return 0;
}

static int do_line(struct parser *p, const char *s, size_t n)
{
    size_t ok = pw__text_utf8_check(s, n);
    if (ok < n && s[ok] == '\0')
        return fail(p, p->line, "NUL byte in the line (is this a text file?)");
    if (ok < n)
        return fail(p, p->line, "invalid UTF-8 at byte %zu of the line (save the file as UTF-8)",
                    ok + 1);
    pw__text_trim(&s, &n);
    if (n == 0 || s[0] == '#')
        return 0;
    if (s[0] == '[')
        return do_header(p, s, n);
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return fail(p, p->line,
                    "expected 'key = value', a [section] header or a # comment, not '%.*s'", (int)n,
                    s);
    const char *key = s, *v = eq + 1;
    size_t klen = (size_t)(eq - s), vlen = n - klen - 1;
    pw__text_trim(&key, &klen);
    pw__text_trim(&v, &vlen);
    return do_key(p, key, klen, v, vlen);
}

/* Checks that need the whole file: required sections, element references, reporters. */
static int finish_file(struct parser *p)
{
    pw_catalog_t *cat = p->cat;
    int eof = p->line > 0 ? p->line : 1;
    p->sect = SECT_NONE;
    if (!p->plan_line)
        return fail(p, eof, "no [plan] section (every catalog needs one)");
    if (cat->ndistricts == 0)
        return fail(p, eof, "no [district] section (at least one reporter is needed)");
    if (cat->nelements == 0)
        return fail(p, eof, "no [element] section (at least one data element is needed)");
    if (cat->nindicators == 0)
        return fail(p, eof, "no [indicator] section (at least one indicator is needed)");
    for (size_t i = 0; i < p->nrefs; i++) {
        const struct ref *r = &p->refs[i];
        int e = pw_catalog_element(cat, r->name, strlen(r->name));
        if (e < 0)
            return fail(p, r->line, "indicator '%s': element '%s' is not declared",
                        cat->indicators[r->ind].id, r->name);
        pw_series_t *s = &cat->indicators[r->ind].series[r->series];
        *(r->is_b ? &s->b : &s->a) = e;
    }
    for (size_t i = 0; i < cat->nelements; i++) {
        pw_level_t level = cat->elements[i].level;
        if (pw_catalog_count_level(cat, level) == 0)
            return fail(p, p->elines[i], "element '%s': level %s, but no [district] has level = %s",
                        cat->elements[i].id, level_names[level], level_names[level]);
    }
    return 0;
}

/*
 * Open-addressing tables of the ids, so that the lookups done for every
 * update (district and element, twice each) cost one hash and usually one
 * comparison instead of a scan of the catalog. A slot holds index + 1; 0 is
 * empty. Each table has at least twice as many slots as ids.
 */
struct id_table {
    int *slots;
    size_t mask;
};

struct pw__catalog_index {
    struct id_table districts, elements, indicators;
};

static size_t id_hash(const char *s, size_t n)
{
    uint64_t h = pw__fnv1a(PW__FNV_OFFSET, s, n);
    return (size_t)(h ^ h >> 29);
}

/* Ids sit at the start of each item (sz bytes apart), NUL-terminated. */
_Static_assert(offsetof(pw_district_t, id) == 0 && offsetof(pw_element_t, id) == 0 &&
                   offsetof(pw_indicator_t, id) == 0,
               "table_build() reads the id at the start of each item");
static int table_build(struct id_table *t, const void *items, size_t n, size_t sz)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots)
        return -ENOMEM;
    t->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        const char *id = (const char *)items + i * sz;
        size_t h = id_hash(id, strlen(id)) & t->mask;
        while (t->slots[h] != 0)
            h = (h + 1) & t->mask;
        t->slots[h] = (int)i + 1;
    }
    return 0;
}

static int table_find(const struct id_table *t, const void *items, size_t sz, const char *id,
                      size_t len)
{
    for (size_t h = id_hash(id, len) & t->mask; t->slots[h] != 0; h = (h + 1) & t->mask) {
        int i = t->slots[h] - 1;
        if (id_eq(id, len, (const char *)items + (size_t)i * sz))
            return i;
    }
    return -1;
}

static void index_free(struct pw__catalog_index *ix)
{
    if (!ix)
        return;
    free(ix->districts.slots);
    free(ix->elements.slots);
    free(ix->indicators.slots);
    free(ix);
}

static int index_build(pw_catalog_t *cat)
{
    struct pw__catalog_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return -ENOMEM;
    int rc = table_build(&ix->districts, cat->districts, cat->ndistricts, sizeof *cat->districts);
    if (rc == 0)
        rc = table_build(&ix->elements, cat->elements, cat->nelements, sizeof *cat->elements);
    if (rc == 0)
        rc = table_build(&ix->indicators, cat->indicators, cat->nindicators,
                         sizeof *cat->indicators);
    if (rc != 0) {
        index_free(ix);
        return rc;
    }
    cat->index = ix;
    return 0;
}

/* Four FNV-1a 64-bit hashes with different offset bases, stored big-endian. */
static void digest(const char *text, size_t len, unsigned char out[32])
{
    for (unsigned k = 0; k < 4; k++) {
        uint64_t h = pw__fnv1a(PW__FNV_OFFSET ^ ((uint64_t)k * 0x9e3779b97f4a7c15u), text, len);
        for (unsigned b = 0; b < 8; b++)
            out[k * 8 + b] = (unsigned char)(h >> (56 - 8 * b));
    }
}

int pw_catalog_parse(const char *name, const char *text, size_t len, pw_catalog_t **out, char *err,
                     size_t errlen)
{
    assert(name && (text || len == 0) && out && (err || errlen == 0));
    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    struct parser p = {.name = name, .err = err, .errlen = errlen};
    int rc = 0;
    p.cat = calloc(1, sizeof *p.cat);
    if (!p.cat)
        return oom(&p);
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (rc == 0 && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        p.line++;
        rc = do_line(&p, text + pos, end - pos);
        pos = nl ? end + 1 : len;
    }
    if (rc == 0 && p.sect != SECT_NONE)
        rc = finish_section(&p);
    if (rc == 0)
        rc = finish_file(&p);
    if (rc == 0 && (rc = index_build(p.cat)) != 0)
        rc = oom(&p);
    /* Kept whole: a store records the plan it was written with, byte for byte. */
    if (rc == 0 && !(p.cat->text = malloc(len + 1)))
        rc = oom(&p);
    if (rc == 0) {
        memcpy(p.cat->text, text, len);
        p.cat->text[len] = '\0';
        p.cat->text_len = len;
        digest(text, len, p.cat->digest);
        *out = p.cat;
        p.cat = NULL;
    }
    pw_catalog_destroy(&p.cat);
    free(p.refs);
    free(p.ilines);
    free(p.elines);
    free(p.dlines);
    return rc;
}

int pw_catalog_load(const char *path, pw_catalog_t **out, char *err, size_t errlen)
{
    assert(path && out && (err || errlen == 0));
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = pw__text_read_file(path, &buf, &len);
    if (rc == 0)
        rc = pw_catalog_parse(path, buf, len, out, err, errlen);
    if (rc < 0 && rc > -1000)
        pw__text_sys_error(err, errlen, path, rc);
    free(buf);
    return rc;
}

void pw_catalog_destroy(pw_catalog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pw_catalog_t *self = *self_p;
    for (size_t i = 0; i < self->ndistricts; i++) {
        free(self->districts[i].name_zh);
        free(self->districts[i].name_en);
    }
    for (size_t i = 0; i < self->nelements; i++) {
        free(self->elements[i].name_zh);
        free(self->elements[i].name_en);
        free(self->elements[i].unit);
    }
    for (size_t i = 0; i < self->nindicators; i++) {
        free(self->indicators[i].name_zh);
        free(self->indicators[i].name_en);
        free(self->indicators[i].category);
        free(self->indicators[i].unit);
    }
    index_free(self->index);
    free(self->text);
    free(self->districts);
    free(self->elements);
    free(self->indicators);
    free(self->name);
    free(self);
    *self_p = NULL;
}

int pw_catalog_district(const pw_catalog_t *self, const char *id, size_t len)
{
    assert(self && (id || len == 0));
    if (self->index)
        return table_find(&self->index->districts, self->districts, sizeof *self->districts, id, len);
    /* While the file is parsed, before the index exists. */
    for (size_t i = 0; i < self->ndistricts; i++)
        if (id_eq(id, len, self->districts[i].id))
            return (int)i;
    return -1;
}

int pw_catalog_element(const pw_catalog_t *self, const char *id, size_t len)
{
    assert(self && (id || len == 0));
    if (self->index)
        return table_find(&self->index->elements, self->elements, sizeof *self->elements, id, len);
    /* While the file is parsed, before the index exists. */
    for (size_t i = 0; i < self->nelements; i++)
        if (id_eq(id, len, self->elements[i].id))
            return (int)i;
    return -1;
}

int pw_catalog_indicator(const pw_catalog_t *self, const char *id, size_t len)
{
    assert(self && (id || len == 0));
    if (self->index)
        return table_find(&self->index->indicators, self->indicators, sizeof *self->indicators, id, len);
    /* While the file is parsed, before the index exists. */
    for (size_t i = 0; i < self->nindicators; i++)
        if (id_eq(id, len, self->indicators[i].id))
            return (int)i;
    return -1;
}

size_t pw_catalog_count_level(const pw_catalog_t *self, pw_level_t level)
{
    assert(self);
    size_t n = 0;
    for (size_t i = 0; i < self->ndistricts; i++)
        n += self->districts[i].level == level;
    return n;
}

size_t pw_catalog_nseries(const pw_catalog_t *self)
{
    assert(self);
    size_t n = 0;
    for (size_t i = 0; i < self->nindicators; i++)
        n += self->indicators[i].nseries;
    return n;
}

/* A value as people write it: whole numbers in full (a 20-digit typo shows
 * its 20 digits), others with every digit a double holds. */
static void format_value(char buf[32], double v)
{
    if (v == floor(v) && fabs(v) < 1e21)
        snprintf(buf, 32, "%.0f", v);
    else
        snprintf(buf, 32, "%.17g", v);
}

int pw_catalog_check_value(const pw_catalog_t *self, int e, double v, const char *vtext, char *why,
                           size_t len)
{
    assert(why || len == 0);
    const pw_element_t *el =
        self && e >= 0 && (size_t)e < self->nelements ? &self->elements[e] : NULL;
    double max = el ? el->max : PW_VALUE_MAX;
    if (v <= max)
        return 0;
    if (len == 0)
        return PW_EVALUE;
    char vbuf[32], mtext[32];
    format_value(vbuf, v);
    format_value(mtext, max);
    if (!vtext)
        vtext = vbuf;
    if (el && el->has_max)
        snprintf(why, len, "value %s is above %s, the max the catalog sets for '%s' (a typo?)",
                 vtext, mtext, el->id);
    else
        snprintf(why, len,
                 "value %s is above %s (2^53 - 1), past which a number is not held exactly "
                 "(a typo?)",
                 vtext, mtext);
    return PW_EVALUE;
}
