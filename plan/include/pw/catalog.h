/* SPDX-License-Identifier: MIT */
#ifndef PW_CATALOG_H
#define PW_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "pw/text.h"

/*
 * The indicator catalog: the plan, its reporters (districts and the city
 * itself), the data elements they report, and the indicators computed from
 * those elements. Loaded from an INI-style text file (see data/README.md);
 * read-only once loaded, so it can be shared freely between threads.
 */

#define PW_SERIES_MAX 4  /**< series per indicator (row 3 has urban and rural) */

/**
 * The largest value any element may take: 2^53 - 1. Up to it a double holds
 * every whole number exactly; from 2^53 on, 2^53 + 1 reads back as 2^53, so a
 * typed figure there is no longer the figure stored. No count a bureau keeps
 * comes near it: a value beyond is a typo (a 20-digit count), and refused.
 */
#define PW_VALUE_MAX 9007199254740991.0

typedef enum pw_level {
    PW_LEVEL_DISTRICT = 0, /**< reported by each district office */
    PW_LEVEL_CITY = 1,     /**< reported once, by the city (市本级) */
} pw_level_t;

typedef enum pw_method {
    PW_METHOD_LINEAR = 0, /**< (V - B) / (P(f) - B): the seed's 线性型 */
    PW_METHOD_LEVEL,      /**< V / P(f) */
    PW_METHOD_GROWTH,     /**< (V/B - 1) / ((T/B)^f - 1): the seed's 指数型 */
} pw_method_t;

typedef enum pw_target_kind {
    PW_TARGET_EXACT = 0, /**< reach T by the target year */
    PW_TARGET_AT_LEAST,  /**< T or better ("≥99") */
    PW_TARGET_RANGE,     /**< stay within [lo, hi] ("30-40") */
} pw_target_kind_t;

typedef enum pw_formula {
    PW_FORMULA_SUM = 0,    /**< sum(a) * scale */
    PW_FORMULA_RATIO,      /**< sum(a) / sum(b) * scale */
    PW_FORMULA_SHARE,      /**< sum(a) / sum(b) * 100 */
    PW_FORMULA_ANNUALISED, /**< sum(a) * 12 / months in period * scale: a flow per year */
    PW_FORMULA_WMEAN,      /**< sum(a * b) / sum(b): a mean of a weighted by b */
} pw_formula_t;

typedef struct pw_district {
    char id[PW_ID_MAX]; /**< wire id, e.g. "jiangan" */
    char *name_zh;      /**< e.g. "江岸区" */
    char *name_en;      /**< e.g. "Jiang'an" */
    pw_level_t level;   /**< district office or the city itself */
} pw_district_t;

typedef struct pw_element {
    char id[PW_ID_MAX];
    char *name_zh;
    char *name_en;
    char *unit;
    pw_level_t level; /**< who reports it */
    bool flow;        /**< counted over the period (vs a stock at its end) */
    bool integer;     /**< a count: reported values must be whole and >= 0 */
    bool has_max;     /**< the catalog gives a max for it */
    double max;       /**< largest plausible value: the catalog's max, else PW_VALUE_MAX */
} pw_element_t;

typedef struct pw_series {
    char name[PW_ID_MAX]; /**< "" for an indicator's only series, else "urban"... */
    pw_formula_t formula;
    int a;        /**< element index */
    int b;        /**< element index for ratio, share, wmean; else -1 */
    double scale; /**< multiplier (1 when absent; 100 for share) */
} pw_series_t;

typedef struct pw_indicator {
    char id[PW_ID_MAX];
    int row;      /**< row in the plan's table (for ordering and display), 0 if none */
    char *name_zh;
    char *name_en;
    char *category;
    char *unit;
    bool binding;          /**< 约束性 (binding) vs 预期性 (expected) */
    bool has_base;         /**< false when the base was "not started" (未启动) */
    double base;           /**< B: the base-year value */
    double target;         /**< T; for a range, its lower bound */
    double target_hi;      /**< a range's upper bound; else equal to target */
    pw_target_kind_t target_kind;
    int direction;         /**< +1 higher is better, -1 lower is better */
    pw_method_t method;
    int decimals;          /**< precision city-wide values are published with */
    size_t nseries;
    pw_series_t series[PW_SERIES_MAX];
} pw_indicator_t;

typedef struct pw_catalog {
    char *name;          /**< the plan's title */
    int base_year;       /**< e.g. 2015: the plan starts at its end */
    int target_year;     /**< e.g. 2020: the plan ends at its end */
    double alert_below;  /**< severe band and alert threshold (40) */
    double on_track_at;  /**< on-track threshold (100) */
    size_t ndistricts;
    pw_district_t *districts;
    size_t nelements;
    pw_element_t *elements;
    size_t nindicators;
    pw_indicator_t *indicators;
    unsigned char digest[32]; /**< hash of the file's bytes (FNV-1a based; not crypto) */
    char *text;               /**< the file's bytes as parsed (NUL-terminated): what a store keeps */
    size_t text_len;
    struct pw__catalog_index *index; /**< private: hashed id lookups, built by the parser */
} pw_catalog_t;

/**
 * Loads and validates a catalog file.
 * On failure returns PW_ECATALOG (or -errno when the file cannot be read) and
 * writes "file:line: what is wrong" into err (errlen bytes, may be 0).
 * Caller owns *out; free with pw_catalog_destroy().
 */
int pw_catalog_load(const char *path, pw_catalog_t **out, char *err, size_t errlen);

/** Same as pw_catalog_load() from a buffer; name is used in error messages. */
int pw_catalog_parse(const char *name, const char *text, size_t len, pw_catalog_t **out,
                     char *err, size_t errlen);

/** Frees the catalog and NULLs *self_p. NULL-safe. */
void pw_catalog_destroy(pw_catalog_t **self_p);

/** Index of the district with this id, or -1. len bytes of id (no NUL needed). */
int pw_catalog_district(const pw_catalog_t *self, const char *id, size_t len);

/** Index of the element with this id, or -1. */
int pw_catalog_element(const pw_catalog_t *self, const char *id, size_t len);

/** Index of the indicator with this id, or -1. */
int pw_catalog_indicator(const pw_catalog_t *self, const char *id, size_t len);

/** Number of reporters at a level (13 districts, 1 city in the demo). */
size_t pw_catalog_count_level(const pw_catalog_t *self, pw_level_t level);

/** Total number of series over all indicators. */
size_t pw_catalog_nseries(const pw_catalog_t *self);

/**
 * Checks a reported value v of element e against its bound: the element's
 * max in the catalog, else PW_VALUE_MAX. self NULL or e < 0 (no catalog at
 * hand) checks PW_VALUE_MAX alone. 0, or PW_EVALUE with why (len bytes, may
 * be 0) saying the value, the bound and why there is one: "value
 * 100000000000000000000 is above 9007199254740991 (2^53 - 1), ...". vtext is
 * the value as its reporter wrote it, or NULL to write v.
 */
int pw_catalog_check_value(const pw_catalog_t *self, int e, double v, const char *vtext, char *why,
                           size_t len);

#endif
