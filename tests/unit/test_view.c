/* SPDX-License-Identifier: MIT */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "pw/event.h"
#include "pw/period.h"
#include "view.h"

TestSuite(view, .timeout = 5.0);

static pw_event_t rate(const char *ind, const char *series, const char *period, int64_t centi)
{
    pw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = PW_EV_RATE;
    snprintf(ev.indicator, sizeof(ev.indicator), "%s", ind);
    snprintf(ev.series, sizeof(ev.series), "%s", series);
    pw_period_parse(period, strlen(period), &ev.period);
    ev.has_rate = true;
    ev.centi = centi;
    return ev;
}

/* The view's JSON rows at period; caller frees. */
static char *json_at(const pw_view_t *v, const char *period)
{
    pw_period_t p;
    pw_period_parse(period, strlen(period), &p);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    pw_view_print_json(v, out, p);
    fclose(out);
    return buf;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

Test(view, keeps_one_row_per_series_and_period_among_thousands)
{
    pw_view_t *v = NULL;
    cr_assert(eq(int, pw_view_new(NULL, &v), 0));
    /* 25 indicators x 4 series x 30 periods: the index grows several times. */
    char ind[16], period[16];
    const char *series[] = {"", "d01", "d02", "d03"};
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 25; i++)
            for (int s = 0; s < 4; s++)
                for (int y = 2001; y <= 2030; y++) {
                    snprintf(ind, sizeof(ind), "i%02d", i);
                    snprintf(period, sizeof(period), "%d", y);
                    pw_event_t ev = rate(ind, series[s], period, round * 1000 + i);
                    cr_assert(eq(int, pw_view_apply(v, &ev), 0));
                }
    for (int y = 2001; y <= 2030; y++) {
        snprintf(period, sizeof(period), "%d", y);
        char *js = json_at(v, period);
        cr_assert(eq(sz, count(js, "\"indicator\":"), 100), "%s: %s", period, js);
        cr_assert(eq(sz, count(js, "\"rate\":10.07"), 4), "%s, second round: %s", period, js);
        cr_assert(eq(sz, count(js, "\"rate\":0.07"), 0), "%s: %s", period, js);
        free(js);
    }
    pw_view_destroy(&v);
}

Test(view, tells_series_and_periods_apart)
{
    pw_view_t *v = NULL;
    cr_assert(eq(int, pw_view_new(NULL, &v), 0));
    pw_event_t evs[] = {rate("i01", "", "2018Q3", 100), rate("i01", "d01", "2018Q3", 200),
                        rate("i01", "", "2018-09", 300), rate("i01", "", "2018Q3", 400)};
    for (size_t k = 0; k < sizeof(evs) / sizeof(evs[0]); k++)
        cr_assert(eq(int, pw_view_apply(v, &evs[k]), 0));
    char *js = json_at(v, "2018Q3");
    cr_assert(eq(sz, count(js, "\"indicator\":"), 2), "%s", js);
    cr_assert(not(zero(ptr, strstr(js, "\"rate\":4.00"))), "%s", js);
    cr_assert(not(zero(ptr, strstr(js, "\"rate\":2.00"))), "%s", js);
    free(js);
    js = json_at(v, "2018-09");
    cr_assert(eq(sz, count(js, "\"rate\":3.00"), 1), "%s", js);
    free(js);
    pw_view_destroy(&v);
}

Test(view, keeps_each_month_of_one_series_apart)
{
    pw_view_t *v = NULL;
    cr_assert(eq(int, pw_view_new(NULL, &v), 0));
    char period[32];
    for (int y = 2001; y <= 2030; y++)
        for (int m = 1; m <= 12; m++) {
            snprintf(period, sizeof(period), "%d-%02d", y, m);
            pw_event_t ev = rate("i01", "", period, (y - 2000) * 100 + m);
            cr_assert(eq(int, pw_view_apply(v, &ev), 0));
        }
    for (int y = 2001; y <= 2030; y++)
        for (int m = 1; m <= 12; m++) {
            char want[32];
            snprintf(period, sizeof(period), "%d-%02d", y, m);
            snprintf(want, sizeof(want), "\"rate\":%d.%02d,", y - 2000, m);
            char *js = json_at(v, period);
            cr_assert(eq(sz, count(js, "\"indicator\":"), 1), "%s: %s", period, js);
            cr_assert(not(zero(ptr, strstr(js, want))), "%s: %s", period, js);
            free(js);
        }
    pw_view_destroy(&v);
}

Test(view, forgets_its_rows_on_a_snapshot)
{
    pw_view_t *v = NULL;
    cr_assert(eq(int, pw_view_new(NULL, &v), 0));
    pw_event_t ev = rate("i01", "", "2018", 100);
    cr_assert(eq(int, pw_view_apply(v, &ev), 0));
    pw_event_t row = rate("i02", "", "2018", 500);
    pw_reply_t snap;
    memset(&snap, 0, sizeof(snap));
    snap.rows = &row;
    snap.nrows = 1;
    cr_assert(eq(int, pw_view_load(v, &snap), 0));
    ev.centi = 700; /* i01 again: a new row, not the forgotten one's slot */
    cr_assert(eq(int, pw_view_apply(v, &ev), 0));
    char *js = json_at(v, "2018");
    cr_assert(eq(sz, count(js, "\"indicator\":"), 2), "%s", js);
    cr_assert(not(zero(ptr, strstr(js, "\"rate\":5.00"))), "%s", js);
    cr_assert(not(zero(ptr, strstr(js, "\"rate\":7.00"))), "%s", js);
    free(js);
    pw_view_destroy(&v);
}
