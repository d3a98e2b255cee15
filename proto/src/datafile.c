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

#include "internal.h"
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
    uint64_t *slots; /* 0, or the high half of the hash and obs index + 1 */
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
    return pw__text_sys_error(p->err, p->errlen, p->name, -ENOMEM);
}

static uint64_t obs_hash(const pw_obs_t *o)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const char *c = o->element; *c; c++) {
        h ^= (unsigned char)*c;
        h *= 0x100000001b3u;
    }
    h ^= ((uint64_t)(uint32_t)o->period.end << 8) ^ (uint64_t)o->period.months;
    /* A full avalanche (murmur3's finalizer): the table indexes by the low
     * bits, where FNV's last multiply leaves element and period entangled
     * only weakly, and long probe runs followed. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    return h ^ (h >> 33);
}

static bool obs_same(const pw_obs_t *a, const pw_obs_t *b)
{
    return pw_period_eq(a->period, b->period) && strcmp(a->element, b->element) == 0;
}

/* The slot holding an observation like o (hash h), or the empty slot where it
 * would go. Each slot keeps half of its hash: a probe reads the observation
 * only when that half matches, so an insertion costs one cache miss, not one
 * per probe. */
static uint64_t *find_slot(uint64_t *slots, size_t nslots, const pw_obs_t *obs,
                           const pw_obs_t *o, uint64_t h)
{
    size_t i = (size_t)h & (nslots - 1);
    uint64_t tag = h >> 32 << 32;
    for (uint64_t s; (s = slots[i]) != 0; i = (i + 1) & (nslots - 1))
        if ((s >> 32 << 32) == tag && obs_same(&obs[(uint32_t)s - 1], o))
            break;
    return &slots[i];
}

/* Keeps the set at most half full. */
static int grow_slots(struct parser *p)
{
    size_t n = p->df->n;
    if ((n + 1) * 2 <= p->nslots)
        return 0;
    size_t nslots = p->nslots ? p->nslots * 2 : 64;
    if (n >= UINT32_MAX)
        return fail(p, p->line, "more than %u observations in one file", UINT32_MAX - 1);
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return oom(p);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = obs_hash(&p->df->obs[i]);
        *find_slot(slots, nslots, p->df->obs, &p->df->obs[i], h) = (h >> 32 << 32) | (i + 1);
    }
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
            pw__text_trim(&f[nf], &len[nf]);
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
    if (!pw__id_valid(f[1], len[1]))
        return fail(p, p->line, "bad element id '%.*s' (use 1 to %d of a-z, 0-9 and _)",
                    (int)len[1], f[1], PW_ID_MAX - 1);
    memcpy(o.element, f[1], len[1]);
    o.element[len[1]] = '\0';
    if (len[2] == 0)
        return fail(p, p->line, "missing value");
    if (!pw__text_parse_number(f[2], len[2], &o.value))
        return fail(p, p->line, "bad value '%.*s' (expected a plain decimal like 12 or -0.5)",
                    (int)len[2], f[2]);
    if (o.value == 0)
        o.value = 0.0; /* no "-0" in the data */
    int rc = p->cat ? check_value(p, &o, f[2], len[2]) : 0;
    if (rc != 0)
        return rc;
    if ((rc = grow_slots(p)) != 0)
        return rc;
    uint64_t h = obs_hash(&o);
    uint64_t *slot = find_slot(p->slots, p->nslots, p->df->obs, &o, h);
    if (*slot != 0) {
        char buf[PW_PERIOD_STRMAX];
        pw_period_format(o.period, buf);
        return fail(p, p->line, "duplicate observation of '%s' for %s (first at line %d)",
                    o.element, buf, p->df->obs[(uint32_t)*slot - 1].line);
    }
    pw_obs_t *q = pw__text_reserve(p->df->obs, p->df->n, &p->cap, sizeof *q);
    if (!q)
        return oom(p);
    p->df->obs = q;
    p->df->obs[p->df->n++] = o;
    *slot = (h >> 32 << 32) | p->df->n;
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
        size_t ok = pw__text_utf8_check(s, n);
        if (ok < n && s[ok] == '\0') {
            rc = fail(&p, p.line, "NUL byte in the line (is this a text file?)");
            break;
        }
        if (ok < n) {
            rc = fail(&p, p.line, "invalid UTF-8 at byte %zu of the line (save the file as UTF-8)",
                      ok + 1);
            break;
        }
        pw__text_trim(&s, &n);
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
    char *buf = NULL;
    size_t len = 0;
    int rc = pw__text_read_file(path, &buf, &len);
    if (rc == 0)
        rc = pw_datafile_parse(path, buf, len, cat, out, err, errlen);
    if (rc < 0 && rc > -1000)
        pw__text_sys_error(err, errlen, path, rc);
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
