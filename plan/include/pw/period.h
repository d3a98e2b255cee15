/* SPDX-License-Identifier: MIT */
#ifndef PW_PERIOD_H
#define PW_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A reporting period: a year ("2016"), a half ("2018H1"), a quarter ("2018Q3")
 * or a month ("2018-07"). It is kept as the calendar month its end falls in
 * (year * 12 + month - 1) and its length in months, which orders periods and
 * gives the plan's elapsed fraction in whole months (PROGRESS.md).
 */
typedef struct pw_period {
    int32_t end;    /**< months since year 0 of the period's last month: y*12 + (m-1) */
    uint8_t months; /**< length: 12, 6, 3 or 1 */
} pw_period_t;

#define PW_PERIOD_STRMAX 16

/** Parses "2016", "2018H1", "2018Q3" or "2018-07" (years 1000-9999). 0 or PW_EPERIOD. */
int pw_period_parse(const char *text, size_t len, pw_period_t *out);

/** Writes the canonical text of p into buf (at least PW_PERIOD_STRMAX bytes). */
void pw_period_format(pw_period_t p, char buf[PW_PERIOD_STRMAX]);

/** Orders by end month, then longer periods first. <0, 0 or >0 like strcmp. */
int pw_period_cmp(pw_period_t a, pw_period_t b);

/** True when a and b are the same period. */
bool pw_period_eq(pw_period_t a, pw_period_t b);

/** Months from the end of base_year to the end of p (negative before it). */
int pw_period_months_after(pw_period_t p, int base_year);

/** The period's first year; for a month or half the year it lies in. */
int pw_period_year(pw_period_t p);

#endif
