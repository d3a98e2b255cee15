/* SPDX-License-Identifier: MIT */
#ifndef PW_REPORT_CSV_H
#define PW_REPORT_CSV_H

#include <stdio.h>

#include "report.h"

/*
 * The report for spreadsheets: UTF-8 with a byte-order mark (so Excel reads
 * the Chinese names right), RFC 4180 quoting and CRLF line ends, a header
 * line and one line per indicator series.
 */

/** Writes the report as CSV to out. 0, -ENOMEM or -EIO. */
int pw_report_write_csv(const pw_report_t *self, FILE *out);

/** Writes one CSV field, quoted when it holds a comma, quote, CR or LF. */
void pw_report_csv_field(FILE *out, const char *s);

#endif
