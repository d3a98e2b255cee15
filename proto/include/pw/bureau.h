/* SPDX-License-Identifier: MIT */
#ifndef PW_BUREAU_H
#define PW_BUREAU_H

#include <stddef.h>
#include <stdint.h>

#include "pw/event.h"
#include "pw/msg.h"

/*
 * Requests a monitor sends to the publisher's snapshot socket, and the
 * replies (see event.h for the keys). A reply carries the head event
 * sequence it reflects and up to three lists of events.
 */

typedef enum pw_req_type {
    PW_REQ_SNAP = 1, /**< current rows and open alerts */
    PW_REQ_RANGE,    /**< stored events from..to */
} pw_req_type_t;

typedef struct pw_request {
    pw_req_type_t type;
    uint64_t from, to; /**< range bounds, inclusive */
} pw_request_t;

typedef struct pw_reply {
    pw_req_type_t type;
    uint64_t seq;          /**< head event sequence the reply reflects */
    size_t nrows, nalerts, nevents;
    pw_event_t *rows;      /**< snap: one PW_EV_RATE per series and period */
    pw_event_t *alerts;    /**< snap: open alerts */
    pw_event_t *events;    /**< range: events in order */
    size_t caprows, capalerts, capevents;
} pw_reply_t;

/** Encodes a request. 0 or -ENOMEM. */
int pw_request_encode(const pw_request_t *req, pw_buf_t *buf);

/** Decodes a request. 0, PW_EMALFORMED or PW_EVERSION. */
int pw_request_decode(const void *data, size_t len, pw_request_t *out);

/** Appends a copy of ev to one of the reply's lists (0 rows, 1 alerts, 2 events). */
int pw_reply_add(pw_reply_t *self, int list, const pw_event_t *ev);

/** Encodes a reply. 0 or -ENOMEM. */
int pw_reply_encode(const pw_reply_t *self, pw_buf_t *buf);

/** Decodes a reply into *out (its lists are allocated). 0, PW_EMALFORMED, -ENOMEM. */
int pw_reply_decode(const void *data, size_t len, pw_reply_t *out);

/** Frees the reply's lists and zeroes it. NULL-safe. */
void pw_reply_clear(pw_reply_t *self);

#endif
