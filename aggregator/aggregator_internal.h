/* SPDX-License-Identifier: MIT */
#ifndef PW_AGGREGATOR_INTERNAL_H
#define PW_AGGREGATOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "aggregator.h"
#include "batch.h"
#include "metrics.h"
#include "pw/auth.h"
#include "pw/handshake.h"
#include "pw/msg.h"
#include "store.h"

/*
 * What the aggregator's lifecycle (aggregator.c) and its intake (intake.c)
 * share: the aggregator itself. The batch logic (batch.c) sees none of it.
 */

#define PW_AGG_BATCH_DEFAULT 16384
/* Messages one frame may add to a batch: its updates, or as many and the
 * nack for what follows them. */
#define PW_AGG_FRAME_ROOM (PW_FRAME_UPDATES_MAX + 1)

/* One received frame waiting for the batch's commit. */
struct pw_agg_item {
    zmq_msg_t id;  /* the collector's routing id */
    zmq_msg_t msg; /* the payload */
    int auth;      /* the district its CURVE key speaks for, or PW_BATCH_AUTH_* */
};

struct pw_aggregator {
    pw_aggregator_opts_t opts;
    const pw_catalog_t *cat;
    pw_store_t *store;
    pw_batch_t *batch; /* the model, and each batch applied to the store */
    void *ctx;
    void *router;
    void *notify;
    size_t batch_max;
    struct pw_agg_item *items;
    size_t nitems;
    pw_batch_msg_t *msgs; /* of the items, in order; room for a frame past batch_max */
    size_t msgs_len;      /* its mapping's length, for pw_big_free() */
    size_t nmsgs;
    pw_buf_t out;
    char endpoints[1024];
    uint64_t n_bad_frames;     /* messages of a wrong number of frames, refused unread */
    pw_zap_t *zap;             /* CURVE only: the handshake handler */
    pw_handshake_t *hs;        /* logs the handshakes refused before ZAP sees them */
    pw_keyring_t *ring;        /* CURVE only: the district keys accepted */
    int *ring_district;        /* the district of each key of ring */
    pw_agg_metrics_t *metrics; /* with --metrics only */
    int64_t next_metrics;
    int metrics_rc; /* the last write's result */
};

/**
 * Receives the waiting frames without blocking, decoding their messages,
 * until these reach batch_max (a frame is never split: the last may go past
 * it). 0 or -errno of a failed receive.
 */
int pw__intake_receive(pw_aggregator_t *self);

/**
 * Applies the received batch, answers every frame of it and tells the
 * publishers the new event head. 0, or the store's code when the aggregator
 * cannot go on (nothing is answered then).
 */
int pw__intake_process(pw_aggregator_t *self);

/** Frees the frames of the batch. */
void pw__intake_release(pw_aggregator_t *self);

#endif
