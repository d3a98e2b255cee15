/* SPDX-License-Identifier: MIT */
#ifndef PW_MSG_H
#define PW_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/period.h"

/*
 * The intake protocol between collectors (DEALER) and the aggregator (ROUTER):
 * msgpack maps with short string keys and a protocol version in every
 * message. A ZeroMQ frame carries one message, or several back to back: up
 * to the welcome's b updates, as a collector that asked for it in its hello
 * sends them. The decoder is strict: it reads the frame in place, without
 * allocating, checks every declared length and count against what is
 * present, then types, ranges and UTF-8; unknown or duplicate keys are
 * rejected, and so is anything after a message in a frame but another one.
 *
 *   hello   {pv, ty:"hello",   d, ep, hd[, b]}        collector introduces itself (and
 *                                                     keeps alive); hd: highest seq spooled;
 *                                                     b: most updates it would put in a frame
 *   welcome {pv, ty:"welcome", d, ep, s[, b]}         s = last sequence committed for (d, ep);
 *                                                     b (only if the hello had it): most
 *                                                     updates per frame the aggregator takes
 *   update  {pv, ty:"update",  d, ep, s, e, p, v, t}  one observation
 *   ack     {pv, ty:"ack",     ep, s}                 everything up to s is committed
 *   nack    {pv, ty:"nack",    ep, s, r, m}           update s rejected: reason r, text m
 *   record  {pv, ty:"record",  d, ep, s, e, p, v, t, rt, k}  a stored log entry
 *
 * An aggregator that predates b answers a hello carrying it with a nack
 * (EMALFORMED, epoch 0): the collector then says hello without it and sends
 * one update per frame.
 */

#define PW_PROTO_VERSION 1
#define PW_MSG_TEXTMAX   160
#define PW_MSG_MAXSIZE   4096 /**< no valid message is larger */
#define PW_FRAME_UPDATES_MAX 64 /**< messages in one intake frame at most (welcome's b) */
/** ZMQ_MAXMSGSIZE on the intake: 64 updates take under 16 KiB (an update
 * is at most about 250 bytes), hellos and welcomes far less. */
#define PW_FRAME_MAXSIZE 65536

typedef enum pw_msg_type {
    PW_MSG_HELLO = 1,
    PW_MSG_WELCOME,
    PW_MSG_UPDATE,
    PW_MSG_ACK,
    PW_MSG_NACK,
    PW_MSG_RECORD,
} pw_msg_type_t;

/** How a stored update changed the current value (record "k"). */
typedef enum pw_record_kind {
    PW_RECORD_NEW = 0,  /**< first value for its district/element/period */
    PW_RECORD_REVISION, /**< replaced an earlier value */
    PW_RECORD_SAME,     /**< same value again under a new sequence number */
} pw_record_kind_t;

typedef struct pw_msg {
    pw_msg_type_t type;
    char district[PW_ID_MAX]; /**< d: reporter id (hello, welcome, update, record) */
    uint64_t epoch;           /**< ep: the collector instance, never 0 (but in a nack of an unreadable frame) */
    uint64_t seq;             /**< s: per (district, epoch), from 1 */
    char element[PW_ID_MAX];  /**< e (update, record) */
    pw_period_t period;       /**< p (update, record) */
    double value;             /**< v: finite (update, record) */
    int64_t observed_ms;      /**< t: when the district observed it, unix ms, > 0 */
    int64_t received_ms;      /**< rt: when the aggregator committed it (record) */
    pw_record_kind_t kind;    /**< k (record) */
    int reason;               /**< r (nack): a PW_E* code, sent by name */
    char text[PW_MSG_TEXTMAX]; /**< m (nack): human text */
    uint64_t spool_head;      /**< hd (hello): the highest sequence in the collector's spool */
    uint32_t frame_max;       /**< b (hello, welcome): updates per frame, >= 1; 0 = absent */
} pw_msg_t;

typedef struct pw_buf {
    char *data;
    size_t len;
    size_t cap;
} pw_buf_t;

/** Frees a buffer's memory and zeroes it. NULL-safe. */
void pw_buf_free(pw_buf_t *buf);

/** Appends n bytes of data, growing the buffer by doubling. 0, or -ENOMEM (buf unchanged). */
int pw_buf_append(pw_buf_t *buf, const void *data, size_t n);

/**
 * Encodes m into buf (replacing its contents; the buffer is reused, so no
 * allocation once it is large enough). 0, -ENOMEM, or -EINVAL for a bad type
 * or a nack reason that has no wire name (pw_err_name).
 */
int pw_msg_encode(const pw_msg_t *m, pw_buf_t *buf);

/**
 * Decodes one frame. 0, or PW_EVERSION (another protocol version), or the code
 * of the first bad field: PW_ESEQ (s not an integer, or 0 where one is
 * required), PW_EPERIOD (p not a valid period string), PW_EVALUE (v not a
 * number, NaN or ±Inf), PW_ETIME (t or rt not a positive integer), and
 * PW_EMALFORMED for everything else (bad msgpack, wrong types of the other
 * fields, unknown, missing or duplicate keys, trailing bytes, invalid UTF-8,
 * over-long strings). Checks only the message; catalog checks are pw_msg_check()'s.
 * An update in the exact layout pw_msg_encode() writes is read directly, with
 * the same checks; every other frame takes the general path.
 */
int pw_msg_decode(const void *data, size_t len, pw_msg_t *out);

/**
 * Decodes the message at *pos of a frame of len bytes and moves *pos past it:
 * a frame holds one or more messages back to back. Same codes as
 * pw_msg_decode() for that message. When no complete msgpack object starts
 * at *pos, PW_EMALFORMED and *pos = len: the rest of the frame cannot be
 * read. The frame is done when *pos == len.
 */
int pw_msg_decode_next(const void *frame, size_t len, size_t *pos, pw_msg_t *out);

/**
 * The reference for pw_msg_decode(): the same contract, decoded through
 * msgpack-c's object tree (after the same prevalidation). pw_msg_decode()
 * reads the frame in place instead, several times faster; tests compare the
 * two. Not for production paths.
 */
int pw_msg_decode_reference(const void *data, size_t len, pw_msg_t *out);

/**
 * Decodes a record read back from our own store: the same result and codes
 * as pw_msg_decode(), faster. The store only holds records that passed
 * pw_msg_decode() and pw_msg_check() on intake and were then written by
 * pw_msg_encode(), so their layout is known; this reads that layout directly
 * (bounds-checked, without msgpack-c's object tree) and hands anything else
 * to pw_msg_decode(). Never use it for bytes from the network: the strict
 * decoder is the one that faces untrusted input.
 */
int pw_msg_decode_stored(const void *data, size_t len, pw_msg_t *out);

/**
 * Checks an update or record against the catalog (hello and welcome: the
 * district only; ack and nack always pass): PW_EDISTRICT, PW_EELEMENT,
 * PW_EREPORTER (a city element from a district or the reverse), PW_EPERIOD
 * (outside base_year..target_year), PW_EVALUE (negative or fractional count).
 * Not the value's bound (pw_catalog_check_value()): the aggregator checks it
 * on intake, and a record stored before a bound existed must still export,
 * import and replay.
 */
int pw_msg_check(const pw_msg_t *m, const pw_catalog_t *cat);

/**
 * pw_msg_check() of an update or record whose district is di (looked up by
 * the caller): the same codes but PW_EDISTRICT. *ei_out gets the element's
 * index in the catalog, or -1.
 */
int pw_msg_check_update(const pw_msg_t *m, const pw_catalog_t *cat, int di, int *ei_out);

/** Type name as on the wire ("update"...), or "?" */
const char *pw_msg_type_name(pw_msg_type_t type);

#endif
