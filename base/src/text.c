/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pw/text.h"

bool pw__text_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

void pw__text_trim(const char **s, size_t *n)
{
    while (*n > 0 && pw__text_is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && pw__text_is_space((*s)[*n - 1]))
        (*n)--;
}

size_t pw__text_utf8_check(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            /* Text is mostly ASCII: 8 bytes at a time while none has the high
             * bit set and none is zero (the word trick finds zero bytes). */
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            if (((w | ((w - 0x0101010101010101u) & ~w)) & 0x8080808080808080u) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned c = s[i];
        size_t len;
        unsigned min;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            min = 0x10000;
        } else {
            return i;
        }
        if (n - i < len)
            return i;
        unsigned cp = c & (0x7Fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return n;
}

/*
 * strtod alone would also take hex, exponents, "inf" and "nan", which in a typed file are
 * typos, so the shape is checked first.
 */
bool pw__text_parse_number(const char *s, size_t n, double *out)
{
    size_t i = 0, int_digits = 0, frac_digits = 0;
    char buf[128];
    if (i < n && s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
        if (frac_digits == 0)
            return false;
    }
    if (int_digits == 0 || i != n || n >= sizeof buf)
        return false;
    if (int_digits + frac_digits <= 15) {
        /* Clinger's fast path: up to 15 digits are an exact integer below
         * 2^53 and 10^frac_digits is exact, so one correctly rounded
         * division gives strtod's result bit for bit, at a tenth of its cost. */
        static const double pow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
        uint64_t m = 0;
        for (size_t k = 0; k < n; k++)
            if (s[k] >= '0' && s[k] <= '9')
                m = m * 10 + (uint64_t)(s[k] - '0');
        double v = (double)m / pow10[frac_digits];
        *out = s[0] == '-' ? -v : v;
        return true;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

bool pw__text_parse_int(const char *s, size_t n, long *out)
{
    double v;
    if (n > 10 || memchr(s, '.', n) != NULL || !pw__text_parse_number(s, n, &v))
        return false;
    *out = (long)v;
    return true;
}

void *pw__text_reserve(void *arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *q = realloc(arr, ncap * sz);
    if (q)
        *cap = ncap;
    return q;
}

int pw__text_sys_error(char *err, size_t errlen, const char *name, int rc)
{
    if (errlen > 0)
        snprintf(err, errlen, "%s: %s", name, strerror(-rc));
    return rc;
}

int pw__text_read_file(const char *path, char **buf_out, size_t *len_out)
{
    *buf_out = NULL;
    *len_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    int rc = 0;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    /* Room for the whole file at once when its size is known: a buffer grown
     * by doubling would be copied, and its pages touched, several times. */
    struct stat st;
    size_t first = 65536;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size < SIZE_MAX / 2)
        first = (size_t)st.st_size + 4096;
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : first;
            char *q = realloc(buf, ncap);
            if (!q) {
                rc = -ENOMEM;
                goto out;
            }
            buf = q;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                rc = errno ? -errno : -EIO;
            break;
        }
    }
out:
    fclose(f);
    if (rc == 0) {
        *buf_out = buf;
        *len_out = len;
    } else {
        free(buf);
    }
    return rc;
}

bool pw__utf8_valid(const char *s, size_t len)
{
    return pw__text_utf8_check(s, len) == len;
}

bool pw__id_valid(const char *s, size_t len)
{
    if (len == 0 || len >= PW_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}
