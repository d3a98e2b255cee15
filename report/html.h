/* SPDX-License-Identifier: MIT */
#ifndef PW_REPORT_HTML_H
#define PW_REPORT_HTML_H

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

/** Writes s with &, <, >, " and ' escaped for HTML text and attribute values. */
void pw_report_html_esc(FILE *out, const char *s);

#endif
