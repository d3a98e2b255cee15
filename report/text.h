/* SPDX-License-Identifier: MIT */
#ifndef PW_REPORT_TEXT_H
#define PW_REPORT_TEXT_H

#include <stdbool.h>
#include <stdio.h>

#include "report.h"

/*
 * The report as a table for a terminal: one line per indicator series, Chinese
 * names aligned by display width, bands coloured when asked.
 */

/** Prints the evaluation table, the band counts and the forecast counts. 0 or -errno. */
int pw_report_write_text(const pw_report_t *self, FILE *out, bool color);

/** Base and target as the table writes them ("none" with no base, "30-40" for a range). */
void pw_report_base_target(const pw_indicator_t *ind, char *base, char *target, size_t len);

#endif
