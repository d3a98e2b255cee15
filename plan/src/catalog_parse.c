/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_parser.h"
#include "pw/catalog.h"
#include "pw/error.h"
#include "pw/text.h"

/* The catalog file: its lines, its [sections], the checks of a finished
 * section and of the whole file. Each key's value is catalog_keys.c's. */

static const char *const sect_names[NSECT] = {"", "plan", "district", "element", "indicator"};

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

int pw__catalog_fail(struct parser *p, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, line, false, fmt, ap);
    va_end(ap);
    return PW_ECATALOG;
}

int pw__catalog_sfail(struct parser *p, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, line, true, fmt, ap);
    va_end(ap);
    return PW_ECATALOG;
}

int pw__catalog_oom(struct parser *p)
{
    return pw__text_sys_error(p->err, p->errlen, p->name, -ENOMEM);
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

static int do_key(struct parser *p, const char *key, size_t klen, const char *v, size_t n)
{
    if (klen == 0)
        return pw__catalog_fail(p, p->line, "missing key before '='");
    if (p->sect == SECT_NONE)
        return pw__catalog_fail(p, p->line,
                                "key outside any section (start one with a [section] line)");
    enum key k = NKEYS;
    for (int i = 0; i < NKEYS; i++)
        if ((allowed_keys[p->sect] & BIT(i)) &&
            pw__catalog_eqn(key, klen, pw__catalog_key_names[i]))
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
            int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                             pw__catalog_key_names[i]);
            used += w > 0 ? (size_t)w : 0;
        }
        if (p->sect == SECT_INDICATOR)
            snprintf(list + used, sizeof list - used, ", value.NAME");
        return pw__catalog_sfail(p, p->line, "unknown key '%.*s' (known keys: %s)", (int)klen, key,
                                 list);
    }
    if (k != K_VALUE && (p->seen & BIT(k)))
        return pw__catalog_fail(p, p->line, "duplicate key '%.*s' (first at line %d)", (int)klen,
                                key, p->key_line[k]);
    if (n == 0)
        return pw__catalog_sfail(p, p->line, "empty value for '%.*s'", (int)klen, key);
    int rc =
        k == K_VALUE ? pw__catalog_set_value(p, key, klen, v, n) : pw__catalog_set_key(p, k, v, n);
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
            return pw__catalog_sfail(p, p->sect_line, "missing '%s'", pw__catalog_key_names[k]);
    const pw_catalog_t *cat = p->cat;
    if (p->sect == SECT_PLAN) {
        if (cat->target_year <= cat->base_year)
            return pw__catalog_sfail(p, p->key_line[K_TARGET_YEAR],
                                     "target_year %d must be after base_year %d", cat->target_year,
                                     cat->base_year);
        if (!(cat->on_track_at > cat->alert_below)) {
            int line = p->key_line[K_ON_TRACK_AT] > p->key_line[K_ALERT_BELOW]
                           ? p->key_line[K_ON_TRACK_AT]
                           : p->key_line[K_ALERT_BELOW];
            return pw__catalog_sfail(p, line, "on_track_at (%g) must be above alert_below (%g)",
                                     cat->on_track_at, cat->alert_below);
        }
    }
    if (p->sect != SECT_INDICATOR)
        return 0;
    const pw_indicator_t *ind = &cat->indicators[cat->nindicators - 1];
    if (ind->target_kind == PW_TARGET_RANGE && !p->target_range)
        return pw__catalog_sfail(p, p->key_line[K_TARGET],
                                 "target_kind range needs a target of the form LO-HI, like 30-40");
    if (ind->target_kind != PW_TARGET_RANGE && p->target_range)
        return pw__catalog_sfail(p, p->key_line[K_TARGET],
                                 "a LO-HI target needs target_kind = range (target_kind is %s)",
                                 pw__catalog_target_kind_names[ind->target_kind]);
    if (ind->target_kind == PW_TARGET_RANGE && ind->direction < 0)
        return pw__catalog_sfail(p, p->key_line[K_DIRECTION],
                                 "direction down is not supported with a range target");
    if (ind->method == PW_METHOD_GROWTH && !ind->has_base)
        return pw__catalog_sfail(p, p->key_line[K_METHOD],
                                 "method growth needs a base (base is none)");
    if (ind->method == PW_METHOD_GROWTH && !(ind->base > 0 && ind->target > 0))
        return pw__catalog_sfail(p, p->key_line[K_METHOD],
                                 "method growth needs a base and a target above 0");
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
        if (pw__catalog_eqn(id, n, other))
            return pw__catalog_fail(p, p->line, "duplicate %s '%.*s' (first at line %d)",
                                    sect_names[s], (int)n, id, lines[i]);
    }
    char *dst;
    if (s == SECT_DISTRICT) {
        pw_district_t *d = pw__text_reserve(cat->districts, count, &p->dcap, sizeof *d);
        if (!d)
            return pw__catalog_oom(p);
        cat->districts = d;
        if (push_line(&p->dlines, &p->dlcap, count, p->line) != 0)
            return pw__catalog_oom(p);
        memset(&d[count], 0, sizeof d[count]);
        dst = d[count].id;
        cat->ndistricts++;
    } else if (s == SECT_ELEMENT) {
        pw_element_t *e = pw__text_reserve(cat->elements, count, &p->ecap, sizeof *e);
        if (!e)
            return pw__catalog_oom(p);
        cat->elements = e;
        if (push_line(&p->elines, &p->elcap, count, p->line) != 0)
            return pw__catalog_oom(p);
        memset(&e[count], 0, sizeof e[count]);
        e[count].max = PW_VALUE_MAX;
        dst = e[count].id;
        cat->nelements++;
    } else {
        pw_indicator_t *ind = pw__text_reserve(cat->indicators, count, &p->icap, sizeof *ind);
        if (!ind)
            return pw__catalog_oom(p);
        cat->indicators = ind;
        if (push_line(&p->ilines, &p->ilcap, count, p->line) != 0)
            return pw__catalog_oom(p);
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
        return pw__catalog_fail(p, p->line, "section header '%.*s' is missing its closing ']'",
                                (int)n, s);
    int rc = p->sect != SECT_NONE ? finish_section(p) : 0;
    if (rc != 0)
        return rc;
    p->sect = SECT_NONE;
    const char *in = s + 1;
    size_t len = n - 2;
    pw__text_trim(&in, &len);
    if (len == 0)
        return pw__catalog_fail(p, p->line, "empty section header '[]'");
    size_t klen = 0;
    while (klen < len && !pw__text_is_space(in[klen]))
        klen++;
    const char *id = in + klen;
    size_t idlen = len - klen;
    pw__text_trim(&id, &idlen);
    enum sect kind = SECT_NONE;
    for (int i = SECT_PLAN; i < NSECT; i++)
        if (pw__catalog_eqn(in, klen, sect_names[i]))
            kind = (enum sect)i;
    if (kind == SECT_NONE)
        return pw__catalog_fail(
            p, p->line,
            "unknown section kind '%.*s' (expected plan, district, element or indicator)",
            (int)klen, in);
    if (kind == SECT_PLAN && idlen > 0)
        return pw__catalog_fail(p, p->line, "[plan] takes no id");
    if (kind == SECT_PLAN && p->plan_line)
        return pw__catalog_fail(p, p->line, "duplicate [plan] section (first at line %d)",
                                p->plan_line);
    if (kind != SECT_PLAN && idlen == 0)
        return pw__catalog_fail(p, p->line, "[%s] needs an id, like [%s %s]", sect_names[kind],
                                sect_names[kind], kind == SECT_DISTRICT ? "jiangan" : "care_beds");
    if (kind != SECT_PLAN && !pw__id_valid(id, idlen))
        return pw__catalog_fail(p, p->line, "bad %s id '%.*s' (use 1 to %d of a-z, 0-9 and _)",
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
        return pw__catalog_fail(p, p->line, "NUL byte in the line (is this a text file?)");
    if (ok < n)
        return pw__catalog_fail(
            p, p->line, "invalid UTF-8 at byte %zu of the line (save the file as UTF-8)", ok + 1);
    pw__text_trim(&s, &n);
    if (n == 0 || s[0] == '#')
        return 0;
    if (s[0] == '[')
        return do_header(p, s, n);
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return pw__catalog_fail(
            p, p->line, "expected 'key = value', a [section] header or a # comment, not '%.*s'",
            (int)n, s);
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
        return pw__catalog_fail(p, eof, "no [plan] section (every catalog needs one)");
    if (cat->ndistricts == 0)
        return pw__catalog_fail(p, eof, "no [district] section (at least one reporter is needed)");
    if (cat->nelements == 0)
        return pw__catalog_fail(p, eof,
                                "no [element] section (at least one data element is needed)");
    if (cat->nindicators == 0)
        return pw__catalog_fail(p, eof,
                                "no [indicator] section (at least one indicator is needed)");
    for (size_t i = 0; i < p->nrefs; i++) {
        const struct ref *r = &p->refs[i];
        int e = pw_catalog_element(cat, r->name, strlen(r->name));
        if (e < 0)
            return pw__catalog_fail(p, r->line, "indicator '%s': element '%s' is not declared",
                                    cat->indicators[r->ind].id, r->name);
        pw_series_t *s = &cat->indicators[r->ind].series[r->series];
        *(r->is_b ? &s->b : &s->a) = e;
    }
    for (size_t i = 0; i < cat->nelements; i++) {
        pw_level_t level = cat->elements[i].level;
        if (pw_catalog_count_level(cat, level) == 0)
            return pw__catalog_fail(p, p->elines[i],
                                    "element '%s': level %s, but no [district] has level = %s",
                                    cat->elements[i].id, pw__catalog_level_names[level],
                                    pw__catalog_level_names[level]);
    }
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
        return pw__catalog_oom(&p);
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
    if (rc == 0 && (rc = pw__catalog_index_build(p.cat)) != 0)
        rc = pw__catalog_oom(&p);
    /* Kept whole: a store records the plan it was written with, byte for byte. */
    if (rc == 0 && !(p.cat->text = malloc(len + 1)))
        rc = pw__catalog_oom(&p);
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
