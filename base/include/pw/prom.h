/* SPDX-License-Identifier: MIT */
#ifndef PW_PROM_H
#define PW_PROM_H

#define PW_METRICS_INTERVAL_MS 5000 /**< --metrics files are rewritten this often */

#include <stddef.h>
#include <stdint.h>

/*
 * The Prometheus text exposition format (version 0.0.4), written for
 * node_exporter's textfile collector: a metric family is a "# HELP" and a
 * "# TYPE" line followed by its samples, "name{label="value",...} value".
 * HELP text escapes backslash and newline; label values escape backslash,
 * double quote and newline. The file is replaced atomically (a temporary file
 * in the same directory, then rename), so a reader never sees half of it.
 */

typedef struct pw_prom pw_prom_t;

/** Histogram buckets at most (without +Inf). */
#define PW_PROM_BUCKETS_MAX 16

/** A cumulative histogram kept by the caller, written by pw_prom_histogram(). */
typedef struct pw_prom_hist {
    double bounds[PW_PROM_BUCKETS_MAX];   /**< upper bounds, increasing */
    uint64_t counts[PW_PROM_BUCKETS_MAX]; /**< observations <= bounds[i] (not cumulative) */
    size_t nbounds;
    uint64_t count; /**< all observations (the +Inf bucket) */
    double sum;     /**< their sum */
} pw_prom_hist_t;

/** Sets the bucket bounds (n <= PW_PROM_BUCKETS_MAX, increasing) and clears the counts. */
void pw_prom_hist_init(pw_prom_hist_t *h, const double *bounds, size_t n);

/** Counts one observation. */
void pw_prom_hist_observe(pw_prom_hist_t *h, double v);

/** An empty exposition. NULL when out of memory. Caller owns; free with pw_prom_destroy(). */
pw_prom_t *pw_prom_new(void);

/** Frees it and NULLs *self_p. NULL-safe. */
void pw_prom_destroy(pw_prom_t **self_p);

/** Empties the text, keeping the memory, to build the next exposition. */
void pw_prom_reset(pw_prom_t *self);

/**
 * Starts a family: its HELP and TYPE lines. type is "counter", "gauge",
 * "histogram", "summary" or "untyped". 0, -EINVAL (a bad name or type), -ENOMEM.
 */
int pw_prom_family(pw_prom_t *self, const char *name, const char *type, const char *help);

/**
 * Writes one sample: name, then label name/value pairs (const char *),
 * ending with NULL. Label values are escaped here. 0, -EINVAL, -ENOMEM.
 */
int pw_prom_sample(pw_prom_t *self, const char *name, double value, ...)
    __attribute__((sentinel));

/**
 * Writes a histogram's samples (name_bucket with le, name_sum, name_count)
 * under one optional label pair (label NULL: none). The family must have been
 * started with type "histogram". 0, -EINVAL, -ENOMEM.
 */
int pw_prom_histogram(pw_prom_t *self, const char *name, const char *label, const char *value,
                      const pw_prom_hist_t *h);

/** The text so far. Borrowed; valid until the next call on self. */
const char *pw_prom_text(const pw_prom_t *self, size_t *len_out);

/**
 * Replaces the file at path with the text: written to "path.tmp" beside it,
 * then renamed over it (mode 0644). 0 or -errno.
 */
int pw_prom_write_file(const pw_prom_t *self, const char *path);

#endif
