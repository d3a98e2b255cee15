/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include "pw/catalog.h"
#include "pw/datafile.h"
#include "pw/error.h"

/* A count (with a max), a flow and an amount, in a plan running 2015 to 2020. */
static const char catalog_text[] = "[plan]\n"
                                   "name = Test plan\n"
                                   "base_year = 2015\n"
                                   "target_year = 2020\n"
                                   "[district d1]\n"
                                   "name_zh = 一区\n"
                                   "name_en = One\n"
                                   "level = district\n"
                                   "[district city]\n"
                                   "name_zh = 市本级\n"
                                   "name_en = City office\n"
                                   "level = city\n"
                                   "[element care_beds]\n"
                                   "name_zh = 养老床位数\n"
                                   "name_en = Elderly-care beds\n"
                                   "unit = beds\n"
                                   "kind = count\n"
                                   "level = district\n"
                                   "max = 1000000\n"
                                   "[element new_orgs]\n"
                                   "name_zh = 新增社会组织数\n"
                                   "name_en = New organisations\n"
                                   "unit = organisations\n"
                                   "kind = flow\n"
                                   "level = district\n"
                                   "[element standard]\n"
                                   "name_zh = 低保标准\n"
                                   "name_en = Dibao standard\n"
                                   "unit = yuan\n"
                                   "kind = amount\n"
                                   "level = city\n"
                                   "[indicator beds]\n"
                                   "name_zh = 养老床位数\n"
                                   "name_en = Beds\n"
                                   "category = elderly_care\n"
                                   "unit = beds\n"
                                   "attribute = expected\n"
                                   "base = 100\n"
                                   "target = 200\n"
                                   "target_kind = exact\n"
                                   "method = linear\n"
                                   "value = sum care_beds\n";

#define H "period,element,value\n"

static pw_catalog_t *cat;
static pw_datafile_t *df;

static void setup(void)
{
    char err[512] = "";
    df = NULL;
    cat = NULL;
    int rc =
        pw_catalog_parse("catalog.conf", catalog_text, strlen(catalog_text), &cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
}

static void teardown(void)
{
    pw_datafile_destroy(&df);
    pw_catalog_destroy(&cat);
}

TestSuite(datafile, .init = setup, .fini = teardown, .timeout = 5.0);

static int parse(const char *text, const pw_catalog_t *with, char *err, size_t errlen)
{
    return pw_datafile_parse("jiangan.csv", text, strlen(text), with, &df, err, errlen);
}

Test(datafile, parses_bom_crlf_comments_and_spacing)
{
    static const char text[] = "\xEF\xBB\xBF# Jiang'an district office, 2018 mid-term\r\n"
                               "\r\n"
                               "  period,element,value  \r\n"
                               "# year-end stock\r\n"
                               "2016,care_beds,5230\r\n"
                               " 2018H1 ,\tnew_orgs , 12 \r\n"
                               "   # indented comment\r\n"
                               "2018Q3,standard,580.5\r\n"
                               "2018-07,care_beds,0\r\n"
                               "2015,standard,-0";
    char err[512] = "";
    int rc = parse(text, cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(sz, df->n, 5));
    cr_assert_str_eq(df->obs[0].element, "care_beds");
    cr_assert(eq(dbl, df->obs[0].value, 5230.0));
    cr_assert(eq(int, df->obs[0].line, 5));
    cr_assert(eq(int, df->obs[0].period.end, 2016 * 12 + 11));
    cr_assert(eq(int, df->obs[0].period.months, 12));
    cr_assert_str_eq(df->obs[1].element, "new_orgs");
    cr_assert(eq(int, df->obs[1].line, 6));
    cr_assert(eq(int, df->obs[1].period.end, 2018 * 12 + 5));
    cr_assert(eq(int, df->obs[1].period.months, 6));
    cr_assert(eq(dbl, df->obs[2].value, 580.5));
    cr_assert(eq(int, df->obs[2].line, 8));
    cr_assert(eq(int, df->obs[3].period.months, 1));
    cr_assert(eq(int, df->obs[4].line, 10));
    cr_assert(eq(dbl, df->obs[4].value, 0.0));
}

Test(datafile, header_only_is_empty_data)
{
    char err[512] = "";
    int rc = parse("# nothing yet\n" H "\n# still nothing\n", cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(sz, df->n, 0));
}

Test(datafile, without_catalog_only_syntax_is_checked)
{
    char err[512] = "";
    int rc = parse(H "1999,anything,-3.5\n2016,care_beds,-1\n", NULL, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(sz, df->n, 2));
    cr_assert(eq(dbl, df->obs[0].value, -3.5));
}

Test(datafile, values_up_to_their_bound_are_kept_exactly)
{
    char err[512] = "";
    const char *text = H "2016,care_beds,1000000\n2016,standard,9007199254740991\n"
                         "2017,standard,-100000000000000000000\n";
    int rc = parse(text, NULL, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(dbl, df->obs[1].value, 9007199254740991.0));
    pw_datafile_destroy(&df);
    /* With the catalog: at care_beds' max, and 2^53 - 1 for standard (no max). */
    rc = parse(H "2016,care_beds,1000000\n2016,standard,9007199254740991\n", cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(dbl, df->obs[0].value, 1000000.0));
}

Test(datafile, same_element_in_other_periods_is_not_a_duplicate)
{
    char err[512] = "";
    int rc =
        parse(H "2016,care_beds,1\n2016Q4,care_beds,1\n2016H2,care_beds,1\n2016-12,care_beds,1\n"
                "2016,new_orgs,1\n",
              cat, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(sz, df->n, 5));
}

Test(datafile, finds_a_duplicate_among_many_rows)
{
    size_t size = 1 << 20, used = 0;
    char *text = malloc(size);
    cr_assert(not(zero(ptr, text)));
    used += (size_t)snprintf(text, size, H);
    /* 2015-01 .. 2020-12 for 60 elements: 4320 rows, then one repeat. */
    for (int e = 0; e < 60; e++)
        for (int m = 0; m < 72; m++)
            used += (size_t)snprintf(text + used, size - used, "%d-%02d,e%d,%d\n", 2015 + m / 12,
                                     m % 12 + 1, e, m);
    snprintf(text + used, size - used, "2017-03,e42,1\n");
    char err[512] = "";
    int rc = parse(text, NULL, err, sizeof err);
    free(text);
    cr_assert(eq(int, rc, PW_EDATA), "%s", pw_strerror(rc));
    cr_assert(zero(ptr, df));
    cr_assert(eq(str, err,
                 "jiangan.csv:4322: duplicate observation of 'e42' for 2017-03 (first at line "
                 "3052)"));
}

Test(datafile, keeps_one_copy_of_each_element_id)
{
    /* 300 ids, more than the id table's first size, each in two periods. */
    size_t size = 1 << 16, used = 0;
    char *text = malloc(size);
    cr_assert(not(zero(ptr, text)));
    used += (size_t)snprintf(text, size, H);
    for (int y = 2016; y <= 2017; y++)
        for (int e = 0; e < 300; e++)
            used += (size_t)snprintf(text + used, size - used, "%d,e%03d,%d\n", y, e, e);
    char err[512] = "";
    int rc = parse(text, NULL, err, sizeof err);
    free(text);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(sz, df->n, 600));
    cr_assert(eq(sz, df->nelements, 300));
    for (size_t i = 0; i < 300; i++) {
        char id[8];
        snprintf(id, sizeof id, "e%03zu", i);
        cr_assert_str_eq(df->elements[i], id, "in order of first use");
        cr_assert(df->obs[i].element == df->elements[i]);
        cr_assert(df->obs[300 + i].element == df->elements[i], "the same copy");
    }
}

Test(datafile, loads_a_file)
{
    char path[] = "/tmp/pw-test-XXXXXX", err[512] = "";
    int fd = mkstemp(path);
    cr_assert(ge(int, fd, 0), "mkstemp: %s", strerror(errno));
    FILE *f = fdopen(fd, "w");
    cr_assert(not(zero(ptr, f)));
    fputs(H "2016,care_beds,5230\n2017,care_beds,5400\n", f);
    fclose(f);
    int rc = pw_datafile_load(path, cat, &df, err, sizeof err);
    unlink(path);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    cr_assert(eq(sz, df->n, 2));
    cr_assert(eq(dbl, df->obs[1].value, 5400.0));
}

Test(datafile, load_names_the_path_in_errors)
{
    char path[] = "/tmp/pw-test-XXXXXX", err[512] = "", want[256];
    int fd = mkstemp(path);
    cr_assert(ge(int, fd, 0), "mkstemp: %s", strerror(errno));
    FILE *f = fdopen(fd, "w");
    cr_assert(not(zero(ptr, f)));
    fputs(H "2016,care_beds,5230\n2017,care_beds,x\n", f);
    fclose(f);
    int rc = pw_datafile_load(path, cat, &df, err, sizeof err);
    unlink(path);
    cr_assert(eq(int, rc, PW_EDATA), "%s", pw_strerror(rc));
    cr_assert(zero(ptr, df));
    snprintf(want, sizeof want, "%s:3: bad value 'x' (expected a plain decimal like 12 or -0.5)",
             path);
    cr_assert(eq(str, err, want));
}

Test(datafile, missing_file_returns_errno)
{
    char err[512] = "";
    int rc = pw_datafile_load("/nonexistent/jiangan.csv", cat, &df, err, sizeof err);
    cr_assert(eq(int, rc, -ENOENT), "%s", pw_strerror(rc));
    cr_assert(zero(ptr, df));
    cr_assert(eq(str, err, "/nonexistent/jiangan.csv: No such file or directory"));
}

Test(datafile, small_or_absent_error_buffer_is_safe)
{
    char err[6];
    int rc = parse("nope\n", NULL, err, sizeof err);
    cr_assert(eq(int, rc, PW_EDATA));
    cr_assert(eq(str, err, "jiang"));
    rc = parse("nope\n", NULL, NULL, 0);
    cr_assert(eq(int, rc, PW_EDATA));
}

Test(datafile, destroy_is_null_safe)
{
    pw_datafile_t *none = NULL;
    pw_datafile_destroy(&none);
    pw_datafile_destroy(NULL);
    cr_assert(zero(ptr, none));
}

struct bad_case {
    const char *name;
    const char *text;
    size_t len; /* 0: up to the NUL */
    bool with_catalog;
    int want_line;
    const char *want;
};

static const char nul_text[] = H "2016,care_beds,5\n2017,care\0_beds,5\n";

static const struct bad_case bad_cases[] = {
    {"missing_header", "2016,care_beds,5\n", 0, false, 1,
     "expected the header line 'period,element,value', not '2016,care_beds,5'"},
    {"wrong_header", "# c\n\nperiod,element,amount\n", 0, false, 3,
     "expected the header line 'period,element,value', not 'period,element,amount'"},
    {"header_in_capitals", "Period,Element,Value\n", 0, false, 1, "expected the header line"},
    {"no_header_at_all", "# only a comment\n\n", 0, false, 2, "missing the header line"},
    {"empty_text", "", 0, false, 1, "missing the header line 'period,element,value'"},
    {"two_fields", H "2016,care_beds\n", 0, false, 2,
     "expected 3 fields (period,element,value), found 2"},
    {"four_fields", H "2016,care_beds,5,6\n", 0, false, 2, "found 4"},
    {"trailing_comma", H "2016,care_beds,5,\n", 0, false, 2, "found 4"},
    {"one_field", H "# ok\n2016\n", 0, false, 3, "found 1"},
    {"bad_half", H "2016H3,care_beds,5\n", 0, false, 2,
     "bad period '2016H3' (expected a year 2016, a half 2018H1, a quarter 2018Q3 or a month "
     "2018-07)"},
    {"short_year", H "16,care_beds,5\n", 0, false, 2, "bad period '16'"},
    {"bad_month", H "2016-13,care_beds,5\n", 0, false, 2, "bad period '2016-13'"},
    {"empty_period", H ",care_beds,5\n", 0, false, 2, "bad period ''"},
    {"bad_element_id", H "2016,Care-Beds,5\n", 0, false, 2, "bad element id 'Care-Beds'"},
    {"empty_element", H "2016,,5\n", 0, false, 2, "bad element id ''"},
    {"exponent", H "2016,care_beds,1e3\n", 0, false, 2,
     "bad value '1e3' (expected a plain decimal like 12 or -0.5)"},
    {"word", H "2016,care_beds,abc\n", 0, false, 2, "bad value 'abc'"},
    {"nan", H "2016,care_beds,nan\n", 0, false, 2, "bad value 'nan'"},
    {"inf", H "2016,care_beds,-inf\n", 0, false, 2, "bad value '-inf'"},
    {"hex", H "2016,care_beds,0x1A\n", 0, false, 2, "bad value '0x1A'"},
    {"thousands_space", H "2016,care_beds,5 230\n", 0, false, 2, "bad value '5 230'"},
    {"empty_value", H "2016,care_beds,\n", 0, false, 2, "missing value"},
    {"blank_value", H "2016,care_beds,   \n", 0, false, 2, "missing value"},
    {"quote", H "2016,\"care_beds\",5\n", 0, false, 2, "quotes are not supported"},
    {"invalid_utf8", H "# Jiang'an \xbd\xad\xb0\xb6\n", 0, false, 2, "invalid UTF-8"},
    {"nul_byte", nul_text, sizeof nul_text - 1, false, 3, "NUL byte"},
    {"duplicate_pair", H "2016,care_beds,5\n# revised\n2016,care_beds,6\n", 0, false, 4,
     "duplicate observation of 'care_beds' for 2016 (first at line 2)"},
    {"duplicate_pair_spaced", H "2018H1,new_orgs,5\n 2018H1 , new_orgs ,6\n", 0, false, 3,
     "duplicate observation of 'new_orgs' for 2018H1 (first at line 2)"},
    {"twenty_digit_count", H "2016,care_beds,5\n2017,care_beds,100000000000000000000\n", 0, false,
     3,
     "'care_beds': value 100000000000000000000 is above 9007199254740991 (2^53 - 1), past which "
     "a number is not held exactly (a typo?)"},
    {"just_past_2_53", H "2016,standard,9007199254740993\n", 0, false, 2,
     "'standard': value 9007199254740993 is above 9007199254740991 (2^53 - 1)"},
    {"fraction_past_2_53", H "2016,standard,9007199254740991.5\n", 0, false, 2,
     "value 9007199254740991.5 is above 9007199254740991"},
    {"above_element_max", H "2016,care_beds,1000001\n", 0, true, 2,
     "'care_beds': value 1000001 is above 1000000, the max the catalog sets for 'care_beds' (a "
     "typo?)"},
    {"negative_count", H "2016,care_beds,-3\n", 0, true, 2,
     "'care_beds' is a count: the value must not be negative, not '-3'"},
    {"fractional_count", H "2016,care_beds,5\n2017,care_beds,3.5\n", 0, true, 3,
     "'care_beds' is a count: the value must be a whole number, not '3.5'"},
    {"fractional_flow", H "2016,new_orgs,0.5\n", 0, true, 2, "must be a whole number, not '0.5'"},
    {"negative_amount", H "2016,standard,-1.5\n", 0, true, 2,
     "'standard' is an amount: the value must not be negative, not '-1.5'"},
    {"unknown_element", H "2016,care_beds,5\n2016,bedz,3\n", 0, true, 3, "unknown element 'bedz'"},
    {"year_after_plan", H "2021,care_beds,3\n", 0, true, 2,
     "period 2021 is outside the plan (2015 to 2020)"},
    {"month_before_plan", H "2014-12,care_beds,3\n", 0, true, 2,
     "period 2014-12 is outside the plan (2015 to 2020)"},
};

/* Indices, not pointers: Criterion runs each test in a fresh process. */
#define NBAD (sizeof bad_cases / sizeof bad_cases[0])

ParameterizedTestParameters(datafile, rejects_bad_file)
{
    static size_t index[NBAD];
    for (size_t i = 0; i < NBAD; i++)
        index[i] = i;
    return cr_make_param_array(size_t, index, NBAD);
}

ParameterizedTest(size_t *i, datafile, rejects_bad_file)
{
    const struct bad_case *c = &bad_cases[*i];
    char err[512] = "", prefix[64];
    size_t len = c->len ? c->len : strlen(c->text);
    int rc = pw_datafile_parse("jiangan.csv", c->text, len, c->with_catalog ? cat : NULL, &df, err,
                               sizeof err);
    cr_assert(eq(int, rc, PW_EDATA), "%s: got %s (%s)", c->name, pw_strerror(rc), err);
    cr_assert(zero(ptr, df), "%s", c->name);
    snprintf(prefix, sizeof prefix, "jiangan.csv:%d: ", c->want_line);
    cr_assert(eq(int, strncmp(err, prefix, strlen(prefix)), 0), "%s: got '%s', want line %d",
              c->name, err, c->want_line);
    cr_assert(not(zero(ptr, strstr(err, c->want))), "%s: got '%s', want '%s'", c->name, err,
              c->want);
}

Test(datafile, catalog_checks_need_the_catalog)
{
    /* Every case that needs a catalog passes syntax checks alone. */
    for (size_t i = 0; i < NBAD; i++) {
        const struct bad_case *c = &bad_cases[i];
        if (!c->with_catalog)
            continue;
        char err[512] = "";
        int rc = parse(c->text, NULL, err, sizeof err);
        cr_assert(eq(int, rc, PW_OK), "%s: %s", c->name, err);
        pw_datafile_destroy(&df);
    }
}

Test(datafile, demo_files_load_with_the_real_catalog)
{
    char err[512] = "", path[512];
    pw_catalog_t *real = NULL;
    int rc = pw_catalog_load(PW_SOURCE_DIR "/data/wuhan/catalog.conf", &real, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    size_t found = 0;
    for (size_t i = 0; i < real->ndistricts; i++) {
        snprintf(path, sizeof path, PW_SOURCE_DIR "/data/wuhan/districts/%s.csv",
                 real->districts[i].id);
        if (access(path, F_OK) != 0)
            continue;
        found++;
        rc = pw_datafile_load(path, real, &df, err, sizeof err);
        if (rc != PW_OK)
            pw_catalog_destroy(&real);
        cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
        cr_assert(gt(sz, df->n, 0), "%s has no observations", path);
        pw_datafile_destroy(&df);
    }
    pw_catalog_destroy(&real);
    if (found == 0)
        cr_skip_test("no demo data files yet");
}

/* A random plain decimal: sign, 1-19 integer digits (leading zeros too),
 * 0-12 fraction digits; long ones take the slow path, short ones the fast. */
static size_t random_decimal(char *out, unsigned *seed)
{
    size_t n = 0;
    if (rand_r(seed) % 4 == 0)
        out[n++] = '-';
    int idig = 1 + rand_r(seed) % (rand_r(seed) % 3 == 0 ? 19 : 8);
    for (int k = 0; k < idig; k++)
        out[n++] = (char)('0' + rand_r(seed) % 10);
    int fdig = rand_r(seed) % 13;
    if (fdig > 0) {
        out[n++] = '.';
        for (int k = 0; k < fdig; k++)
            out[n++] = (char)('0' + rand_r(seed) % 10);
    }
    out[n] = '\0';
    return n;
}

Test(datafile, values_are_strtods_bit_for_bit)
{
    enum { N = 20000 };
    static char text[N * 48 + 64], nums[N][40];
    unsigned seed = 20240607;
    size_t len = (size_t)snprintf(text, sizeof text, H);
    for (int i = 0; i < N; i++) {
        random_decimal(nums[i], &seed);
        if (i < 8) /* edges of the fast path: 15 and 16 digits, zeros */
            snprintf(nums[i], sizeof nums[i], "%s",
                     (const char *[]){"999999999999999", "9999999999999999", "0.000000000000001",
                                      "-0", "-0.0", "0", "123456789012345.0",
                                      "9007199254740993"}[i]);
        /* Above 2^53 - 1 a value is refused (the bound has its own tests):
         * the same digits, negative, still take the slow path. */
        if (strtod(nums[i], NULL) > PW_VALUE_MAX) {
            memmove(nums[i] + 1, nums[i], strlen(nums[i]) + 1);
            nums[i][0] = '-';
        }
        len += (size_t)snprintf(text + len, sizeof text - len, "2016,e%05d,%s\n", i, nums[i]);
    }
    int rc = pw_datafile_parse("random.csv", text, len, NULL, &df, NULL, 0);
    cr_assert(eq(int, rc, PW_OK), "%s", pw_strerror(rc));
    cr_assert(eq(sz, df->n, N));
    for (int i = 0; i < N; i++) {
        double want = strtod(nums[i], NULL), got = df->obs[i].value;
        if (want == 0)
            want = 0.0; /* the parser drops the sign of zero */
        cr_assert(eq(int, memcmp(&got, &want, sizeof got), 0), "'%s': got %.17g, want %.17g",
                  nums[i], got, want);
    }
}

Test(datafile, nul_bytes_and_utf8_are_found_at_every_offset)
{
    /* A comment long enough for the checker's 8-byte steps, with a NUL or
     * a multibyte character at each offset. */
    for (size_t at = 0; at < 24; at++) {
        char text[128], err[512] = "";
        size_t len = (size_t)snprintf(text, sizeof text, H "# ");
        size_t start = len;
        memset(text + len, 'a', 30);
        len += 30;
        text[len++] = '\n';
        text[start + at] = '\0';
        int rc = pw_datafile_parse("x.csv", text, len, NULL, &df, err, sizeof err);
        cr_assert(eq(int, rc, PW_EDATA), "NUL at %zu", at);
        cr_assert(not(zero(ptr, strstr(err, "NUL byte"))), "%s", err);
        memcpy(text + start + at, "\xe5\x8c\xba", 3); /* 区 */
        rc = pw_datafile_parse("x.csv", text, len, NULL, &df, err, sizeof err);
        cr_assert(eq(int, rc, PW_OK), "UTF-8 at %zu: %s", at, err);
        pw_datafile_destroy(&df);
        text[start + at + 2] = 'b'; /* a broken sequence */
        rc = pw_datafile_parse("x.csv", text, len, NULL, &df, err, sizeof err);
        cr_assert(eq(int, rc, PW_EDATA));
        char want[64];
        snprintf(want, sizeof want, "invalid UTF-8 at byte %zu of the line", 3 + at);
        cr_assert(not(zero(ptr, strstr(err, want))), "%s (want %s)", err, want);
    }
}

/* The reporter a file's title names, for district; its line in *line. */
static const char *title_names(const char *text, const char *district, int *line)
{
    char path[] = "/tmp/pw-title-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert(eq(sz, (size_t)write(fd, text, strlen(text)), strlen(text)));
    close(fd);
    const pw_district_t *other;
    pw_datafile_names_other(path, cat, district, line, &other);
    unlink(path);
    return other ? other->id : NULL;
}

Test(datafile, a_title_naming_another_reporter_is_found)
{
    int line;
    cr_assert_str_eq(title_names("# generated\n# 一区 office\n" H "2016,care_beds,1\n", "city",
                                 &line),
                     "d1");
    cr_assert(eq(int, line, 2));
    cr_assert_str_eq(title_names("\xEF\xBB\xBF# district: D1\n" H, "city", &line), "d1");
    cr_assert(eq(int, line, 1));
    /* Its own name too, a path, a word with more letters, or a comment
     * after the header: not a title naming another. */
    cr_assert_null(title_names("# One, once part of the City office\n" H, "city", &line));
    cr_assert_null(title_names("# made by tools/d1/gen.py\n# d1x\n" H "# d1\n", "city", &line));
    cr_assert(eq(int, line, 0));
}

Test(datafile, demo_titles_name_their_own_district_only)
{
    char err[512] = "", path[512];
    pw_catalog_t *real = NULL;
    int rc = pw_catalog_load(PW_SOURCE_DIR "/data/wuhan/catalog.conf", &real, err, sizeof err);
    cr_assert(eq(int, rc, PW_OK), "%s: %s", pw_strerror(rc), err);
    for (size_t i = 0; i < real->ndistricts; i++) {
        snprintf(path, sizeof path, PW_SOURCE_DIR "/data/wuhan/districts/%s.csv",
                 real->districts[i].id);
        int line;
        const pw_district_t *other;
        pw_datafile_names_other(path, real, real->districts[i].id, &line, &other);
        cr_expect_null(other, "%s names %s", path, other ? other->id : "");
        /* Sent as the next district's, it names its own office at line 1. */
        const char *wrong = real->districts[(i + 1) % real->ndistricts].id;
        pw_datafile_names_other(path, real, wrong, &line, &other);
        cr_expect(other == &real->districts[i] && line == 1, "%s as %s", path, wrong);
    }
    pw_catalog_destroy(&real);
}
