/* SPDX-License-Identifier: MIT */
#include "fmt.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int pw_display_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        int n;
        if (*p < 0x80) {
            c = *p;
            n = 1;
        } else if ((*p & 0xe0) == 0xc0) {
            c = *p & 0x1f;
            n = 2;
        } else if ((*p & 0xf0) == 0xe0) {
            c = *p & 0x0f;
            n = 3;
        } else {
            c = *p & 0x07;
            n = 4;
        }
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                n = i;
                break;
            }
            c = (c << 6) | (p[i] & 0x3f);
        }
        p += n;
        if ((c >= 0x0300 && c <= 0x036f) || c == 0x200b)
            continue; /* combining marks and zero-width space */
        bool wide = (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
                    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
                    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
                    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd);
        w += wide ? 2 : 1;
    }
    return w;
}

void pw_view_print_cell(FILE *out, const char *s, int width)
{
    int used = 0;
    if (pw_display_width(s) <= width) {
        fputs(s, out);
        used = pw_display_width(s);
    } else {
        const unsigned char *p = (const unsigned char *)s;
        char one[8];
        while (*p) {
            int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
            memcpy(one, p, (size_t)n);
            one[n] = '\0';
            int cw = pw_display_width(one);
            if (used + cw > width - 1)
                break;
            fputs(one, out);
            used += cw;
            p += n;
        }
        fputs("…", out);
        used++;
    }
    for (; used < width; used++)
        fputc(' ', out);
}

void pw_view_fmt_num(char *buf, size_t len, double v, int decimals)
{
    snprintf(buf, len, "%.*f", decimals, v);
    if (strchr(buf, '.')) {
        char *e = buf + strlen(buf) - 1;
        while (*e == '0')
            *e-- = '\0';
        if (*e == '.')
            *e = '\0';
    }
}

void pw_view_json_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void pw_fmt_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}
