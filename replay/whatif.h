/* SPDX-License-Identifier: MIT */
#ifndef PW_WHATIF_H
#define PW_WHATIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/event.h"
#include "store.h"

/* A what-if replay's alert timeline, against the one the store holds. */

/** One alert opening or resolving. */
typedef struct pw_whatif_transition {
    pw_alert_action_t action;
    char indicator[PW_ID_MAX], series[PW_ID_MAX];
    pw_period_t period;
    int64_t centi, time_ms;
} pw_whatif_transition_t;

/** Transitions in the order they happened; zero-initialise, free with pw_whatif_clear(). */
typedef struct pw_whatif_timeline {
    pw_whatif_transition_t *t;
    size_t n, cap;
} pw_whatif_timeline_t;

/** Appends ev's transition: 0 or -ENOMEM. */
int pw_whatif_push(pw_whatif_timeline_t *self, const pw_event_t *ev);

/** Appends the store's alert history, as stored: 0 or a PW_E* code. */
int pw_whatif_stored(pw_whatif_timeline_t *self, pw_store_t *store);

/**
 * Matches the two timelines series by series, in order, and prints the
 * difference on stdout (JSON lines with json), under cat's alert_below.
 * 0 or -ENOMEM.
 */
int pw_whatif_diff(const pw_whatif_timeline_t *stored, const pw_whatif_timeline_t *got, bool json,
                   const pw_catalog_t *cat);

/** Frees the transitions; the timeline is empty after. */
void pw_whatif_clear(pw_whatif_timeline_t *self);

#endif
