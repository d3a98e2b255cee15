/* SPDX-License-Identifier: MIT */
#ifndef PW_INTERNAL_H
#define PW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

/* Private declarations shared by the files of proto/src; never installed. */

/** Largest standalone event frame (snapshot and range replies embed many events). */
#define PW__EVENT_MAXSIZE (16u * 1024u * 1024u)

/** Deepest container nesting a frame may use (a reply map > array > event map is 3). */
#define PW__MP_MAXDEPTH 4

/**
 * Walks one msgpack frame without allocating and without recursion, so that
 * msgpack_unpack_next() can then only allocate in proportion to len. Rejects
 * frames larger than maxlen, the never-used byte 0xc1, every ext and fixext
 * type, str/bin lengths and array/map counts that the remaining bytes cannot
 * hold, containers nested deeper than maxdepth (at most 32), and anything
 * other than exactly one object with no trailing bytes.
 * Returns 0 or PW_EMALFORMED.
 */
int pw__mp_prevalidate(const void *data, size_t len, size_t maxlen, int maxdepth);

/** msgpack_packer_write callback appending to a pw_buf_t; 0, or -1 when out of memory. */
int pw__buf_write(void *data, const char *buf, size_t len);

/** Packs a msgpack str of len bytes; 0, or the packer's non-zero write error. */
int pw__pack_str(msgpack_packer *pk, const char *s, size_t len);

/** True when s[0..len) is well-formed UTF-8 without NUL (no overlong forms, no surrogates). */
bool pw__utf8_valid(const char *s, size_t len);

/** True when s[0..len) is a wire id: 1..PW_ID_MAX-1 bytes of [a-z0-9_]. */
bool pw__id_valid(const char *s, size_t len);

#endif
