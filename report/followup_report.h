/* SPDX-License-Identifier: MIT */
#ifndef PW_FOLLOWUP_REPORT_H
#define PW_FOLLOWUP_REPORT_H

#include <stdio.h>

#include "followup.h"
#include "pw/catalog.h"

/*
 * The report's section "跟进 Follow-up": the bureau's follow-up of the latest
 * alerts (state/followup.h), newest opened first, each with its state, who
 * acknowledged it when, its assignee, its escalation and its log of actions
 * (time, who, kind, text). Times are UTC.
 */

/** Alerts the section lists at most, the newest opened; a line says how many more. */
#define PW_REPORT_FU_MAX 100

/** Writes the section as text. cat (may be NULL) names the indicators. 0, -EIO or a read error. */
int pw_report_write_followup_text(const pw_catalog_t *cat, pw_followup_t *fu, FILE *out);

/** Writes the section as an HTML <section>, every text escaped. 0, -EIO or a read error. */
int pw_report_write_followup_html(const pw_catalog_t *cat, pw_followup_t *fu, FILE *out);

#endif
