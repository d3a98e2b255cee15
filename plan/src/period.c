/* SPDX-License-Identifier: MIT */
#include "pw/period.h"

#include <stdio.h>
#include <string.h>

#include "pw/error.h"

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int pw_period_parse(const char *text, size_t len, pw_period_t *out)
{
    int year, n;
    if (len < 4 || digits(text, 4, &year) != 0 || year < 1000)
        return PW_EPERIOD;
    if (len == 4) {
        out->end = year * 12 + 11;
        out->months = 12;
        return PW_OK;
    }
    if (len == 6 && (text[4] == 'H' || text[4] == 'Q')) {
        if (digits(text + 5, 1, &n) != 0)
            return PW_EPERIOD;
        int len_months = text[4] == 'H' ? 6 : 3;
        if (n < 1 || n > 12 / len_months)
            return PW_EPERIOD;
        out->end = year * 12 + n * len_months - 1;
        out->months = (uint8_t)len_months;
        return PW_OK;
    }
    if (len == 7 && text[4] == '-') {
        if (digits(text + 5, 2, &n) != 0 || n < 1 || n > 12)
            return PW_EPERIOD;
        out->end = year * 12 + n - 1;
        out->months = 1;
        return PW_OK;
    }
    return PW_EPERIOD;
}

/* Four digits of y; years outside 0..9999 never parse, so none reach here. */
static char *put_year(char *out, int y)
{
    out[0] = (char)('0' + y / 1000 % 10);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    return out + 4;
}

/* Written by hand rather than with snprintf: store keys format a period for
 * every update, and this is several times cheaper. */
static void format(pw_period_t p, char buf[PW_PERIOD_STRMAX]);

void pw_period_format(pw_period_t p, char buf[PW_PERIOD_STRMAX])
{
    /* The intake formats each update's period two or three times, and a
     * district sends element after element of one period: the last text is
     * kept (per thread), and a repeat is a copy. */
    static _Thread_local pw_period_t last_p;
    static _Thread_local char last[PW_PERIOD_STRMAX];
    if (last[0] != '\0' && pw_period_eq(p, last_p)) {
        memcpy(buf, last, PW_PERIOD_STRMAX);
        return;
    }
    format(p, buf);
    memcpy(last, buf, PW_PERIOD_STRMAX);
    last_p = p;
}

static void format(pw_period_t p, char buf[PW_PERIOD_STRMAX])
{
    int year = p.end / 12, month = p.end % 12 + 1;
    if (year < 0 || year > 9999) {
        snprintf(buf, PW_PERIOD_STRMAX, "?");
        return;
    }
    char *o = put_year(buf, year);
    switch (p.months) {
    case 12:
        break;
    case 6:
        *o++ = 'H';
        *o++ = (char)('0' + month / 6);
        break;
    case 3:
        *o++ = 'Q';
        *o++ = (char)('0' + month / 3);
        break;
    default:
        *o++ = '-';
        *o++ = (char)('0' + month / 10);
        *o++ = (char)('0' + month % 10);
        break;
    }
    *o = '\0';
}

int pw_period_cmp(pw_period_t a, pw_period_t b)
{
    if (a.end != b.end)
        return a.end < b.end ? -1 : 1;
    if (a.months != b.months)
        return a.months > b.months ? -1 : 1;
    return 0;
}

bool pw_period_eq(pw_period_t a, pw_period_t b)
{
    return a.end == b.end && a.months == b.months;
}

int pw_period_months_after(pw_period_t p, int base_year)
{
    return p.end - (base_year * 12 + 11);
}

int pw_period_year(pw_period_t p)
{
    return p.end / 12;
}
