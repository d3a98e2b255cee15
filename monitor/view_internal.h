/* SPDX-License-Identifier: MIT */
/* What the view's files (view.c, view_event.c) share and nothing else sees. */
#ifndef PW_VIEW_INTERNAL_H
#define PW_VIEW_INTERNAL_H

#include "view.h"

/* The indicator id names in cat; NULL for no catalog or an unknown id. */
const pw_indicator_t *pw__view_find_ind(const pw_catalog_t *cat, const char *id);

/* The decimals id's values are shown with: the catalog's, else 6. */
int pw__view_decimals_of(const pw_catalog_t *cat, const char *id);

#endif
