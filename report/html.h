/* SPDX-License-Identifier: MIT */
#ifndef PW_REPORT_HTML_H
#define PW_REPORT_HTML_H

#include <stdbool.h>
#include <stdio.h>

#include "report.h"

/*
 * The report as one self-contained HTML page: inline CSS and inline SVG, no
 * script and nothing fetched. The evaluation table coloured by band, then a
 * card per indicator (data-indicator="ID") with its trend chart (observed
 * values against the planned path and the 40 % line, gaps where an observation
 * is missing, the forecast to the target year) and, for ratio indicators, a
 * chart of the districts' own values (data-districts="ID"). A print
 * stylesheet lays it out on A4 without splitting a chart.
 */

/** Writes the page to out; source (may be NULL) says where the data came from. 0 or -EIO. */
int pw_report_write_html(const pw_report_t *self, FILE *out, const char *source);

/* The page's parts, for pages of other programs (planwatch web) that show them. */

/** The report's screen stylesheet (no <style> around it). */
const char *pw_report_html_css(void);

/** Writes the band counts and forecast classes as chips. */
void pw_report_html_summary(FILE *out, const pw_report_t *self);

/** Writes the provisional banner when some series is not fully reported; else nothing. */
void pw_report_html_banner(FILE *out, const pw_report_t *self);

/** Writes the evaluation table (rows data-row="ID", coloured by band). */
void pw_report_html_table(FILE *out, const pw_report_t *self);

/** Writes indicator i's card (trend and district charts); false when it has no series. */
bool pw_report_html_card(FILE *out, const pw_report_t *self, int i);

/** Writes s with &, <, >, " and ' escaped for HTML text and attribute values. */
void pw_report_html_esc(FILE *out, const char *s);

#endif
