/* SPDX-License-Identifier: MIT */
/*
 * What the publisher's files (publisher.c, pub_stream.c, pub_answer.c) share
 * and nothing else sees: the publisher itself and the calls between them.
 */
#ifndef PW_PUB_INTERNAL_H
#define PW_PUB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "pub_metrics.h"
#include "publisher.h"
#include "pw/auth.h"
#include "pw/bureau.h"
#include "pw/handshake.h"
#include "pw/util.h"
#include "store.h"

#define BATCH_MAX 1024 /* rate events per "rates" message */
#define BATCH_MS  10   /* rate events wait at most this long for company */
#define PUBLISH_MAX 4096 /* events per round, so requests are served in between */

struct pw_publisher {
    pw_publisher_opts_t opts;
    void *ctx, *pub, *router, *notify;
    pw_store_t *store;
    uint64_t last; /* last event published */
    int64_t next_hb;
    bool store_warned;
    pw_buf_t buf;
    pw_reply_t reply;
    pw_reply_t batch; /* rate events waiting to go out together */
    int64_t last_flush;
    char endpoints[768];
    char pub_ep[256];     /* the stream endpoint as bound, to bind again */
    pw_key_t key;         /* CURVE only: ours, for sockets opened again */
    pw_zap_t *zap;        /* CURVE only: the handshake handler */
    /* Logs the snapshot endpoint's handshakes refused before ZAP sees them.
     * The stream's socket has the metrics' monitor (a socket has one at
     * most); every monitor asks for a snapshot first, so its failures show
     * here, and ZAP logs the refused keys of both. */
    pw_handshake_t *hs;
    pw_keyring_t *ring;   /* CURVE only: the desk keys accepted */
    uint64_t n_refused;   /* requests from keys no longer accepted */
    pw_pub_metrics_t *metrics; /* with --metrics only */
    pw_catalog_t *plan;        /* the plan the store records, once read; owned */
    const pw_catalog_t *cat;   /* what answers use: plan, else opts.catalog */
    int64_t next_metrics;
    pw_model_t *model;    /* the current values, as of model_log and model_head */
    uint64_t model_log, model_head;
};

/* Opens the store once the aggregator has created it; an error code until then. */
int pw__pub_ensure_store(pw_publisher_t *self);

/* Sends the rate events gathered so far as one message. */
int pw__pub_flush_rates(pw_publisher_t *self);

/* Publishes the events stored since the last one published, PUBLISH_MAX at most. */
int pw__pub_publish_new(pw_publisher_t *self);

/* Publishes a heartbeat carrying the last event that has gone out. */
void pw__pub_heartbeat(pw_publisher_t *self);

/* Answers the requests waiting on the snapshot socket, for SERVE_MS at most. */
void pw__pub_serve_requests(pw_publisher_t *self);

#endif
