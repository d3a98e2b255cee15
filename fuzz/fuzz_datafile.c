/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pw/datafile.h"
#include "pw/error.h"

#define NAME "fuzz.csv"

/* Quadratic checks stay cheap on fuzz-sized inputs, and are skipped beyond this. */
#define PAIRWISE_MAX 512

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= PW_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

static void check_file(const pw_datafile_t *df, const uint8_t *data, size_t size)
{
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    for (size_t i = 0; i < df->n; i++) {
        const pw_obs_t *o = &df->obs[i];
        PW_FUZZ_CHECK(o->line >= 1 && (size_t)o->line <= lines);
        PW_FUZZ_CHECK(i == 0 || o->line > df->obs[i - 1].line);
        PW_FUZZ_CHECK(id_ok(o->element));
        PW_FUZZ_CHECK(isfinite(o->value) && o->value <= PW_VALUE_MAX);
        PW_FUZZ_CHECK(o->value != 0 || !signbit(o->value)); /* no "-0" in the data */
        for (size_t j = 0; j < i && df->n <= PAIRWISE_MAX; j++)
            PW_FUZZ_CHECK(!(pw_period_eq(o->period, df->obs[j].period) &&
                            strcmp(o->element, df->obs[j].element) == 0));
        /* Ids are kept once each: an observation points at its id's copy. */
        bool listed = false;
        for (size_t k = 0; k < df->nelements && df->n <= PAIRWISE_MAX; k++)
            listed |= o->element == df->elements[k];
        PW_FUZZ_CHECK(listed || df->n > PAIRWISE_MAX);
    }
    for (size_t k = 0; k < df->nelements && df->nelements <= PAIRWISE_MAX; k++)
        for (size_t j = 0; j < k; j++)
            PW_FUZZ_CHECK(strcmp(df->elements[k], df->elements[j]) != 0);
}

/*
 * Writes the observations back as a data file, the way a district office
 * would, and parses that: it must give the same observations. Values that
 * "%.17g" can only print with an exponent (which the format refuses) are
 * printed in full with "%.0f", which is exact for such large integers.
 */
static void check_roundtrip(const pw_datafile_t *df, const pw_catalog_t *cat)
{
    size_t cap = 32 + df->n * (PW_PERIOD_STRMAX + PW_ID_MAX + 400);
    char *text = malloc(cap);
    PW_FUZZ_CHECK(text != NULL);
    size_t len = (size_t)snprintf(text, cap, "period,element,value\n");
    for (size_t i = 0; i < df->n; i++) {
        const pw_obs_t *o = &df->obs[i];
        char period[PW_PERIOD_STRMAX], value[400];
        pw_period_format(o->period, period);
        snprintf(value, sizeof value, "%.17g", o->value);
        if (strchr(value, 'e') != NULL) {
            if (fabs(o->value) < 1e17) {
                /* A tiny fraction: not printable plainly within the parser's 127 bytes. */
                free(text);
                return;
            }
            snprintf(value, sizeof value, "%.0f", o->value);
        }
        len += (size_t)snprintf(text + len, cap - len, "%s,%s,%s\n", period, o->element, value);
        PW_FUZZ_CHECK(len < cap);
    }
    pw_datafile_t *back = NULL;
    char err[512];
    int rc = pw_datafile_parse(NAME, text, len, cat, &back, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "round trip refused: %s\n", err);
    PW_FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
    if (rc == 0) {
        PW_FUZZ_CHECK(back->n == df->n);
        for (size_t i = 0; i < df->n; i++) {
            PW_FUZZ_CHECK(pw_period_eq(back->obs[i].period, df->obs[i].period));
            PW_FUZZ_CHECK(strcmp(back->obs[i].element, df->obs[i].element) == 0);
            PW_FUZZ_CHECK(back->obs[i].value == df->obs[i].value);
        }
    }
    pw_datafile_destroy(&back);
    free(text);
}

/* A refused file: nothing allocated, and a "fuzz.csv:LINE: what" message. */
static void check_refusal(int rc, const pw_datafile_t *df, const char *err)
{
    PW_FUZZ_CHECK(df == NULL);
    PW_FUZZ_CHECK(rc == PW_EDATA || rc == -ENOMEM);
    PW_FUZZ_CHECK(rc == -ENOMEM || pw_fuzz_error_has_line(err, NAME));
}

int pw_fuzz_datafile(const uint8_t *data, size_t size)
{
    const pw_catalog_t *cat = pw_fuzz_wuhan();
    pw_datafile_t *plain = NULL, *checked = NULL;
    char err[512];

    /* Without a catalog (the collector's default) and with one (--catalog). */
    int rc_plain = pw_datafile_parse(NAME, (const char *)data, size, NULL, &plain, err, sizeof err);
    if (rc_plain != 0) {
        check_refusal(rc_plain, plain, err);
    } else {
        check_file(plain, data, size);
        check_roundtrip(plain, NULL);
    }
    int rc_cat = pw_datafile_parse(NAME, (const char *)data, size, cat, &checked, err, sizeof err);
    if (rc_cat != 0) {
        check_refusal(rc_cat, checked, err);
    } else {
        /* The catalog only adds checks: what it accepts is accepted without it, the same. */
        PW_FUZZ_CHECK(rc_plain == 0 && plain->n == checked->n);
        for (size_t i = 0; i < checked->n; i++) {
            const pw_obs_t *o = &checked->obs[i];
            int e = pw_catalog_element(cat, o->element, strlen(o->element));
            PW_FUZZ_CHECK(e >= 0);
            PW_FUZZ_CHECK(o->value >= 0 && o->value <= cat->elements[e].max);
            PW_FUZZ_CHECK(!cat->elements[e].integer || o->value == floor(o->value));
            int year = pw_period_year(o->period);
            PW_FUZZ_CHECK(year >= cat->base_year && year <= cat->target_year);
        }
        check_roundtrip(checked, cat);
    }
    pw_datafile_destroy(&plain);
    pw_datafile_destroy(&checked);
    PW_FUZZ_CHECK(plain == NULL && checked == NULL);
    return 0;
}
