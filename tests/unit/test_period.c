/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "pw/error.h"
#include "pw/period.h"

static pw_period_t parse_ok(const char *s)
{
    pw_period_t p;
    int rc = pw_period_parse(s, strlen(s), &p);
    cr_assert_eq(rc, PW_OK, "%s: %s", s, pw_strerror(rc));
    return p;
}

Test(period, parses_and_formats_each_form)
{
    const char *forms[] = {"2016", "2018H1", "2018H2", "2018Q3", "2018-07", "2020-12"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char buf[PW_PERIOD_STRMAX];
        pw_period_format(parse_ok(forms[i]), buf);
        cr_assert_str_eq(buf, forms[i]);
    }
}

Test(period, periods_ending_the_same_month_format_apart)
{
    /* All end in December 2018: the text kept from the last call must be
     * told apart by length too, and a repeat must give the same text. */
    const char *forms[] = {"2018-12", "2018-12", "2018", "2018Q4", "2018H2", "2018-12", "2018"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char buf[PW_PERIOD_STRMAX];
        pw_period_format(parse_ok(forms[i]), buf);
        cr_assert_str_eq(buf, forms[i]);
    }
}

Test(period, months_after_base_year_match_progress_md)
{
    /* PROGRESS.md: 2016 -> 12, 2017 -> 24, 2018H1 -> 30 months after 2015. */
    cr_assert_eq(pw_period_months_after(parse_ok("2016"), 2015), 12);
    cr_assert_eq(pw_period_months_after(parse_ok("2017"), 2015), 24);
    cr_assert_eq(pw_period_months_after(parse_ok("2018H1"), 2015), 30);
    cr_assert_eq(pw_period_months_after(parse_ok("2018Q3"), 2015), 33);
    cr_assert_eq(pw_period_months_after(parse_ok("2018-07"), 2015), 31);
    cr_assert_eq(pw_period_months_after(parse_ok("2020"), 2015), 60);
    cr_assert_eq(pw_period_months_after(parse_ok("2015"), 2015), 0);
}

Test(period, orders_by_end_then_longer_first)
{
    cr_assert_lt(pw_period_cmp(parse_ok("2017"), parse_ok("2018H1")), 0);
    cr_assert_lt(pw_period_cmp(parse_ok("2018-05"), parse_ok("2018H1")), 0);
    /* 2018H1 and 2018Q2 both end in June: the longer one sorts first. */
    cr_assert_lt(pw_period_cmp(parse_ok("2018H1"), parse_ok("2018Q2")), 0);
    cr_assert_eq(pw_period_cmp(parse_ok("2016"), parse_ok("2016")), 0);
}

Test(period, rejects_malformed_text)
{
    const char *bad[] = {"", "16",     "2018H3", "2018H0", "2018Q5", "2018-13", "2018-00",
                         "2018-7", "2018h1", "0999",   "20x8",   "2018Q",  "2018 ",  "2018-1a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pw_period_t p;
        cr_assert_eq(pw_period_parse(bad[i], strlen(bad[i]), &p), PW_EPERIOD, "'%s'", bad[i]);
    }
}
