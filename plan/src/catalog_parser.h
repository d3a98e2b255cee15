/* SPDX-License-Identifier: MIT */
#ifndef PW_CATALOG_PARSER_H
#define PW_CATALOG_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pw/catalog.h"

/* The catalog parser's state, shared by catalog_parse.c (lines, sections,
 * whole-file checks) and catalog_keys.c (each key's value); private to
 * plan/src. */

enum sect { SECT_NONE = 0, SECT_PLAN, SECT_DISTRICT, SECT_ELEMENT, SECT_INDICATOR, NSECT };

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

#define BIT(k)   (1u << (k))
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

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

/** The spelling of each key, and of the level and target_kind values (catalog.h's order). */
extern const char *const pw__catalog_key_names[NKEYS];
extern const char *const pw__catalog_level_names[2];
extern const char *const pw__catalog_target_kind_names[3];

/** Reports an error at a line into p->err; returns PW_ECATALOG. */
__attribute__((format(printf, 3, 4))) int pw__catalog_fail(struct parser *p, int line,
                                                           const char *fmt, ...);
/** Same, prefixed with the current section ("indicator 'beds': "). */
__attribute__((format(printf, 3, 4))) int pw__catalog_sfail(struct parser *p, int line,
                                                            const char *fmt, ...);
/** Reports running out of memory; returns -ENOMEM. */
int pw__catalog_oom(struct parser *p);

/** s[0..n) is word. */
static inline bool pw__catalog_eqn(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/** Sets key k (not K_VALUE) of the current section from v[0..n); 0 or a code. */
int pw__catalog_set_key(struct parser *p, enum key k, const char *v, size_t n);
/** Adds the series of a value or value.NAME key (key[0..klen)) with formula v[0..n). */
int pw__catalog_set_value(struct parser *p, const char *key, size_t klen, const char *v, size_t n);

/** Builds cat->index from its ids, once they are all read; 0 or -ENOMEM. */
int pw__catalog_index_build(pw_catalog_t *cat);

#endif
