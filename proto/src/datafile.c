/* SPDX-License-Identifier: MIT */
#include "pw/datafile.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/error.h"

#define HEADER "period,element,value"

struct parser {
    const char *name;
    char *err;
    size_t errlen;
    const pw_catalog_t *cat;
    pw_datafile_t *df;
    size_t cap;
    int line;
    /* Open-addressing set of (period, element) already seen: obs index + 1, 0 when empty. */
    size_t *slots;
    size_t nslots;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, int line, const char *fmt,
                                                      ...)
{
    if (p->errlen == 0)
        return PW_EDATA;
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, line);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return PW_EDATA;
}

static int oom(struct parser *p)
{
    if (p->errlen > 0)
        snprintf(p->err, p->errlen, "%s: %s", p->name, strerror(ENOMEM));
    return -ENOMEM;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

static bool is_id(const char *s, size_t n)
{
    if (n == 0 || n >= PW_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Length of the valid UTF-8 prefix of s (n when it is all valid); NUL counts as invalid. */
static size_t utf8_valid(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned min;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            min = 0x10000;
        } else {
            return i;
        }
        if (n - i < len)
            return i;
        unsigned cp = c & (0x7Fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return n;
}

/* Same rules as the catalog's numbers: an optional '-', digits, optionally '.' and digits. */
static bool parse_number(const char *s, size_t n, double *out)
{
    size_t i = 0, int_digits = 0, frac_digits = 0;
    char buf[128];
    if (i < n && s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
        if (frac_digits == 0)
            return false;
    }
    if (int_digits == 0 || i != n || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return false;
    *out = v == 0 ? 0.0 : v; /* no "-0" in the data */
    return true;
}

static uint64_t obs_hash(const pw_obs_t *o)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const char *c = o->element; *c; c++) {
        h ^= (unsigned char)*c;
        h *= 0x100000001b3u;
    }
    h ^= (uint64_t)(uint32_t)o->period.end * 16u + o->period.months;
    h *= 0x100000001b3u;
    return h ^ (h >> 29);
}

static bool obs_same(const pw_obs_t *a, const pw_obs_t *b)
{
    return pw_period_eq(a->period, b->period) && strcmp(a->element, b->element) == 0;
}

/* The slot holding an observation like o, or the empty slot where it would go. */
static size_t *find_slot(size_t *slots, size_t nslots, const pw_obs_t *obs, const pw_obs_t *o)
{
    size_t i = (size_t)obs_hash(o) & (nslots - 1);
    while (slots[i] != 0 && !obs_same(&obs[slots[i] - 1], o))
        i = (i + 1) & (nslots - 1);
    return &slots[i];
}

/* Keeps the set at most half full. */
static int grow_slots(struct parser *p)
{
    size_t n = p->df->n;
    if ((n + 1) * 2 <= p->nslots)
        return 0;
    size_t nslots = p->nslots ? p->nslots * 2 : 64;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return oom(p);
    for (size_t i = 0; i < n; i++)
        *find_slot(slots, nslots, p->df->obs, &p->df->obs[i]) = i + 1;
    free(p->slots);
    p->slots = slots;
    p->nslots = nslots;
    return 0;
}

static int check_value(struct parser *p, const pw_obs_t *o, const char *v, size_t n)
{
    const pw_catalog_t *cat = p->cat;
    int e = pw_catalog_element(cat, o->element, strlen(o->element));
    if (e < 0)
        return fail(p, p->line, "unknown element '%s' (not in the catalog)", o->element);
    int year = pw_period_year(o->period);
    if (year < cat->base_year || year > cat->target_year) {
        char buf[PW_PERIOD_STRMAX];
        pw_period_format(o->period, buf);
        return fail(p, p->line, "period %s is outside the plan (%d to %d)", buf, cat->base_year,
                    cat->target_year);
    }
    const pw_element_t *el = &cat->elements[e];
    const char *what = el->integer ? "a count" : "an amount";
    if (o->value < 0)
        return fail(p, p->line, "'%s' is %s: the value must not be negative, not '%.*s'",
                    o->element, what, (int)n, v);
    if (el->integer && o->value != floor(o->value))
        return fail(p, p->line, "'%s' is a count: the value must be a whole number, not '%.*s'",
                    o->element, (int)n, v);
    return 0;
}

static int do_row(struct parser *p, const char *s, size_t n)
{
    if (memchr(s, '"', n))
        return fail(p, p->line,
                    "quotes are not supported: write the fields plainly, like 2016,care_beds,5230");
    const char *f[3];
    size_t len[3], nf = 0;
    const char *start = s, *end = s + n;
    for (;;) {
        const char *comma = memchr(start, ',', (size_t)(end - start));
        const char *stop = comma ? comma : end;
        if (nf < 3) {
            f[nf] = start;
            len[nf] = (size_t)(stop - start);
            trim(&f[nf], &len[nf]);
        }
        nf++;
        if (!comma)
            break;
        start = comma + 1;
    }
    if (nf != 3)
        return fail(p, p->line, "expected 3 fields (period,element,value), found %zu", nf);
    pw_obs_t o = {.line = p->line};
    if (pw_period_parse(f[0], len[0], &o.period) != 0)
        return fail(p, p->line,
                    "bad period '%.*s' (expected a year 2016, a half 2018H1, a quarter 2018Q3 or "
                    "a month 2018-07)",
                    (int)len[0], f[0]);
    if (!is_id(f[1], len[1]))
        return fail(p, p->line, "bad element id '%.*s' (use 1 to %d of a-z, 0-9 and _)",
                    (int)len[1], f[1], PW_ID_MAX - 1);
    memcpy(o.element, f[1], len[1]);
    o.element[len[1]] = '\0';
    if (len[2] == 0)
        return fail(p, p->line, "missing value");
    if (!parse_number(f[2], len[2], &o.value))
        return fail(p, p->line, "bad value '%.*s' (expected a plain decimal like 12 or -0.5)",
                    (int)len[2], f[2]);
    int rc = p->cat ? check_value(p, &o, f[2], len[2]) : 0;
    if (rc != 0)
        return rc;
    if ((rc = grow_slots(p)) != 0)
        return rc;
    size_t *slot = find_slot(p->slots, p->nslots, p->df->obs, &o);
    if (*slot != 0) {
        char buf[PW_PERIOD_STRMAX];
        pw_period_format(o.period, buf);
        return fail(p, p->line, "duplicate observation of '%s' for %s (first at line %d)",
                    o.element, buf, p->df->obs[*slot - 1].line);
    }
    if (p->df->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        pw_obs_t *q = realloc(p->df->obs, ncap * sizeof *q);
        if (!q)
            return oom(p);
        p->df->obs = q;
        p->cap = ncap;
    }
    p->df->obs[p->df->n++] = o;
    *slot = p->df->n;
    return 0;
}

int pw_datafile_parse(const char *name, const char *text, size_t len, const pw_catalog_t *cat,
                      pw_datafile_t **out, char *err, size_t errlen)
{
    assert(name && (text || len == 0) && out && (err || errlen == 0));
    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    struct parser p = {.name = name, .err = err, .errlen = errlen, .cat = cat};
    int rc = 0;
    bool header = false;
    p.df = calloc(1, sizeof *p.df);
    if (!p.df)
        return oom(&p);
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (rc == 0 && pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos = nl ? pos + n + 1 : len;
        p.line++;
        size_t ok = utf8_valid(s, n);
        if (ok < n && s[ok] == '\0') {
            rc = fail(&p, p.line, "NUL byte in the line (is this a text file?)");
            break;
        }
        if (ok < n) {
            rc = fail(&p, p.line, "invalid UTF-8 at byte %zu of the line (save the file as UTF-8)",
                      ok + 1);
            break;
        }
        trim(&s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        if (header) {
            rc = do_row(&p, s, n);
        } else if (n == strlen(HEADER) && memcmp(s, HEADER, n) == 0) {
            header = true;
        } else {
            rc = fail(&p, p.line, "expected the header line '" HEADER "', not '%.*s'", (int)n, s);
        }
    }
    if (rc == 0 && !header)
        rc = fail(&p, p.line > 0 ? p.line : 1, "missing the header line '" HEADER "'");
    if (rc == 0) {
        *out = p.df;
        p.df = NULL;
    }
    pw_datafile_destroy(&p.df);
    free(p.slots);
    return rc;
}

int pw_datafile_load(const char *path, const pw_catalog_t *cat, pw_datafile_t **out, char *err,
                     size_t errlen)
{
    assert(path && out && (err || errlen == 0));
    *out = NULL;
    int rc = 0;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = -errno;
        goto out;
    }
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *q = realloc(buf, ncap);
            if (!q) {
                rc = -ENOMEM;
                goto out;
            }
            buf = q;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                rc = errno ? -errno : -EIO;
            break;
        }
    }
    if (rc == 0)
        rc = pw_datafile_parse(path, buf, len, cat, out, err, errlen);
out:
    if (rc < 0 && rc > -1000 && errlen > 0)
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

void pw_datafile_destroy(pw_datafile_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->obs);
    free(*self_p);
    *self_p = NULL;
}
