/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "harness.h"
#include "pw/catalog.h"
#include "pw/error.h"

#define NAME "fuzz.conf"

static void check_catalog(const pw_catalog_t *cat)
{
    PW_FUZZ_CHECK(cat->name != NULL);
    PW_FUZZ_CHECK(cat->base_year < cat->target_year);
    PW_FUZZ_CHECK(isfinite(cat->alert_below) && isfinite(cat->on_track_at));
    /* Every id is found again at its own index: no duplicates, no bad ids. */
    for (size_t i = 0; i < cat->ndistricts; i++) {
        const char *id = cat->districts[i].id;
        PW_FUZZ_CHECK(pw_catalog_district(cat, id, strlen(id)) == (int)i);
    }
    for (size_t i = 0; i < cat->nelements; i++) {
        const char *id = cat->elements[i].id;
        PW_FUZZ_CHECK(pw_catalog_element(cat, id, strlen(id)) == (int)i);
    }
    size_t nseries = 0;
    for (size_t i = 0; i < cat->nindicators; i++) {
        const pw_indicator_t *ind = &cat->indicators[i];
        PW_FUZZ_CHECK(pw_catalog_indicator(cat, ind->id, strlen(ind->id)) == (int)i);
        PW_FUZZ_CHECK(ind->nseries >= 1 && ind->nseries <= PW_SERIES_MAX);
        PW_FUZZ_CHECK(ind->direction == 1 || ind->direction == -1);
        PW_FUZZ_CHECK(isfinite(ind->base) && isfinite(ind->target) && isfinite(ind->target_hi));
        /* The rate code indexes elements with a and b without checking again. */
        for (size_t s = 0; s < ind->nseries; s++) {
            const pw_series_t *sr = &ind->series[s];
            PW_FUZZ_CHECK(sr->a >= 0 && (size_t)sr->a < cat->nelements);
            PW_FUZZ_CHECK(sr->b >= -1 && sr->b < (int)cat->nelements);
            PW_FUZZ_CHECK(isfinite(sr->scale));
        }
        nseries += ind->nseries;
    }
    PW_FUZZ_CHECK(pw_catalog_nseries(cat) == nseries);
    PW_FUZZ_CHECK(pw_catalog_count_level(cat, PW_LEVEL_DISTRICT) +
                      pw_catalog_count_level(cat, PW_LEVEL_CITY) ==
                  cat->ndistricts);
}

int pw_fuzz_catalog(const uint8_t *data, size_t size)
{
    pw_catalog_t *cat = NULL;
    char err[512];

    int rc = pw_catalog_parse(NAME, (const char *)data, size, &cat, err, sizeof err);
    if (rc != 0) {
        PW_FUZZ_CHECK(cat == NULL);
        PW_FUZZ_CHECK(rc == PW_ECATALOG || rc == -ENOMEM);
        PW_FUZZ_CHECK(rc == -ENOMEM || pw_fuzz_error_has_line(err, NAME));
        return 0;
    }
    PW_FUZZ_CHECK(cat != NULL);
    check_catalog(cat);

    /* The same bytes give the same catalog digest (the store compares it across runs). */
    pw_catalog_t *again = NULL;
    PW_FUZZ_CHECK(pw_catalog_parse(NAME, (const char *)data, size, &again, err, sizeof err) == 0);
    PW_FUZZ_CHECK(memcmp(cat->digest, again->digest, sizeof cat->digest) == 0);
    pw_catalog_destroy(&again);
    pw_catalog_destroy(&cat);
    PW_FUZZ_CHECK(cat == NULL);
    return 0;
}
