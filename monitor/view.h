/* SPDX-License-Identifier: MIT */
#ifndef PW_VIEW_H
#define PW_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fmt.h" /* the tables' formatting; report/ finds it through here */
#include "followup.h"
#include "pw/bureau.h"
#include "pw/catalog.h"
#include "pw/event.h"

/*
 * What a monitor shows: the evaluation rows (indicator series x period) and
 * the open alerts, kept current from a snapshot plus live events, and printed
 * as a table for people or as JSON lines for programs.
 */

typedef struct pw_view pw_view_t;

/** Which rows and alerts a view shows. Strings are borrowed. */
typedef struct pw_view_filter {
    const char *category;  /**< catalog category; NULL = any */
    const char *indicator; /**< indicator id; NULL = any */
    pw_band_t band;        /**< PW_BAND_NONE = any */
} pw_view_filter_t;

/** Creates an empty view; cat (borrowed, may be NULL) gives names and order. */
int pw_view_new(const pw_catalog_t *cat, pw_view_t **out);

/** Frees and NULLs. NULL-safe. */
void pw_view_destroy(pw_view_t **self_p);

/** Sets the filter (copied; its strings borrowed) applied to tables and pw_view_matches(). */
void pw_view_set_filter(pw_view_t *self, const pw_view_filter_t *filter);

/** Sets a title printed instead of "Evaluation table at P" (copied; NULL to reset). */
void pw_view_set_title(pw_view_t *self, const char *title);

/** True when ev passes the view's filter. */
bool pw_view_matches(const pw_view_t *self, const pw_event_t *ev);

/** Prints a status reply: one line (or JSON object) per reporter. */
void pw_view_print_status(const pw_catalog_t *cat, const pw_reply_t *status, FILE *out, bool json,
                          bool color);

/** Replaces the state with a snapshot's rows and open alerts. 0 or -ENOMEM. */
int pw_view_load(pw_view_t *self, const pw_reply_t *snap);

/** Applies one live event (rate row, alert open/resolve). 0 or -ENOMEM. */
int pw_view_apply(pw_view_t *self, const pw_event_t *ev);

/** The open alert of (indicator, series), or NULL. Valid until the view changes. */
const pw_event_t *pw_view_open_alert(const pw_view_t *self, const char *indicator,
                                     const char *series);

/** The latest period with any row; false when the view is empty. */
bool pw_view_latest_period(const pw_view_t *self, pw_period_t *out);

/** Prints the evaluation table at period p, the band counts and the open alerts. */
void pw_view_print_table(const pw_view_t *self, FILE *out, pw_period_t p, bool color);

/** Prints one JSON object per series row at period p. */
void pw_view_print_json(const pw_view_t *self, FILE *out, pw_period_t p);

/** Prints an alert event as one line for people. */
void pw_view_print_alert(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out, bool color);

/** As pw_view_print_alert(), with note (may be NULL) appended to the ALERT line. */
void pw_view_print_alert_note(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out,
                              bool color, const char *note);

/**
 * Shows beside each open alert of the table its follow-up (followup_view.h)
 * from fu, borrowed until reset; NULL for none.
 */
void pw_view_set_followup(pw_view_t *self, pw_followup_t *fu);

/** Prints an event (rate, alert open or resolve) as one JSON object line; not alert updates. */
void pw_view_print_event_json(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out);

/** As pw_view_print_event_json(), an open alert with its "followup" member from fu (may be NULL). */
void pw_view_print_event_json_fu(const pw_catalog_t *cat, const pw_event_t *ev, FILE *out,
                                 pw_followup_t *fu);

/**
 * True while a row is provisional: some reporter it expects has not sent
 * every element it owes yet. Such a row is shown, with its completeness,
 * but opens and resolves no alert (PROGRESS.md).
 */
bool pw_view_provisional(uint32_t have, uint32_t want);

/** Writes a row's completeness, reporters counted of those expected: "12/13". */
void pw_view_fmt_reported(char *buf, size_t len, uint32_t have, uint32_t want);

#endif
