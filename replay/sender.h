/* SPDX-License-Identifier: MIT */
#ifndef PW_SENDER_H
#define PW_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "pw/msg.h"

/*
 * Replays records into a running aggregator the way collectors send: over a
 * DEALER socket, as new collector instances (one fresh epoch per reporter,
 * sequences from 1), so a filtered replay never looks like a gap and the
 * aggregator's exactly-once rules apply as to any collector. Values it
 * already holds come back as "same" records and change no rate.
 */

typedef struct pw_sender pw_sender_t;

/**
 * Prepares to send to the aggregator's intake, each reporter on a connection
 * of its own: with keys_dir, under CURVE as DIR/districts/ID.secret; without,
 * TCP only when insecure (pw_transport_check). 0, -EPERM or -errno. Caller owns *out.
 */
int pw_sender_new(const char *endpoint, const char *keys_dir, bool insecure, int timeout_ms,
                  pw_sender_t **out);

/** Sends one record's update, waiting for room in the window. 0, PW_ETIMEOUT, PW_EAUTH, PW_EFORBIDDEN, PW_EKEY, -errno. */
int pw_sender_add(pw_sender_t *self, const pw_msg_t *rec);

/** Waits until everything sent is answered. 0 or PW_ETIMEOUT. */
int pw_sender_finish(pw_sender_t *self);

/** Updates acknowledged and rejected so far. */
void pw_sender_counts(const pw_sender_t *self, uint64_t *stored, uint64_t *rejected);

/** Closes and NULLs. NULL-safe. */
void pw_sender_destroy(pw_sender_t **self_p);

/** After a timeout: why handshakes failed, if they did, into buf (pw_handshake_hint()). */
bool pw_sender_hint(pw_sender_t *self, char *buf, size_t len);

#endif
