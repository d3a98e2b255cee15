/* SPDX-License-Identifier: MIT */
#ifndef PW_UTIL_H
#define PW_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Small system helpers shared by the programs. */

/** Wall-clock time in unix milliseconds. */
int64_t pw_now_ms(void);

/** Monotonic time in milliseconds, for timeouts. */
int64_t pw_mono_ms(void);

/** Monotonic time in microseconds, for latencies. */
int64_t pw_mono_us(void);

/** A random non-zero 64-bit number from the kernel (getrandom / /dev/urandom). */
uint64_t pw_random_u64(void);

/** Creates a directory and its parents (mode 0700 for new ones). 0 or -errno. */
int pw_mkdir_p(const char *path);

/** Overwrites n bytes at p with zeros in a way the compiler cannot drop (for secrets). */
void pw_secure_zero(void *p, size_t n);

/**
 * Zeroed memory for n items of size bytes, for a large working array: it is
 * mapped on its own and, where the kernel offers transparent huge pages,
 * backed by them, so that filling it costs one page fault per 2 MiB rather
 * than one per 4 KiB. *len_out gets what to pass to pw_big_free(). NULL (and
 * errno) on failure or overflow.
 */
void *pw_big_calloc(size_t n, size_t size, size_t *len_out);

/** Frees what pw_big_calloc() gave; NULL-safe. */
void pw_big_free(void *p, size_t len);

/** Removes a directory tree. 0 or -errno. For temporary stores and tests. */
int pw_rm_rf(const char *path);

/** Parses a UTC date or time: "2018-07-01", "2018-07-01T08:00", "2018-07-01T08:00:00Z". 0 or -EINVAL. */
int pw_parse_time(const char *text, int64_t *ms_out);

/** Writes into buf the UTC ISO-8601 time of ms ("2018-07-01T08:00:00Z"). */
void pw_format_time(int64_t ms, char buf[32]);

#endif
