/* SPDX-License-Identifier: MIT */
#ifndef PW_EVENT_H
#define PW_EVENT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/msg.h"
#include "pw/period.h"
#include "pw/rate.h"

/*
 * The bureau protocol: what the aggregator stores in its event log and the
 * publisher sends to monitors. Events are numbered in one sequence (q) in
 * commit order; a snapshot says which q it reflects.
 *
 *   rate  {pv, ty:"rate",  q, t, i, sr, p, val?, rate?, band, ach, have, want}
 *   alert {pv, ty:"alert", q, t, i, sr, p, a:"open"|"resolve"|"update", val?, rate?, band, have, want, why,
 *          pl?, tg?, np?, top?:[{d, v, w, s}...]}   (detail: planned, target, needed
 *          per year, the districts weighing most on the shortfall)
 *   hb    {pv, ty:"hb",    q, t}               publisher heartbeat: head sequence
 *
 * Requests to the publisher (DEALER -> ROUTER) and replies:
 *   {pv, ty:"snap"}              -> {pv, ty:"snap", q, rows:[rate...], alerts:[alert...]}
 *   {pv, ty:"range", from, to}   -> {pv, ty:"range", q, events:[...]} (from..to inclusive,
 *                                   at most PW_RANGE_MAX events; q = head)
 * Decoding is lenient about unknown keys, so later versions can add fields.
 */

#define PW_RANGE_MAX 4096
#define PW_TOP_MAX   3 /**< districts named in an alert's detail */

typedef enum pw_event_type {
    PW_EV_RATE = 1,
    PW_EV_ALERT,
    PW_EV_HB,
} pw_event_type_t;

typedef enum pw_alert_action {
    PW_ALERT_OPEN = 1,
    PW_ALERT_RESOLVE,
    PW_ALERT_UPDATE, /**< still open: a later period or a revision changed its figures */
} pw_alert_action_t;

/** A district's part in an alert: its own figure and how much it weighs. */
typedef struct pw_event_district {
    char district[PW_ID_MAX]; /**< d */
    double value;             /**< v: the district's own value of the indicator */
    double weight;            /**< w: its share of the city-wide denominator (or sum) */
    double shortfall;         /**< s: what it takes off the city-wide figure vs the plan */
} pw_event_district_t;

typedef struct pw_event {
    pw_event_type_t type;
    uint64_t seq;               /**< q */
    int64_t time_ms;            /**< t: commit time, unix ms */
    char indicator[PW_ID_MAX];  /**< i */
    char series[PW_ID_MAX];     /**< sr: "" for a single-series indicator */
    pw_period_t period;         /**< p */
    bool has_value;
    double value;               /**< val: city-wide value (published precision) */
    bool has_rate;
    int64_t centi;              /**< rate in hundredths */
    pw_band_t band;
    bool achieved;              /**< ach */
    uint32_t have, want;        /**< completeness: reporters in / expected */
    pw_alert_action_t action;   /**< a (alert) */
    char why[PW_MSG_TEXTMAX];   /**< why (alert): what made it change */
    bool has_detail;            /**< alert detail below is present */
    double planned;             /**< pl: the value planned to date at the period */
    double target;              /**< tg: the target (a range's lower bound) */
    double needed_per_year;     /**< np: change still needed each year to the target */
    uint32_t ntop;              /**< districts in top */
    pw_event_district_t top[PW_TOP_MAX]; /**< top: who weighs most on the shortfall */
} pw_event_t;

/** Packs ev as one msgpack map. 0, -ENOMEM, or -EINVAL for a bad type or action. */
int pw_event_pack(msgpack_packer *pk, const pw_event_t *ev);

/** Reads an event from a decoded map. 0, PW_EMALFORMED or PW_EVERSION. */
int pw_event_from_object(const msgpack_object *obj, pw_event_t *out);

/** Encodes one event as a standalone frame into buf. 0, -ENOMEM or -EINVAL. */
int pw_event_encode(const pw_event_t *ev, pw_buf_t *buf);

/**
 * Appends a copy of ev to the growing array *arr of *n events (*cap allocated,
 * doubling from 16). 0, or -ENOMEM with the array as it was.
 */
int pw_event_push(pw_event_t **arr, size_t *n, size_t *cap, const pw_event_t *ev);

/** Decodes one standalone event frame. 0 or PW_EMALFORMED / PW_EVERSION. */
int pw_event_decode(const void *data, size_t len, pw_event_t *out);

/** "rate", "alert" or "hb". */
const char *pw_event_type_name(pw_event_type_t type);

#endif
