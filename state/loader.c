/* SPDX-License-Identifier: MIT */
#include "loader.h"

#include <string.h>

static int load_value(void *ctx, const char *district, const char *element, pw_period_t p,
                      double value)
{
    pw_model_t *m = ctx;
    const pw_catalog_t *cat = pw_model_catalog(m);
    int d = pw_catalog_district(cat, district, strlen(district));
    int e = pw_catalog_element(cat, element, strlen(element));
    return d < 0 || e < 0 ? 0 : pw_model_set(m, d, e, p, value, NULL);
}

int pw_state_load_values(const pw_catalog_t *cat, pw_txn_t *txn, pw_model_t **out)
{
    int rc = pw_model_new(cat, out);
    if (rc == 0)
        rc = pw_store_current_foreach(txn, load_value, *out);
    if (rc != 0)
        pw_model_destroy(out);
    return rc;
}
