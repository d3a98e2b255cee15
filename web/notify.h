/* SPDX-License-Identifier: MIT */
#ifndef PW_WEB_NOTIFY_H
#define PW_WEB_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pw/catalog.h"
#include "pw/event.h"

/*
 * Notifications of the bureau's alerts to where staff are: a WeCom (企业微信)
 * group robot, a generic JSON webhook, or e-mail through the local MTA
 * (sendmail). Routes pick receivers by category, indicator and district.
 * One message per decision (all the alerts one commit of the aggregator
 * opened or resolved, or one round of escalations), never one per series.
 *
 * A decision is written to an outbox (an LMDB environment of its own) before
 * anything is sent, keyed by its id and the receiver, so each receiver gets it
 * exactly once: a decision already in the outbox is not queued again, and a
 * message stays there until its receiver took it (2xx; sendmail exit 0),
 * retried with a growing delay (1 s doubling to 5 min) for as long as it
 * takes, across restarts. Sending happens in a thread of its own: submitting
 * never waits for a receiver.
 */

typedef struct pw_notify pw_notify_t;

/** One alert of a decision. */
typedef struct pw_notice_item {
    pw_event_t ev;            /**< the alert event (action, rate, band, period, top districts) */
    char category[PW_ID_MAX]; /**< the indicator's category, "" when unknown */
    char name_zh[256];        /**< the indicator's name, for people; "" = the id */
    bool escalation;          /**< unacknowledged too long, rather than opened or resolved */
    char key[2 * PW_ID_MAX + 16]; /**< the follow-up key (INDICATOR/SERIES#N); may be "" */
    uint32_t unacked_hours;   /**< an escalation's hours unacknowledged, for the text; 0 = unsaid */
} pw_notice_item_t;

/** One decision. */
typedef struct pw_notice {
    char id[128];             /**< unique per decision, e.g. "q1234" (the commit's last sequence) */
    int64_t time_ms;          /**< when the decision was taken */
    size_t nitems;
    pw_notice_item_t *items;  /**< borrowed */
} pw_notice_t;

/** Counters for the status page and tests. */
typedef struct pw_notify_stats {
    uint64_t queued;    /**< messages written to the outbox */
    uint64_t sent;      /**< taken by their receiver */
    uint64_t failures;  /**< attempts that failed (each retried) */
    uint64_t pending;   /**< in the outbox now */
    uint64_t duplicates; /**< decisions submitted again and not queued */
} pw_notify_stats_t;

/**
 * Reads the routes file path (NULL: none; nothing is ever sent) and opens the
 * outbox in outbox_dir (created); starts the sender thread. dashboard_url
 * (may be NULL) is linked from each message. Errors "path:line: what" in err.
 * 0, -EINVAL (a bad routes file), -EBUSY, an LMDB error. Caller owns *out.
 */
int pw_notify_new(const char *path, const char *outbox_dir, const char *dashboard_url,
                  pw_notify_t **out, char *err, size_t errlen);

/** Stops the thread (what is pending stays in the outbox) and NULLs. NULL-safe. */
void pw_notify_destroy(pw_notify_t **self_p);

/**
 * Queues the decision for each receiver that a route gives any of its items
 * (one message per receiver with just those items). Never blocks on a
 * receiver. 0 (also for a decision already queued), or an outbox error.
 */
int pw_notify_submit(pw_notify_t *self, const pw_notice_t *notice);

/** The counters now. */
void pw_notify_stats(pw_notify_t *self, pw_notify_stats_t *out);

/** Checks a routes file without opening anything: 0, or -EINVAL with "path:line: what" in err. */
int pw_notify_check(const char *path, char *err, size_t errlen);

/**
 * Sets the retry delays: first_ms after the first failure, doubling up to
 * max_ms (defaults 1000 and 300000). For tests, which cannot wait minutes;
 * takes effect from the next failure.
 */
void pw_notify_set_backoff(pw_notify_t *self, long first_ms, long max_ms);

#endif
