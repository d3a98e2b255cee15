/* SPDX-License-Identifier: MIT */
#ifndef PW_AGG_BATCH_H
#define PW_AGG_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/msg.h"
#include "store.h"

/*
 * One batch of collectors' messages applied in one LMDB transaction: each
 * (district, epoch)'s sequence checked (a duplicate acknowledged again and
 * applied once, a gap answered EGAP), each update validated, stored and fed
 * to the model, the events it emits persisted, then one commit; and only
 * then the answers to send. When the map is full the batch is undone, the
 * map grown and the batch applied again; at --map-max, or with the disk
 * full, updates are refused with the retryable ESTOREFULL. Nothing is ever
 * acknowledged that was not committed. No sockets: the intake hands it
 * decoded messages and sends the answers.
 */

#define PW_BATCH_AUTH_NONE    (-2) /**< CURVE is off: nothing to check */
#define PW_BATCH_AUTH_REVOKED (-1) /**< a key that is no longer in the keyring */

typedef struct pw_batch pw_batch_t;

/** One decoded message of a batch. */
typedef struct pw_batch_msg {
    pw_msg_t m;
    int from; /**< the frame it came in (>= 0): its answers go to the same */
    int auth; /**< the district its sender's CURVE key speaks for, or PW_BATCH_AUTH_* */
    int rc;   /**< the decoder's verdict: 0, or the code to nack it with */
} pw_batch_msg_t;

/** An answer to send once the batch has committed. */
typedef struct pw_batch_reply {
    int to; /**< the frame it answers (pw_batch_msg_t.from) */
    pw_msg_t msg;
} pw_batch_reply_t;

/** What the aggregator knows of each reporter, for status and logs. */
typedef struct pw_batch_district {
    bool connected;
    bool dirty;          /**< to be written to the store with the next batch */
    int64_t last_seen;   /**< monotonic ms */
    int64_t seen_ms;     /**< the same, unix ms, for the bureau */
    uint64_t epoch;      /**< of the latest message */
    uint64_t last_seq;   /**< last committed for that epoch */
    uint64_t spool_head; /**< the highest sequence in its spool, as its last hello said */
} pw_batch_district_t;

/** Totals over the committed batches. */
typedef struct pw_batch_counts {
    uint64_t stored;    /**< updates stored */
    uint64_t dup;       /**< duplicates acknowledged again */
    uint64_t rejected;  /**< messages nacked as wrong */
    uint64_t forbidden; /**< updates or hellos naming another district than their key's */
    uint64_t batches;   /**< batches committed */
} pw_batch_counts_t;

typedef struct pw_batch_opts {
    const pw_catalog_t *catalog; /**< borrowed; must outlive the batch */
    pw_store_t *store;           /**< borrowed, opened for writing; must outlive the batch */
    size_t max;                  /**< messages one batch may hold */
    size_t map_max;              /**< grow the map up to this; 0 = 64 GiB */
} pw_batch_opts_t;

/**
 * Restores the model from the store (recording the catalog's plan in it
 * when it records another). 0, -ENOMEM, PW_ESTORE, PW_ESTOREFULL or -errno.
 * Caller owns *out; free with pw_batch_destroy().
 */
int pw_batch_new(const pw_batch_opts_t *opts, pw_batch_t **out);

/** Frees it (the store stays open) and NULLs *self_p. NULL-safe. */
void pw_batch_destroy(pw_batch_t **self_p);

/**
 * Applies msgs[0..n) (n <= opts.max) in one transaction committed at now_ms
 * (made later than the last batch's if it is not), and prepares the answers:
 * see pw_batch_replies(). A failure to store that growing the map or
 * refusing with ESTOREFULL cannot get past is returned (PW_ESTORE, -errno),
 * after which the aggregator cannot go on; 0 otherwise.
 */
int pw_batch_apply(pw_batch_t *self, const pw_batch_msg_t *msgs, size_t n, int64_t now_ms);

/** The answers of the last batch applied, in order. Borrowed; valid until the next apply. */
const pw_batch_reply_t *pw_batch_replies(const pw_batch_t *self, size_t *n_out);

/** How long the last batch's committed transaction took, in seconds. */
double pw_batch_seconds(const pw_batch_t *self);

/** The last event sequence committed. */
uint64_t pw_batch_head(const pw_batch_t *self);

/** The totals so far. Borrowed; valid until destroy. */
const pw_batch_counts_t *pw_batch_counts(const pw_batch_t *self);

/** What is known of district d (catalog index). Borrowed; valid until destroy. */
const pw_batch_district_t *pw_batch_district(const pw_batch_t *self, size_t d);

/** Marks the districts silent for too long (5 s) as disconnected, and logs it. */
void pw_batch_check_silence(pw_batch_t *self);

#endif
