/* SPDX-License-Identifier: MIT */
#include "pw/datafile.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw/text.h"
#include "pw/error.h"

#define HEADER "period,element,value"

struct parser {
    const char *name;
    char *err;
    size_t errlen;
    const pw_catalog_t *cat;
    pw_datafile_t *df;
    size_t cap; /* observations df->obs has room for: the file's line count */
    int line;
    /* Open-addressing set of (period, element) already seen: 0 when empty,
     * else the high half of the hash and obs index + 1. Sized once from the
     * line count: growing it would touch (and on this kind of VM, fault in)
     * every table it ever had. */
    uint64_t *slots;
    size_t nslots;
    /* Distinct element ids: each observation points at its id's one copy,
     * so an observation is 32 bytes rather than 88, and comparing two ids
     * is comparing two pointers. Same layout as slots, indexing elements. */
    uint64_t *names;
    size_t nnames_slots;
    size_t names_cap;
    int *cat_index; /* per distinct id: its catalog element, or -1 */
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

/* murmur3's finalizer: the tables index by the low bits, which need
 * every input bit mixed in. */
static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    return h ^ (h >> 33);
}

static uint64_t bytes_hash(const char *s, size_t n)
{
    return mix64(pw__fnv1a(PW__FNV_OFFSET, s, n));
}

/* Interned ids are distinct pointers, so the element's index stands for it. */
static uint64_t obs_hash(size_t element, pw_period_t p)
{
    return mix64(((uint64_t)element << 40) ^ ((uint64_t)(uint32_t)p.end << 8) ^ p.months);
}

#define TAG(h) ((h) >> 32 << 32)

/* The slot holding an observation like o (hash h), or the empty slot where it
 * would go. Each slot keeps half of its hash: a probe reads the observation
 * only when that half matches, so an insertion costs one cache miss, not one
 * per probe. */
static uint64_t *find_slot(uint64_t *slots, size_t nslots, const pw_obs_t *obs,
                           const pw_obs_t *o, uint64_t h)
{
    size_t i = (size_t)h & (nslots - 1);
    for (uint64_t s; (s = slots[i]) != 0; i = (i + 1) & (nslots - 1)) {
        const pw_obs_t *q = &obs[(uint32_t)s - 1];
        if (TAG(s) == TAG(h) && q->element == o->element && pw_period_eq(q->period, o->period))
            break;
    }
    return &slots[i];
}

/* The slot of the id s[0..n) in names (hash h), or the empty one for it. */
static uint64_t *find_name(const struct parser *p, const char *s, size_t n, uint64_t h)
{
    size_t mask = p->nnames_slots - 1, i = (size_t)h & mask;
    for (uint64_t v; (v = p->names[i]) != 0; i = (i + 1) & mask) {
        const char *id = p->df->elements[(uint32_t)v - 1];
        if (TAG(v) == TAG(h) && strncmp(id, s, n) == 0 && id[n] == '\0')
            break;
    }
    return &p->names[i];
}

/* Keeps the id table at most half full. */
static int grow_names(struct parser *p)
{
    size_t n = p->df->nelements;
    if ((n + 1) * 2 <= p->nnames_slots && n < p->names_cap)
        return 0;
    if (n >= p->names_cap) {
        size_t ncap = p->names_cap ? p->names_cap * 2 : 64;
        char **el = realloc(p->df->elements, ncap * sizeof *el);
        if (!el)
            return oom(p);
        p->df->elements = el;
        int *ci = realloc(p->cat_index, ncap * sizeof *ci);
        if (!ci)
            return oom(p);
        p->cat_index = ci;
        p->names_cap = ncap;
    }
    if ((n + 1) * 2 <= p->nnames_slots)
        return 0;
    size_t nslots = p->nnames_slots ? p->nnames_slots * 2 : 128;
    uint64_t *old = p->names;
    size_t oldn = p->nnames_slots;
    if (!(p->names = calloc(nslots, sizeof *p->names))) {
        p->names = old;
        return oom(p);
    }
    p->nnames_slots = nslots;
    for (size_t i = 0; i < oldn; i++)
        if (old[i] != 0) {
            const char *id = p->df->elements[(uint32_t)old[i] - 1];
            size_t len = strlen(id);
            *find_name(p, id, len, bytes_hash(id, len)) = old[i];
        }
    free(old);
    return 0;
}

#define NOT_LOOKED_UP (-2) /* cat_index: the catalog was not asked yet */

/* *index: the element id s[0..n), added on first sight (after checking it,
 * once per distinct id rather than once per line). 0, or fail()'s or
 * oom()'s code. */
static int intern(struct parser *p, const char *s, size_t n, size_t *index)
{
    int rc = grow_names(p);
    if (rc != 0)
        return rc;
    uint64_t h = bytes_hash(s, n);
    uint64_t *slot = find_name(p, s, n, h);
    if (*slot != 0) {
        *index = (uint32_t)*slot - 1;
        return 0;
    }
    if (!pw__id_valid(s, n))
        return fail(p, p->line, "bad element id '%.*s' (use 1 to %d of a-z, 0-9 and _)", (int)n,
                    s, PW_ID_MAX - 1);
    char *id = malloc(n + 1);
    if (!id)
        return oom(p);
    memcpy(id, s, n);
    id[n] = '\0';
    size_t i = p->df->nelements++;
    p->df->elements[i] = id;
    p->cat_index[i] = NOT_LOOKED_UP;
    *slot = TAG(h) | (i + 1);
    *index = i;
    return 0;
}

/* Refuses a value past its element's bound (element e of the catalog, or
 * PW_VALUE_MAX alone without one): a 20-digit typo is not a count. */
static int check_bound(struct parser *p, const pw_obs_t *o, int e, const char *v, size_t n)
{
    if (pw_catalog_check_value(p->cat, e, o->value, NULL, NULL, 0) == 0)
        return 0;
    char typed[128], why[256]; /* a number is shorter than 128 bytes (pw__text_parse_number) */
    snprintf(typed, sizeof typed, "%.*s", (int)n, v);
    pw_catalog_check_value(p->cat, e, o->value, typed, why, sizeof why);
    return fail(p, p->line, "'%s': %s", o->element, why);
}

static int check_value(struct parser *p, const pw_obs_t *o, size_t element, const char *v,
                       size_t n)
{
    const pw_catalog_t *cat = p->cat;
    int e = p->cat_index[element];
    if (e == NOT_LOOKED_UP)
        e = p->cat_index[element] = pw_catalog_element(cat, o->element, strlen(o->element));
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
    return check_bound(p, o, e, v, n);
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
    size_t element = 0;
    int rc = intern(p, f[1], len[1], &element);
    if (rc != 0)
        return rc;
    o.element = p->df->elements[element];
    if (len[2] == 0)
        return fail(p, p->line, "missing value");
    if (!pw__text_parse_number(f[2], len[2], &o.value))
        return fail(p, p->line, "bad value '%.*s' (expected a plain decimal like 12 or -0.5)",
                    (int)len[2], f[2]);
    if (o.value == 0)
        o.value = 0.0; /* no "-0" in the data */
    rc = p->cat ? check_value(p, &o, element, f[2], len[2]) : check_bound(p, &o, -1, f[2], len[2]);
    if (rc != 0)
        return rc;
    assert(p->df->n < p->cap); /* a row is a line, and the lines were counted */
    uint64_t h = obs_hash(element, o.period);
    uint64_t *slot = find_slot(p->slots, p->nslots, p->df->obs, &o, h);
    if (*slot != 0) {
        char buf[PW_PERIOD_STRMAX];
        pw_period_format(o.period, buf);
        return fail(p, p->line, "duplicate observation of '%s' for %s (first at line %d)",
                    o.element, buf, p->df->obs[(uint32_t)*slot - 1].line);
    }
    p->df->obs[p->df->n++] = o;
    *slot = TAG(h) | p->df->n;
    return 0;
}

/* Room for one observation per line, and a duplicate set at most half full. */
static int size_tables(struct parser *p, const char *text, size_t len)
{
    size_t lines = 1;
    for (const char *c = text, *end = text + len; (c = memchr(c, '\n', (size_t)(end - c)));
         c++)
        lines++;
    if (lines >= UINT32_MAX / 2)
        return fail(p, 1, "more than %u lines in one file", UINT32_MAX / 2 - 1);
    size_t nslots = 64;
    while (nslots < lines * 2)
        nslots *= 2;
    p->df->obs = malloc(lines * sizeof *p->df->obs);
    p->slots = calloc(nslots, sizeof *p->slots);
    if (!p->df->obs || !p->slots)
        return oom(p);
    p->cap = lines;
    p->nslots = nslots;
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
    if ((rc = size_tables(&p, text, len)) != 0)
        goto done;
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
done:
    if (rc == 0) {
        *out = p.df;
        p.df = NULL;
    }
    pw_datafile_destroy(&p.df);
    free(p.slots);
    free(p.names);
    free(p.cat_index);
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
    pw_datafile_t *self = *self_p;
    for (size_t i = 0; i < self->nelements; i++)
        free(self->elements[i]);
    free(self->elements);
    free(self->obs);
    free(self);
    *self_p = NULL;
}

/* A byte that continues a word: what an id or a name must not touch, so
 * that "hannan" is not found in "hannan_2", nor "wuhan" in "data/wuhan/". */
static bool word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '/' || c == '.' || c == '-';
}

/* Whether line (n bytes) holds name as a word, ASCII letters in any case. */
static bool names(const char *line, size_t n, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0)
        return false;
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        ascii = ascii && (unsigned char)name[i] < 0x80;
    for (size_t i = 0; i + len <= n; i++) {
        size_t j = 0;
        while (j < len && tolower((unsigned char)line[i + j]) == tolower((unsigned char)name[j]))
            j++;
        if (j < len)
            continue;
        /* Chinese names have no spaces around them: bounds only for ASCII. */
        if (!ascii || ((i == 0 || !word_byte((unsigned char)line[i - 1])) &&
                       (i + len == n || !word_byte((unsigned char)line[i + len]))))
            return true;
    }
    return false;
}

static bool names_reporter(const char *line, size_t n, const pw_district_t *d)
{
    return names(line, n, d->id) || names(line, n, d->name_zh) || names(line, n, d->name_en);
}

void pw_datafile_names_other(const char *path, const pw_catalog_t *cat, const char *district,
                             int *line_out, const pw_district_t **named_out)
{
    *line_out = 0;
    *named_out = NULL;
    int self = pw_catalog_district(cat, district, strlen(district));
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[1024];
    int line = 0, other_line = 0;
    const pw_district_t *other = NULL;
    bool own = false;
    /* Only the lines before the header: a comment further down is about
     * the figures, not about whose file this is. */
    while (!own && fgets(buf, sizeof(buf), f)) {
        line++;
        const char *s = buf;
        size_t n = strlen(buf);
        if (n > 0 && buf[n - 1] != '\n') /* a longer line: its start is enough */
            for (int c; (c = fgetc(f)) != EOF && c != '\n';)
                ;
        if (line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3, n -= 3;
        pw__text_trim(&s, &n);
        if (n > 0 && s[0] != '#')
            break;
        for (size_t i = 0; i < cat->ndistricts && !own; i++) {
            if (!names_reporter(s, n, &cat->districts[i]))
                continue;
            if ((int)i == self) {
                own = true;
            } else if (!other) {
                other = &cat->districts[i];
                other_line = line;
            }
        }
    }
    fclose(f);
    if (!own && other) {
        *line_out = other_line;
        *named_out = other;
    }
}
