/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include "pw/catalog.h"
#include "pw/error.h"

#define REAL_CATALOG PW_SOURCE_DIR "/data/wuhan/catalog.conf"

/*
 * A small valid catalog. Each bad case below changes a line or two of it, so its
 * line numbers matter: the element "elderly" is declared after the indicator
 * that uses it on purpose.
 */
static const char *const base_lines[] = {
    "# minimal catalog for tests",         /*  1 */
    "[plan]",                              /*  2 */
    "name = Test plan",                    /*  3 */
    "base_year = 2015",                    /*  4 */
    "target_year = 2020",                  /*  5 */
    "alert_below = 40",                    /*  6 */
    "on_track_at = 100",                   /*  7 */
    "",                                    /*  8 */
    "[district d1]",                       /*  9 */
    "name_zh = 一区",                      /* 10 */
    "name_en = One",                       /* 11 */
    "level = district",                    /* 12 */
    "",                                    /* 13 */
    "[district city]",                     /* 14 */
    "name_zh = 市本级",                    /* 15 */
    "name_en = City office",               /* 16 */
    "level = city",                        /* 17 */
    "",                                    /* 18 */
    "[element beds]",                      /* 19 */
    "name_zh = 床位",                      /* 20 */
    "name_en = Beds",                      /* 21 */
    "unit = beds",                         /* 22 */
    "kind = count",                        /* 23 */
    "level = district",                    /* 24 */
    "",                                    /* 25 */
    "[element standard]",                  /* 26 */
    "name_zh = 标准",                      /* 27 */
    "name_en = Standard",                  /* 28 */
    "unit = yuan",                         /* 29 */
    "kind = amount",                       /* 30 */
    "level = city",                        /* 31 */
    "",                                    /* 32 */
    "[indicator beds_per_1000]",           /* 33 */
    "row = 1",                             /* 34 */
    "name_zh = 千人床位",                  /* 35 */
    "name_en = Beds per 1000 elderly",     /* 36 */
    "category = elderly_care",             /* 37 */
    "unit = beds",                         /* 38 */
    "attribute = binding",                 /* 39 */
    "base = 37",                           /* 40 */
    "target = 50",                         /* 41 */
    "target_kind = exact",                 /* 42 */
    "direction = up",                      /* 43 */
    "method = linear",                     /* 44 */
    "decimals = 1",                        /* 45 */
    "value = ratio beds / elderly * 1000", /* 46 */
    "",                                    /* 47 */
    "[element elderly]",                   /* 48 */
    "name_zh = 老人",                      /* 49 */
    "name_en = Elderly",                   /* 50 */
    "unit = persons",                      /* 51 */
    "kind = flow",                         /* 52 */
    "level = district",                    /* 53 */
};
#define NBASE ((int)(sizeof base_lines / sizeof base_lines[0]))

/* Replaces nlines (0 means 1) lines from line with text, which may span lines or be "". */
struct edit {
    int line;
    int nlines;
    const char *text;
};

struct bad_case {
    const char *name;
    struct edit edits[2];
    int want_line;
    const char *want;
};

static void build(const struct edit *edits, size_t nedits, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int line = 1; line <= NBASE + 1; line++) {
        const struct edit *e = NULL;
        for (size_t i = 0; i < nedits; i++) {
            int n = edits[i].nlines ? edits[i].nlines : 1;
            if (edits[i].text && line >= edits[i].line && line < edits[i].line + n)
                e = &edits[i];
        }
        const char *text = NULL;
        if (e && line == e->line)
            text = e->text;
        else if (!e && line <= NBASE)
            text = base_lines[line - 1];
        if (text)
            used += (size_t)snprintf(buf + used, size - used, "%s\n", text);
        cr_assert(lt(sz, used, size), "test catalog too long");
    }
}

static pw_catalog_t *parse_ok(const char *text)
{
    char err[512] = "";
    pw_catalog_t *cat = NULL;
    int rc = pw_catalog_parse("catalog.conf", text, strlen(text), &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(not(zero(ptr, cat)));
    return cat;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(not(zero(ptr, f)), "%s: %s", path, strerror(errno));
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    cr_assert(not(zero(ptr, buf)));
    size_t len = fread(buf, 1, cap - 1, f);
    fclose(f);
    cr_assert(lt(sz, len, cap - 1), "%s is too big for the test", path);
    buf[len] = '\0';
    return buf;
}

static pw_catalog_t *cat;

static void setup(void)
{
    cat = NULL;
}

static void teardown(void)
{
    pw_catalog_destroy(&cat);
}

TestSuite(catalog, .init = setup, .fini = teardown, .timeout = 5.0);

Test(catalog, real_catalog_loads)
{
    char err[512] = "";
    int rc = pw_catalog_load(REAL_CATALOG, &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(sz, cat->ndistricts, 14));
    cr_assert(eq(sz, pw_catalog_count_level(cat, PW_LEVEL_DISTRICT), 13));
    cr_assert(eq(sz, pw_catalog_count_level(cat, PW_LEVEL_CITY), 1));
    cr_assert(eq(sz, cat->nindicators, 23));
    cr_assert(eq(sz, pw_catalog_nseries(cat), 24));
    cr_assert(eq(int, cat->base_year, 2015));
    cr_assert(eq(int, cat->target_year, 2020));
    cr_assert(eq(dbl, cat->alert_below, 40.0));
    cr_assert(eq(dbl, cat->on_track_at, 100.0));
    cr_assert(not(zero(ptr, strstr(cat->name, "十三五"))));
}

Test(catalog, real_catalog_beds_per_1000_elderly)
{
    char err[512] = "";
    int rc = pw_catalog_load(REAL_CATALOG, &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    int i = pw_catalog_indicator(cat, "beds_per_1000_elderly", strlen("beds_per_1000_elderly"));
    cr_assert(ge(int, i, 0));
    const pw_indicator_t *ind = &cat->indicators[i];
    cr_assert(eq(int, ind->row, 18));
    cr_assert(ind->has_base);
    cr_assert(ind->binding);
    cr_assert(eq(dbl, ind->base, 37.0));
    cr_assert(eq(dbl, ind->target, 50.0));
    cr_assert(eq(dbl, ind->target_hi, 50.0));
    cr_assert(eq(int, ind->target_kind, PW_TARGET_EXACT));
    cr_assert(eq(int, ind->method, PW_METHOD_LINEAR));
    cr_assert(eq(int, ind->direction, 1));
    cr_assert(eq(int, ind->decimals, 1));
    cr_assert(eq(str, ind->category, "elderly_care"));
    cr_assert(eq(sz, ind->nseries, 1));
    const pw_series_t *s = &ind->series[0];
    cr_assert_str_eq(s->name, "");
    cr_assert(eq(int, s->formula, PW_FORMULA_RATIO));
    cr_assert(eq(int, s->a, pw_catalog_element(cat, "care_beds", 9)));
    cr_assert(eq(int, s->b, pw_catalog_element(cat, "elderly", 7)));
    cr_assert(ge(int, s->a, 0));
    cr_assert(ge(int, s->b, 0));
    cr_assert(eq(dbl, s->scale, 1000.0));
}

Test(catalog, real_catalog_dibao_standard_ratio_is_a_range_with_two_series)
{
    char err[512] = "";
    int rc = pw_catalog_load(REAL_CATALOG, &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    int i = pw_catalog_indicator(cat, "dibao_standard_ratio", strlen("dibao_standard_ratio"));
    cr_assert(ge(int, i, 0));
    const pw_indicator_t *ind = &cat->indicators[i];
    cr_assert(eq(int, ind->target_kind, PW_TARGET_RANGE));
    cr_assert(eq(dbl, ind->target, 30.0));
    cr_assert(eq(dbl, ind->target_hi, 40.0));
    cr_assert(eq(sz, ind->nseries, 2));
    cr_assert_str_eq(ind->series[0].name, "urban");
    cr_assert_str_eq(ind->series[1].name, "rural");
    cr_assert(eq(int, ind->series[1].a, pw_catalog_element(cat, "rural_dibao_standard", 20)));
    cr_assert(eq(dbl, ind->series[1].scale, 1200.0));
}

Test(catalog, real_catalog_marriage_ceremony_rate_has_no_base)
{
    char err[512] = "";
    int rc = pw_catalog_load(REAL_CATALOG, &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    int i = pw_catalog_indicator(cat, "marriage_ceremony_rate", strlen("marriage_ceremony_rate"));
    cr_assert(ge(int, i, 0));
    cr_assert(not(cat->indicators[i].has_base));
    cr_assert(eq(int, cat->indicators[i].target_kind, PW_TARGET_AT_LEAST));
    cr_assert(eq(int, cat->indicators[i].series[0].formula, PW_FORMULA_SHARE));
    cr_assert(eq(dbl, cat->indicators[i].series[0].scale, 100.0));
}

Test(catalog, real_catalog_new_orgs_per_year_is_annualised)
{
    char err[512] = "";
    int rc = pw_catalog_load(REAL_CATALOG, &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    int i = pw_catalog_indicator(cat, "new_orgs_per_year", strlen("new_orgs_per_year"));
    cr_assert(ge(int, i, 0));
    const pw_indicator_t *ind = &cat->indicators[i];
    cr_assert(eq(int, ind->method, PW_METHOD_LEVEL));
    cr_assert(eq(int, ind->series[0].formula, PW_FORMULA_ANNUALISED));
    cr_assert(eq(int, ind->series[0].b, -1));
    const pw_element_t *e = &cat->elements[ind->series[0].a];
    cr_assert_str_eq(e->id, "new_orgs");
    cr_assert(e->flow);
    cr_assert(e->integer);
}

Test(catalog, appending_a_24th_indicator_needs_no_code_change)
{
    static const char extra[] = "\n"
                                "[indicator care_beds_total]\n"
                                "row         = 24\n"
                                "name_zh     = 养老床位总数\n"
                                "name_en     = Elderly-care beds in total\n"
                                "category    = elderly_care\n"
                                "unit        = beds\n"
                                "attribute   = expected\n"
                                "base        = 61000\n"
                                "target      = 100000\n"
                                "target_kind = at_least\n"
                                "method      = growth\n"
                                "decimals    = 0\n"
                                "value       = sum care_beds\n";
    char *real = read_text(REAL_CATALOG);
    size_t n = strlen(real);
    char *text = malloc(n + sizeof extra);
    cr_assert(not(zero(ptr, text)));
    memcpy(text, real, n);
    memcpy(text + n, extra, sizeof extra);
    free(real);
    char err[512] = "";
    int rc = pw_catalog_parse("catalog.conf", text, strlen(text), &cat, err, sizeof err);
    free(text);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(sz, cat->nindicators, 24));
    cr_assert(eq(sz, pw_catalog_nseries(cat), 25));
    int i = pw_catalog_indicator(cat, "care_beds_total", strlen("care_beds_total"));
    cr_assert(eq(int, i, 23));
    cr_assert(eq(int, cat->indicators[i].method, PW_METHOD_GROWTH));
    cr_assert(eq(int, cat->indicators[i].direction, 1));
    cr_assert(eq(int, cat->indicators[i].decimals, 0));
}

Test(catalog, minimal_catalog_loads_with_defaults_and_late_elements)
{
    char text[8192];
    static const struct edit none = {0, 0, NULL};
    build(&none, 1, text, sizeof text);
    cat = parse_ok(text);
    cr_assert(eq(sz, cat->ndistricts, 2));
    cr_assert(eq(sz, cat->nelements, 3));
    cr_assert(eq(sz, cat->nindicators, 1));
    cr_assert(eq(str, cat->districts[0].name_zh, "一区"));
    cr_assert(eq(int, cat->districts[1].level, PW_LEVEL_CITY));
    const pw_series_t *s = &cat->indicators[0].series[0];
    cr_assert(eq(int, s->a, 0));
    cr_assert(eq(int, s->b, 2), "elderly is declared after the indicator");
    const pw_element_t *e = cat->elements;
    cr_assert(e[0].integer && e[0].flow == false, "count");
    cr_assert(e[1].integer == false && e[1].flow == false, "amount");
    cr_assert(e[2].integer && e[2].flow, "flow");
    cr_assert(eq(int, e[1].level, PW_LEVEL_CITY));
}

Test(catalog, element_max_bounds_values_and_2_53_bounds_every_element)
{
    char text[8192];
    static const struct edit edits[] = {{24, 0, "level = district\nmax = 1000000"}};
    build(edits, 1, text, sizeof text);
    cat = parse_ok(text);
    const pw_element_t *beds = &cat->elements[0], *standard = &cat->elements[1];
    cr_assert(beds->has_max);
    cr_assert(eq(dbl, beds->max, 1000000.0));
    cr_assert_not(standard->has_max);
    cr_assert(eq(dbl, standard->max, PW_VALUE_MAX));
    cr_assert(eq(dbl, PW_VALUE_MAX, 9007199254740991.0));
    char why[256] = "";
    cr_assert(eq(int, pw_catalog_check_value(cat, 0, 1000000, NULL, why, sizeof why), 0));
    cr_assert(eq(int, pw_catalog_check_value(cat, 0, 1000001, NULL, why, sizeof why), PW_EVALUE));
    cr_assert(eq(str, why,
                 "value 1000001 is above 1000000, the max the catalog sets for 'beds' (a typo?)"));
    /* Without a max: 2^53 - 1, the last whole number whose neighbours a
     * double still tells apart. */
    cr_assert(eq(int, pw_catalog_check_value(cat, 1, PW_VALUE_MAX, NULL, why, sizeof why), 0));
    cr_assert(eq(int, pw_catalog_check_value(cat, 1, 1e20, NULL, why, sizeof why), PW_EVALUE));
    cr_assert(eq(str, why,
                 "value 100000000000000000000 is above 9007199254740991 (2^53 - 1), past which "
                 "a number is not held exactly (a typo?)"));
    /* Without a catalog, and with the value as it was typed. */
    cr_assert(eq(
        int,
        pw_catalog_check_value(NULL, -1, 9007199254740992.0, "9007199254740993", why, sizeof why),
        PW_EVALUE));
    cr_assert(not(zero(ptr, strstr(why, "value 9007199254740993 is above 9007199254740991"))), "%s",
              why);
    cr_assert(eq(int, pw_catalog_check_value(NULL, -1, 1e300, NULL, NULL, 0), PW_EVALUE));
    cr_assert(eq(int, pw_catalog_check_value(NULL, -1, 12.5, NULL, NULL, 0), 0));
}

Test(catalog, optional_keys_take_their_defaults)
{
    char text[8192];
    static const struct edit edits[] = {{6, 2, ""}, {34, 0, ""}};
    build(edits, 2, text, sizeof text);
    char *p = strstr(text, "direction = up\n");
    cr_assert(not(zero(ptr, p)));
    memcpy(p, "#", 1);
    p = strstr(text, "decimals = 1\n");
    cr_assert(not(zero(ptr, p)));
    memcpy(p, "#", 1);
    cat = parse_ok(text);
    cr_assert(eq(dbl, cat->alert_below, 40.0));
    cr_assert(eq(dbl, cat->on_track_at, 100.0));
    cr_assert(eq(int, cat->indicators[0].row, 0));
    cr_assert(eq(int, cat->indicators[0].direction, 1));
    cr_assert(eq(int, cat->indicators[0].decimals, 2));
}

Test(catalog, accepts_bom_crlf_and_free_spacing)
{
    char text[8192], crlf[16384] = "\xEF\xBB\xBF";
    static const struct edit edits[] = {{36, 0, "   name_en=Beds = more # not a comment   "},
                                        {41, 0, "\ttarget   =   -5 - 10.5"}};
    build(edits, 2, text, sizeof text);
    char *p = strstr(text, "target_kind = exact");
    cr_assert(not(zero(ptr, p)));
    memcpy(p, "target_kind = range", strlen("target_kind = range"));
    size_t n = strlen(crlf);
    for (const char *c = text; *c; c++) {
        if (*c == '\n')
            crlf[n++] = '\r';
        crlf[n++] = *c;
    }
    crlf[n] = '\0';
    cat = parse_ok(crlf);
    const pw_indicator_t *ind = &cat->indicators[0];
    cr_assert(eq(str, ind->name_en, "Beds = more # not a comment"));
    cr_assert(eq(dbl, ind->target, -5.0));
    cr_assert(eq(dbl, ind->target_hi, 10.5));
    cr_assert(eq(str, cat->name, "Test plan"));
}

Test(catalog, lookups_match_exact_ids)
{
    char text[8192];
    static const struct edit none = {0, 0, NULL};
    build(&none, 1, text, sizeof text);
    cat = parse_ok(text);
    cr_assert(eq(int, pw_catalog_district(cat, "city", 4), 1));
    cr_assert(eq(int, pw_catalog_district(cat, "cityx", 4), 1), "only len bytes count");
    cr_assert(eq(int, pw_catalog_district(cat, "cit", 3), -1));
    cr_assert(eq(int, pw_catalog_district(cat, "beds", 4), -1));
    cr_assert(eq(int, pw_catalog_element(cat, "elderly", 7), 2));
    cr_assert(eq(int, pw_catalog_element(cat, "bed", 3), -1));
    cr_assert(eq(int, pw_catalog_element(cat, "", 0), -1));
    cr_assert(eq(int, pw_catalog_indicator(cat, "beds_per_1000", 13), 0));
    cr_assert(eq(int, pw_catalog_indicator(cat, "beds_per_100", 12), -1));
}

Test(catalog, digest_follows_the_bytes)
{
    char text[8192];
    static const struct edit none = {0, 0, NULL};
    build(&none, 1, text, sizeof text);
    cat = parse_ok(text);
    pw_catalog_t *same = parse_ok(text);
    text[2] = 'M'; /* inside the first comment: same catalog, other bytes */
    pw_catalog_t *other = parse_ok(text);
    static const unsigned char zero32[32];
    cr_assert(ne(int, memcmp(cat->digest, zero32, 32), 0));
    cr_assert(eq(int, memcmp(cat->digest, same->digest, 32), 0));
    cr_assert(ne(int, memcmp(cat->digest, other->digest, 32), 0));
    cr_assert(ne(int, memcmp(cat->digest, cat->digest + 8, 8), 0), "the four hashes differ");
    pw_catalog_destroy(&same);
    pw_catalog_destroy(&other);
}

Test(catalog, missing_file_returns_errno)
{
    char err[512] = "";
    int rc = pw_catalog_load("/nonexistent/catalog.conf", &cat, err, sizeof err);
    cr_assert(eq(int, rc, -ENOENT), "%s", pw_strerror(rc));
    cr_assert(zero(ptr, cat));
    cr_assert(eq(str, err, "/nonexistent/catalog.conf: No such file or directory"));
}

Test(catalog, load_reports_the_path_in_errors)
{
    char path[] = "/tmp/pw-test-XXXXXX", err[512] = "", want[256];
    int fd = mkstemp(path);
    cr_assert(ge(int, fd, 0), "mkstemp: %s", strerror(errno));
    FILE *f = fdopen(fd, "w");
    cr_assert(not(zero(ptr, f)));
    fputs("# a catalog\n[plan]\nname = x\nbase_year = 2015\ntarget_year = 2020\n[nope]\n", f);
    fclose(f);
    int rc = pw_catalog_load(path, &cat, err, sizeof err);
    unlink(path);
    cr_assert(eq(int, rc, PW_ECATALOG), "%s", pw_strerror(rc));
    cr_assert(zero(ptr, cat));
    snprintf(want, sizeof want,
             "%s:6: unknown section kind 'nope' (expected plan, district, element or indicator)",
             path);
    cr_assert(eq(str, err, want));
}

Test(catalog, small_or_absent_error_buffer_is_safe)
{
    static const char text[] = "[plan]\nname = x\nbase_year = 2015\nnope\n";
    char err[8];
    memset(err, 'x', sizeof err);
    int rc = pw_catalog_parse("catalog.conf", text, strlen(text), &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_ECATALOG));
    cr_assert(eq(str, err, "catalog"));
    rc = pw_catalog_parse("catalog.conf", text, strlen(text), &cat, NULL, 0);
    cr_assert(eq(int, rc, PW_ECATALOG));
    cr_assert(zero(ptr, cat));
}

Test(catalog, empty_text_has_no_plan)
{
    char err[512] = "";
    int rc = pw_catalog_parse("catalog.conf", "", 0, &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_ECATALOG));
    cr_assert(eq(str, err, "catalog.conf:1: no [plan] section (every catalog needs one)"));
}

Test(catalog, destroy_is_null_safe)
{
    pw_catalog_t *none = NULL;
    pw_catalog_destroy(&none);
    pw_catalog_destroy(NULL);
    cr_assert(zero(ptr, none));
}

static const struct bad_case bad_cases[] = {
    {"district_bad_level",
     {{12, 0, "level = county"}},
     12,
     "district 'd1': unknown level 'county' (expected district or city)"},
    {"element_bad_kind",
     {{23, 0, "kind = stock"}},
     23,
     "element 'beds': unknown kind 'stock' (expected count, flow or amount)"},
    {"element_bad_level", {{31, 0, "level = province"}}, 31, "unknown level 'province'"},
    {"bad_attribute",
     {{39, 0, "attribute = mandatory"}},
     39,
     "unknown attribute 'mandatory' (expected binding or expected)"},
    {"bad_target_kind",
     {{42, 0, "target_kind = most"}},
     42,
     "unknown target_kind 'most' (expected exact, at_least or range)"},
    {"bad_direction",
     {{43, 0, "direction = sideways"}},
     43,
     "unknown direction 'sideways' (expected up or down)"},
    {"bad_method",
     {{44, 0, "method = lineer"}},
     44,
     "indicator 'beds_per_1000': unknown method 'lineer' (expected linear, level or growth)"},
    {"base_with_comma", {{40, 0, "base = 3,5"}}, 40, "bad base '3,5'"},
    {"base_with_exponent", {{40, 0, "base = 1e3"}}, 40, "bad base '1e3'"},
    {"base_with_plus", {{40, 0, "base = +3"}}, 40, "bad base '+3'"},
    {"base_trailing_dot", {{40, 0, "base = 3."}}, 40, "bad base '3.'"},
    {"target_nan", {{41, 0, "target = nan"}}, 41, "bad target 'nan'"},
    {"target_hex", {{41, 0, "target = 0x10"}}, 41, "bad target '0x10'"},
    {"alert_below_inf", {{6, 0, "alert_below = inf"}}, 6, "bad number 'inf' for 'alert_below'"},
    {"base_year_short",
     {{4, 0, "base_year = 15"}},
     4,
     "base_year must be a year from 1000 to 9999"},
    {"base_year_fraction", {{4, 0, "base_year = 2015.5"}}, 4, "base_year must be a year"},
    {"target_year_not_after_base",
     {{5, 0, "target_year = 2015"}},
     5,
     "plan: target_year 2015 must be after base_year 2015"},
    {"decimals_too_many",
     {{45, 0, "decimals = 7"}},
     45,
     "decimals must be a whole number from 0 to 6"},
    {"row_negative", {{34, 0, "row = -1"}}, 34, "row must be a whole number 0 or above"},
    {"on_track_not_above_alert",
     {{7, 0, "on_track_at = 30"}},
     7,
     "on_track_at (30) must be above alert_below (40)"},
    {"missing_name_en",
     {{36, 0, "# no English name"}},
     33,
     "indicator 'beds_per_1000': missing 'name_en'"},
    {"missing_target", {{41, 0, ""}}, 33, "indicator 'beds_per_1000': missing 'target'"},
    {"missing_value", {{46, 0, ""}}, 33, "missing 'value'"},
    {"missing_method", {{44, 0, ""}}, 33, "missing 'method'"},
    {"missing_plan_name", {{3, 0, ""}}, 2, "plan: missing 'name'"},
    {"missing_district_level", {{12, 0, ""}}, 9, "district 'd1': missing 'level'"},
    {"missing_element_kind", {{23, 0, ""}}, 19, "element 'beds': missing 'kind'"},
    {"duplicate_key", {{34, 0, "unit = other"}}, 38, "duplicate key 'unit' (first at line 34)"},
    {"duplicate_plain_value", {{34, 0, "value = sum beds"}}, 46, "duplicate key 'value'"},
    {"duplicate_district",
     {{14, 0, "[district d1]"}},
     14,
     "duplicate district 'd1' (first at line 9)"},
    {"duplicate_element",
     {{48, 0, "[element beds]"}},
     48,
     "duplicate element 'beds' (first at line 19)"},
    {"duplicate_plan", {{8, 0, "[plan]"}}, 8, "duplicate [plan] section (first at line 2)"},
    {"undeclared_element",
     {{46, 0, "value = ratio bedz / elderly"}},
     46,
     "element 'bedz' is not declared"},
    {"undeclared_weight",
     {{46, 0, "value = wmean beds by weight"}},
     46,
     "element 'weight' is not declared"},
    {"key_outside_section", {{1, 0, "name = early"}}, 1, "key outside any section"},
    {"unknown_key", {{34, 0, "colour = red"}}, 34, "unknown key 'colour'"},
    {"plan_key_in_district", {{11, 0, "base_year = 2015"}}, 11, "unknown key 'base_year'"},
    {"unknown_section", {{26, 0, "[widget standard]"}}, 26, "unknown section kind 'widget'"},
    {"bad_id_chars", {{9, 0, "[district D-1]"}}, 9, "bad district id 'D-1'"},
    {"id_too_long",
     {{19, 0, "[element a123456789b123456789c123456789d123456789e123456789f123456789g123]"}},
     19,
     "bad element id"},
    {"plan_with_id", {{2, 0, "[plan main]"}}, 2, "[plan] takes no id"},
    {"section_without_id", {{19, 0, "[element]"}}, 19, "[element] needs an id"},
    {"unclosed_header", {{19, 0, "[element beds"}}, 19, "missing its closing ']'"},
    {"empty_header", {{19, 0, "[ ]"}}, 19, "empty section header"},
    {"line_without_equals", {{22, 0, "unit beds"}}, 22, "expected 'key = value'"},
    {"missing_key", {{22, 0, "= beds"}}, 22, "missing key before '='"},
    {"empty_value", {{35, 0, "name_zh ="}}, 35, "empty value for 'name_zh'"},
    {"bad_category", {{37, 0, "category = Elderly care"}}, 37, "bad category 'Elderly care'"},
    {"range_without_lo_hi",
     {{42, 0, "target_kind = range"}},
     41,
     "target_kind range needs a target of the form LO-HI"},
    {"lo_hi_without_range",
     {{41, 0, "target = 30-40"}},
     41,
     "a LO-HI target needs target_kind = range"},
    {"range_lo_not_below_hi",
     {{41, 0, "target = 40-30"}},
     41,
     "range target '40-30': the low end must be below the high end"},
    {"growth_without_base",
     {{40, 0, "base = none"}, {44, 0, "method = growth"}},
     44,
     "method growth needs a base (base is none)"},
    {"growth_with_zero_base",
     {{40, 0, "base = 0"}, {44, 0, "method = growth"}},
     44,
     "method growth needs a base and a target above 0"},
    {"down_with_range",
     {{41, 0, "target = 30-40"}, {42, 2, "target_kind = range\ndirection = down"}},
     43,
     "direction down is not supported with a range target"},
    {"invalid_utf8_truncated", {{35, 0, "name_zh = \xe5\x8d"}}, 35, "invalid UTF-8"},
    {"invalid_utf8_gbk",
     {{10, 0, "name_zh = \xd2\xbb\xc7\xf8"}},
     10,
     "invalid UTF-8 at byte 13 of the line"},
    {"invalid_utf8_in_comment", {{1, 0, "# \xff"}}, 1, "invalid UTF-8"},
    {"both_value_forms",
     {{34, 0, "value.x = sum beds"}},
     46,
     "both 'value' and 'value.NAME' given"},
    {"too_many_series",
     {{46, 0,
       "value.a = sum beds\nvalue.b = sum beds\nvalue.c = sum beds\nvalue.d = sum beds\n"
       "value.e = sum beds"}},
     50,
     "too many series (at most 4"},
    {"duplicate_series",
     {{46, 0, "value.a = sum beds\nvalue.a = sum elderly"}},
     47,
     "duplicate key 'value.a' (first at line 46)"},
    {"bad_series_name", {{46, 0, "value.Urban = sum beds"}}, 46, "bad series name 'Urban'"},
    {"empty_series_name", {{46, 0, "value. = sum beds"}}, 46, "bad series name ''"},
    {"unknown_formula",
     {{46, 0, "value = summ beds"}},
     46,
     "unknown formula 'summ' (expected sum, annualised, ratio, share or wmean)"},
    {"ratio_without_slash",
     {{46, 0, "value = ratio beds elderly"}},
     46,
     "should read 'ratio A / B [* K]'"},
    {"share_with_scale",
     {{46, 0, "value = share beds / elderly * 10"}},
     46,
     "should read 'share A / B'"},
    {"wmean_with_slash",
     {{46, 0, "value = wmean beds / elderly"}},
     46,
     "should read 'wmean A by W'"},
    {"zero_scale",
     {{46, 0, "value = sum beds * 0"}},
     46,
     "scale '0' in formula is not a positive number"},
    {"bad_element_in_formula",
     {{46, 0, "value = sum Beds"}},
     46,
     "'Beds' in formula is not an element id"},
    {"no_city_reporter",
     {{17, 0, "level = district"}},
     26,
     "element 'standard': level city, but no [district] has level = city"},
    {"element_max_zero",
     {{24, 0, "level = district\nmax = 0"}},
     25,
     "element 'beds': max must be above 0 and at most 9007199254740991 (2^53 - 1, past which a "
     "number is not held exactly), not '0'"},
    {"element_max_past_2_53",
     {{24, 0, "level = district\nmax = 9007199254740992"}},
     25,
     "max must be above 0 and at most 9007199254740991"},
    {"element_max_not_a_number", {{24, 0, "level = district\nmax = 1e6"}}, 25, "not '1e6'"},
    {"element_max_twice",
     {{24, 0, "max = 10\nmax = 20"}},
     25,
     "duplicate key 'max' (first at line 24)"},
    {"max_in_an_indicator", {{34, 0, "max = 5"}}, 34, "unknown key 'max'"},
    {"no_plan", {{2, 6, "# no plan"}}, 48, "no [plan] section"},
    {"no_indicator", {{33, 15, ""}}, 39, "no [indicator] section"},
};

/*
 * Criterion runs each test in a fresh process, where the parent's pointers mean
 * nothing: the parameters are indices into bad_cases, which each process has.
 */
#define NBAD (sizeof bad_cases / sizeof bad_cases[0])

ParameterizedTestParameters(catalog, rejects_bad_catalog)
{
    static size_t index[NBAD];
    for (size_t i = 0; i < NBAD; i++)
        index[i] = i;
    return cr_make_param_array(size_t, index, NBAD);
}

ParameterizedTest(size_t *i, catalog, rejects_bad_catalog)
{
    const struct bad_case *c = &bad_cases[*i];
    char text[8192], err[512] = "", prefix[64];
    build(c->edits, 2, text, sizeof text);
    int rc = pw_catalog_parse("catalog.conf", text, strlen(text), &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_ECATALOG), "%s: got %s (%s)", c->name, pw_strerror(rc), err);
    cr_assert(zero(ptr, cat), "%s", c->name);
    snprintf(prefix, sizeof prefix, "catalog.conf:%d: ", c->want_line);
    cr_assert(eq(int, strncmp(err, prefix, strlen(prefix)), 0), "%s: got '%s', want line %d",
              c->name, err, c->want_line);
    cr_assert(not(zero(ptr, strstr(err, c->want))), "%s: got '%s', want '%s'", c->name, err,
              c->want);
}
