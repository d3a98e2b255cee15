/* SPDX-License-Identifier: MIT */
#include "pw/catalog.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_parser.h"
#include "pw/error.h"
#include "pw/text.h"

/* An id comparison for the id lookups, which the aggregator makes several times per
 * update over every district: byte by byte, so most candidates are dismissed
 * at their first differing byte without a strlen() and a memcmp() call. */
static bool id_eq(const char *s, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++)
        if (word[i] == '\0' || word[i] != s[i])
            return false;
    return word[n] == '\0';
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

int pw__catalog_index_build(pw_catalog_t *cat)
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
        return table_find(&self->index->districts, self->districts, sizeof *self->districts, id,
                          len);
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
        return table_find(&self->index->indicators, self->indicators, sizeof *self->indicators, id,
                          len);
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
