/* SPDX-License-Identifier: MIT */
#ifndef PW_TEXT_H
#define PW_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The text primitives every layer above base shares: wire ids, UTF-8,
 * numbers as typed in files, whole files, and the hash of ids and digests.
 * The pw__ names are the project's own; no other program links them.
 */

#define PW_ID_MAX 64 /**< ids are [a-z0-9_], at most PW_ID_MAX - 1 bytes */

/** True when s[0..len) is well-formed UTF-8 without NUL (no overlong forms, no surrogates). */
bool pw__utf8_valid(const char *s, size_t len);

/** True when s[0..len) is a wire id: 1..PW_ID_MAX-1 bytes of [a-z0-9_]. */
bool pw__id_valid(const char *s, size_t len);

#define PW__FNV_OFFSET 0xcbf29ce484222325u

/** FNV-1a, 64 bits, of s[0..n) continuing from h (PW__FNV_OFFSET to start). */
static inline uint64_t pw__fnv1a(uint64_t h, const void *s, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

/* text.c: line-oriented helpers for the catalog and data-file parsers. */

/** True for the blanks of a text line: space, \t, \r, \v and \f (not \n, the line break). */
bool pw__text_is_space(char c);

/** Narrows s[0..*n) in place so it neither starts nor ends with a pw__text_is_space() byte. */
void pw__text_trim(const char **s, size_t *n);

/** Offset of the first byte of s[0..n) that is NUL or not well-formed UTF-8; n when all valid. */
size_t pw__text_utf8_check(const char *s, size_t n);

/** Parses exactly -?[0-9]+(.[0-9]+)? in s[0..n) to a finite *out; else false, *out untouched. */
bool pw__text_parse_number(const char *s, size_t n, double *out);

/** Parses exactly -?[0-9]+, at most 10 bytes, in s[0..n) to *out; else false, *out untouched. */
bool pw__text_parse_int(const char *s, size_t n, long *out);

/** Grows arr (sz-byte items) to hold item n, *cap doubling from 16; NULL, arr intact, if OOM. */
void *pw__text_reserve(void *arr, size_t n, size_t *cap, size_t sz);

/** Writes "name: strerror(-rc)" to err when errlen > 0; returns rc (a negative errno). */
int pw__text_sys_error(char *err, size_t errlen, const char *name, int rc);

/** Reads all of path into *buf_out (caller frees) and *len_out; 0, or -errno and *buf_out NULL. */
int pw__text_read_file(const char *path, char **buf_out, size_t *len_out);

#endif
