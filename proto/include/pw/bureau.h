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
 * sequence it reflects and lists of events or district statuses.
 * A snapshot also carries the status list (districts) when the publisher has
 * the catalog.
 *   {pv, ty:"status", p?}          -> {pv, ty:"status", q, p, districts:[{d, c, ls, ep, s, lg,
 *                                      rp, ex, mi}...]}
 *   {pv, ty:"alerts", from}        -> {pv, ty:"alerts", q, events:[alert...]} (since from, ms)
 *   {pv, ty:"district", d, p?}     -> {pv, ty:"district", q, p, rows:[rate...]}
 *   {pv, ty:"plan"}                -> {pv, ty:"plan", q, plan: catalog text | nil}
 *                                     (the plan the store records, latest version)
 *   {pv, ty:"rows", from, d?, p?}  -> {pv, ty:"rows", q, rows:[rate...], next?}
 * A rows request pages through the figures of the city (or of reporter d)
 * at every period with data up to p (else all), in period order and catalog
 * order within a period: row number `from` first, PW_ROWS_MAX rows at most.
 * `next` is the row to ask for next; no `next`: that was the last page. The
 * publisher's work per request is then bounded, however large the store.
 */

#define PW_ROWS_MAX 1024 /**< rows in one rows reply */

typedef enum pw_req_type {
    PW_REQ_SNAP = 1, /**< current rows and open alerts */
    PW_REQ_RANGE,    /**< stored events from..to */
    PW_REQ_STATUS,   /**< per-district reporting status for a period */
    PW_REQ_ALERTS,   /**< the alert history since a time */
    PW_REQ_DISTRICT, /**< one district's own figures */
    PW_REQ_ROWS,     /**< the city's or a district's figures at every period, paged */
    PW_REQ_PLAN,     /**< the plan the store records (its catalog text) */
} pw_req_type_t;

typedef struct pw_request {
    pw_req_type_t type;
    uint64_t from, to;        /**< range bounds, inclusive; alerts: from = since (unix ms);
                                   rows: from = the first row wanted */
    bool has_period;          /**< status, district: the period asked (else the latest) */
    pw_period_t period;
    char district[PW_ID_MAX]; /**< district, rows: whose figures ("" for rows: the city's) */
} pw_request_t;

#define PW_MISSING_MAX 480 /**< bytes of a status row's list of missing elements */

/** What the bureau knows of a reporter (status replies). */
typedef struct pw_district_status {
    char district[PW_ID_MAX]; /**< d */
    bool connected;           /**< c: heard from in the last few seconds */
    int64_t last_seen_ms;     /**< ls: unix ms, 0 = never */
    uint64_t epoch;           /**< ep: its collector instance */
    uint64_t last_seq;        /**< s: last sequence committed for that instance */
    uint64_t lag;             /**< lg: updates waiting in its spool, as it last said */
    uint32_t reported;        /**< rp: elements it owes for the period and has sent */
    uint32_t expected;        /**< ex: elements it owes for the period */
    char missing[PW_MISSING_MAX]; /**< mi: the ones it has not sent, space-separated */
} pw_district_status_t;

typedef struct pw_reply {
    pw_req_type_t type;
    uint64_t seq;          /**< head event sequence the reply reflects */
    size_t nrows, nalerts, nevents;
    pw_event_t *rows;      /**< snap: one PW_EV_RATE per series and period */
    pw_event_t *alerts;    /**< snap: open alerts */
    pw_event_t *events;    /**< range: events in order */
    size_t caprows, capalerts, capevents;
    bool has_period;               /**< status, district: the period answered */
    pw_period_t period;
    size_t nstatus, capstatus;
    pw_district_status_t *status;  /**< status: one per reporter */
    char *plan;                    /**< plan: the catalog text (NUL-terminated), NULL if none */
    size_t plan_len;
    bool has_next;                 /**< rows: more pages follow */
    uint64_t next;                 /**< rows: the `from` of the next page */
} pw_reply_t;

/** Encodes a request. 0 or -ENOMEM. */
int pw_request_encode(const pw_request_t *req, pw_buf_t *buf);

/** Decodes a request. 0, PW_EMALFORMED or PW_EVERSION. */
int pw_request_decode(const void *data, size_t len, pw_request_t *out);

/** Appends a copy of ev to one of the reply's lists (0 rows, 1 alerts, 2 events). */
int pw_reply_add(pw_reply_t *self, int list, const pw_event_t *ev);

/** Appends a copy of st to the reply's status list. 0 or -ENOMEM. */
int pw_reply_add_status(pw_reply_t *self, const pw_district_status_t *st);

/** Sets the reply's plan to a copy of len bytes of text. 0 or -ENOMEM. */
int pw_reply_set_plan(pw_reply_t *self, const char *text, size_t len);

/** Encodes a reply. 0 or -ENOMEM. */
int pw_reply_encode(const pw_reply_t *self, pw_buf_t *buf);

/** Decodes a reply into *out (its lists are allocated). 0, PW_EMALFORMED, -ENOMEM. */
int pw_reply_decode(const void *data, size_t len, pw_reply_t *out);

/** Frees the reply's lists and zeroes it. NULL-safe. */
void pw_reply_clear(pw_reply_t *self);

#endif
