/* SPDX-License-Identifier: MIT */
#ifndef PW_SPOOL_H
#define PW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "pw/datafile.h"
#include "pw/msg.h"

/*
 * A collector's durable outbox: an LMDB environment of its own holding
 *   meta     district, epoch (the collector instance), next sequence, acked
 *   pending  u64 seq (big-endian) -> the encoded update, until answered
 *   last     "period\0element" -> the last value spooled, so that re-reading
 *            a data file spools only what changed
 *   rejected "period\0element" -> the value the aggregator rejected, with its
 *            reason, while that value is the last one spooled: a rerun
 *            reports the line again instead of forgetting it
 * Updates are committed here (default LMDB sync: durable) before they are
 * sent, and leave only when the aggregator has answered them. The epoch is
 * drawn once, when the spool is created: a collector that loses its spool
 * comes back as a new instance whose sequence numbers cannot be mistaken
 * for old ones.
 */

typedef struct pw_spool pw_spool_t;

/**
 * Opens or creates the spool of district in dir; max_bytes bounds what it
 * holds (0 = 1 GiB; about 256 bytes an update). 0, -errno, PW_ESTORE, or PW_EINCOMPAT when the spool belongs
 * to another district; -ENOSPC (or -EDQUOT, -EIO) when its file system has
 * no room to create it, refused before LMDB could die of SIGBUS on it.
 * Caller owns *out; free with pw_spool_destroy().
 */
int pw_spool_open(pw_spool_t **out, const char *dir, const char *district, size_t max_bytes);

/** Closes and NULLs. NULL-safe. */
void pw_spool_destroy(pw_spool_t **self_p);

/** The collector instance's epoch. */
uint64_t pw_spool_epoch(const pw_spool_t *self);

/** The highest sequence spooled so far (0 when none). */
uint64_t pw_spool_head(const pw_spool_t *self);

/** Everything up to this sequence has been answered. */
uint64_t pw_spool_acked(const pw_spool_t *self);

/** Updates spooled and not yet answered. */
uint64_t pw_spool_pending(const pw_spool_t *self);

/**
 * Spools, as new updates numbered from head + 1, the observations whose value
 * differs from the last one spooled for their period and element, committing
 * a chunk at a time. *added_out (may be NULL) gets how many were committed.
 * 0, PW_ESTOREFULL (the spool reached max_bytes: the rest was not added; a
 * later call with the same observations adds it), or PW_ESTORE.
 */
int pw_spool_add(pw_spool_t *self, const pw_obs_t *obs, size_t n, int64_t now_ms,
                 size_t *added_out);

/**
 * Like pw_spool_add(), but spools every observation, changed or not: the
 * aggregator gets the file's values again as new revisions (--resend).
 */
int pw_spool_resend(pw_spool_t *self, const pw_obs_t *obs, size_t n, int64_t now_ms,
                    size_t *added_out);

/** An observation the aggregator rejected. */
typedef struct pw_spool_rejection {
    pw_period_t period;
    char element[PW_ID_MAX];
    double value;
    int reason;     /**< PW_E* code */
    int line;       /**< its data-file line then; 0 if unknown */
    char text[160]; /**< the aggregator's reason */
} pw_spool_rejection_t;

/**
 * Remembers n rejections in one transaction, each only while its value is
 * still the last one spooled for its period and element. Spooling another
 * value there forgets it. 0 or PW_ESTORE.
 */
int pw_spool_reject(pw_spool_t *self, const pw_spool_rejection_t *rej, size_t n);

/**
 * Calls fn (may be NULL) for each of obs whose very value was rejected
 * before; *found_out (may be NULL) gets how many. 0 or PW_ESTORE.
 */
int pw_spool_rejected(pw_spool_t *self, const pw_obs_t *obs, size_t n,
                      void (*fn)(void *ctx, const pw_obs_t *o, const pw_spool_rejection_t *rej),
                      void *ctx, size_t *found_out);

/**
 * Starts the spool over as a new collector instance: a new epoch, sequence
 * 1, nothing pending, no last values and no rejections, so that the next
 * pw_spool_add() spools everything. For an aggregator that lost updates it
 * had acknowledged (its store replaced or restored): they cannot be sent
 * again under the old epoch, whose sequence it expects to go on from what it
 * has. 0 or PW_ESTORE.
 */
int pw_spool_restart(pw_spool_t *self);

/** Calls fn for pending updates from seq on, in order, at most max; stops on non-zero. */
int pw_spool_read(pw_spool_t *self, uint64_t from, size_t max,
                  int (*fn)(void *ctx, const pw_msg_t *update), void *ctx);

/**
 * Like pw_spool_read(), but hands fn each update's sequence and its stored
 * frame, the encoded update exactly as it goes on the wire (valid only during
 * the call): sending needs no decoding. PW_ESTORE for a record that is not an
 * update of this spool with its key's sequence.
 */
int pw_spool_read_frames(pw_spool_t *self, uint64_t from, size_t max,
                         int (*fn)(void *ctx, uint64_t seq, const void *frame, size_t len),
                         void *ctx);

/**
 * Marks every update up to seq answered, to be removed. Cheap to call often:
 * answers are recorded in batches (an answer lost to a crash only causes a
 * resend, which the aggregator absorbs), and answered updates are removed
 * all at once when everything is answered, or a bounded batch at a time.
 * Never removes an update not answered. 0 or PW_ESTORE.
 */
int pw_spool_ack(pw_spool_t *self, uint64_t seq);

/** Records batched answers now, removing what the batching rules allow (before exit). */
int pw_spool_flush(pw_spool_t *self);

#endif
