/* SPDX-License-Identifier: MIT */
#ifndef PW_REPORT_CHART_H
#define PW_REPORT_CHART_H

#include <stdio.h>

#include "report.h"

/*
 * The inline SVG charts of the HTML report (html.h): each indicator's trend
 * and the districts' own values of a ratio series, with their legend. Text
 * in them is escaped with pw_report_html_esc().
 */

/**
 * Writes indicator i's trend chart: its observed values per series (a gap
 * marked n/a where one is missing) against the plan's pace at 100% and at
 * 40%, the target range, and each series' forecast to the target year.
 */
void pw_report_trend_chart(FILE *out, const pw_report_t *self, int i);

/** Writes the districts' own values of series r at the report period, coloured by band. */
void pw_report_district_chart(FILE *out, const pw_report_t *self, const pw_report_series_t *r);

/** The series of indicator ind in the report: how many, and the index of the first in *first. */
size_t pw_report_series_of(const pw_report_t *self, int ind, size_t *first);

/** Writes the legend of both charts. */
void pw_report_chart_legend(FILE *out);

#endif
