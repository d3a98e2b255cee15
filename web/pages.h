/* SPDX-License-Identifier: MIT */
#ifndef PW_WEB_PAGES_H
#define PW_WEB_PAGES_H

#include <stdbool.h>
#include <stdio.h>

#include "live.h"
#include "users.h"

/*
 * The dashboard's pages as HTML, Chinese first and English second, laid out
 * for a phone as for a desk. Each page has a live part (<main id="live">)
 * that its script fetches again as a fragment (?fragment=1) whenever the
 * server's Server-Sent Events say the data changed; forms stay outside it,
 * so a note being typed is never wiped. The page writers need the live lock.
 */

/** Who asks: their name and role (forms are shown to staff and admins only). */
typedef struct pw_page_user {
    const char *name;
    pw_role_t role;
    const char *csrf; /**< the session's form token, put in every form */
} pw_page_user_t;

/** Which page, for the layout's navigation. */
typedef enum pw_page_id {
    PW_PAGE_OVERVIEW = 0,
    PW_PAGE_INDICATOR,
    PW_PAGE_STATUS,
    PW_PAGE_ALERTS,
    PW_PAGE_ALERT,
    PW_PAGE_USERS,
} pw_page_id_t;

/** Writes the layout's head, navigation and connection banner, opening <main id="live">. */
void pw_page_begin(FILE *out, pw_live_t *live, const pw_page_user_t *u, pw_page_id_t page,
                   const char *title);

/** Closes the live part, writes after (may be NULL: static forms) and the page's script. */
void pw_page_end(FILE *out, const char *after);

/** The overview's live part: band counts, the evaluation table, the open alerts. */
void pw_page_overview(FILE *out, pw_live_t *live);

/** Indicator id's live part: its card (charts), districts' figures, alerts. false: unknown id. */
bool pw_page_indicator(FILE *out, pw_live_t *live, const char *id);

/** The reporting-status grid: who reported what for the period, who is down, spool lag. */
void pw_page_status(FILE *out, pw_live_t *live);

/** The alert log with follow-up state, and the silences in force (staff may lift them). */
void pw_page_alerts(FILE *out, pw_live_t *live, bool all, const pw_page_user_t *u);

/** One alert's live part: what the pipeline said, its follow-up log. false: unknown key. */
bool pw_page_alert(FILE *out, pw_live_t *live, const char *key);

/** The alert's forms (acknowledge, assign, comment, close, silence) for user u. */
void pw_page_alert_forms(FILE *out, pw_live_t *live, const char *key, const pw_page_user_t *u);

/** The admin's page: the users of the users file. */
void pw_page_users(FILE *out, const pw_users_t *users, int sessions);

/** A whole login page, with msg (may be NULL) above the form and next the page to go on to. */
void pw_page_login(FILE *out, const char *msg, const char *next);

/** A whole small page saying what went wrong. */
void pw_page_message(FILE *out, const char *title, const char *msg);

/** Writes s escaped for HTML. */
void pw_page_esc(FILE *out, const char *s);

/** Writes s percent-encoded for a URL's query. */
void pw_page_url_esc(FILE *out, const char *s);

/** prefix then s percent-encoded into buf (len bytes, NUL-terminated); false when cut. */
bool pw_page_url_cat(char *buf, size_t len, const char *prefix, const char *s);

#endif
