/* SPDX-License-Identifier: MIT */
#ifndef PW_PUB_METRICS_H
#define PW_PUB_METRICS_H

#include <stdint.h>

/*
 * The publisher's counters, written in the Prometheus text format for
 * node_exporter's textfile collector (--metrics FILE): subscribers connected
 * (from a ZeroMQ socket monitor on the PUB socket), requests served by type,
 * events and messages published by topic. Names are listed in README "Metrics".
 */

typedef struct pw_pub_metrics pw_pub_metrics_t;

/** What went out on the PUB socket. */
typedef enum pw_pub_topic {
    PW_PUB_TOPIC_RATES = 0, /**< "rates": a batch of rate events */
    PW_PUB_TOPIC_ALERT,     /**< "alert.<indicator>" */
    PW_PUB_TOPIC_HB,        /**< "hb" */
    PW_PUB_TOPIC_COUNT,
} pw_pub_topic_t;

/** Starts counting, all zero. 0 or -ENOMEM. Caller owns *out; free with pw_pub_metrics_destroy(). */
int pw_pub_metrics_new(void *ctx, pw_pub_metrics_t **out);

/**
 * Follows the connections of pub (a PUB socket of ctx) with a socket monitor,
 * from now on instead of the previous socket's (a stream opened again starts
 * with no subscriber). 0 or -errno from libzmq. Destroy the metrics before
 * closing pub and terminating ctx.
 */
int pw_pub_metrics_watch(pw_pub_metrics_t *self, void *pub);

/** Stops the monitor, frees everything, NULLs *self_p. NULL-safe. */
void pw_pub_metrics_destroy(pw_pub_metrics_t **self_p);

/** Reads the socket monitor's waiting events without blocking (connections come and go). */
void pw_pub_metrics_poll(pw_pub_metrics_t *self);

/** Counts one message sent under topic, carrying events events (0 for a heartbeat). */
void pw_pub_metrics_published(pw_pub_metrics_t *self, pw_pub_topic_t topic, uint64_t events);

/** Counts one request by its bureau request type (PW_REQ_*); ok: answered. */
void pw_pub_metrics_request(pw_pub_metrics_t *self, int type, int ok);

/** Writes every metric to path atomically, with the last event published. 0 or -errno. */
int pw_pub_metrics_write(pw_pub_metrics_t *self, const char *path, uint64_t last_event);

#endif
