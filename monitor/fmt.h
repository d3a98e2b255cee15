/* SPDX-License-Identifier: MIT */
#ifndef PW_FMT_H
#define PW_FMT_H

#include <stddef.h>
#include <stdio.h>

/*
 * Generic text and number formatting shared by the monitor's tables, the
 * reports and the replay tools: display widths of UTF-8 text, table cells,
 * numbers as the bureau writes them, JSON strings and hex. The pw_view_ and
 * pw_display_ names are older than this module; they stay, as report/ and
 * replay/ call them by those names.
 */

/** Display columns of a UTF-8 string in a terminal (CJK characters take two). */
int pw_display_width(const char *s);

/** Prints s cut to at most width display columns (ending in "…" when cut), padded to width. */
void pw_view_print_cell(FILE *out, const char *s, int width);

/** Writes v with at most decimals places and no trailing zeros, as the bureau writes numbers. */
void pw_view_fmt_num(char *buf, size_t len, double v, int decimals);

/** Writes s as a JSON string (escaping quotes, backslashes, controls), or null for NULL. */
void pw_view_json_str(FILE *out, const char *s);

/** Writes the n bytes at p as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void pw_fmt_hex(const unsigned char *p, size_t n, char *out);

#endif
