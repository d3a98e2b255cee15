/* SPDX-License-Identifier: MIT */
/* What the page files (pages.c, pages_alerts.c) share and nothing else sees. */
#ifndef PW_WEB_PAGES_INTERNAL_H
#define PW_WEB_PAGES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "live.h"

/* A time for people: "2026-12-04 10:02:03Z", "-" for none (ms <= 0). */
void pw__page_time(char buf[32], int64_t ms);

/* The indicator id names in cat, or NULL. */
const pw_indicator_t *pw__page_ind(const pw_catalog_t *cat, const char *id);

/* A district's Chinese name, or id itself when cat does not know it. */
const char *pw__page_district_zh(const pw_catalog_t *cat, const char *id);

/* Says so when the publisher is not answering (the figures are as of its last answer). */
void pw__page_connection(FILE *out, pw_live_t *live);

/* The alerts of indicator (NULL: all), open ones only or all, as a table. Live lock held. */
void pw__page_alert_table(FILE *out, pw_live_t *live, const char *indicator, bool open_only);

#endif
