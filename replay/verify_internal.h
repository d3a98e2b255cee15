/* SPDX-License-Identifier: MIT */
/*
 * What the comparison's files (verify.c, verify_events.c, verify_log.c) share
 * and nothing else sees.
 */
#ifndef PW_VERIFY_INTERNAL_H
#define PW_VERIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/event.h"
#include "store.h"
#include "verify.h"

#define KEYMAX    (3 * PW_ID_MAX + PW_PERIOD_STRMAX + 16)
#define TEXTMAX   (PW_TOP_MAX * (PW_ID_MAX + 96) + 256)
#define NUMMAX    32
#define LOG_CHUNK 4096 /* log records held per side at a time */

struct verify {
    pw_verify_fn fn;
    void *ctx;
    uint64_t count;
};

/* A growable array of fixed-size elements. */
struct vec {
    char *data;
    size_t n, cap, elem;
};

/* Walks one part of a store as events (pw_store_rate_foreach() and the like). */
typedef int (*collect_fn)(pw_txn_t *txn, int (*fn)(void *ctx, const pw_event_t *ev), void *ctx);

/* A new slot at the end of v (uninitialised); NULL when out of memory. */
void *pw__verify_vec_push(struct vec *v);

/* The element i of v; NULL past the end. */
void *pw__verify_vec_at(const struct vec *v, size_t i);

/* Frees v's elements; v is empty again. */
void pw__verify_vec_free(struct vec *v);

/* Counts one difference and hands it to the caller's function; its return. */
int pw__verify_report(struct verify *v, pw_verify_part_t part, const char *key, const char *a,
                      const char *b);

/* The shortest of %.15g..%.17g that reads back as x: "5120", "0.1", "38.7". */
void pw__verify_fmt_num(double x, char buf[NUMMAX]);

/* A rate in hundredths as text, exactly: -16667 is "-166.67". */
void pw__verify_fmt_centi(bool has, int64_t centi, char buf[NUMMAX]);

/* An alert action's name: "open", "resolve", "update". */
const char *pw__verify_action_name(pw_alert_action_t a);

/* Which side a merge step is on: -1 only A, 1 only B, 0 both (same key). */
int pw__verify_merge_side(const char *ka, const char *kb);

/* Compares one event part (rate, open, alert) of two stores; the first non-zero return. */
int pw__verify_diff_events(struct verify *v, pw_verify_part_t part, pw_txn_t *ta, pw_txn_t *tb,
                           collect_fn each);

/* Compares the logs of two stores, LOG_CHUNK records a side at a time. */
int pw__verify_diff_log(struct verify *v, pw_txn_t *ta, pw_txn_t *tb);

#endif
